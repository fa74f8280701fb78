import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { recordEvent } from "../../core/audit.ts";
import { MaintainPayload, queueCompaction, TASK } from "../../core/jobs.ts";
import { withSession } from "../../core/db.ts";

/** The tables an ingestion grows: vacuumed (visibility map for index-only scans) and analyzed. */
const TABLES = [
  "silver.trips",
  "silver.trip_groups",
  "gold.weekly_regions",
  "gold.weekly_origin_cells",
  "gold.weekly_destination_cells",
  "gold.weekly_cell_pairs",
];

/**
 * maintain: VACUUM (ANALYZE) of silver and gold after an ingestion completes, so that box queries
 * can count from the cell indexes alone and plans see the new row counts at once, instead of
 * whenever autovacuum's next round reaches the tables. Queued once per completed ingestion with a
 * shared job key: several completions close together make one run. VACUUM takes no lock that
 * blocks inserts, so a running ingestion goes on meanwhile; it runs at bulk work's lower CPU priority
 * (BULK_NICE).
 */
export const maintain =
  (pool: pg.Pool, logger: Logger): Task =>
  async (payload) => {
    const { ingestion_id } = MaintainPayload.parse(payload);
    const started = Date.now();
    await withSession(pool, [], (client) => client.query(`VACUUM (ANALYZE) ${TABLES.join(", ")}`));
    const ms = Date.now() - started;
    await recordEvent(pool, ingestion_id, "maintenance.vacuumed", { tables: TABLES, ms });
    // The file is archived by now, as a rule: its segment may be compacted with others, and gets its
    // level-10 counts in the same run (pipeline/transform/tasks/compact_segments.ts).
    await queueCompaction(pool);
    logger.info(
      { task: TASK.maintain, ingestion: ingestion_id, durationMs: ms },
      "silver and gold vacuumed and analyzed",
    );
  };
