import { Worker } from "node:worker_threads";

/**
 * A large file's groups, summed on a thread of their own (group_worker.ts) from the silver rows as the
 * loader writes them: the second core, which the load leaves partly idle (PostgreSQL's COPY waits on
 * Node's reading), does the work the seal would otherwise do by one more scan of the segment.
 * `feed` hands it a run of binary COPY rows (a copy: the loader's buffers go on to PostgreSQL);
 * `spilled` and `finish` answer with the sums spilled since the last answer, or all of them, covering
 * exactly the rows fed before the call. Any failure of the thread makes them answer null: the sums
 * are then not used (the seal aggregates the segment).
 */
export class GroupSumsThread {
  private readonly worker: Worker;
  private failed = false;
  private waiting: ((rows: Buffer[] | null) => void) | null = null;

  constructor() {
    // The worker runs TypeScript as the service does: it registers tsx's loader, then imports the file.
    const tsx = import.meta.resolve("tsx/esm/api");
    const file = new URL("./group_worker.ts", import.meta.url).href;
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); });`;
    this.worker = new Worker(boot, { eval: true });
    this.worker.on("message", (rows: Uint8Array[]) =>
      this.answer(rows.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength))),
    );
    this.worker.on("error", () => this.fail());
    this.worker.on("exit", () => this.fail());
  }

  /** A run of whole rows (and the format's header and trailer), copied into one buffer handed over. */
  feed(pieces: Buffer[]): void {
    if (this.failed || pieces.length === 0) return;
    const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const piece of pieces) {
      bytes.set(piece, at);
      at += piece.length;
    }
    this.worker.postMessage(bytes, [bytes.buffer]);
  }

  /** The sums spilled since the last answer (binary COPY rows; none: an empty list), or null if the thread failed. */
  spilled(): Promise<Buffer[] | null> {
    return this.ask("spill");
  }

  /** Every sum not handed out yet, or null if the thread failed; the thread then ends. */
  async finish(): Promise<Buffer[] | null> {
    const rows = await this.ask("finish");
    await this.close();
    return rows;
  }

  async close(): Promise<void> {
    this.failed = true;
    await this.worker.terminate();
    this.answer(null);
  }

  private ask(type: "spill" | "finish"): Promise<Buffer[] | null> {
    if (this.failed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.worker.postMessage({ type });
    });
  }

  private answer(rows: Buffer[] | null): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(rows);
  }

  private fail(): void {
    this.failed = true;
    this.answer(null);
  }
}
