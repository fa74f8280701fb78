import { describe, expect, it } from "vitest";
import { GroupSums } from "../../pipeline/bronze/group_sums.ts";
import { GroupSumsThread } from "../../pipeline/bronze/group_thread.ts";
import { SilverRows } from "../../pipeline/bronze/silver_rows.ts";

// The groups' sums a bulk load keeps while it reads (pipeline/bronze/group_sums.ts), spilled many times
// by a tiny table, added up again here as the seal does (db/transforms/seal/sum_groups.sql), against a
// plain reference computed trip by trip. The integration tests check the same sums against the groups
// computed by SQL from silver (bulk.test.ts, crash.test.ts: `mismatches`).

function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

type Group = { trips: bigint; sums: number[]; first: bigint; last: bigint };

/** Reads binary COPY rows of silver.trip_groups' columns (less segment) and adds up each group's rows. */
function addUp(pieces: Buffer[], into: Map<string, Group>): number {
  if (pieces.length === 0) return 0; // nothing spilled
  const buf = Buffer.concat(pieces);
  expect(buf.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
  let at = 19;
  let rows = 0;
  for (;;) {
    const fields = buf.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(fields).toBe(11);
    const field = () => {
      const length = buf.readInt32BE(at);
      const value = buf.subarray(at + 4, at + 4 + length);
      at += 4 + length;
      return value;
    };
    const region = field().readInt32BE();
    const origin = field().readBigInt64BE();
    const destination = field().readBigInt64BE();
    const slot = field().readInt16BE();
    const trips = field().readBigInt64BE();
    const sums = [0, 1, 2, 3].map(() => field().readDoubleBE());
    const first = field().readBigInt64BE();
    const last = field().readBigInt64BE();
    const key = `${region} ${origin} ${destination} ${slot}`;
    const g = into.get(key);
    if (!g) into.set(key, { trips, sums, first, last });
    else {
      g.trips += trips;
      g.sums = g.sums.map((s, i) => s + sums[i]!);
      if (first < g.first) g.first = first;
      if (last > g.last) g.last = last;
    }
    rows++;
  }
  expect(at).toBe(buf.length);
  return rows;
}

const cell7 = (x: number, y: number) => (7n << 42n) | (BigInt(x >> 5) << 21n) | BigInt(y >> 5);

describe("GroupSums: the groups' sums a bulk load keeps while it reads", () => {
  for (const slots of [64, 2 ** 18]) {
    it(`adds up to the groups computed trip by trip, spilled or not (a table of ${slots} slots)`, () => {
      const next = random(slots);
      const sums = new GroupSums(slots);
      const expected = new Map<string, Group>();
      const got = new Map<string, Group>();
      const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
      const xs = [0, 31, 32, 360 * 4096 - 1, 700_000, 700_031];
      const ys = [0, 31, 32, 180 * 4096 - 1, 400_000];
      const regions = [1, 2, 2 ** 31 - 1];
      let rows = 0;
      for (let i = 0; i < 30_000; i++) {
        const [region, minute] = [pick(regions), pick([0, 29, 30, 719, 1439])];
        const [ox, oy, dx, dy] = [pick(xs), pick(ys), pick(xs), pick(ys)];
        const lonLat = [next() * 360 - 180, next() * 180 - 90, next() * 360 - 180, next() * 180 - 90];
        // Seconds since 2000 from year 1 to 9999, microseconds apart in the same second.
        const seconds = pick([-63_082_281_600, -1, 0, 1, 631_152_000, 252_455_615_999]);
        const micros = pick([0, 1, 999_999, 500_000]);
        const moment = BigInt(seconds) * 1_000_000n + BigInt(micros);
        const [high, low] = [Number(BigInt.asIntN(32, moment >> 32n)), Number(moment & 0xffffffffn)];
        sums.add(region, minute, ox, oy, dx, dy, lonLat[0]!, lonLat[1]!, lonLat[2]!, lonLat[3]!, high, low);
        const key = `${region} ${cell7(ox, oy)} ${cell7(dx, dy)} ${Math.floor(minute / 30)}`;
        const g = expected.get(key);
        if (!g) expected.set(key, { trips: 1n, sums: lonLat, first: moment, last: moment });
        else {
          g.trips++;
          g.sums = g.sums.map((s, j) => s + lonLat[j]!);
          if (moment < g.first) g.first = moment;
          if (moment > g.last) g.last = moment;
        }
        if (i % 5_000 === 4_999) rows += addUp(sums.spill(), got); // as the loader does after each chunk
      }
      rows += addUp(sums.spill(true), got);
      expect(sums.spill(true)).toEqual([]);
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, g] of expected) {
        const h = got.get(key)!;
        expect({ trips: h.trips, first: h.first, last: h.last }).toEqual({
          trips: g.trips,
          first: g.first,
          last: g.last,
        });
        for (let j = 0; j < 4; j++) expect(h.sums[j]).toBeCloseTo(g.sums[j]!, 6);
      }
      // A small table spills a group many times over; a large one writes each group once.
      if (slots === 64) expect(rows).toBeGreaterThan(expected.size * 2);
      else expect(rows).toBe(expected.size);
    });
  }
});

describe("GroupSumsThread: the same sums on a thread of their own, fed the silver rows as written", () => {
  it("reads every row of the binary COPY the loader writes, and answers for exactly the rows fed before", async () => {
    const next = random(7);
    const thread = new GroupSumsThread();
    const expected = new Map<string, Group>();
    const got = new Map<string, Group>();
    const fineX = (lon: number) => Math.min(Math.floor(lon * 4096) + 180 * 4096, 360 * 4096 - 1);
    const fineY = (lat: number) => Math.min(Math.floor(lat * 4096) + 90 * 4096, 180 * 4096 - 1);
    const times = ["2019-01-07 00:00:00", "2019-01-07 08:15:30.5", "2020-02-29 23:59:59.999999", "1999-12-31 12:00:00"];
    for (let chunk = 0; chunk < 3; chunk++) {
      const out = new SilverRows();
      for (let i = 0; i < 2_000; i++) {
        const origin = { lon: 14.4 + Math.floor(next() * 8) * 0.01, lat: 50 + Math.floor(next() * 8) * 0.01 };
        const destination = { lon: next() * 360 - 180, lat: next() * 180 - 90 };
        const time = times[Math.floor(next() * times.length)]!;
        const region = 1 + Math.floor(next() * 3);
        out.add(1, chunk * 2_000 + i + 2, region, 1, { origin, destination, time });
        if (i % 500 === 0) thread.feed(out.take()); // several runs of rows per chunk, as the loader sends them
        const [day, clock] = time.split(" ") as [string, string];
        const [whole, fraction = ""] = clock.split(".");
        const ms = Date.parse(`${day}T${whole}Z`) - Date.UTC(2000, 0, 1);
        const moment = BigInt(ms) * 1_000n + BigInt(fraction.padEnd(6, "0"));
        const minute = Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
        const o = [fineX(origin.lon), fineY(origin.lat)] as const;
        const d = [fineX(destination.lon), fineY(destination.lat)] as const;
        const key = `${region} ${cell7(o[0], o[1])} ${cell7(d[0], d[1])} ${Math.floor(minute / 30)}`;
        const lonLat = [origin.lon, origin.lat, destination.lon, destination.lat];
        const g = expected.get(key);
        if (!g) expected.set(key, { trips: 1n, sums: lonLat, first: moment, last: moment });
        else {
          g.trips++;
          g.sums = g.sums.map((s, j) => s + lonLat[j]!);
          if (moment < g.first) g.first = moment;
          if (moment > g.last) g.last = moment;
        }
      }
      out.end();
      thread.feed(out.take());
      const spilled = await thread.spilled();
      expect(spilled).not.toBeNull();
      addUp(spilled!, got);
    }
    addUp((await thread.finish())!, got);
    expect(await thread.spilled()).toBeNull(); // ended
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, g] of expected) {
      const h = got.get(key)!;
      expect({ trips: h.trips, first: h.first, last: h.last }).toEqual({
        trips: g.trips,
        first: g.first,
        last: g.last,
      });
      for (let j = 0; j < 4; j++) expect(h.sums[j]).toBeCloseTo(g.sums[j]!, 6);
    }
  });
});
