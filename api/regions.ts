import type pg from "pg";
import { NotFoundError } from "./errors.ts";

/**
 * The id of the region a request names (its `region` parameter), or null when it names none; an
 * unknown name is a NotFoundError (404).
 *
 * @example const regionId = await findRegionId(pool, q.region); // null without ?region=
 */
export async function findRegionId(pool: pg.Pool, name: string | undefined): Promise<number | null> {
  if (name === undefined) return null;
  const { rows } = await pool.query<{ id: number }>("SELECT id FROM silver.regions WHERE name = $1::text", [name]);
  if (!rows[0]) throw new NotFoundError(`unknown region ${JSON.stringify(name)}`);
  return rows[0].id;
}
