import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type CountsParts, WeeklyCounts } from "./weekly_counts.ts";

/** What counts a trip: WeeklyCounts itself, or a CountingThread that hands trips to one on another thread. */
export type TripCounter = Pick<WeeklyCounts, "add">;

/** Trips per message to the counting thread (6 int32 each: 384 KiB). */
const BATCH = 16_384;
/** Batches on their way or being counted before the loader waits for the thread (3 MiB). */
const MAX_OUT = 8;
const ROLE = "tripflow weekly counts";

/**
 * The thread's entry: this module, loaded through tsx's API (Node 20 does not hand a --import'ed
 * loader such as tsx's on to a worker's first module).
 */
const THREAD = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { tsImport } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))};\n` +
      `await tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)});`,
  )}`,
);

type Reply = { done: Int32Array<ArrayBuffer> } | { counts: CountsParts };

/**
 * A large file's weekly counts (weekly_counts.ts WeeklyCounts) kept on a worker thread: the loader's
 * thread, which reads and writes every line, only copies each trip's six numbers into a batch; the
 * hash tables (up to 32 MiB for the cell pairs, hit at random) live on the other thread and in the
 * other core's cache. Batches come back to be filled again. When the thread is behind by MAX_OUT
 * batches, `backlog()` gives a promise the loader awaits. If the thread fails, the counts are dropped
 * (`finish()` gives null) and the seal counts the segment itself, as for a resumed load.
 */
export class CountingThread implements TripCounter {
  private readonly worker: Worker;
  private batch: Int32Array<ArrayBuffer>;
  private n = 0;
  private readonly free: Int32Array<ArrayBuffer>[] = [];
  private out = 0;
  private failed = false;
  private waiting: (() => void) | null = null;
  private result: ((counts: CountsParts | null) => void) | null = null;

  constructor() {
    this.batch = new Int32Array(BATCH * 6);
    this.worker = new Worker(THREAD, { workerData: ROLE });
    this.worker.on("message", (reply: Reply) => {
      if ("done" in reply) {
        this.free.push(reply.done);
        this.out--;
        this.wake();
      } else this.settle(reply.counts);
    });
    this.worker.on("error", () => this.fail());
    this.worker.on("exit", () => this.fail());
  }

  /** One trip, as WeeklyCounts.add takes it. */
  add(region: number, days: number, ox: number, oy: number, dx: number, dy: number): void {
    const b = this.batch;
    const at = this.n * 6;
    b[at] = region;
    b[at + 1] = days;
    b[at + 2] = ox;
    b[at + 3] = oy;
    b[at + 4] = dx;
    b[at + 5] = dy;
    if (++this.n === BATCH) this.send();
  }

  /** A promise to await before adding more when the thread is MAX_OUT batches behind, else undefined. */
  backlog(): Promise<void> | undefined {
    if (this.out < MAX_OUT || this.failed) return undefined;
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The counts of every trip added, or null if the thread failed; the thread then ends. */
  async finish(): Promise<WeeklyCounts | null> {
    if (this.n > 0) this.send();
    if (this.failed) return null;
    const parts = await new Promise<CountsParts | null>((resolve) => {
      this.result = resolve;
      this.worker.postMessage({ end: true });
    });
    return parts && WeeklyCounts.from(parts);
  }

  /** Stops the thread (after finish, or when the load stops early). */
  async close(): Promise<void> {
    this.failed = true;
    await this.worker.terminate();
  }

  private send(): void {
    if (!this.failed) {
      this.worker.postMessage({ trips: this.batch, n: this.n }, [this.batch.buffer]);
      this.out++;
      this.batch = this.free.pop() ?? new Int32Array(BATCH * 6);
    }
    this.n = 0;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  private settle(counts: CountsParts | null): void {
    const result = this.result;
    this.result = null;
    result?.(counts);
  }

  private fail(): void {
    this.failed = true;
    this.wake();
    this.settle(null);
  }
}

/** The thread's side: count each batch, send it back, and at the end send the tables. */
function countTrips(port: NonNullable<typeof parentPort>): void {
  const counts = new WeeklyCounts();
  port.on("message", (message: { trips: Int32Array<ArrayBuffer>; n: number } | { end: true }) => {
    if ("end" in message) {
      const { parts, transfer } = counts.parts();
      port.postMessage({ counts: parts } satisfies Reply, transfer);
      port.close();
      return;
    }
    const { trips, n } = message;
    for (let at = 0; at < n * 6; at += 6)
      counts.add(trips[at]!, trips[at + 1]!, trips[at + 2]!, trips[at + 3]!, trips[at + 4]!, trips[at + 5]!);
    port.postMessage({ done: trips } satisfies Reply, [trips.buffer]);
  });
}

if (!isMainThread && workerData === ROLE && parentPort) countTrips(parentPort);
