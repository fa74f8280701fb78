import type pg from "pg";
import { inTransaction, recordEvent } from "../core/audit.ts";
import { lockAggregates, PARENTS, segmentTables } from "../core/lifecycle.ts";
import { fillSql, SQL } from "../core/sql.ts";
import { withSession } from "../core/db.ts";
import { indexSettings, segmentIndexes, STAGE_SETTINGS } from "./seal.ts";

export type Compacted = { segments: number[]; into: number; rows: number; ms: number };

/** Runs `sql` (statements sent as one query: one transaction) on a session of its own; the rows its INSERTs wrote. */
function build(pool: pg.Pool, settings: string[], sql: string): Promise<number> {
  return withSession(pool, settings, async (client) => {
    const results = (await client.query(sql)) as unknown as pg.QueryResult[];
    return results.filter((r) => r.command === "INSERT").reduce((n, r) => n + (r.rowCount ?? 0), 0);
  });
}

/** The UNION ALL of one kind of table over `segments`. */
const union = (segments: number[], table: keyof ReturnType<typeof segmentTables>) =>
  segments.map((s) => `SELECT * FROM ${segmentTables(s)[table]}`).join(" UNION ALL ");

/**
 * Keeps the segments of large files at most `maxSegments`: a box question probes one index range per
 * segment, so their number bounds its cost. When there are more, the smallest settled ones (enough of
 * them to come back to `maxSegments`) are merged into one new segment, numbered from
 * silver.compacted_segments as a negative number: first, side by side, its trips with their indexes,
 * its groups and its weekly counts are built from theirs (db/transforms/compact/: the groups and gold
 * add up the merged segments' rows, they do not read trips); then one transaction drops the merged
 * segments' tables and attaches the new ones, so every answer sees either the old segments or the new
 * one, with the same totals. A crash before that transaction leaves unattached tables, dropped by the
 * next run; a crash inside it changes nothing. Merging only the smallest keeps the rewrite small: a
 * trip is rewritten about log(files) times over its life, not once per file.
 * Returns what it merged, or null when nothing needed merging. Runs one at a time (queue "compact").
 *
 * @example await compactSegments(pool, 8);
 */
export async function compactSegments(pool: pg.Pool, maxSegments: number): Promise<Compacted | null> {
  const started = Date.now();
  for (const { name } of (await pool.query<{ name: string }>(SQL.compactionLeftovers)).rows)
    await pool.query(`DROP TABLE IF EXISTS ${name}`);
  const { rows } = await pool.query<{ segment: number; settled: boolean; trips: number }>(SQL.segments);
  if (rows.length <= maxSegments) return null;
  const settled = rows.filter((r) => r.settled).map((r) => r.segment);
  const take = rows.length - maxSegments + 1;
  if (settled.length < take) return null; // the rest is still being archived: the next run merges it
  const sources = settled.slice(0, take);
  const { rows: next } = await pool.query<{ n: string }>("SELECT nextval('silver.compacted_segments') AS n");
  const into = -Number(next[0]!.n);
  const target = segmentTables(into);
  const values = { ...target, segment: String(into) };
  const sourceTrips = rows.filter((r) => sources.includes(r.segment)).reduce((n, r) => n + r.trips, 0);
  const [trips] = await Promise.all([
    build(
      pool,
      indexSettings(sourceTrips),
      fillSql(SQL.compactTrips, {
        ...values,
        sources: union(sources, "trips"),
        indexes: segmentIndexes(target.trips).join(";\n"),
      }),
    ),
    build(pool, STAGE_SETTINGS, fillSql(SQL.compactGroups, { ...values, sources: union(sources, "groups") })),
    build(
      pool,
      STAGE_SETTINGS,
      fillSql(SQL.compactGold, {
        ...values,
        region_sources: union(sources, "regions"),
        origin_sources: union(sources, "origins"),
        destination_sources: union(sources, "destinations"),
        pair_sources: union(sources, "pairs"),
      }),
    ),
  ]);
  const rowsMerged = await inTransaction(pool, async (tx) => {
    // The writers of the groups and of gold, as a seal takes them: a seal's attach and this swap
    // happen one after the other, in the same order of tables.
    await lockAggregates(tx, "groups", "gold");
    for (const [table, parent] of PARENTS) {
      await tx.query(`DROP TABLE ${sources.map((s) => segmentTables(s)[table]).join(", ")}`);
      await tx.query(`ALTER TABLE ${parent} ATTACH PARTITION ${target[table]} FOR VALUES IN (${into})`);
    }
    // Their level-10 counts: the new segment gets its own afterwards (refine.ts; level 8 until then).
    const fine = sources.flatMap((s) => {
      const t = segmentTables(s);
      return [t.fineOrigins, t.fineDestinations, t.finePairs];
    });
    await tx.query(`DROP TABLE IF EXISTS ${fine.join(", ")}`);
    const result = { segments: sources, into, rows: trips, ms: Date.now() - started };
    await recordEvent(tx, null, "silver.compacted", result);
    return result;
  });
  // The visibility map of the new table, for the index-only scans of box answers.
  await withSession(pool, [], (client) => client.query(`VACUUM ${target.trips}`));
  return rowsMerged;
}
