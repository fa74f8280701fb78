import { afterEach, describe, expect, it } from "vitest";
import { GroupCounts } from "../../pipeline/bronze/group_counts.ts";
import type { CountTable } from "../../pipeline/bronze/count_messages.ts";
import { LoadCounts } from "../../pipeline/bronze/load_counts.ts";
import { WeeklyCounts } from "../../pipeline/bronze/weekly_counts.ts";
import { rng } from "../helpers/random.ts";

// The counting thread a bulk load hands its trips to (pipeline/bronze/load_counts.ts, count_worker.ts):
// whatever crosses between the threads, in batches and back in pieces, must come out as the same rows
// the counting classes give when fed directly in this thread.

const collect = async (counts: LoadCounts, table: CountTable) => {
  const pieces: Buffer[] = [];
  for await (const piece of counts.rows(table)) pieces.push(piece);
  return Buffer.concat(pieces);
};

describe("LoadCounts: the weekly counts and groups kept on a thread of their own", () => {
  let counts: LoadCounts | undefined;
  afterEach(() => counts?.close());

  it("gives the rows the counting classes give, for more trips than a batch and more rows than a piece", async () => {
    const next = rng(3);
    const segment = 11;
    counts = new LoadCounts(segment, 2 ** 20);
    const weekly = new WeeklyCounts();
    const groups = new GroupCounts(2 ** 20);
    for (let i = 0; i < 60_000; i++) {
      const trip = [
        1 + Math.floor(next() * 3),
        17_000 + Math.floor(next() * 700),
        Math.floor(next() * 1440),
        Math.floor(next() * 360 * 4096),
        Math.floor(next() * 180 * 4096),
        Math.floor(next() * 360 * 4096),
        Math.floor(next() * 180 * 4096),
        next() * 360 - 180,
        next() * 180 - 90,
        next() * 360 - 180,
        next() * 180 - 90,
        Math.floor(next() * 1e15),
      ] as const;
      counts.add(...trip);
      weekly.add(trip[0], trip[1], trip[3], trip[4], trip[5], trip[6]);
      groups.add(trip[0], trip[2], trip[3], trip[4], trip[5], trip[6], trip[7], trip[8], trip[9], trip[10], trip[11]);
      if (i % 1000 === 0) await counts.ready();
    }
    expect(await counts.finish()).toEqual({ weekly: true, groups: true });
    // Byte for byte (Buffer.equals: a deep comparison of megabytes would take the test's time).
    const same = async (table: CountTable, direct: Buffer[]) => {
      const rows = Buffer.concat(direct);
      expect((await collect(counts!, table)).equals(rows)).toBe(true);
      return rows.length;
    };
    await same("regions", weekly.regionRows(segment));
    await same("origins", weekly.cellRows("origins", segment));
    await same("destinations", weekly.cellRows("destinations", segment));
    expect(await same("groups", [...groups.rows(segment)])).toBeGreaterThan(2 ** 20);
  });

  it("says what gave up: more groups than its bound keeps nothing of the groups, the weekly counts still whole", async () => {
    counts = new LoadCounts(1, 10);
    for (let i = 0; i < 100; i++) counts.add(1, 18_000, 0, i * 32, 0, 0, 0, 0, 0, 0, 0, 0);
    expect(await counts.finish()).toEqual({ weekly: true, groups: false });
  });

  it("keeps nothing, and the load goes on, when the thread is gone", async () => {
    counts = new LoadCounts(1, 10);
    await (counts as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    counts.add(1, 18_000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    await counts.ready();
    expect(await counts.finish()).toEqual({ weekly: false, groups: false });
  });
});
