import { describe, expect, it } from "vitest";
import { GroupCounts } from "../../pipeline/bronze/group_counts.ts";
import { type CopyField, decodeCopy as decode } from "../helpers/binary-copy.ts";
import { picker, rng } from "../helpers/random.ts";

// The groups a bulk load keeps while it reads (pipeline/bronze/group_counts.ts), against a plain
// reference: string keys in a Map, the level-7 cell id from its definition (db/migrations/4_functions.sql
// cell_parent of a level-12 cell), the slot as the 30-minute part of the day. The integration tests
// check the same groups against silver.trip_groups computed by SQL (bulk.test.ts, crash.test.ts).

const groupCell = (x: number, y: number) => (7n << 42n) | (BigInt(x >> 5) << 21n) | BigInt(y >> 5);

const COLUMNS: CopyField[] = [
  "int4",
  "int8",
  "int8",
  "int2",
  "int8",
  "float8",
  "float8",
  "float8",
  "float8",
  "int8",
  "int8",
  "int4",
];

describe("GroupCounts: the groups of similar trips a bulk load keeps while it reads", () => {
  it("per region, level-7 origin and destination cell and half hour: trips, coordinate sums, first and last moment", () => {
    const next = rng(7);
    const pick = picker(next);
    const groups = new GroupCounts(100_000);
    type Group = { trips: number; sums: number[]; first: number; last: number };
    const reference = new Map<string, Group>();
    // Few values of each part, so that groups repeat; the edges of the grid, of the day and of the
    // moments the table holds (about ±285 years around 2000) included.
    const someX = [0, 31, 32, 360 * 4096 - 1, 737_280];
    const someY = [0, 31, 32, 180 * 4096 - 1, 368_640];
    for (let i = 0; i < 10; i++) someX.push(Math.floor(next() * 360 * 4096));
    for (let i = 0; i < 10; i++) someY.push(Math.floor(next() * 180 * 4096));
    const someMinutes = [0, 29, 30, 719, 1439];
    const someRegions = [1, 2, 175_000];
    const limit = 2 ** 53 - 1;
    for (let i = 0; i < 30_000; i++) {
      const region = pick(someRegions);
      const minute = pick(someMinutes);
      const [ox, oy, dx, dy] = [pick(someX), pick(someY), pick(someX), pick(someY)];
      const coords = [next() * 360 - 180, next() * 180 - 90, next() * 360 - 180, next() * 180 - 90];
      const micros = i === 0 ? -limit : i === 1 ? limit : Math.floor((next() - 0.5) * 2e15);
      groups.add(region, minute, ox, oy, dx, dy, coords[0]!, coords[1]!, coords[2]!, coords[3]!, micros);
      const key = `${region} ${groupCell(ox, oy)} ${groupCell(dx, dy)} ${Math.floor(minute / 30)}`;
      const g = reference.get(key);
      if (!g) reference.set(key, { trips: 1, sums: coords, first: micros, last: micros });
      else {
        g.trips++;
        g.sums = g.sums.map((s, k) => s + coords[k]!);
        g.first = Math.min(g.first, micros);
        g.last = Math.max(g.last, micros);
      }
    }
    expect(groups.complete).toBe(true);
    const expected = [...reference].map(
      ([key, g]) => `${key} ${g.trips} ${g.sums.join(" ")} ${BigInt(g.first)} ${BigInt(g.last)} 9`,
    );
    expect(decode([...groups.rows(9)], COLUMNS).sort()).toEqual(expected.sort());
  });

  it("gives up (the seal aggregates instead) past its bound of groups, a region id or a moment it cannot pack", () => {
    const add = (g: GroupCounts, region: number, ox: number, micros = 0) =>
      g.add(region, 0, ox, 0, 0, 0, 0, 0, 0, 0, micros);
    const bounded = new GroupCounts(1_000);
    for (let i = 0; i < 50_000; i++) add(bounded, 1, (i % 1_000) * 32);
    expect(bounded.complete).toBe(true);
    expect(bounded.size).toBe(1_000);
    add(bounded, 1, 1_000 * 32);
    expect(bounded.complete).toBe(false);
    const none = new GroupCounts(0);
    expect(none.complete).toBe(false);
    const region = new GroupCounts(10);
    add(region, 200_000, 0);
    expect(region.complete).toBe(false);
    const moment = new GroupCounts(10);
    add(moment, 1, 0, 2 ** 53);
    expect(moment.complete).toBe(false);
  });
});
