import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { createApp } from "../../api/app.ts";
import { GOLD_LEVEL } from "../../api/box.ts";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { rng } from "../helpers/random.ts";

const CELL = 2 ** -GOLD_LEVEL; // a gold cell

/** Trips that sit on, just beside and between cell edges, on both sides of the equator and of Greenwich. */
function makeTrips(seed: number, n: number): string[][] {
  const random = rng(seed);
  const near = () => {
    // a multiple of the cell size, nudged by nothing, a hair, or a random fraction of a cell
    const k = Math.floor(random() * 40) - 20;
    const r = random();
    const nudge = r < 0.3 ? 0 : r < 0.5 ? -1e-9 : r < 0.6 ? 1e-9 : random() * CELL;
    return k * CELL + nudge;
  };
  const rows: string[][] = [];
  for (let i = 0; i < n; i++) {
    const region = random() < 0.5 ? "Equator" : "Greenwich";
    const day = new Date(
      Date.UTC(2021, 0, 1) + Math.floor(random() * 120) * 86_400_000 + Math.floor(random() * 86_400) * 1000,
    );
    rows.push([
      region,
      `POINT (${near()} ${near()})`,
      `POINT (${near()} ${near()})`,
      day.toISOString().slice(0, 19).replace("T", " "),
      "gen",
    ]);
  }
  return rows;
}

describe("GET /stats/weekly-average", () => {
  let db: TestDatabase;
  let app: ReturnType<typeof createApp>;
  let close: () => Promise<void>;
  const get = async (query: string) => {
    const res = await app.request(`/stats/weekly-average?${query}`);
    // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each checked with toEqual
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ app, close } = await testApp(db));
    const rows = makeTrips(7, 3000);
    const payload = await bronzeChunk(db.pool, rows as Row[]);
    expect((await promoteSilverChunk(db.pool, payload)).stored).toBe(3000);
    await mergeGroupsChunk(db.pool, payload);
    await mergeGoldChunk(db.pool, payload);
  });
  afterAll(async () => {
    await close?.();
    await db?.drop();
  });

  /** The same answer by a plain count over silver. */
  async function direct(q: { region?: string; box?: number[]; match: string; first: string; last: string }) {
    const [w, s, e, n] = q.box ?? [-180, -90, 180, 90];
    const inBox = (col: string) => `ST_X(${col}) BETWEEN $2 AND $4 AND ST_Y(${col}) BETWEEN $3 AND $5`;
    const cond = !q.box
      ? "true"
      : q.match === "origin"
        ? inBox("t.origin")
        : q.match === "destination"
          ? inBox("t.destination")
          : q.match === "both"
            ? `${inBox("t.origin")} AND ${inBox("t.destination")}`
            : `((${inBox("t.origin")}) OR (${inBox("t.destination")}))`;
    const { rows } = await db.pool.query(
      `SELECT w::date::text AS week, (SELECT count(*)::int FROM silver.trips t JOIN silver.regions r ON r.id = t.region_id
          WHERE ($1::text IS NULL OR r.name = $1) AND date_trunc('week', t.trip_time) = w AND ${cond}) AS trips
       FROM generate_series($6::date, $7::date, interval '7 days') AS w ORDER BY w`,
      [q.region ?? null, w, s, e, n, q.first, q.last],
    );
    return rows;
  }

  it("equals a plain count over silver for 300 seeded random boxes, cutting through cells on all sides of 0,0", async () => {
    const random = rng(2024);
    const edge = () => {
      const k = Math.floor(random() * 40) - 20;
      const r = random();
      return r < 0.4 ? k * CELL : r < 0.55 ? k * CELL - 1e-9 : (random() - 0.5) * 0.3;
    };
    const matches = ["origin", "destination", "both", "any"];
    let nonEmpty = 0;
    for (let i = 0; i < 300; i++) {
      const [a, b, c, d] = [edge(), edge(), edge(), edge()];
      const box = [Math.min(a, b), Math.min(c, d), Math.max(a, b), Math.max(c, d)];
      const match = matches[i % 4]!;
      const region = i % 3 === 0 ? "Equator" : i % 3 === 1 ? "Greenwich" : undefined;
      const query = `bbox=${box.join(",")}&match=${match}${region ? `&region=${region}` : ""}${i % 5 === 0 ? "&from=2021-02-01&to=2021-03-15" : ""}`;
      const { status, body } = await get(query);
      expect(status, query).toBe(200);
      const expected = await direct({ region, box, match, first: body.series[0].week, last: body.series.at(-1).week });
      expect(body.series, query).toEqual(expected);
      expect(body.trips).toBe(expected.reduce((sum: number, w: { trips: number }) => sum + w.trips, 0));
      if (body.trips > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(200); // the boxes really contain trips
  });

  it("counts a point lying exactly on the box's edge, on every side, for each match", async () => {
    const { rows } = await db.pool.query(
      `SELECT ST_X(origin) AS x, ST_Y(origin) AS y, ST_X(destination) AS dx, ST_Y(destination) AS dy
       FROM silver.trips ORDER BY ingestion_id, line_no LIMIT 1`,
    );
    const { x, y, dx, dy } = rows[0];
    // Edges a hair (1e-10 degrees) beside a point lie in its level-27 subcell: the index cannot tell
    // the side, the point itself is read. The last boxes have the trip's two points on their edges.
    const hair = 1e-10;
    const [w, s, e, n] = [Math.min(x, dx), Math.min(y, dy), Math.max(x, dx), Math.max(y, dy)];
    const boxes = [
      [x, y, x + 0.01, y + 0.01],
      [x - 0.01, y - 0.01, x, y],
      [x, y, x, y],
      [x + hair, y, x + 0.01, y + 0.01],
      [x - hair, y - hair, x + hair, y + hair],
      [x - 0.01, y - 0.01, x - hair, y],
      [x - 0.01, y - 0.01, x + 0.01, y - hair],
      [w, s, e, n],
      [w + hair, s, e, n - hair],
      [w - hair, s - hair, e + hair, n + hair],
    ];
    for (const box of boxes)
      for (const match of ["origin", "destination", "both", "any"]) {
        const { body } = await get(`bbox=${box.join(",")}&match=${match}`);
        const expected = await direct({ box, match, first: body.series[0].week, last: body.series.at(-1).week });
        expect(body.series, `${box} ${match}`).toEqual(expected);
      }
    // The trip itself is counted where its points lie inside, edges included.
    const { body } = await get(`bbox=${[w, s, e, n].join(",")}&match=both`);
    expect(body.trips).toBeGreaterThanOrEqual(1);
  });

  it("defines the period by ISO weeks: default from the region's first to last trip, weeks without trips included", async () => {
    const { rows } = await db.pool.query(
      "SELECT date_trunc('week', min(trip_time))::date::text AS first, date_trunc('week', max(trip_time))::date::text AS last, count(*)::int AS n FROM silver.trips t JOIN silver.regions r ON r.id = t.region_id WHERE r.name = 'Equator'",
    );
    const { body } = await get("region=Equator");
    expect(body.from).toBe(rows[0].first);
    const weeks = (Date.parse(rows[0].last) - Date.parse(rows[0].first)) / (7 * 86_400_000) + 1;
    expect(body).toMatchObject({
      weeks,
      trips: rows[0].n,
      weekly_average: rows[0].n / weeks,
      match: "origin",
      bbox: null,
    });
    expect(body.to).toBe(new Date(Date.parse(rows[0].last) + 6 * 86_400_000).toISOString().slice(0, 10));
    expect(body.series).toHaveLength(weeks);

    // 2021-01-06 is a Wednesday: its week starts Monday 2021-01-04; 2021-01-17 is a Sunday.
    const { body: b2 } = await get("region=Equator&from=2021-01-06&to=2021-01-17");
    expect(b2).toMatchObject({ from: "2021-01-04", to: "2021-01-17", weeks: 2 });
    const { body: far } = await get("region=Equator&from=2030-01-01");
    expect(far).toMatchObject({ from: "2029-12-31", to: "2030-01-06", weeks: 1, trips: 0, weekly_average: 0 });
  });

  it("answers 400 naming the parameter, 404 for an unknown region, and never 500", async () => {
    const bad: [string, RegExp][] = [
      ["", /region or bbox/],
      ["bbox=1,2,3", /^bbox:/],
      ["bbox=10,0,5,1", /^bbox: minLon must not exceed/],
      ["bbox=0,0,200,1", /^bbox: longitudes/],
      ["bbox=NaN,0,1,1", /^bbox:/],
      ["bbox=1e308,0,1,1", /^bbox:/],
      ["bbox=0;DROP TABLE silver.trips,0,1,1", /^bbox:/],
      ["region=Equator&match=left", /^match:/],
      ["region=Equator&from=2021-02-30", /^from:/],
      ["region=Equator&from=yesterday", /^from:/],
      ["region=Equator&from=2021-03-01&to=2021-02-01", /^from: must not be after to/],
      ["region=Equator&from=0001-01-01&to=9999-12-31", /^from: the period/],
      ["region=Equator&colour=red", /unknown parameter colour/],
    ];
    for (const [query, message] of bad) {
      const { status, body } = await get(query);
      expect(status, query).toBe(400);
      expect(body.error.code, query).toBe("invalid_parameter");
      expect(body.error.message, query).toMatch(message);
    }
    const { status, body } = await get("region=Atlantis");
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: "not_found", message: 'unknown region "Atlantis"' } });
    const injected = await get(encodeURI("region=x' OR '1'='1"));
    expect(injected.status).toBe(404);
  });
});
