import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import { column, GOLD_LEVEL, row, type Rect } from "../box.ts";
import { BadRequestError, errorResponse } from "../errors.ts";
import { Bbox, type Box, checkPeriod, PeriodParams, RegionName, unknownParameter, wholeNumber } from "../params.ts";
import { QUERIES } from "../queries.ts";
import { findRegionId } from "../regions.ts";
import { newRouter } from "../router.ts";
import { addDays, mondayOf } from "../weeks.ts";

/** At most this many cells in one answer: a map of more wants a coarser level or a smaller box. */
export const MAX_CELLS = 10_000;
const MATCH = ["origin", "destination"] as const;

const Query = z.strictObject(
  {
    region: RegionName.optional().openapi({
      description: "only this region's trips; an unknown name answers 404",
      example: "Prague",
    }),
    bbox: Bbox.optional().openapi({
      description: "minLon,minLat,maxLon,maxLat in WGS84 degrees: only the cells that meet this box, counted whole",
      example: "14.3,49.95,14.6,50.15",
    }),
    match: z.enum(MATCH).default("origin").openapi({
      description: "which end of the trips the cells count: origin (default) or destination",
    }),
    level: wholeNumber(1, GOLD_LEVEL)
      .default(GOLD_LEVEL)
      .openapi({
        description: `grid level 1..${GOLD_LEVEL}: a level-L cell is 2^-L degrees wide and high (default ${GOLD_LEVEL}, the finest)`,
      }),
    ...PeriodParams,
  },
  unknownParameter,
);

const Cell = z.object({
  west: z.number(),
  south: z.number(),
  east: z.number(),
  north: z.number(),
  trips: z.number().int(),
});

const Answer = z
  .object({
    level: z.number().int(),
    match: z.enum(MATCH),
    region: z.string().nullable(),
    bbox: z.array(z.number()).length(4).nullable(),
    from: z.string().nullable().openapi({ description: "Monday of the first week; null for no bound" }),
    to: z.string().nullable().openapi({ description: "Sunday of the last week; null for no bound" }),
    cell_degrees: z.number().openapi({ description: "the width and height of a cell in degrees: 2^-level" }),
    trips: z.number().int().openapi({ description: "the sum of the cells' trips" }),
    cells: z.array(Cell),
  })
  .openapi("CellCounts");

const route = createRoute({
  method: "get",
  path: "/stats/cells",
  summary: "Trips per grid cell, for drawing a map",
  description:
    "Gold's trip counts per cell of the grid (cells of 2^-level degrees, aligned on multiples of their size), by " +
    "the cell of the trips' origin or destination (`match`), most trips first, then west to east and south to " +
    "north; cells without trips are left out. The period runs from the ISO week of `from` to the ISO week of " +
    "`to`, inclusive; without them it is unbounded. With `bbox`, every cell that meets the box is counted whole, " +
    "trips outside the box included: this is a map of gold's grid, not an exact count of the box (that is " +
    `/stats/weekly-average). At most ${MAX_CELLS} cells: more answers 400 \`too_many_cells\`; ask for a coarser ` +
    "level or a smaller box.",
  request: { query: Query },
  responses: {
    200: { description: "the cells", content: { "application/json": { schema: Answer } } },
    400: errorResponse("an invalid parameter, named in the message, or too_many_cells"),
    404: errorResponse("unknown region"),
  },
});

/** The parameters of db/queries/cells.sql, by the names its header lists. */
type CellsParams = {
  /** $1: only the trips of this region; null for all regions. */
  regionId: number | null;
  /** $2, $3: Mondays of the first and last week ('YYYY-MM-DD'); null for no bound. */
  firstWeek: string | null;
  lastWeek: string | null;
  /** $4: the level of the answer's cells. */
  level: number;
  /** $5..$8 colLo, colHi, rowLo, rowHi: the level-8 cells to read. */
  gold: Rect;
  /** $9: at most this many rows. */
  limit: number;
};

/** CellsParams in cells.sql's $n order. */
const cellsArgs = (p: CellsParams) => [
  p.regionId,
  p.firstWeek,
  p.lastWeek,
  p.level,
  p.gold.colLo,
  p.gold.colHi,
  p.gold.rowLo,
  p.gold.rowHi,
  p.limit,
];

/** The level-8 cells under the level-`level` cells that meet the box (edges included); the whole grid without one. */
function goldCells(box: Box | undefined, level: number): Rect {
  const scale = 2 ** GOLD_LEVEL;
  if (!box) return { colLo: 0, colHi: 360 * scale - 1, rowLo: 0, rowHi: 180 * scale - 1 };
  const f = 2 ** (GOLD_LEVEL - level);
  return {
    colLo: column(box.west, level) * f,
    colHi: (column(box.east, level) + 1) * f - 1,
    rowLo: row(box.south, level) * f,
    rowHi: (row(box.north, level) + 1) * f - 1,
  };
}

type CellRow = { bounds: [number, number, number, number]; trips: number };

/**
 * GET /stats/cells: trips per grid cell from gold, at level 8 or coarser.
 *
 * @example app.route("/", cellsRoutes({ pool })); await app.request("/stats/cells?region=Prague&level=6");
 */
export function cellsRoutes({ pool }: { pool: pg.Pool }) {
  return newRouter().openapi(route, async (c) => {
    const q = c.req.valid("query");
    checkPeriod(q);
    const regionId = await findRegionId(pool, q.region);
    const firstWeek = q.from === undefined ? null : mondayOf(q.from);
    const lastWeek = q.to === undefined ? null : mondayOf(q.to);
    // One row past the bound says the answer would be too large, without reading it all.
    const { rows } = await pool.query<CellRow>(
      QUERIES.cells[q.match],
      cellsArgs({
        regionId,
        firstWeek,
        lastWeek,
        level: q.level,
        gold: goldCells(q.bbox, q.level),
        limit: MAX_CELLS + 1,
      }),
    );
    if (rows.length > MAX_CELLS)
      throw new BadRequestError(
        `level ${q.level}: more than ${MAX_CELLS} cells have trips; ask for a coarser level (a smaller number) or a smaller box`,
        "too_many_cells",
      );
    const cells = rows.map(({ bounds: [west, south, east, north], trips }) => ({ west, south, east, north, trips }));
    return c.json(
      {
        level: q.level,
        match: q.match,
        region: q.region ?? null,
        bbox: q.bbox ? [q.bbox.west, q.bbox.south, q.bbox.east, q.bbox.north] : null,
        from: firstWeek,
        to: lastWeek === null ? null : addDays(lastWeek, 6),
        cell_degrees: 2 ** -q.level,
        trips: cells.reduce((sum, cell) => sum + cell.trips, 0),
        cells,
      },
      200,
    );
  });
}
