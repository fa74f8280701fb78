/**
 * Reading an ingestion's events from GET /events: a text/event-stream parser, the events as they
 * arrive (AuditEventData), and `followIngestion`, which reads them until the ingestion ends, resuming
 * with Last-Event-ID when the stream drops or goes silent and giving up when the ingestion stalls.
 */
import type { AuditEvent } from "../core/audit.ts";
import { TERMINAL_EVENTS } from "../core/events.ts";
import { ApiError, apiError, request, ServiceUnreachableError, type Service } from "./http.ts";

/** An audit event as GET /events sends it in `data:` (pipeline/core/audit.ts's AuditEvent, as JSON). */
export type AuditEventData = Omit<AuditEvent, "created_at"> & { created_at: string };

const terminalTypes: ReadonlySet<string> = new Set(TERMINAL_EVENTS);

/** The ingestion ends with an event of this type (pipeline/core/events.ts's TERMINAL_EVENTS). */
export function isTerminal(type: string): boolean {
  return terminalTypes.has(type);
}

/** No byte (not even the 15 s keepalive) for this long: the stream is dead, reconnect. */
const SILENT_STREAM_MS = 45_000;
/** Reconnecting to the event stream gives up after this long without an answer. */
const RECONNECT_FOR_MS = 60_000;

/** One server-sent message. */
export type SseFrame = { id?: string; event?: string; data: string };

/**
 * An incremental text/event-stream parser: feed it decoded text as it arrives, get whole messages back.
 * Comments (keepalives) go to `onComment`, if given; CRLF and CR line endings are accepted as the
 * standard allows.
 */
export class SseParser {
  private buffer = "";

  constructor(private readonly onComment?: (text: string) => void) {}

  feed(text: string): SseFrame[] {
    this.buffer += text;
    const frames: SseFrame[] = [];
    for (;;) {
      const normalized = this.buffer.replace(/\r\n?/g, "\n");
      const end = normalized.indexOf("\n\n");
      if (end < 0) {
        this.buffer = normalized;
        return frames;
      }
      const block = normalized.slice(0, end);
      this.buffer = normalized.slice(end + 2);
      const frame: SseFrame = { data: "" };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.onComment?.(line.slice(1).trim());
        if (line === "" || line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        fields++;
        if (field === "data") data.push(value);
        else if (field === "id") frame.id = value;
        else if (field === "event") frame.event = value;
      }
      if (fields === 0) continue;
      frame.data = data.join("\n");
      frames.push(frame);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows GET /events?ingestion=ID from its first event until the ingestion ends, resuming with
 * Last-Event-ID when the stream drops or goes silent; returns the terminal event, or undefined when
 * no event of the ingestion came for `stallMs` (keepalives do not count): the service may be stuck,
 * and waiting on would never end.
 *
 * @example const last = await followIngestion(service, 7, 300_000, (e) => progress.apply(e), () => {});
 */
export async function followIngestion(
  service: Service,
  id: number,
  stallMs: number,
  onEvent: (e: AuditEventData) => void,
  onDrop: (after: number) => void,
): Promise<AuditEventData | undefined> {
  let last = 0;
  let downSince: number | undefined;
  let delay = 250;
  let progressAt = Date.now();
  const stalled = () => Date.now() - progressAt >= stallMs;
  for (;;) {
    if (stalled()) return undefined;
    let streamed = false;
    const stall = new AbortController();
    // Whichever comes first: a silent stream (reconnect) or no event for stallMs (give up).
    const wait = () => Math.max(0, Math.min(SILENT_STREAM_MS, progressAt + stallMs - Date.now()));
    let timer = setTimeout(() => stall.abort(), wait());
    const alive = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(), wait());
    };
    try {
      const accept = { accept: "text/event-stream" };
      const res = await request(service, `/events?ingestion=${id}&after=${last}`, {
        headers: last > 0 ? { "Last-Event-ID": String(last), ...accept } : accept,
        signal: stall.signal,
      });
      if (!res.ok || !res.body) throw await apiError(res);
      downSince = undefined;
      delay = 250;
      streamed = true;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          alive();
          for (const frame of parser.feed(decoder.decode(value, { stream: true }))) {
            last = Math.max(last, Number(frame.id) || 0);
            let event: AuditEventData;
            try {
              event = JSON.parse(frame.data) as AuditEventData;
            } catch {
              continue; // not an audit event: reconnecting would only read it again
            }
            progressAt = Date.now();
            onEvent(event);
            if (isTerminal(event.type)) return event;
          }
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (stalled()) return undefined;
      downSince ??= Date.now();
      if (Date.now() - downSince > RECONNECT_FOR_MS) throw new ServiceUnreachableError(service.url, err);
    } finally {
      clearTimeout(timer);
    }
    if (streamed) onDrop(last); // once per interruption, not once per attempt to reconnect
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}
