import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import type { createApp } from "../../api/app.ts";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

/** One ingestion's rows through bronze, silver and the groups, as the pipeline would put them. */
async function ingest(pool: pg.Pool, rows: Row[]): Promise<number> {
  const p = await bronzeChunk(pool, rows);
  expect(await promoteSilverChunk(pool, p)).toMatchObject({ stored: rows.length, rejected: 0 });
  await mergeGroupsChunk(pool, p);
  await mergeGoldChunk(pool, p);
  return p.ingestion_id;
}

// Level-7 cells are 1/128 degree. A7 = [14.4140625, 14.421875) x [50.0546875, 50.0625) and its west
// sibling A7w = [14.40625, 14.4140625) x the same rows share the level-6 parent
// [14.40625, 14.421875) x [50.046875, 50.0625). D7 = [14.5, 14.5078125) x [50.09375, 50.1015625).
const D = "POINT (14.502 50.098)";
const FIRST: Row[] = [
  ["Prague", "POINT (14.417 50.057)", "POINT (14.503 50.099)", "2019-03-05 08:10:00", "b"], // G1: A7 -> D7, slot 16
  ["Prague", "POINT (14.419 50.059)", "POINT (14.504 50.1)", "2019-03-06 08:29:59", "a"], // G1
  ["Prague", "POINT (14.415 50.055)", "POINT (14.502 50.098)", "2019-03-04 08:05:00", "a"], // G1, line 4
  ["Prague", "POINT (14.416 50.056)", D, "2019-03-04 08:30:00", "a"], // G2: A7 -> D7, slot 17
  ["Prague", "POINT (14.418 50.058)", D, "2019-03-07 08:59:00", "b"], // G2
  ["Prague", "POINT (14.41 50.058)", "POINT (14.503 50.097)", "2019-03-08 08:15:00", "a"], // G3: A7w -> D7, slot 16
  ["Prague", "POINT (14.412 50.06)", "POINT (14.503 50.097)", "2019-03-09 08:20:00", "a"], // G3
  ["Prague", "POINT (14.421875 50.056)", D, "2019-03-04 08:06:00", "a"], // G5: on A7's east edge, so the next cell
  ["Turin", "POINT (7.6 45.0)", "POINT (7.7 45.1)", "2018-06-01 18:00:00", "c"], // T36: slot 36
  ["Turin", "POINT (7.6 45.0)", "POINT (7.7 45.1)", "2018-06-02 23:45:00", "c"], // T47: slot 47
];
// A later file adds a G1 trip at the very same time as line 4 of the first, on a lower line: paging
// must see both, in ingestion order.
const SECOND: Row[] = [["Prague", "POINT (14.4145 50.0552)", "POINT (14.5025 50.0985)", "2019-03-04 08:05:00", "c"]];
const TOTAL = FIRST.length + SECOND.length;

/** A cell id as tripflow.cell computes it: (level << 42) | (x << 21) | y. */
const cellId = (lon: number, lat: number, level: number) =>
  String(
    level * 2 ** 42 +
      (Math.floor(lon * 2 ** level) + 180 * 2 ** level) * 2 ** 21 +
      Math.floor(lat * 2 ** level) +
      90 * 2 ** level,
  );

type Group = {
  id: string;
  region: string;
  origin_cell: { id: string; level: number; center: number[]; bounds: number[] };
  destination_cell: { id: string; level: number; center: number[]; bounds: number[] };
  slot: string;
  trips: number;
  representative: { origin: number[]; destination: number[] };
  first_trip_at: string;
  last_trip_at: string;
};
type Trip = {
  ingestion_id: number;
  line_no: number;
  region: string;
  datasource: string;
  origin: number[];
  destination: number[];
  datetime: string;
};

describe("GET /groups and GET /groups/{id}/trips", () => {
  let db: TestDatabase;
  let app: ReturnType<typeof createApp>;
  let close: () => Promise<void>;
  let first: number;
  let second: number;

  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each checked with toEqual
  async function get(path: string): Promise<{ status: number; body: any }> {
    const res = await app.request(path);
    return { status: res.status, body: await res.json() };
  }
  async function groups(query = ""): Promise<Group[]> {
    const { status, body } = await get(`/groups${query}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return body.groups;
  }
  const summary = (gs: Group[]) => gs.map((g) => `${g.region} ${g.slot} ${g.trips}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ app, close } = await testApp(db));
    first = await ingest(db.pool, FIRST);
    second = await ingest(db.pool, SECOND);
  });
  afterAll(async () => {
    await close?.();
    await db?.drop();
  });

  it("lists the stored groups largest first, ties in region, cell and slot order", async () => {
    const { body } = await get("/groups");
    expect(body.cell_level).toBe(7);
    expect(body.slot_minutes).toBe(30);
    // G1, then G3 before G2 (A7w's column is west of A7's), then the one-trip groups: Prague before Turin.
    expect(summary(body.groups)).toEqual([
      "Prague 08:00-08:30 4",
      "Prague 08:00-08:30 2",
      "Prague 08:30-09:00 2",
      "Prague 08:00-08:30 1",
      "Turin 18:00-18:30 1",
      "Turin 23:30-24:00 1",
    ]);
    const [g1, g3, , g5] = body.groups as Group[];
    expect(g3!.origin_cell.id).toBe(cellId(14.41, 50.058, 7));
    expect(g5!.origin_cell.id).toBe(cellId(14.421875, 50.056, 7));
    expect(g1).toMatchObject({
      region: "Prague",
      origin_cell: {
        id: cellId(14.415, 50.055, 7),
        level: 7,
        center: [14.41796875, 50.05859375],
        bounds: [14.4140625, 50.0546875, 14.421875, 50.0625],
      },
      destination_cell: { id: cellId(14.502, 50.098, 7), level: 7, bounds: [14.5, 50.09375, 14.5078125, 50.1015625] },
      first_trip_at: "2019-03-04 08:05:00",
      last_trip_at: "2019-03-06 08:29:59",
    });
    // The representative trip is the mean of the members' points.
    const [ox, oy] = g1!.representative.origin;
    const [dx, dy] = g1!.representative.destination;
    expect(ox).toBeCloseTo((14.415 + 14.417 + 14.419 + 14.4145) / 4, 9);
    expect(oy).toBeCloseTo((50.055 + 50.057 + 50.059 + 50.0552) / 4, 9);
    expect(dx).toBeCloseTo((14.502 + 14.503 + 14.504 + 14.5025) / 4, 9);
    expect(dy).toBeCloseTo((50.098 + 50.099 + 50.1 + 50.0985) / 4, 9);
    expect(new Set(body.groups.map((g: Group) => g.id)).size).toBe(6);
  });

  it("merges sibling level-7 cells at cell=6", async () => {
    const gs = await groups("?cell=6");
    expect(summary(gs)).toEqual([
      "Prague 08:00-08:30 6",
      "Prague 08:30-09:00 2",
      "Prague 08:00-08:30 1",
      "Turin 18:00-18:30 1",
      "Turin 23:30-24:00 1",
    ]);
    expect(gs[0]).toMatchObject({
      origin_cell: {
        id: cellId(14.415, 50.055, 6),
        level: 6,
        center: [14.4140625, 50.0546875],
        bounds: [14.40625, 50.046875, 14.421875, 50.0625],
      },
      destination_cell: { id: cellId(14.502, 50.098, 6), level: 6 },
      first_trip_at: "2019-03-04 08:05:00",
      last_trip_at: "2019-03-09 08:20:00",
    });
    expect(gs[0]!.origin_cell.id).toBe(cellId(14.41, 50.058, 6));
    expect(gs[0]!.representative.origin[0]).toBeCloseTo((14.415 + 14.417 + 14.419 + 14.4145 + 14.41 + 14.412) / 6, 9);
  });

  it("merges neighbouring slots at slot=60 and the whole day at slot=1440", async () => {
    expect(summary(await groups("?slot=60"))).toEqual([
      "Prague 08:00-09:00 6",
      "Prague 08:00-09:00 2",
      "Prague 08:00-09:00 1",
      "Turin 18:00-19:00 1",
      "Turin 23:00-24:00 1",
    ]);
    const both = await groups("?slot=60&cell=6");
    expect(summary(both)).toEqual([
      "Prague 08:00-09:00 8",
      "Prague 08:00-09:00 1",
      "Turin 18:00-19:00 1",
      "Turin 23:00-24:00 1",
    ]);
    expect(both[0]).toMatchObject({ first_trip_at: "2019-03-04 08:05:00", last_trip_at: "2019-03-09 08:20:00" });
    expect(summary(await groups("?slot=1440&region=Turin"))).toEqual(["Turin 00:00-24:00 2"]);
  });

  it("counts every silver trip once at every level and slot size", async () => {
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM silver.trips");
    expect(rows[0].n).toBe(TOTAL);
    for (let cell = 0; cell <= 7; cell++)
      for (const slot of [30, 60, 90, 180, 1440]) {
        const gs = await groups(`?cell=${cell}&slot=${slot}&limit=1000`);
        expect(
          gs.reduce((n, g) => n + g.trips, 0),
          `cell=${cell} slot=${slot}`,
        ).toBe(TOTAL);
      }
    // At level 0 (one-degree cells) and a whole day, only the regions remain apart.
    expect(summary(await groups("?cell=0&slot=1440"))).toEqual(["Prague 00:00-24:00 9", "Turin 00:00-24:00 2"]);
  });

  it("filters by min_trips, region and bbox and stops at limit", async () => {
    expect(summary(await groups("?min_trips=2"))).toEqual([
      "Prague 08:00-08:30 4",
      "Prague 08:00-08:30 2",
      "Prague 08:30-09:00 2",
    ]);
    expect(summary(await groups("?min_trips=5"))).toEqual([]);
    expect(summary(await groups("?min_trips=5&cell=6"))).toEqual(["Prague 08:00-08:30 6"]);
    expect(summary(await groups("?limit=2"))).toEqual(["Prague 08:00-08:30 4", "Prague 08:00-08:30 2"]);
    expect(summary(await groups("?region=Turin"))).toEqual(["Turin 18:00-18:30 1", "Turin 23:30-24:00 1"]);
    // A7w alone: only G3's mean origin lies in it.
    const west = await groups("?bbox=14.40625,50.0546875,14.4140625,50.0625");
    expect(west.map((g) => g.origin_cell.id)).toEqual([cellId(14.41, 50.058, 7)]);
    // Edges count: the Turin groups' mean origin is exactly (7.6, 45.0).
    expect(summary(await groups("?bbox=7.5,44.9,7.6,45"))).toEqual(["Turin 18:00-18:30 1", "Turin 23:30-24:00 1"]);
    expect(summary(await groups("?bbox=7.5,44.9,7.5999,45"))).toEqual([]);
    expect(summary(await groups("?bbox=7.6,45,8,46&region=Prague"))).toEqual([]);
  });

  it("answers 404 for an unknown region or group", async () => {
    expect(await get("/groups?region=Atlantis")).toEqual({
      status: 404,
      body: { error: { code: "not_found", message: 'unknown region "Atlantis"' } },
    });
    // A name is only ever a value: SQL in it finds no region.
    expect((await get(`/groups?region=${encodeURIComponent("Prague' OR '1'='1")}`)).status).toBe(404);
    expect((await get("/groups?region=%FF")).status).toBe(404);
    const [g1] = await groups();
    const [region, o, d] = g1!.id.split("-");
    for (const id of [`${region}-${o}-${d}-30-20`, `999-${o}-${d}-30-16`, `${region}-${d}-${o}-30-16`]) {
      const res = await get(`/groups/${id}/trips`);
      expect(res, id).toEqual({ status: 404, body: { error: { code: "not_found", message: `no group ${id}` } } });
    }
  });

  it("answers 400 naming the parameter for every invalid input", async () => {
    const bad: [string, string][] = [
      ["limit=abc", "limit"],
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=1e9", "limit"],
      ["limit=-1", "limit"],
      ["limit=NaN", "limit"],
      ["limit=1.5", "limit"],
      ["limit=", "limit"],
      [`limit=${encodeURIComponent("1; DROP TABLE silver.trips")}`, "limit"],
      ["limit=1&limit=2", "limit"],
      ["min_trips=0", "min_trips"],
      ["min_trips=1000000001", "min_trips"],
      ["cell=8", "cell"],
      ["cell=-1", "cell"],
      ["cell=12", "cell"],
      ["slot=45", "slot"],
      ["slot=0", "slot"],
      ["slot=2880", "slot"],
      ["bbox=1,2,3", "bbox"],
      ["bbox=1,2,3,abc", "bbox"],
      ["bbox=181,0,182,1", "bbox"],
      ["bbox=0,-91,1,0", "bbox"],
      ["region=", "region"],
      ["region=%00", "region"],
      ["region=a&region=b", "region"],
      ["bbox=2,0,1,1", "bbox"],
      ["bbox=0,2,1,1", "bbox"],
      ["bbox=Infinity,0,1,1", "bbox"],
      ["bbox=0x1,0,1,1", "bbox"],
      ["bbox=,,,", "bbox"],
    ];
    for (const [query, name] of bad) {
      const { status, body } = await get(`/groups?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code, query).toBe("invalid_parameter");
      expect(body.error.message, query).toMatch(new RegExp(`^${name}: `));
    }
    const typo = await get("/groups?limt=5");
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain("unknown parameter limt");

    const [g1] = await groups();
    const [region, o, d] = g1!.id.split("-");
    const level12 = cellId(14.415, 50.055, 12);
    const badIds = [
      "abc",
      "1-2-3",
      `${region}-${o}-${d}-30`,
      `${region}-${o}-${d}-30-48`,
      `${region}-${o}-${d}-45-1`,
      `${region}-${o}-${d}-60-24`,
      `${region}-${o}-${cellId(14.502, 50.098, 6)}-30-16`,
      `${region}-${level12}-${cellId(14.502, 50.098, 12)}-30-16`,
      `${region}-${o}-${d}-30-16x`,
    ];
    for (const id of badIds) {
      const { status, body } = await get(`/groups/${encodeURIComponent(id)}/trips`);
      expect(status, id).toBe(400);
      expect(body.error.message, id).toMatch(/^id: /);
    }
    const impossible = Buffer.from(JSON.stringify(["2019-02-30 08:00:00", 1, 2])).toString("base64url");
    for (const query of ["cursor=garbage", `cursor=${impossible}`, "limit=0", "limit=1001", "after=3"]) {
      const { status, body } = await get(`/groups/${g1!.id}/trips?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.message, query).toMatch(
        query === "after=3" ? /unknown parameter after/ : new RegExp(`^${query.split("=")[0]}: `),
      );
    }
  });

  it("pages through a group's members, each exactly once, in trip time order", async () => {
    const gs = await groups("?limit=1000");
    const g1 = gs[0]!;
    const pages: Trip[][] = [];
    let cursor: string | null = null;
    do {
      const { status, body } = await get(`/groups/${g1.id}/trips?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      expect(status).toBe(200);
      expect(body.group_id).toBe(g1.id);
      pages.push(body.trips);
      cursor = body.next_cursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([1, 1, 1, 1]);
    // The two 08:05:00 trips come in ingestion order; G5's trip on the cell's east edge is not a member.
    expect(pages.flat().map((t) => [t.ingestion_id, t.line_no, t.datetime])).toEqual([
      [first, 4, "2019-03-04 08:05:00"],
      [second, 2, "2019-03-04 08:05:00"],
      [first, 2, "2019-03-05 08:10:00"],
      [first, 3, "2019-03-06 08:29:59"],
    ]);
    expect(pages[0]![0]).toEqual({
      ingestion_id: first,
      line_no: 4,
      region: "Prague",
      datasource: "a",
      origin: [14.415, 50.055],
      destination: [14.502, 50.098],
      datetime: "2019-03-04 08:05:00",
    });

    // Every group at a coarser similarity lists exactly as many members as it counts, and together
    // they are every trip once.
    const seen: string[] = [];
    for (const g of await groups("?cell=6&slot=60&limit=1000")) {
      const { body } = await get(`/groups/${g.id}/trips?limit=1000`);
      expect(body.trips.length, g.id).toBe(g.trips);
      expect(body.next_cursor).toBeNull();
      seen.push(...body.trips.map((t: Trip) => `${t.ingestion_id}:${t.line_no}`));
    }
    expect(seen.length).toBe(TOTAL);
    expect(new Set(seen).size).toBe(TOTAL);
  });

  it("ends with next_cursor null when the last page is exactly full", async () => {
    const [g1] = await groups();
    const a = await get(`/groups/${g1!.id}/trips?limit=2`);
    expect(a.body.trips).toHaveLength(2);
    const b = await get(`/groups/${g1!.id}/trips?limit=2&cursor=${a.body.next_cursor}`);
    expect(b.body.trips.map((t: Trip) => t.datetime)).toEqual(["2019-03-05 08:10:00", "2019-03-06 08:29:59"]);
    expect(b.body.next_cursor).toBeNull();
  });
});
