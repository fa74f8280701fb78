import type pg from "pg";
import type { Logger } from "pino";

/**
 * VACUUM of a large file's segment while the file loads, one chunk behind, on a connection of its own.
 *
 * Why: a freshly COPYed row has no hint bits. Whichever scan reads it first looks its transaction up
 * in the commit log and writes the page again, and the seal's first scans are three at once (two index
 * builds and the groups), each paying for the pages it reaches first while the load's PostgreSQL core
 * sat a third idle. A plain VACUUM (no FREEZE) sets the hint bits and the visibility map for 10 M
 * fresh rows in about 1 s; the seal's three scans of that table took 20.2 s fresh against 17.2 s hinted
 * (docs/scalability.md). VACUUM skips pages the visibility map marks all-visible, so each run reads
 * little more than the chunks committed since the last one.
 *
 * At most one runs at a time; a chunk committed meanwhile is covered by one more run after it. A
 * failure (the segment withdrawn and dropped, a lost connection) is logged and changes nothing: the
 * seal's scans then set the hint bits themselves, as before.
 *
 * @example const vacuum = new SegmentVacuum(pool, "silver.trips_seg_7", log); vacuum.chunkCommitted(); await vacuum.settled();
 */
export class SegmentVacuum {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly logger: Logger,
  ) {}

  /** A chunk's rows are committed: vacuum them soon, without waiting here. */
  chunkCommitted(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run();
  }

  /** Resolves once no run is going on or due. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        // TRUNCATE false: never wait for the lock that cutting empty pages off the end would need.
        await this.pool.query(`VACUUM (TRUNCATE false, SKIP_LOCKED) ${this.table}`);
      } while (this.again);
    } catch (err) {
      this.logger.warn(
        { err, table: this.table },
        "vacuum of the segment during its load failed; the seal sets hint bits itself",
      );
    } finally {
      this.running = null;
    }
  }
}
