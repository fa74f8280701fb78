import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFloat, quoteLiteral } from "../../pipeline/bronze/parse.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

describe("SQL helpers", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const one = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows[0].v;

  it("prints reasons' numbers and quoted texts as PostgreSQL would (pipeline/bronze/parse.ts formatFloat, quoteLiteral)", async () => {
    const numbers = [914.4, -180.5, 95, 1e15, -2.5e20, 999e99, 123456789012345, 0.5];
    const { rows } = await db.pool.query<{ v: string }>("SELECT x::text AS v FROM unnest($1::float8[]) AS x", [
      numbers,
    ]);
    expect(numbers.map(formatFloat)).toEqual(rows.map((r) => r.v));
    const texts = ["POINT (1 2", "it's", "back\\slash", ""];
    const quoted = await db.pool.query<{ v: string }>("SELECT quote_literal(x) AS v FROM unnest($1::text[]) AS x", [
      texts,
    ]);
    expect(texts.map(quoteLiteral)).toEqual(quoted.rows.map((r) => r.v));
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
    expect(
      await one("SELECT tripflow.cell_parent(tripflow.cell(14.49, 50.0, 12), 7) = tripflow.cell(14.49, 50.0, 7) AS v"),
    ).toBe(true);
    expect(await one("SELECT tripflow.cell_bounds(tripflow.cell(180, 90, 7)) AS v")).toEqual([
      179.9921875, 89.9921875, 180, 90,
    ]);
  });
});
