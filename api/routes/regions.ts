import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import { errorResponse } from "../errors.ts";
import { unknownParameter } from "../params.ts";
import { QUERIES } from "../queries.ts";
import { newRouter } from "../router.ts";

const Region = z.object({
  name: z.string().openapi({ example: "Prague" }),
  trips: z.number().int().openapi({ description: "the region's trips in gold" }),
  first_week: z
    .string()
    .nullable()
    .openapi({ description: "Monday of the first ISO week with trips; null without trips", example: "2018-04-30" }),
  last_week: z
    .string()
    .nullable()
    .openapi({ description: "Monday of the last ISO week with trips; null without trips", example: "2018-05-28" }),
  bbox: z
    .tuple([z.number(), z.number(), z.number(), z.number()])
    .nullable()
    .openapi({
      description:
        "[west, south, east, north]: the bounds of the level-8 grid cells (2^-8 degrees) that the region's trips " +
        "start or end in, the extent a map of the region should show; null without trips",
    }),
});

const Regions = z.object({ regions: z.array(Region) }).openapi("Regions");

const route = createRoute({
  method: "get",
  path: "/regions",
  summary: "Every region with its trips, the weeks they span and the area they cover",
  description:
    "One entry per region, by name. Counted from gold, as /stats/weekly-average counts: `trips` is the region's " +
    "total, `first_week` and `last_week` the Mondays of its first and last ISO week with trips.",
  request: { query: z.strictObject({}, unknownParameter) },
  responses: {
    200: { description: "the regions", content: { "application/json": { schema: Regions } } },
    400: errorResponse("an unknown parameter"),
  },
});

type RegionRow = z.infer<typeof Region>;

/**
 * GET /regions: the regions, answered from gold.
 *
 * @example app.route("/", regionsRoutes({ pool })); await app.request("/regions");
 */
export function regionsRoutes({ pool }: { pool: pg.Pool }) {
  return newRouter().openapi(route, async (c) => {
    const { rows } = await pool.query<RegionRow>(QUERIES.regions);
    return c.json({ regions: rows }, 200);
  });
}
