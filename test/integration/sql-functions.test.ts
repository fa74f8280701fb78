import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

describe("SQL helpers", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const one = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows[0].v;

  it("parse_point reads the WKT variants real exports contain and refuses the rest", async () => {
    const cases: [string, number[] | null][] = [
      ["POINT (14.4973794438195 50.00136875782316)", [14.4973794438195, 50.00136875782316]],
      ["point(1 2)", [1, 2]],
      ["  POINT ( -7.5   -45.25 ) ", [-7.5, -45.25]],
      ["POINT (+7.5 +1e+1)", [7.5, 10]],
      ["POINT (1e-5 -2.5E1)", [0.00001, -25]],
      ["POINT (1 2 3)", null],
      ["POINT (NaN 2)", null],
      ["POINT (1e400 2)", null],
      ["LINESTRING (1 2, 3 4)", null],
      ["", null],
    ];
    for (const [wkt, expected] of cases)
      expect(await one("SELECT CASE WHEN p IS NOT NULL THEN ARRAY[ST_X(p), ST_Y(p), ST_SRID(p)] END AS v FROM (SELECT tripflow.parse_point($1) AS p) AS x", [wkt]), wkt).toEqual(expected && [...expected, 4326]);
  });

  it("parse_timestamp keeps the written time and refuses impossible dates", async () => {
    const cases: [string, string | null][] = [
      ["2018-05-28 09:03:40", "2018-05-28 09:03:40"],
      ["2020-02-29T23:59:59.5", "2020-02-29 23:59:59.5"],
      [" 2018-05-28 09:03 ", "2018-05-28 09:03:00"],
      ["2021-02-29 10:00:00", null],
      ["2018-13-01 10:00:00", null],
      ["2018-05-28 24:00:00", null],
      ["0000-01-01 00:00:00", null],
      ["28/05/2018 09:03", null],
    ];
    for (const [text, expected] of cases) expect(await one("SELECT tripflow.parse_timestamp($1)::text AS v", [text]), text).toBe(expected);
  });

  it("puts a point on a cell edge in the cell east/north of the edge, exactly, on all four sides of 0,0", async () => {
    const cells = await db.pool.query(`
      SELECT tripflow.cell_bounds(tripflow.cell(lon, lat, 7)) AS b
      FROM (VALUES (0.0, 0.0), (-0.0078125, -0.0078125), (-1e-12, -1e-12), (0.0078125 - 1e-12, 0.0078125 - 1e-12)) AS v (lon, lat)`);
    expect(cells.rows.map((r) => r.b)).toEqual([
      [0, 0, 0.0078125, 0.0078125],
      [-0.0078125, -0.0078125, 0, 0],
      [-0.0078125, -0.0078125, 0, 0],
      [0, 0, 0.0078125, 0.0078125],
    ]);
    expect(await one("SELECT tripflow.cell_parent(tripflow.cell(14.49, 50.0, 12), 7) = tripflow.cell(14.49, 50.0, 7) AS v")).toBe(true);
    expect(await one("SELECT tripflow.cell_bounds(tripflow.cell(180, 90, 7)) AS v")).toEqual([179.9921875, 89.9921875, 180, 90]);
  });
});
