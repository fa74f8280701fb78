import type pg from "pg";
import { inTransaction, recordEvent, type Ingestion } from "../core/audit.ts";
import { LOCK } from "../core/locks.ts";
import { SQL } from "../core/sql.ts";

export type RegisterAction = "load" | "skip" | "archive" | "busy";

/**
 * Registers a file's content as an ingestion, one registration per content at a time (across
 * processes), and says what to do with the file:
 * - `load`: a new ingestion (`queued`, ingestion.discovered), or an unfinished one continued under
 *   the same row: a `queued` row (registered by an upload) silently, a `loading` or `transforming`
 *   one (interrupted by a crash) with ingestion.resumed;
 * - `skip`: the same content was ingested before: a `skipped` row (ingestion.skipped, duplicate_of);
 * - `archive`: this very file completed, but the process stopped before moving it;
 * - `busy`: this very file is being ingested by another live process: leave it alone.
 *
 * An upload (`source: "upload"`) never continues an unfinished ingestion: that one reads its own
 * landing file, so the upload is a duplicate of it and is skipped. Neither does a second landing file
 * with the same content while the first one's process (`owner`, its application_name) is alive.
 *
 * @example const { ingestion, action } = await registerIngestion(pool, "trips.csv", sha256, 12839);
 */
export async function registerIngestion(
  pool: pg.Pool,
  fileName: string,
  sha256: string,
  sizeBytes: number,
  source: "landing" | "upload" = "landing",
  owner: string | null = null,
): Promise<{ ingestion: Ingestion; action: RegisterAction }> {
  return inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))", [LOCK.REGISTRY, sha256]);
    const { rows: live } = await client.query<Ingestion>(
      "SELECT * FROM audit.ingestions WHERE sha256 = $1::text AND status NOT IN ('failed', 'skipped') FOR UPDATE",
      [sha256],
    );
    const earlier = live[0];
    // An unfinished ingestion is taken over only when nobody is working on it: its owner process has
    // no session left (it crashed) or it was never started (an upload waiting in landing).
    const { rows: alive } = await client.query<{ alive: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1::text) AS alive",
      [earlier?.owner ?? ""],
    );
    const orphan = earlier !== undefined && (earlier.owner === null || (earlier.owner !== owner && !alive[0]!.alive));
    if (earlier && earlier.status !== "completed" && source === "landing" && orphan) {
      await client.query("UPDATE audit.ingestions SET file_name = $2::text, owner = $3::text WHERE id = $1::bigint", [
        earlier.id,
        fileName,
        owner,
      ]);
      if (earlier.status === "loading" || earlier.status === "transforming")
        await recordEvent(client, earlier.id, "ingestion.resumed", { file: fileName, status: earlier.status });
      return { ingestion: { ...earlier, file_name: fileName, owner }, action: "load" as const };
    }
    if (earlier && earlier.status !== "completed" && earlier.file_name === fileName && source === "landing") {
      return { ingestion: earlier, action: "busy" as const }; // this very file, in another live process's hands
    }
    if (earlier && earlier.archived_as === null && earlier.file_name === fileName && source === "landing") {
      return { ingestion: earlier, action: "archive" as const };
    }
    const status = earlier ? "skipped" : "queued";
    const ingestion = await insertIngestion(client, {
      fileName,
      sha256,
      sizeBytes,
      status,
      duplicateOf: earlier?.id ?? null,
      owner: status === "queued" && source === "landing" ? owner : null,
    });
    if (earlier) {
      const was = earlier.status === "completed" ? "was ingested" : "is being ingested";
      await recordEvent(client, ingestion.id, "ingestion.skipped", {
        file: fileName,
        sha256,
        duplicate_of: earlier.id,
        reason: `the same content ${was} as #${earlier.id} (${earlier.file_name})`,
      });
      return { ingestion, action: "skip" as const };
    }
    await recordEvent(client, ingestion.id, "ingestion.discovered", { file: fileName, sha256, size_bytes: sizeBytes });
    return { ingestion, action: "load" as const };
  });
}

/** One new row of audit.ingestions (db/queries/landing/insert_ingestion.sql); a skipped one is finished at once. */
async function insertIngestion(
  client: pg.PoolClient,
  row: {
    fileName: string;
    sha256: string;
    sizeBytes: number;
    status: "queued" | "skipped";
    duplicateOf: number | null;
    owner: string | null;
  },
): Promise<Ingestion> {
  const { rows } = await client.query<Ingestion>(SQL.insertIngestion, [
    row.fileName,
    row.sha256,
    row.sizeBytes,
    row.status,
    row.duplicateOf,
    row.owner,
  ]);
  return rows[0]!;
}
