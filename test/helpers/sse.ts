import { SseParser, type SseFrame } from "../../pipeline/cli/sse.ts";

export type { SseFrame };

/**
 * Reads an SSE response body: `frames` fills as messages arrive; `waitFor` resolves when a frame
 * matches (or rejects after the timeout, listing what did arrive).
 */
export function readSse(body: ReadableStream<Uint8Array>) {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser((comment) => comments.push(comment));
  let waiters: (() => void)[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        frames.push(...parser.feed(decoder.decode(value, { stream: true })));
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
