import { copyFile, mkdir, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { inTransaction, recordEvent, type Ingestion } from "../core/audit.ts";
import { whenDatabaseAnswers } from "../core/db.ts";
import { releaseBronze } from "../core/lifecycle.ts";
import { SQL } from "../core/sql.ts";

/** Where an ended ingestion's file goes: `archive` (completed, skipped) or `rejected` (failed). */
export type Folder = "archive" | "rejected";

/**
 * The archive step: moves a landing file (or an upload) out of the way once its ingestion ended, to
 * `ARCHIVE_DIR/<ingestion id>-<original name>` or to `rejected/` beside it, records where
 * (`archived_as`, `file.archived`) and drops the ingestion's bronze partition, which only a running
 * ingestion needs. The id makes the name unique; the original name follows unchanged.
 *
 * @example const archive = new Archive({ pool, archiveDir: "archive", logger }); await archive.move(path, ingestion, "archive");
 */
export class Archive {
  private readonly pool: pg.Pool;
  private readonly archiveDir: string;
  private readonly logger: Logger;

  constructor(deps: { pool: pg.Pool; archiveDir: string; logger: Logger }) {
    this.pool = deps.pool;
    this.archiveDir = resolve(deps.archiveDir);
    this.logger = deps.logger.child({ component: "archive" });
  }

  private folder(where: Folder): string {
    return where === "archive" ? this.archiveDir : resolve(this.archiveDir, "..", "rejected");
  }

  private target(ingestion: Pick<Ingestion, "id" | "file_name">, where: Folder): string {
    return join(this.folder(where), `${ingestion.id}-${ingestion.file_name}`);
  }

  /** Moves `path` for `ingestion` and records it; a file that is gone already is left at that. */
  async move(path: string, ingestion: Pick<Ingestion, "id" | "file_name">, where: Folder): Promise<void> {
    await mkdir(this.folder(where), { recursive: true });
    const target = this.target(ingestion, where);
    try {
      await rename(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EXDEV") throw err;
      await copyFile(path, target);
      await unlink(path);
    }
    await this.record(ingestion.id, target, where);
  }

  private async record(id: number, target: string, where: Folder): Promise<void> {
    // The file has moved: its record must follow, even across a database restart.
    await whenDatabaseAnswers(this.pool, this.logger, async () => {
      await releaseBronze(this.pool, id);
      await inTransaction(this.pool, async (client) => {
        await client.query("UPDATE audit.ingestions SET archived_as = $2::text WHERE id = $1::bigint", [id, target]);
        await recordEvent(client, id, "file.archived", { path: target, folder: where });
      });
    });
    this.logger.info({ ingestion: id, to: target }, "file moved");
  }

  /**
   * At start: finishes what a crash interrupted between moving a file and recording it (the file is
   * in the archive or rejected folder, audit.ingestions does not say so), and drops bronze partitions
   * that ended ingestions left behind.
   */
  async reconcile(): Promise<void> {
    const { rows } = await this.pool.query<Pick<Ingestion, "id" | "file_name" | "status">>(SQL.unrecordedMoves);
    for (const ingestion of rows) {
      const where = ingestion.status === "failed" ? "rejected" : "archive";
      const target = this.target(ingestion, where);
      if (
        await stat(target).then(
          () => true,
          () => false,
        )
      )
        await this.record(ingestion.id, target, where);
    }
    const { rows: stale } = await this.pool.query<{ id: number }>(SQL.staleBronze);
    for (const { id } of stale) await releaseBronze(this.pool, id);
  }
}
