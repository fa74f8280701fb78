import { Worker } from "node:worker_threads";
import { COUNTING_THREAD, GROUP_FILL, KEYS_PER_TRIP, type TablesParts, TripTables } from "./count_tables.js";
import { type GroupTrip, tripKeys, WeeklyCounts } from "./weekly_counts.ts";

/** What counts a trip: WeeklyCounts itself, or a CountingThread that hands trips to one on another thread. */
export type TripCounter = Pick<WeeklyCounts, "add">;

/** Trips per batch sent to the counting thread (KEYS_PER_TRIP float64 each: 416 KiB). */
const BATCH = 4_096;
/** Batches sent and not yet back before the loader waits for the thread (1.6 MiB). */
const MAX_OUT = 4;
/**
 * How long the loader waits for the thread (a batch back, or the tables at the end) before it gives the
 * counts up: a thread that stopped answering costs the seal its own count, never a load that hangs.
 */
const STALL_MS = 60_000;

/**
 * A file's bytes per line at the least (a line with one-letter names and points of few digits), and how
 * many lines a file may have per group kept: a larger file's groups would outgrow the bound anyway, so
 * its load does not keep them (their table, up to 72 bytes × 2^19 slots by default, stays unallocated).
 */
const MIN_LINE_BYTES = 40;
const LINES_PER_GROUP = 8;

/**
 * The bound of the groups a load keeps (LOAD_GROUPS_MAX, `max` groups) in slots, filled to three
 * quarters at most: the smallest power of two that holds `max`; 0 (none kept) for a file of more than
 * LINES_PER_GROUP × `max` lines of MIN_LINE_BYTES (125 MB with the default 390,000).
 *
 * @example groupSlots(390_000, 100_000_000) // 524288
 */
export function groupSlots(max: number, fileBytes: number): number {
  if (max <= 0 || fileBytes > max * LINES_PER_GROUP * MIN_LINE_BYTES) return 0;
  return Math.max(1024, 2 ** Math.ceil(Math.log2(max / GROUP_FILL)));
}

type Reply = { done: Float64Array<ArrayBuffer> } | { tables: TablesParts };

/**
 * A large file's weekly counts (weekly_counts.ts) kept on a worker thread: the loader's thread, which
 * reads and writes every line, only computes each trip's keys into a batch; the hash tables (up to
 * 32 MiB for the cell pairs, hit at random) live on the other thread (count_tables.js), and in the
 * other core's cache. Batches come back to be filled again. When the thread is MAX_OUT batches behind,
 * `backlog()` gives a promise the loader awaits. If the thread fails or stops answering for STALL_MS (or
 * a trip's week is outside what the tables pack), `finish()` gives null: the seal counts the segment
 * itself, as after a resumed load.
 */
export class CountingThread implements TripCounter {
  private readonly worker: Worker;
  private batch: Float64Array<ArrayBuffer> = new Float64Array(BATCH * KEYS_PER_TRIP);
  private n = 0;
  private readonly free: Float64Array<ArrayBuffer>[] = [];
  private out = 0;
  private failed = false;
  private waiting: (() => void) | null = null;
  private result: ((tables: TablesParts | null) => void) | null = null;
  private stall: NodeJS.Timeout | undefined;

  /**
   * `groupSlots`: the groups' bound in slots of 72 bytes (a power of two; 0: no groups kept); `nice`: how
   * much lower the thread's CPU priority is than the process's (BULK_NICE; Linux sets it per thread).
   */
  constructor(groupSlots = 0, nice = 0) {
    // Its tables are typed arrays, outside the JavaScript heap: the thread's own heap stays small.
    this.worker = new Worker(new URL("./count_tables.js", import.meta.url), {
      workerData: { role: COUNTING_THREAD, groupSlots, nice },
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 },
    });
    this.worker.on("message", (reply: Reply) => {
      if ("done" in reply) {
        this.free.push(reply.done);
        this.out--;
        this.wake();
      } else this.settle(reply.tables);
    });
    this.worker.on("error", () => this.fail());
    this.worker.on("exit", () => this.fail());
  }

  /** One trip, as WeeklyCounts.add takes it. */
  add(region: number, days: number, ox: number, oy: number, dx: number, dy: number, group?: GroupTrip): void {
    if (this.failed) return;
    if (!tripKeys(this.batch, this.n * KEYS_PER_TRIP, region, days, ox, oy, dx, dy, group)) this.fail();
    else if (++this.n === BATCH) this.send();
  }

  /** A promise to await before adding more when the thread is MAX_OUT batches behind, else undefined. */
  backlog(): Promise<void> | undefined {
    if (this.out < MAX_OUT || this.failed) return undefined;
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.watch();
    });
  }

  /** The counts of every trip added, or null when they could not be kept; the thread then ends. */
  async finish(): Promise<WeeklyCounts | null> {
    if (this.n > 0) this.send();
    if (this.failed) return null;
    const parts = await new Promise<TablesParts | null>((resolve) => {
      this.result = resolve;
      this.watch();
      this.worker.postMessage({ end: true });
    });
    return parts && new WeeklyCounts(TripTables.from(parts));
  }

  /** Stops the thread (after finish, or when the load stops early). */
  async close(): Promise<void> {
    this.fail();
    await this.worker.terminate();
  }

  private send(): void {
    if (!this.failed) {
      this.worker.postMessage({ keys: this.batch, n: this.n }, [this.batch.buffer]);
      this.out++;
      this.batch = this.free.pop() ?? new Float64Array(BATCH * KEYS_PER_TRIP);
    }
    this.n = 0;
  }

  /** Gives the counts up if the thread does not answer within STALL_MS. */
  private watch(): void {
    clearTimeout(this.stall);
    this.stall = setTimeout(() => this.fail(), STALL_MS).unref();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting) clearTimeout(this.stall);
    this.waiting = null;
    waiting?.();
  }

  private settle(tables: TablesParts | null): void {
    clearTimeout(this.stall);
    const result = this.result;
    this.result = null;
    result?.(tables);
  }

  private fail(): void {
    this.failed = true;
    this.wake();
    this.settle(null);
  }
}
