import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { markdown, parseCount, randomRequests, runBench } from "../bench/run.ts";
import { adminUrl, templateDb } from "../helpers/database.ts";

// The shipped benchmark at a small N, as CI's smoke test: every step runs for real (generated file,
// reference COPY, the service in a child process fed through its landing folder, HTTP requests
// checked against a direct count). Figures are printed, never asserted on time.
describe("npm run bench (smoke, small N)", () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("ingests N generated trips through the service and answers every request as a direct count does", { timeout: 240_000 }, async () => {
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
    expect(r.peak_rss_mb).toBeGreaterThan(0);
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
