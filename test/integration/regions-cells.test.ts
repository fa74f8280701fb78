import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { createApp } from "../../api/app.ts";
import { MAX_CELLS } from "../../api/routes/cells.ts";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));

type Point = [lon: number, lat: number];
type Trip = { row: Row; region: string; origin: Point; destination: Point; date: string };
type Cell = { west: number; south: number; east: number; north: number; trips: number };
type Box = [west: number, south: number, east: number, north: number];

/** The sample read with plain string splitting (it has no quoted fields), independent of the pipeline. */
function sampleTrips(): Trip[] {
  const [header, ...lines] = readFileSync(SAMPLE, "utf8").trimEnd().split("\n");
  expect(header).toBe("region,origin_coord,destination_coord,datetime,datasource");
  const point = (wkt: string): Point => {
    const m = /^POINT \((\S+) (\S+)\)$/.exec(wkt)!;
    return [Number(m[1]), Number(m[2])];
  };
  return lines.map((line) => {
    const row = line.split(",") as Row;
    expect(row).toHaveLength(5);
    return { row, region: row[0], origin: point(row[1]), destination: point(row[2]), date: row[3].slice(0, 10) };
  });
}

/** Monday of the ISO week of a date, by calendar arithmetic. */
function monday(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

/** The bounds of the level-`level` cell that holds a point: cells are 2^-level degrees, aligned on their size. */
function cellOf([lon, lat]: Point, level: number): Box {
  const size = 2 ** -level;
  const west = Math.floor(lon / size) * size;
  const south = Math.floor(lat / size) * size;
  return [west, south, west + size, south + size];
}

/** A cell [west, east) x [south, north) meets a box whose edges are included. */
const meets = ([w, s, e, n]: Box, [bw, bs, be, bn]: Box) => w <= be && e > bw && s <= bn && n > bs;

/** The answer's cells, counted here from the sample's points: most trips first, then west, then south. */
function expectedCells(trips: Trip[], end: "origin" | "destination", level: number, box?: Box): Cell[] {
  const counts = new Map<string, Cell>();
  for (const t of trips) {
    const [west, south, east, north] = cellOf(t[end], level);
    if (box && !meets([west, south, east, north], box)) continue;
    const key = `${west} ${south}`;
    const cell = counts.get(key) ?? { west, south, east, north, trips: 0 };
    cell.trips++;
    counts.set(key, cell);
  }
  return [...counts.values()].sort((a, b) => b.trips - a.trips || a.west - b.west || a.south - b.south);
}

const sum = (cells: Cell[]) => cells.reduce((n, c) => n + c.trips, 0);

describe("GET /regions and GET /stats/cells on the sample", () => {
  const trips = sampleTrips();
  const prague = trips.filter((t) => t.region === "Prague");
  let db: TestDatabase;
  let app: ReturnType<typeof createApp>;
  let close: () => Promise<void>;

  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each checked with toEqual
  async function get(path: string): Promise<{ status: number; body: any }> {
    const res = await app.request(path);
    return { status: res.status, body: await res.json() };
  }
  async function cells(query: string) {
    const { status, body } = await get(`/stats/cells?${query}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
  }
  async function silverCount(region: string): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM silver.trips AS t JOIN silver.regions AS r ON r.id = t.region_id WHERE r.name = $1::text",
      [region],
    );
    return rows[0]!.n;
  }

  beforeAll(async () => {
    expect(trips).toHaveLength(100);
    db = await createTestDatabase();
    ({ app, close } = await testApp(db));
    const payload = await bronzeChunk(
      db.pool,
      trips.map((t) => t.row),
    );
    expect(await promoteSilverChunk(db.pool, payload)).toMatchObject({ stored: 100, rejected: 0 });
    await mergeGroupsChunk(db.pool, payload);
    await mergeGoldChunk(db.pool, payload);
  });
  afterAll(async () => {
    await close?.();
    await db?.drop();
  });

  it("lists each region's trips, first and last week and the extent of its level-8 cells", async () => {
    const names = [...new Set(trips.map((t) => t.region))].sort();
    const expected = names.map((name) => {
      const mine = trips.filter((t) => t.region === name);
      const dates = mine.map((t) => t.date).sort();
      const cells = mine.flatMap((t) => [cellOf(t.origin, 8), cellOf(t.destination, 8)]);
      return {
        name,
        trips: mine.length,
        first_week: monday(dates[0]!),
        last_week: monday(dates.at(-1)!),
        bbox: [
          Math.min(...cells.map((c) => c[0])),
          Math.min(...cells.map((c) => c[1])),
          Math.max(...cells.map((c) => c[2])),
          Math.max(...cells.map((c) => c[3])),
        ],
      };
    });
    const { status, body } = await get("/regions");
    expect(status).toBe(200);
    expect(body).toEqual({ regions: expected });
    // By hand for one of them, and against silver.
    expect(body.regions.map((r: { name: string }) => r.name)).toEqual(["Hamburg", "Prague", "Turin"]);
    expect(body.regions[1]).toMatchObject({
      name: "Prague",
      trips: 34,
      first_week: "2018-04-30",
      last_week: "2018-05-28",
    });
    for (const r of body.regions) expect(r.trips, r.name).toBe(await silverCount(r.name));
    // Every trip's two ends lie in its region's bbox.
    for (const t of trips) {
      const [w, s, e, n] = body.regions.find((r: { name: string }) => r.name === t.region).bbox;
      for (const [lon, lat] of [t.origin, t.destination]) expect(lon >= w && lon < e && lat >= s && lat < n).toBe(true);
    }
  });

  it("lists a region without trips with 0 trips and null weeks and extent", async () => {
    await db.pool.query("INSERT INTO silver.regions (name) VALUES ('Atlantis')");
    try {
      const { body } = await get("/regions");
      expect(body.regions[0]).toEqual({ name: "Atlantis", trips: 0, first_week: null, last_week: null, bbox: null });
      expect(body.regions).toHaveLength(4);
    } finally {
      await db.pool.query("DELETE FROM silver.regions WHERE name = 'Atlantis'");
    }
  });

  it("counts a region's origins per level-8 cell: every trip once, as silver has them", async () => {
    const body = await cells("region=Prague");
    expect(body).toEqual({
      level: 8,
      match: "origin",
      region: "Prague",
      bbox: null,
      from: null,
      to: null,
      cell_degrees: 0.00390625,
      trips: 34,
      cells: expectedCells(prague, "origin", 8),
    });
    expect(sum(body.cells)).toBe(body.trips);
    expect(body.trips).toBe(await silverCount("Prague"));
    const all = await cells("");
    expect(all.trips).toBe(100);
    expect(all.cells).toEqual(expectedCells(trips, "origin", 8));
  });

  it("adds cells up into coarser levels: the same total in fewer or as many cells", async () => {
    let previous = Number.POSITIVE_INFINITY;
    for (let level = 8; level >= 1; level--) {
      const body = await cells(`region=Prague&level=${level}`);
      expect(body.level).toBe(level);
      expect(body.cell_degrees).toBe(2 ** -level);
      expect(body.trips, `level ${level}`).toBe(34);
      expect(body.cells, `level ${level}`).toEqual(expectedCells(prague, "origin", level));
      expect(body.cells.length).toBeLessThanOrEqual(previous);
      previous = body.cells.length;
    }
    // Prague's origins lie on both sides of 14.5 E and of 50 N (none south-west of both): three level-1
    // cells, against dozens at level 8.
    expect(previous).toBe(3);
    expect((await cells("region=Prague&level=8")).cells.length).toBeGreaterThan(20);
  });

  it("with a bbox, returns the cells that meet it, counted whole", async () => {
    const boxes: Box[] = [
      [14.38, 50.01, 14.47, 50.08], // edges inside cells
      [14.40625, 50, 14.5, 50.0625], // edges on level-8 (and coarser) cell borders
      [14.45, 50.05, 14.45, 50.05], // a point
    ];
    for (const box of boxes)
      for (const level of [8, 6, 3]) {
        const body = await cells(`region=Prague&bbox=${box.join(",")}&level=${level}`);
        expect(body.bbox).toEqual(box);
        expect(body.cells, `${box} level ${level}`).toEqual(expectedCells(prague, "origin", level, box));
        for (const c of body.cells as Cell[])
          expect(meets([c.west, c.south, c.east, c.north], box), `${box} level ${level}`).toBe(true);
        expect(body.trips).toBe(sum(body.cells));
      }
    // Counted whole: the box's one level-3 cell, [14.375, 14.5) x [50, 50.125), counts trips outside the box too.
    const small: Box = [14.45, 50.05, 14.46, 50.06];
    const whole = await cells(`region=Prague&bbox=${small.join(",")}&level=3`);
    expect(whole.cells).toHaveLength(1);
    expect(whole.cells[0]).toMatchObject({ west: 14.375, south: 50, east: 14.5, north: 50.125 });
    const inside = prague.filter(
      ({ origin: [lon, lat] }) => lon >= 14.45 && lon <= 14.46 && lat >= 50.05 && lat <= 50.06,
    );
    expect(whole.trips).toBeGreaterThan(inside.length);
    // A box on the other side of the world has no cells.
    expect((await cells("bbox=-80,-40,-79,-39")).cells).toEqual([]);
  });

  it("counts destinations with match=destination", async () => {
    const origins = await cells("region=Prague");
    const destinations = await cells("region=Prague&match=destination");
    expect(destinations.match).toBe("destination");
    expect(destinations.cells).toEqual(expectedCells(prague, "destination", 8));
    expect(destinations.cells).not.toEqual(origins.cells);
    expect(destinations.trips).toBe(origins.trips);
    const box: Box = [14.5, 50.0, 14.7, 50.13];
    const inBox = await cells(`region=Prague&match=destination&bbox=${box.join(",")}`);
    expect(inBox.cells).toEqual(expectedCells(prague, "destination", 8, box));
  });

  it("counts the ISO weeks of from and to", async () => {
    // 2018-05-16 is a Wednesday: its week runs Monday 14 to Sunday 20 May.
    const week = trips.filter((t) => t.date >= "2018-05-14" && t.date <= "2018-05-20");
    expect(week.length).toBeGreaterThan(0);
    const body = await cells("from=2018-05-16&to=2018-05-16&level=4");
    expect(body).toMatchObject({ from: "2018-05-14", to: "2018-05-20", trips: week.length });
    expect(body.cells).toEqual(expectedCells(week, "origin", 4));
    const later = trips.filter((t) => t.date >= "2018-05-21");
    expect((await cells("from=2018-05-21")).trips).toBe(later.length);
    expect((await cells("from=2018-05-21")).to).toBeNull();
    expect((await cells("to=2018-05-20")).trips).toBe(100 - later.length);
  });

  it("answers 400 naming the parameter, 404 for an unknown region, and never 500", async () => {
    const bad: [string, RegExp][] = [
      ["level=0", /^level: must be a whole number from 1 to 8$/],
      ["level=9", /^level: must be a whole number from 1 to 8$/],
      ["level=x", /^level: /],
      ["level=1.5", /^level: /],
      ["level=", /^level: /],
      ["match=both", /^match:/],
      ["bbox=1,2,3", /^bbox:/],
      ["bbox=10,0,5,1", /^bbox: minLon must not exceed/],
      ["from=2018-02-30", /^from:/],
      ["from=2018-05-21&to=2018-05-01", /^from: must not be after to$/],
      ["colour=red", /unknown parameter colour/],
    ];
    for (const [query, message] of bad) {
      const { status, body } = await get(`/stats/cells?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code, query).toBe("invalid_parameter");
      expect(body.error.message, query).toMatch(message);
    }
    const unknown = await get("/stats/cells?region=Atlantis");
    expect(unknown).toEqual({
      status: 404,
      body: { error: { code: "not_found", message: 'unknown region "Atlantis"' } },
    });
    const regions = await get("/regions?region=Prague");
    expect(regions.status).toBe(400);
    expect(regions.body.error).toEqual({ code: "invalid_parameter", message: "request: unknown parameter region" });
  });

  it(`answers at most ${MAX_CELLS} cells, and 400 too_many_cells past them`, async () => {
    // A synthetic region with MAX_CELLS level-8 cells of one trip each, in a 100-column block at 0 E, 0 N.
    const { rows } = await db.pool.query<{ id: number }>(
      "INSERT INTO silver.regions (name) VALUES ('Grid') RETURNING id",
    );
    const grid = rows[0]!.id;
    const insert = (from: number, to: number) =>
      db.pool.query(
        `INSERT INTO gold.weekly_origin_cells (region_id, week, cell, trips)
         SELECT $1::int, '2018-05-21', (8::bigint << 42) | ((46080 + i / 100) << 21) | (23040 + i % 100), 1
         FROM generate_series($2::bigint, $3::bigint) AS i`,
        [grid, from, to],
      );
    try {
      expect(MAX_CELLS).toBe(10_000);
      await insert(0, MAX_CELLS - 1);
      const full = await cells("region=Grid");
      expect(full.cells).toHaveLength(MAX_CELLS);
      expect(full.trips).toBe(MAX_CELLS);
      expect(full.cells[0]).toEqual({ west: 0, south: 0, east: 2 ** -8, north: 2 ** -8, trips: 1 });

      await insert(MAX_CELLS, MAX_CELLS);
      const { status, body } = await get("/stats/cells?region=Grid");
      expect(status).toBe(400);
      expect(body.error.code).toBe("too_many_cells");
      expect(body.error.message).toMatch(/^level 8: more than 10000 cells/);
      expect(body.error.message).toMatch(/coarser level/);
      expect(body.error.message).toMatch(/smaller box/);
      expect((await get("/stats/cells")).body.error.code).toBe("too_many_cells");
      // A coarser level or a smaller box answers.
      expect(await cells("region=Grid&level=1")).toMatchObject({
        trips: MAX_CELLS + 1,
        cells: [{ west: 0, south: 0, east: 0.5, north: 0.5, trips: MAX_CELLS + 1 }],
      });
      expect((await cells("region=Grid&level=7")).trips).toBe(MAX_CELLS + 1);
      expect((await cells("region=Grid&bbox=0,0,0.1,0.1")).cells).toHaveLength(26 * 26);
    } finally {
      await db.pool.query("DELETE FROM gold.weekly_origin_cells WHERE region_id = $1::int", [grid]);
      await db.pool.query("DELETE FROM silver.regions WHERE id = $1::int", [grid]);
    }
  });
});
