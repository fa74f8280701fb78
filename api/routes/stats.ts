import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import {
  halfColumns,
  halves,
  PAIR_COLUMN,
  planBox,
  planBoxFine,
  splitBoxPairs,
  subtract,
  type BoxPart,
  type Rect,
} from "../box.ts";
import type { BoxSessions, Warmup } from "../box_sessions.ts";
import { BadRequestError, errorResponse } from "../errors.ts";
import { Bbox, checkPeriod, PeriodParams, RegionName, unknownParameter, type Box } from "../params.ts";
import { fillSql } from "../../pipeline/core/sql.ts";
import { QUERIES, tripsOf, weeklyBoxBoth } from "../queries.ts";
import { findRegionId } from "../regions.ts";
import { newRouter } from "../router.ts";
import { addDays, DAY, mondayOf } from "../weeks.ts";

const MATCH = ["origin", "destination", "both", "any"] as const;
type Match = (typeof MATCH)[number];
/** A period longer than this is refused: a series of a million zero weeks helps nobody. */
const MAX_WEEKS = 5300;
const Query = z.strictObject(
  {
    region: RegionName.optional().openapi({
      description: "region name; an unknown name answers 404",
      example: "Prague",
    }),
    bbox: Bbox.optional().openapi({
      description: "minLon,minLat,maxLon,maxLat in WGS84 degrees, edges inclusive",
      example: "14.3,49.95,14.6,50.15",
    }),
    match: z.enum(MATCH).default("origin").openapi({
      description: "which end of the trip must lie in the box: origin (default), destination, both or any",
    }),
    ...PeriodParams,
  },
  unknownParameter,
);

const Week = z.object({ week: z.string().openapi({ description: "Monday of the ISO week" }), trips: z.number().int() });
const Answer = z
  .object({
    region: z.string().nullable(),
    bbox: z.array(z.number()).length(4).nullable(),
    match: z.enum(MATCH),
    from: z.string().nullable().openapi({ description: "Monday of the first week" }),
    to: z.string().nullable().openapi({ description: "Sunday of the last week" }),
    weeks: z.number().int(),
    trips: z.number().int(),
    weekly_average: z.number(),
    series: z.array(Week),
  })
  .openapi("WeeklyAverage");

const route = createRoute({
  method: "get",
  path: "/stats/weekly-average",
  summary: "Average number of trips per week in a region, a bounding box, or both",
  description:
    "Weeks are ISO weeks, Monday to Sunday. The period runs from the week of `from` to the week of `to`, inclusive; " +
    "by default from the week of the first to the week of the last trip of the given region (of all data when no " +
    "region is given). `weeks` counts the weeks of the period, weeks without trips included; `trips` counts the " +
    "trips in the period that match; `weekly_average = trips / weeks`. `series` has one entry per week, zeros " +
    "included. With `bbox`, `match` says which end of the trip must lie in the box (edges inclusive). The answer " +
    "is exact: cells wholly inside the box come from gold, trips near the box's edges are tested one by one.",
  request: { query: Query },
  responses: {
    200: { description: "the weekly average", content: { "application/json": { schema: Answer } } },
    400: errorResponse("invalid parameter"),
    404: errorResponse("unknown region"),
  },
});

type Series = { week: string; trips: number }[];

/** Where the answers' queries run: `boxes`, the box queries' own connections (BoxSessions); `pool`, the rest. */
type Db = { pool: pg.Pool; boxes: BoxSessions };

/** The trips a weekly series counts, as every weekly query takes them ($1..$3). */
type Period = {
  /** $1: only the trips of this region; null for all regions. */
  regionId: number | null;
  /** $2: Monday of the first week ('YYYY-MM-DD'). */
  firstWeek: string;
  /** $3: Monday of the last week. */
  lastWeek: string;
};

/** Rectangles of level-12 cells as the queries take them: four arrays, colLo, colHi, rowLo and rowHi. */
const bounds = (rects: Rect[]) => [
  rects.map((r) => r.colLo),
  rects.map((r) => r.colHi),
  rects.map((r) => r.rowLo),
  rects.map((r) => r.rowHi),
];

/**
 * $1..$11 of both box queries: the period, the box, and one rectangle of cells (colLo, colHi, rowLo,
 * rowHi) that the query counts whole; none is an empty range of columns (colLo > colHi).
 */
const periodBoxArgs = (p: Period, box: Box, whole: Rect | null) => [
  p.regionId,
  p.firstWeek,
  p.lastWeek,
  box.west,
  box.south,
  box.east,
  box.north,
  whole?.colLo ?? 1,
  whole?.colHi ?? 0,
  whole?.rowLo ?? 1,
  whole?.rowHi ?? 0,
];

/** Two series of the same weeks added week by week (`sign` -1: the second taken away). */
const addSeries = (a: Series, b: Series, sign = 1): Series =>
  a.map((w, i) => ({ week: w.week, trips: w.trips + sign * b[i]!.trips }));

/** The parameters of db/queries/weekly_box.sql, by the names its header lists. */
type WeeklyBoxParams = Period & {
  /** $4..$7 west, south, east, north: the box, edges included. */
  box: Box;
  /** $8..$11 colLo, colHi, rowLo, rowHi: gold's rectangle of level-8 cells; null for none. */
  gold: Rect | null;
  /** $12..$15 colLo, colHi, rowLo, rowHi, $16 exact, $17 sign: the level-12 parts, one array per field. */
  parts: BoxPart[];
  /**
   * $18..$21 colLo, colHi, rowLo, rowHi: rectangles of level-10 cells (planBoxFine's `fine`), one array
   * per field, read by weekly_box_fine.sql; none: weekly_box.sql's {fine} is a query of no rows, and the
   * parameters are not sent.
   */
  fine: Rect[];
};

/** WeeklyBoxParams in weekly_box.sql's $n order. */
const weeklyBoxArgs = (p: WeeklyBoxParams) => [
  ...periodBoxArgs(p, p.box, p.gold),
  ...bounds(p.parts),
  p.parts.map((r) => r.exact),
  p.parts.map((r) => r.sign),
  ...(p.fine.length > 0 ? bounds(p.fine) : []),
];

/** weekly_box.sql for one end, with level-10 cells read from the counts and from `fine.unrefined`'s trips, or without. */
const weeklyBoxSql = (end: "origin" | "destination", fine: FineState | null) =>
  fine
    ? fillSql(QUERIES.weeklyBoxFine[end], { unrefined: tripsOf(fine.unrefined, `trip_time, region_id, ${end}_cell`) })
    : QUERIES.weeklyBox[end];

/**
 * Trips per week whose origin (or destination) lies in the box: gold, corrected by level-12 parts; with
 * `fine` (some segment has level-10 counts, withFineState), planned at level 10, so that the parts are
 * narrower. With `split`, the parts are read by two queries side by side (each half of every part;
 * gold with the first, the level-10 cells with the second), so that one answer uses both cores; their
 * weeks add up.
 */
async function boxSeries(
  { boxes }: Db,
  q: Period & { box: Box; end: "origin" | "destination" },
  split: boolean,
  fine: FineState | null,
): Promise<Series> {
  const plan = fine ? planBoxFine(q.box) : { ...planBox(q.box), fine: [] };
  const run = (g: Rect | null, ps: BoxPart[], f: Rect[]) =>
    boxes.query<Series[number]>(
      weeklyBoxSql(q.end, f.length > 0 ? fine : null),
      weeklyBoxArgs({ ...q, gold: g, parts: ps, fine: f }),
    );
  if (!split) return (await run(plan.gold, plan.parts, plan.fine)).rows;
  const [first, second] = halves(plan.parts, fine ? Number.POSITIVE_INFINITY : 8);
  const [a, b] = await Promise.all([run(plan.gold, first, []), run(null, second, plan.fine)]);
  return addSeries(a.rows, b.rows);
}

/**
 * db/queries/fine_state.sql: the partitions of silver.trips, of the level-10 counts and of the level-8
 * pairs; whether any segment has level-10 counts (level-8 pairs), and the tables of those that have none.
 */
type FineState = { partitions: string; refined: boolean; unrefined: string[]; paired: boolean; unpaired: string[] };

const fineState = async (pool: pg.Pool) => (await pool.query<FineState>(QUERIES.fineState)).rows[0]!;

/**
 * fine_state as a pool's answers last read it, read again when older than FINE_STATE_MS: the state before
 * an answer may be that old, since withFineState checks it afterwards against a fresh one whenever it
 * plans at level 10 (a stale "none" only means level 8, exact too). So a database without level-10
 * counts (below FINE_MIN_TRIPS) costs one catalog query a second, not one an answer.
 */
const fineStates = new WeakMap<pg.Pool, { at: number; state: Promise<FineState> }>();
const FINE_STATE_MS = 1000;

function cachedFineState(pool: pg.Pool): Promise<FineState> {
  const cached = fineStates.get(pool);
  if (cached && Date.now() - cached.at < FINE_STATE_MS) return cached.state;
  const state = fineState(pool);
  fineStates.set(pool, { at: Date.now(), state });
  state.catch(() => fineStates.delete(pool));
  return state;
}

/**
 * `answer(fine)` with the finer tables when some segment has any of those it `uses` ("refined": level-10
 * counts, for one-end answers; "paired": level-8 pairs, for both-ends answers; each reads the others'
 * trips by table name, and looks at its own flag), else without (`fine` null). Such an answer is exact only if the segments it read are the ones
 * fine_state named: they are read again afterwards, and if any came or went meanwhile (a seal, a
 * compaction, a withdrawal), or a table named is gone, the answer is asked again without them, which is
 * exact whatever the segments.
 */
async function withFineState(
  pool: pg.Pool,
  uses: ("refined" | "paired")[],
  answer: (fine: FineState | null) => Promise<Series>,
): Promise<Series> {
  const before = await cachedFineState(pool);
  if (!uses.some((u) => before[u])) return answer(null);
  let series: Series;
  try {
    series = await answer(before);
  } catch (err) {
    if ((err as { code?: string }).code === UNDEFINED_TABLE) return answer(null);
    throw err;
  }
  const after = await fineState(pool);
  fineStates.set(pool, { at: Date.now(), state: Promise.resolve(after) });
  return after.partitions === before.partitions ? series : answer(null);
}

/** PostgreSQL's undefined_table: a table fine_state named was dropped before the answer read it. */
const UNDEFINED_TABLE = "42P01";

/** The parameters of db/queries/weekly_box_both.sql, by the names its header lists. */
type WeeklyBoxBothParams = Period & {
  /** $4..$7 west, south, east, north: the box, edges included. */
  box: Box;
  /** $8..$11 colLo, colHi, rowLo, rowHi: the level-12 cells wholly inside the box; null for none. */
  inner: Rect | null;
  /** $16..$19 colLo, colHi, rowLo, rowHi: the level-12 cells under the level-6 cells wholly inside the box; null for none. */
  pairs: Rect | null;
  /** $31..$34: where A2's origins lie: `pairs` without level-8 pairs, the level-8 cells wholly inside the box with them. */
  within: Rect | null;
  /**
   * What this query counts: $12..$15 the rectangles of the ring (the level-12 cells the box's edges cut)
   * whose trips it reads, one array per field ($28: whether there are any), $20..$23 the rectangles read
   * by origin (A1), $24..$27 by destination (A2), $29..$30 the columns of `pairs` whose gold rows it
   * reads (colLo > colHi: none), $35..$38 and $39..$42 the rectangles of M read by origin and by
   * destination (level-8 pairs only).
   */
  part: {
    byOrigin: Rect[];
    byDestination: Rect[];
    ring: Rect[];
    pairs: Rect[];
    midByOrigin: Rect[];
    midByDestination: Rect[];
  };
};

/** WeeklyBoxBothParams in weekly_box_both.sql's $n order. */
const weeklyBoxBothArgs = (p: WeeklyBoxBothParams) => [
  ...periodBoxArgs(p, p.box, p.inner),
  ...bounds(p.part.ring),
  p.pairs?.colLo ?? 1,
  p.pairs?.colHi ?? 0,
  p.pairs?.rowLo ?? 1,
  p.pairs?.rowHi ?? 0,
  ...bounds(p.part.byOrigin),
  ...bounds(p.part.byDestination),
  p.part.ring.length > 0,
  p.part.pairs[0]?.colLo ?? 1,
  p.part.pairs[0]?.colHi ?? 0,
  p.within?.colLo ?? 1,
  p.within?.colHi ?? 0,
  p.within?.rowLo ?? 1,
  p.within?.rowHi ?? 0,
  ...bounds(p.part.midByOrigin),
  ...bounds(p.part.midByDestination),
];

/** A both-ends query's part that reads nothing: every rectangle list empty. */
const NOTHING: WeeklyBoxBothParams["part"] = {
  byOrigin: [],
  byDestination: [],
  ring: [],
  pairs: [],
  midByOrigin: [],
  midByDestination: [],
};

/**
 * Trips per week whose origin and destination both lie in the box: gold's cell pairs for the trips
 * between level-6 cells wholly inside it, silver's level-12 cell indexes for the band between those
 * cells and the box's edges (weekly_box_both.sql). With `fine` (some segment has level-8 pairs,
 * withFineState), silver's band stops at the level-8 cells wholly inside the box (`within`), and those
 * around the level-6 cells (M) are read from the level-8 pairs and from the other segments' trips. Two
 * queries side by side, so that one answer uses both cores: the western half of the pairs' columns and
 * what is read by origin, then the eastern half and what is read by destination; without pairs (nor
 * level-8 pairs), the western and the eastern half of the inner cells. The ring's rectangles (its
 * western and southern side, its eastern and northern side) go one pair to each. Their weeks add up.
 */
async function bothSeries({ boxes }: Db, q: Period & { box: Box }, fine: FineState | null): Promise<Series> {
  const { inner, edge, pairs, within } = splitBoxPairs(q.box);
  const paired = fine !== null && within !== null;
  // What silver's band stops at, and where A2's origins lie.
  const core = paired ? within : pairs;
  const mid = paired ? subtract(within, pairs) : [];
  const sql = paired ? weeklyBoxBoth(fine.unpaired) : QUERIES.weeklyBoxBoth;
  const run = (part: Partial<WeeklyBoxBothParams["part"]>) =>
    boxes.query<Series[number]>(
      sql,
      weeklyBoxBothArgs({ ...q, inner, pairs, within: core, part: { ...NOTHING, ...part } }),
    );
  if (!inner) return (await run({ ring: edge })).rows;
  // splitBox's ring: its western and eastern columns, then its southern and northern rows.
  const ring = [edge.filter((_, i) => i % 2 === 0), edge.filter((_, i) => i % 2 === 1)] as const;
  const band = subtract(inner, core);
  const half = (h: 0 | 1) => (pairs ? halfColumns(pairs, h, PAIR_COLUMN) : []);
  const [a, b] = await Promise.all(
    core
      ? [
          run({ byOrigin: band, ring: ring[0], pairs: half(0), midByOrigin: mid }),
          run({ byDestination: band, ring: ring[1], pairs: half(1), midByDestination: pairs ? mid : [] }),
        ]
      : [
          run({ byOrigin: halfColumns(inner, 0), ring: ring[0] }),
          run({ byOrigin: halfColumns(inner, 1), ring: ring[1] }),
        ],
  );
  return addSeries(a.rows, b.rows);
}

/**
 * The box queries that answers run on BoxSessions now, each with values that read nothing (a box at
 * 0°, 0° over one week of the year 2000, no cell): one end at level 8, and at level 10 too when some
 * segment has level-10 counts (with the tables of those that have none), and both ends with or without
 * the level-8 pairs, as the segments are. BoxSessions makes their plans ahead of the questions.
 */
export async function boxWarmups(pool: pg.Pool): Promise<Warmup[]> {
  const state = await fineState(pool);
  const nothing = {
    regionId: null,
    firstWeek: "2000-01-03",
    lastWeek: "2000-01-03",
    box: { west: 0, south: 0, east: 0, north: 0 },
  };
  const ends = (["origin", "destination"] as const).flatMap((end) => {
    const level8 = {
      sql: QUERIES.weeklyBox[end],
      values: weeklyBoxArgs({ ...nothing, gold: null, parts: [], fine: [] }),
    };
    if (!state.refined) return [level8];
    // planned at level 10, its level-10 cells read from the counts ($18..$21, empty here)
    const level10 = { sql: weeklyBoxSql(end, state), values: [...level8.values, ...bounds([])] };
    return [level8, level10];
  });
  const both = {
    sql: state.paired ? weeklyBoxBoth(state.unpaired) : QUERIES.weeklyBoxBoth,
    values: weeklyBoxBothArgs({ ...nothing, inner: null, pairs: null, within: null, part: NOTHING }),
  };
  return [...ends, both];
}

async function series(db: Db, period: Period, box: Box | undefined, match: Match): Promise<Series> {
  const { pool } = db;
  if (!box) {
    const { rows } = await pool.query<Series[number]>(QUERIES.weeklyRegions, [
      period.regionId,
      period.firstWeek,
      period.lastWeek,
    ]);
    return rows;
  }
  if (match === "origin" || match === "destination")
    return withFineState(pool, ["refined"], (f) => boxSeries(db, { ...period, box, end: match }, true, f));
  if (match === "both") return withFineState(pool, ["paired"], (f) => bothSeries(db, { ...period, box }, f));
  // any = origin + destination - both (inclusion-exclusion, week by week): the three series side by
  // side, under one check of the segments; only the both-ends one, the longest since it reads gold's
  // cell pairs too, is split in two.
  return withFineState(pool, ["refined", "paired"], async (f) => {
    const ends = f?.refined ? f : null;
    const [o, d, both] = await Promise.all([
      boxSeries(db, { ...period, box, end: "origin" }, false, ends),
      boxSeries(db, { ...period, box, end: "destination" }, false, ends),
      bothSeries(db, { ...period, box }, f?.paired ? f : null),
    ]);
    return addSeries(addSeries(o, d), both, -1);
  });
}

/**
 * GET /stats/weekly-average, answered from gold (plus silver near the edges of a box).
 *
 * @example app.route("/", statsRoutes(deps)); await app.request("/stats/weekly-average?region=Prague");
 */
export function statsRoutes(db: Db) {
  const { pool } = db;
  return newRouter().openapi(route, async (c) => {
    const q = c.req.valid("query");
    if (q.region === undefined && q.bbox === undefined)
      throw new BadRequestError("region or bbox: give at least one of them", "invalid_parameter");
    checkPeriod(q);

    const regionId = await findRegionId(pool, q.region);
    const { rows: span } = await pool.query<{ first: string | null; last: string | null }>(
      "SELECT min(week)::text AS first, max(week)::text AS last FROM gold.weekly_regions WHERE $1::int IS NULL OR region_id = $1::int",
      [regionId],
    );
    let first = q.from !== undefined ? mondayOf(q.from) : span[0]!.first;
    let last = q.to !== undefined ? mondayOf(q.to) : span[0]!.last;
    // One bound given and the data's other bound on the wrong side of it: the period is that one week.
    if (first !== null && last !== null && first > last) {
      if (q.from !== undefined) last = first;
      else first = last;
    }
    const base = {
      region: q.region ?? null,
      bbox: q.bbox ? [q.bbox.west, q.bbox.south, q.bbox.east, q.bbox.north] : null,
      match: q.match,
    };
    if (first === null || last === null)
      return c.json({ ...base, from: null, to: null, weeks: 0, trips: 0, weekly_average: 0, series: [] }, 200);
    const weeks = Math.round((Date.parse(last) - Date.parse(first)) / (7 * DAY)) + 1;
    if (weeks > MAX_WEEKS)
      throw new BadRequestError(`from: the period may span at most ${MAX_WEEKS} weeks`, "invalid_parameter");

    const rows = await series(db, { regionId, firstWeek: first, lastWeek: last }, q.bbox, q.match);
    const trips = rows.reduce((sum, w) => sum + w.trips, 0);
    return c.json(
      { ...base, from: first, to: addDays(last, 6), weeks, trips, weekly_average: trips / weeks, series: rows },
      200,
    );
  });
}
