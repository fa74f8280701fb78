import { describe, expect, it } from "vitest";
import { indexSettings } from "../../pipeline/transform/seal.ts";

// The sort memory of the seal's and the compaction's index builds (pipeline/transform/seal.ts
// indexSettings), against PostgreSQL 15's own arithmetic (tuplesort.c): a sort merges at most
// memory ÷ (2 × 8 kB + 256 kB) runs at once, and each run holds one memory's worth of entries
// (87 B each for silver's covering indexes, as trace_sort reports for a 1 M-trip build).

const megabytes = (settings: string[]) => Number(/maintenance_work_mem = '(\d+)MB'/.exec(settings[0]!)?.[1]);
const mergeOrder = (mb: number) => Math.floor((mb * 2 ** 20) / (2 * 8192 + 32 * 8192));
const runs = (rows: number, mb: number) => Math.ceil((rows * 87) / (mb * 2 ** 20));

describe("indexSettings", () => {
  it("sorts a 1 M-trip segment in 16 MB runs and never asks for less", () => {
    expect(megabytes(indexSettings(1_000_000))).toBe(16);
    expect(megabytes(indexSettings(0))).toBe(16);
    expect(megabytes(indexSettings(Number.NaN))).toBe(16);
  });

  it("asks for enough memory to merge every run in one pass, from 1 k to 1 G trips", () => {
    for (let rows = 1_000; rows <= 1e9; rows *= 1.7) {
      const mb = megabytes(indexSettings(rows));
      expect(runs(rows, mb), `${Math.round(rows)} trips in ${mb} MB`).toBeLessThanOrEqual(mergeOrder(mb));
    }
  });

  it("grows with the segment but stays far below a one-run sort", () => {
    expect(megabytes(indexSettings(10_000_000))).toBe(19);
    expect(megabytes(indexSettings(100_000_000))).toBe(59);
    expect(indexSettings(100_000_000)).toContain("SET max_parallel_maintenance_workers = 0");
  });
});
