/**
 * The live feed: GET /events through one EventSource. Each audit event is applied once, by its id (a Set
 * of the ids seen), however often a replay repeats it. When the stream breaks the browser reconnects by
 * itself and sends Last-Event-ID, so the server replays what was missed; when the browser gives up
 * (readyState CLOSED), a new EventSource resumes with ?after= the last id seen.
 */
import { EVENT_TYPES } from "./contract.js";

const RETRY_MS = [1000, 2000, 3000, 5000];

export class EventFeed {
  /**
   * @param {{ onEvent: (event: object) => void, onState: (state: string, reason: string) => void, onResume: () => void }} handlers
   *   onEvent gets each event once; onState "connecting" | "live" | "disconnected"; onResume after a reconnection.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.seen = new Set();
    this.lastId = 0;
    this.source = undefined;
    this.everOpen = false;
    this.broken = false;
    this.retries = 0;
    this.timer = undefined;
  }

  /** Opens the stream, replaying the stored events after `after`. */
  start(after) {
    this.lastId = after;
    this.open();
  }

  get applied() {
    return this.seen.size;
  }

  open() {
    clearTimeout(this.timer);
    this.source?.close();
    const source = new EventSource(`/events?after=${this.lastId}`);
    this.source = source;
    const receive = (message) => this.receive(message);
    for (const type of EVENT_TYPES) source.addEventListener(type, receive);
    source.addEventListener("open", () => {
      this.retries = 0;
      const resumed = this.broken;
      this.broken = false;
      this.everOpen = true;
      this.handlers.onState("live", "");
      if (resumed) this.handlers.onResume();
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      this.broken = true;
      const offline = navigator.onLine === false ? "this browser is offline; " : "";
      const what = this.everOpen ? "the server went away" : "the server does not answer";
      if (source.readyState === EventSource.CLOSED) {
        const wait = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)];
        this.handlers.onState(
          "disconnected",
          `${offline}${what}; retrying in ${wait / 1000} s from event ${this.lastId}`,
        );
        this.timer = setTimeout(() => this.open(), wait);
      } else {
        this.handlers.onState("disconnected", `${offline}${what}; reconnecting from event ${this.lastId}`);
      }
    });
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const id = Number(message.lastEventId || event.id);
    if (!Number.isSafeInteger(id) || this.seen.has(id)) return;
    this.seen.add(id);
    if (id > this.lastId) this.lastId = id;
    this.handlers.onEvent(event);
  }
}
