import * as pgListenModule from "pg-listen";
import type pg from "pg";
import type { Logger } from "pino";
import { eventsAfter, type AuditEvent } from "./audit.ts";
import { KEEPALIVE } from "./db.ts";

// pg-listen is CommonJS with exports.default: under NodeNext the function is default.default.
const createSubscriber = pgListenModule.default.default;

const EVENTS_CHANNEL = "tripflow_events";
const BATCH = 500;

export type EventListener = (event: AuditEvent) => void;

/**
 * Delivers every audit event, in id order, to in-process listeners. A NOTIFY only says "something
 * new": the bus then reads the table from the last id it delivered, so a notification lost while the
 * LISTEN connection was down costs nothing; after a reconnect it catches up the same way. Event ids
 * are assigned in commit order (see migration 2), so reading "after the last id" never skips one.
 *
 * @example const bus = await EventBus.start(url, pool, logger); const off = bus.subscribe((e) => console.log(e.type));
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private lastId = 0;
  private fetching: Promise<void> | null = null;
  private again = false;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly subscriber: ReturnType<typeof createSubscriber>,
    private readonly logger: Logger,
  ) {}

  static async start(databaseUrl: string, pool: pg.Pool, logger: Logger): Promise<EventBus> {
    const log = logger.child({ component: "event-bus" });
    const subscriber = createSubscriber(
      { connectionString: databaseUrl, application_name: "tripflow-listen", ...KEEPALIVE },
      {
        retryTimeout: Infinity,
        retryInterval: (attempt) => Math.min(5000, 100 * 2 ** attempt),
        paranoidChecking: 10_000,
      },
    );
    const bus = new EventBus(pool, subscriber, log);
    const { rows } = await pool.query<{ id: number }>("SELECT coalesce(max(id), 0)::bigint AS id FROM audit.events");
    bus.lastId = rows[0]!.id;
    subscriber.notifications.on(EVENTS_CHANNEL, () => bus.poke());
    subscriber.events.on("connected", () => bus.poke());
    subscriber.events.on("reconnect", (attempt) => log.warn({ attempt }, "LISTEN connection lost; reconnecting"));
    subscriber.events.on("error", (err) => log.error({ err }, "LISTEN connection error"));
    await subscriber.connect();
    await subscriber.listenTo(EVENTS_CHANNEL);
    // "connected" fired before LISTEN took effect: an event committed in between sent no notification to us.
    void bus.poke();
    return bus;
  }

  /** The id of the newest event delivered so far. */
  get position(): number {
    return this.lastId;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Reads and delivers whatever is new; concurrent pokes collapse into one more read. */
  poke(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.fetching = (async () => {
      do {
        this.again = false;
        try {
          for (;;) {
            const events = await eventsAfter(this.pool, this.lastId, BATCH);
            for (const event of events) {
              this.lastId = event.id;
              for (const listener of this.listeners) {
                try {
                  listener(event);
                } catch (err) {
                  this.logger.error({ err }, "event listener failed");
                }
              }
            }
            if (events.length < BATCH) break;
          }
        } catch (err) {
          this.logger.warn({ err }, "reading new audit events failed; will retry on the next notification");
          setTimeout(() => void this.poke(), 1000).unref();
        }
      } while (this.again && !this.closed);
      this.fetching = null;
    })();
    return this.fetching;
  }

  /** The process id of the LISTEN connection (tests end it to simulate a network cut). */
  async listenerPid(): Promise<number> {
    const { rows } = await this.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'tripflow-listen' AND datname = current_database() ORDER BY backend_start DESC LIMIT 1",
    );
    return rows[0]?.pid ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.subscriber.close().catch(() => {});
    await this.fetching;
  }
}
