/** One parsed server-sent event. */
export type SseFrame = { id?: string; event?: string; data: string };

/** Parses complete SSE messages out of a text buffer; returns them and the unparsed rest. */
export function parseFrames(text: string): { frames: SseFrame[]; comments: string[]; rest: string } {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const blocks = text.split("\n\n");
  const rest = blocks.pop()!;
  for (const block of blocks) {
    const frame: SseFrame = { data: "" };
    const data: string[] = [];
    let isFrame = false;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      isFrame = true;
      if (field === "data") data.push(value);
      else if (field === "id") frame.id = value;
      else if (field === "event") frame.event = value;
    }
    if (isFrame) {
      frame.data = data.join("\n");
      frames.push(frame);
    }
  }
  return { frames, comments, rest };
}

/**
 * Reads an SSE response body: `frames` fills as messages arrive; `waitFor` resolves when a frame
 * matches (or rejects after the timeout, listing what did arrive).
 */
export function readSse(body: ReadableStream<Uint8Array>) {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let waiters: (() => void)[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const parsed = parseFrames(buffer);
        buffer = parsed.rest;
        frames.push(...parsed.frames);
        comments.push(...parsed.comments);
        for (const w of waiters) w();
      }
    } catch {
      // cancelled
    } finally {
      ended = true;
      for (const w of waiters) w();
    }
  })();
  return {
    frames,
    comments,
    get ended() {
      return ended;
    },
    async waitFor(predicate: (f: SseFrame) => boolean, timeoutMs = 30_000): Promise<SseFrame> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = frames.find(predicate);
        if (hit) return hit;
        if (ended) throw new Error(`stream ended; got ${frames.map((f) => f.event).join(", ")}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out; got ${frames.map((f) => `${f.id}:${f.event}`).join(", ")}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
        waiters = [];
      }
    },
    async close() {
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}
