import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { CountingThread } from "../../pipeline/bronze/counting.ts";
import { TripTables } from "../../pipeline/bronze/count_tables.js";
import { blankGroupTrip, WeeklyCounts } from "../../pipeline/bronze/weekly_counts.ts";
import { picker, rng } from "../helpers/random.ts";

// The weekly counts a bulk load keeps while it reads (pipeline/bronze/weekly_counts.ts), against a
// plain reference: string keys in a Map, the Monday from JavaScript's Date, the level-8 cell id from
// its definition (db/migrations/4_functions.sql cell_parent). The integration tests check the same
// counts against gold computed by SQL (bulk.test.ts, crash.test.ts: `mismatches`).

const DAY_MS = 86_400_000;
/** Days from 1970-01-01 of 0001-01-01 and 9999-12-31. */
const FIRST = -719_162;
const LAST = 2_932_896;

/** The Monday of the ISO week of a day, as 'YYYY-MM-DD' (proleptic Gregorian, years 1..9999). */
function monday(days: number): string {
  const date = new Date(days * DAY_MS);
  const back = (date.getUTCDay() + 6) % 7;
  return new Date((days - back) * DAY_MS).toISOString().slice(0, 10);
}

const goldCell = (x: number, y: number) => (8n << 42n) | (BigInt(x >> 4) << 21n) | BigInt(y >> 4);
const pairCell = (x: number, y: number) => (6n << 42n) | (BigInt(x >> 6) << 21n) | BigInt(y >> 6);

/** silver.trip_groups' columns as WeeklyCounts.groupRows writes them. */
const GROUP_TYPES = [
  "int4",
  "int8",
  "int8",
  "int2",
  "int8",
  "float8",
  "float8",
  "float8",
  "float8",
  "timestamp",
  "timestamp",
  "int4",
] as const;
const WIDTH = { int2: 2, int4: 4, date: 4, int8: 8, float8: 8, timestamp: 8 } as const;
const groupCell = (x: number, y: number) => (7n << 42n) | (BigInt(x >> 5) << 21n) | BigInt(y >> 5);

/**
 * Decodes binary COPY rows of int2 / int4 / date / int8 / float8 / timestamp fields (types given per
 * column; a timestamp as its microseconds since 2000, a float8 as JavaScript prints it).
 */
function decode(
  pieces: Iterable<Buffer>,
  types: ("int2" | "int4" | "date" | "int8" | "float8" | "timestamp")[],
): string[] {
  const buf = Buffer.concat([...pieces]);
  expect(buf.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
  let at = 19;
  const rows: string[] = [];
  for (;;) {
    const fields = buf.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(fields).toBe(types.length);
    const values: string[] = [];
    for (const type of types) {
      const length = buf.readInt32BE(at);
      at += 4;
      if (length !== WIDTH[type]) throw new Error(`a ${type} field of ${length} bytes`);
      if (type === "int8" || type === "timestamp") values.push(String(buf.readBigInt64BE(at)));
      else if (type === "int4") values.push(String(buf.readInt32BE(at)));
      else if (type === "int2") values.push(String(buf.readInt16BE(at)));
      else if (type === "float8") values.push(String(buf.readDoubleBE(at)));
      else values.push(new Date((buf.readInt32BE(at) + 10_957) * DAY_MS).toISOString().slice(0, 10));
      at += length;
    }
    rows.push(values.join(" "));
  }
  expect(at).toBe(buf.length);
  return rows;
}

describe("WeeklyCounts: the weekly counts a bulk load keeps while it reads", () => {
  it("counts per region and week, and per level-8 origin and destination cell, as defined, in the tables' key order", () => {
    const next = rng(42);
    const counts = new WeeklyCounts();
    const regions = new Map<string, number>();
    const origins = new Map<string, number>();
    const destinations = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    const pick = picker(next);
    // Few values of each part, so that keys repeat; the edges of the calendar and of the grid included.
    const someDays = [FIRST, FIRST + 6, FIRST + 7, -4, -3, 0, 3, 4, 10_957, 18_321, LAST - 3, LAST];
    for (let i = 0; i < 40; i++) someDays.push(FIRST + Math.floor(next() * (LAST - FIRST)));
    const someX = [0, 15, 16, 360 * 4096 - 1, 737_280];
    const someY = [0, 15, 16, 180 * 4096 - 1, 368_640];
    for (let i = 0; i < 20; i++) someX.push(Math.floor(next() * 360 * 4096));
    for (let i = 0; i < 20; i++) someY.push(Math.floor(next() * 180 * 4096));
    const someRegions = [1, 2, 3, 70_000, 2 ** 31 - 1];
    for (let i = 0; i < 50_000; i++) {
      const region = pick(someRegions);
      const days = pick(someDays);
      const [ox, oy, dx, dy] = [pick(someX), pick(someY), pick(someX), pick(someY)];
      counts.add(region, days, ox, oy, dx, dy);
      const week = monday(days);
      bump(regions, `${region} ${week}`);
      bump(origins, `${region} ${week} ${goldCell(ox, oy)}`);
      bump(destinations, `${region} ${week} ${goldCell(dx, dy)}`);
    }
    expect(counts.complete).toBe(true);
    expect(counts.pairsComplete).toBe(false); // region ids from 2^13 on: the seal counts the pairs
    const expected = (m: Map<string, number>, segment: number) => [...m].map(([k, n]) => `${k} ${n} ${segment}`).sort();
    const regionRows = decode(counts.regionRows(7), ["int4", "date", "int8", "int4"]);
    expect([...regionRows].sort()).toEqual(expected(regions, 7));
    const byKey = (row: string) => row.split(" ");
    // By region, then week (dates sort as text).
    expect(regionRows).toEqual(
      [...regionRows].sort(
        (a, b) => Number(byKey(a)[0]) - Number(byKey(b)[0]) || byKey(a)[1]!.localeCompare(byKey(b)[1]!),
      ),
    );
    for (const [end, m] of [
      ["origins", origins],
      ["destinations", destinations],
    ] as const) {
      const rows = decode(counts.cellRows(end, 7), ["int4", "date", "int8", "int8", "int4"]);
      // Each row as "region week cell trips segment"; the reference's key is "region week cell".
      expect([...rows].sort()).toEqual(expected(m, 7));
      // By cell, week and region: the order of the table's key.
      const order = (a: string, b: string) => {
        const [ra, wa, ca] = byKey(a);
        const [rb, wb, cb] = byKey(b);
        return Number(BigInt(ca!) - BigInt(cb!)) || wa!.localeCompare(wb!) || Number(ra) - Number(rb);
      };
      expect(rows).toEqual([...rows].sort(order));
    }
  });

  it("counts per level-6 cell pair, week and region, as defined, in pieces of rows", () => {
    const next = rng(7);
    const counts = new WeeklyCounts();
    const pairs = new Map<string, number>();
    const pick = picker(next);
    const someDays = [FIRST, FIRST + 6, FIRST + 7, -4, 0, 18_321, LAST];
    for (let i = 0; i < 20; i++) someDays.push(FIRST + Math.floor(next() * (LAST - FIRST)));
    // Level-6 cells of 64 level-12 columns (rows): both sides of a border, and the grid's last.
    const someX = [0, 63, 64, 360 * 4096 - 1, 737_280];
    const someY = [0, 63, 64, 180 * 4096 - 1, 368_640];
    for (let i = 0; i < 30; i++) someX.push(Math.floor(next() * 360 * 4096));
    for (let i = 0; i < 30; i++) someY.push(Math.floor(next() * 180 * 4096));
    const someRegions = [1, 2, 3, 2 ** 13 - 1];
    for (let i = 0; i < 60_000; i++) {
      const region = pick(someRegions);
      const days = pick(someDays);
      const [ox, oy, dx, dy] = [pick(someX), pick(someY), pick(someX), pick(someY)];
      counts.add(region, days, ox, oy, dx, dy);
      const key = `${region} ${monday(days)} ${pairCell(ox, oy)} ${pairCell(dx, dy)}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    expect([counts.complete, counts.pairsComplete]).toEqual([true, true]);
    const pieces = [...counts.pairRows(7)];
    expect(pieces.length).toBeGreaterThan(1); // handed out as it goes, not as one buffer
    const rows = decode(pieces, ["int4", "date", "int8", "int8", "int8", "int4"]);
    expect(rows.sort()).toEqual([...pairs].map(([k, n]) => `${k} ${n} 7`).sort());
  });

  it("keeps the groups of similar trips as silver.trip_groups holds them, and gives them up on their own", () => {
    const next = rng(5);
    const counts = new WeeklyCounts(new TripTables(2 ** 16));
    const pick = picker(next);
    // Level-7 cells of 32 level-12 columns (rows): both sides of a border, and the grid's last.
    const someX = [0, 31, 32, 360 * 4096 - 1];
    const someY = [0, 31, 32, 180 * 4096 - 1];
    for (let i = 0; i < 6; i++) someX.push(Math.floor(next() * 360 * 4096));
    for (let i = 0; i < 6; i++) someY.push(Math.floor(next() * 180 * 4096));
    // Moments from 1900 to 2150 (seconds since 2000), microseconds, minutes at slot edges.
    const someSeconds = [-3_155_673_600, -1, 0, 599_616_000, 4_733_510_400];
    const someMinutes = [0, 29, 30, 719, 1_439];
    type Group = { trips: number; sums: number[]; first: bigint; last: bigint };
    const groups = new Map<string, Group>();
    const trip = blankGroupTrip();
    for (let i = 0; i < 30_000; i++) {
      const region = pick([1, 2, 2 ** 16 - 1]);
      const [ox, oy, dx, dy] = [pick(someX), pick(someY), pick(someX), pick(someY)];
      trip.seconds = pick(someSeconds);
      trip.micros = pick([0, 1, 999_999]);
      trip.minute = pick(someMinutes);
      const points = [next() * 360 - 180, next() * 180 - 90, next() * 360 - 180, next() * 180 - 90];
      [trip.originLon, trip.originLat, trip.destinationLon, trip.destinationLat] = points;
      counts.add(region, 18_000, ox, oy, dx, dy, trip);
      const key = `${region} ${groupCell(ox, oy)} ${groupCell(dx, dy)} ${Math.floor(trip.minute / 30)}`;
      const moment = BigInt(trip.seconds) * 1_000_000n + BigInt(trip.micros);
      const g = groups.get(key) ?? { trips: 0, sums: [0, 0, 0, 0], first: moment, last: moment };
      g.trips++;
      g.sums = g.sums.map((sum, k) => sum + points[k]!);
      if (moment < g.first) g.first = moment;
      if (moment > g.last) g.last = moment;
      groups.set(key, g);
    }
    expect([counts.complete, counts.groupsComplete]).toEqual([true, true]);
    const pieces = [...counts.groupRows(9)];
    expect(pieces.length).toBeGreaterThan(1); // handed out as it goes
    const rows = decode(pieces, [...GROUP_TYPES]);
    // Sums added in the same order as here: equal to the last bit.
    const expected = [...groups].map(([k, g]) => `${k} ${g.trips} ${g.sums.join(" ")} ${g.first} ${g.last} 9`);
    expect(rows.sort()).toEqual(expected.sort());
    expect(groups.size).toBeGreaterThan(5_000);

    // They give up alone, the weekly counts staying whole: past their bound, for a region id from 2^16
    // on, for a moment whose microseconds a double does not hold exactly, or without a group given.
    const small = new WeeklyCounts(new TripTables(1024));
    for (let i = 0; i < 800; i++) small.add(1, 18_000, i * 32, 0, 0, 0, trip);
    const bigRegion = new WeeklyCounts(new TripTables(1024));
    bigRegion.add(2 ** 16, 18_000, 0, 0, 0, 0, trip);
    const far = new WeeklyCounts(new TripTables(1024));
    far.add(1, 18_000, 0, 0, 0, 0, { ...trip, seconds: 9.1e9 });
    const none = new WeeklyCounts(new TripTables(1024));
    none.add(1, 18_000, 0, 0, 0, 0);
    const unkept = new WeeklyCounts();
    unkept.add(1, 18_000, 0, 0, 0, 0, trip);
    for (const c of [small, bigRegion, far, none, unkept])
      expect([c.complete, c.groupsComplete]).toEqual([true, false]);
    expect(() => small.groupRows(1).next()).toThrow(/gave up/);
    const bounded = new WeeklyCounts(new TripTables(1024));
    for (let i = 0; i < 700; i++) bounded.add(1, 18_000, i * 32, 0, 0, 0, trip);
    expect(bounded.groupsComplete).toBe(true);
  });

  it("gives up (the seal counts instead) past its bound of keys and outside the calendar it packs", () => {
    const many = new WeeklyCounts();
    for (let i = 0; i < 700_000; i++) many.add(1, 18_000, (i % 1_000) * 16, Math.floor(i / 1_000) * 16, 0, 0);
    expect(many.complete).toBe(false);
    const early = new WeeklyCounts();
    early.add(1, FIRST - 1, 0, 0, 0, 0);
    expect(early.complete).toBe(false);
    const late = new WeeklyCounts();
    late.add(1, LAST + 7 * 2 ** 19, 0, 0, 0, 0);
    expect(late.complete).toBe(false);
    // The pairs give up on their own, past their bound or for a region id they cannot pack: the rest stays.
    const manyPairs = new WeeklyCounts();
    for (let i = 0; i < 1_500_000; i++)
      manyPairs.add(1, 18_000 + (i % 100) * 7, (Math.floor(i / 100) % 100) * 64, 0, Math.floor(i / 10_000) * 64, 0);
    expect(() => manyPairs.pairRows(1).next()).toThrow(/gave up/);
    expect([manyPairs.complete, manyPairs.pairsComplete]).toEqual([true, false]);
    const bigRegion = new WeeklyCounts();
    bigRegion.add(2 ** 13, 18_000, 0, 0, 0, 0);
    expect([bigRegion.complete, bigRegion.pairsComplete]).toEqual([true, false]);
    expect([many.complete, many.pairsComplete]).toEqual([false, false]);
    const bounded = new WeeklyCounts();
    for (let i = 0; i < 100_000; i++) bounded.add(1, 18_000 + (i % 700), i % 300, 0, 0, 0);
    expect(bounded.complete).toBe(true);
  });
});

describe("CountingThread: the same counts kept on a worker thread", () => {
  it("gives exactly the counts WeeklyCounts gives on this thread, whatever the batches", async () => {
    const next = rng(11);
    const thread = new CountingThread(2 ** 17);
    const here = new WeeklyCounts(new TripTables(2 ** 17));
    const group = blankGroupTrip();
    // 40,003 trips: several full batches and a partial last one.
    for (let i = 0; i < 40_003; i++) {
      const trip = [
        1 + Math.floor(next() * 5),
        18_000 + Math.floor(next() * 400),
        Math.floor(next() * 3_000) + 500_000,
        Math.floor(next() * 3_000) + 200_000,
        Math.floor(next() * 3_000) + 500_000,
        Math.floor(next() * 3_000) + 200_000,
      ] as const;
      group.seconds = 599_616_000 + Math.floor(next() * 1e8);
      group.micros = Math.floor(next() * 1e6);
      group.minute = Math.floor(next() * 1440);
      group.originLon = next() * 10;
      group.destinationLat = next() * 10;
      thread.add(...trip, group);
      here.add(...trip, group);
      const behind = thread.backlog();
      if (behind) await behind;
    }
    const counts = await thread.finish();
    await thread.close();
    expect(counts).not.toBeNull();
    expect([counts!.complete, counts!.pairsComplete]).toEqual([true, true]);
    const types = ["int4", "date", "int8", "int8", "int4"] as const;
    // Compared as one text each: the rows in the same order (pairs sorted: they come in no order).
    const text = (rows: string[]) => rows.join("\n");
    expect(text(decode(counts!.regionRows(3), ["int4", "date", "int8", "int4"]))).toBe(
      text(decode(here.regionRows(3), ["int4", "date", "int8", "int4"])),
    );
    for (const end of ["origins", "destinations"] as const)
      expect(text(decode(counts!.cellRows(end, 3), [...types]))).toBe(text(decode(here.cellRows(end, 3), [...types])));
    const pairTypes = ["int4", "date", "int8", "int8", "int8", "int4"] as const;
    const pairs = decode([...counts!.pairRows(3)], [...pairTypes]);
    expect(pairs.length).toBeGreaterThan(30_000);
    expect(text(pairs.sort())).toBe(text(decode([...here.pairRows(3)], [...pairTypes]).sort()));
    expect(counts!.groupsComplete).toBe(true);

    const groups = decode([...counts!.groupRows(3)], [...GROUP_TYPES]);
    expect(groups.length).toBeGreaterThan(10_000);
    expect(text(groups.sort())).toBe(text(decode([...here.groupRows(3)], [...GROUP_TYPES]).sort()));
  }, 60_000);

  it("runs its thread, and that thread only, at the nice value it is given (BULK_NICE)", async (ctx) => {
    const nices = async () => {
      const tasks = await readdir("/proc/self/task").catch(() => null);
      if (!tasks) return null;
      const values = await Promise.all(
        tasks.map(async (t) => {
          const text = await readFile(`/proc/self/task/${t}/stat`, "utf8").catch(() => "");
          return text ? Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[16]) : null;
        }),
      );
      return values.filter((v) => v !== null);
    };
    const before = await nices();
    if (!before) ctx.skip(); // not Linux
    const own = before!.reduce((a, b) => Math.max(a, b), 0);
    const lowered = Math.min(19, own + 7);
    const thread = new CountingThread(0, 7);
    try {
      // The thread lowers its priority as it starts: until then, every thread is at the process's.
      let during = await nices();
      for (
        const deadline = Date.now() + 5000;
        !during!.includes(lowered) && Date.now() < deadline;
        during = await nices()
      )
        await new Promise((r) => setTimeout(r, 20));
      expect(during!.filter((v) => v === lowered)).toHaveLength(1);
      expect(during!.filter((v) => v !== lowered).every((v) => v <= own)).toBe(true);
      thread.add(1, 18_000, 0, 0, 0, 0);
      expect(await thread.finish()).not.toBeNull(); // and it counts as before
    } finally {
      await thread.close();
    }
  });

  it("gives no counts (the seal counts instead) once its thread is gone, or for a week the tables cannot pack", async () => {
    const thread = new CountingThread();
    thread.add(1, 18_000, 0, 0, 0, 0);
    await thread.close();
    thread.add(1, 18_000, 0, 0, 0, 0);
    expect(thread.backlog()).toBeUndefined();
    expect(await thread.finish()).toBeNull();
    const early = new CountingThread();
    early.add(1, 18_000, 0, 0, 0, 0);
    early.add(1, FIRST - 1, 0, 0, 0, 0);
    expect(await early.finish()).toBeNull();
    await early.close();
  });
});
