import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ceilings, insertOnlyMs, markdown, parseCount, randomRequests, runBench } from "../bench/run.ts";
import { adminUrl, templateDb } from "../helpers/database.ts";

// The shipped benchmark at a small N, as CI's smoke test: every step runs for real (generated file,
// reference COPY, the service in a child process fed through its landing folder, HTTP requests
// checked against a direct count). Figures are printed, never asserted on time.
describe("npm run bench (smoke, small N)", () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("ingests N generated trips through the service and answers every request as a direct count does", {
    timeout: 240_000,
  }, async () => {
    out = await mkdtemp(path.join(tmpdir(), "tripflow-bench-"));
    const rows = 4000;
    const r = await runBench({
      rows,
      seed: 3,
      requests: 45,
      out,
      database: templateDb().replace(/_template$/, "_bench"),
      referenceRuns: 1,
      quiet: true,
      server: await adminUrl(),
    });
    console.log(markdown(r));
    expect(r.stages.rows_loaded + r.stages.rows_rejected).toBe(rows);
    expect(r.stages.rows_rejected).toBe(0); // the generator writes only valid trips
    expect(r.storage.silver_rows).toBe(rows);
    expect(r.storage.gold_equals_silver).toBe(true);
    expect(r.storage.bronze_rows_left).toBe(0);
    expect(r.stages.vacuum).not.toBeNull(); // the maintain task ran after the ingestion
    expect(r.queries.errors).toBe(0);
    expect(r.queries.answers_checked).toBe(45);
    expect(r.queries.mismatches).toEqual([]);
    expect(r.queries.answers_equal).toBe(45);
    // DuckDB, loaded with the same file by its own CSV reader, counts every answer the same.
    expect(r.duckdb?.answers_compared).toBe(45);
    expect(r.duckdb?.answers_equal).toBe(45);
    expect(r.duckdb?.all.n).toBe(45);
    expect(markdown(r)).toContain("DuckDB's counts equal to tripflow's answers | 45 of 45 |");
    expect(r.peak_rss_mb).toBeGreaterThan(0);
    // A second file (half as many trips) while requests keep coming: every answer came, and gold still
    // equals silver after it.
    expect(r.during_load?.requests.n).toBeGreaterThan(0);
    expect(r.during_load?.requests.errors).toBe(0);
    expect(r.during_load?.silver_rows).toBe(rows + rows / 2);
    expect(r.during_load?.gold_equals_silver).toBe(true);
    // The profile's insert figures come out of the plans: silver's insert keeps four indexes more than
    // the floor's, and both are parts of what their statements took.
    const silverTrips = r.profile.statements.find((x) => x.name === "silver.trips")!.ms;
    expect(r.profile.insert.no_index_ms).toBeGreaterThan(0);
    expect(r.profile.insert.silver_ms).toBeGreaterThan(r.profile.insert.no_index_ms);
    expect(r.profile.insert.silver_ms).toBeLessThan(silverTrips);
    expect(r.ceilings.every_step).toBeLessThan(r.ceilings.without_groups_and_gold);
    expect(r.ceilings.without_groups_and_gold).toBeLessThan(r.ceilings.without_groups_gold_and_silver_indexes);
  });

  it("takes an insert's own time out of its plan: the Insert node's total less its input's", () => {
    const plan = [
      "Result (actual time=7001.617..7001.659 rows=1 loops=1)",
      "  CTE marker",
      "    ->  Insert on steps (actual time=0.143..0.147 rows=1 loops=1)",
      "          ->  Result (actual time=0.006..0.007 rows=1 loops=1)",
      "  CTE stored",
      "    ->  Insert on trips trips_1 (actual time=799.986..6752.045 rows=250000 loops=1)",
      "          Buffers: shared hit=3020776 read=4899 dirtied=16049 written=11664",
      "          WAL: records=1006366 fpi=3076 bytes=148090464",
      '          ->  Subquery Scan on "*SELECT*" (actual time=799.073..1160.736 rows=250000 loops=1)',
      "                ->  Sort (actual time=799.021..989.333 rows=250000 loops=1)",
    ].join("\n");
    expect(insertOnlyMs(plan, "trips")).toBeCloseTo(6752.045 - 1160.736, 6);
    expect(insertOnlyMs(plan, "steps")).toBeCloseTo(0.147 - 0.007, 6);
    expect(insertOnlyMs(plan, "trip")).toBeNaN(); // a whole table name only
    expect(insertOnlyMs(plan, "rejects")).toBeNaN();
  });

  it("turns the profile into ceiling ratios: cores x rows per summed time, over the reference rate", () => {
    const statements = [
      ["loader: read and type the lines (Node)", 1000],
      ["loader: COPY into bronze", 1000],
      ["silver.dimensions", 500],
      ["silver.trips", 5000],
      ["silver.trip_groups", 2500],
      ["gold.weekly_regions", 1000],
      ["gold.weekly_origin_cells", 1000],
      ["gold.weekly_destination_cells", 1000],
    ].map(([name, ms]) => ({ name: name as string, ms: ms as number }));
    const c = ceilings({ rows: 250_000, statements, insert: { silver_ms: 4000, no_index_ms: 1000 } }, 2, 400_000, 0.05);
    // 2 x 250,000 trips in 13 s = 38,462/s; in 7.5 s = 66,667/s; in 4.5 s (3 s of indexes off) = 111,111/s.
    expect(c.every_step).toBe(0.096);
    expect(c.without_groups_and_gold).toBe(0.167);
    expect(c.without_groups_gold_and_silver_indexes).toBe(0.278);
    expect(c.silver_index_share_of_insert).toBe(0.75);
    expect(c.measured_share_of_ceiling).toBe(0.52);
  });

  it("reads counts the way people write them and refuses the rest", () => {
    expect(parseCount("1000000")).toBe(1_000_000);
    expect(parseCount("1e6")).toBe(1_000_000);
    expect(parseCount("250k")).toBe(250_000);
    expect(parseCount("10M")).toBe(10_000_000);
    expect(() => parseCount("ten")).toThrow(/not a count/);
    expect(() => parseCount("0")).toThrow(/positive/);
  });

  it("draws the same requests from the same seed, a third of them by region", () => {
    const a = randomRequests(30, 7);
    expect(randomRequests(30, 7)).toEqual(a);
    expect(a.filter((r) => r.kind === "region")).toHaveLength(10);
    for (const r of a.filter((x) => x.bbox)) expect(r.bbox![0] < r.bbox![2] && r.bbox![1] < r.bbox![3]).toBe(true);
  });
});
