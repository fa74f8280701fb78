import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import { errorResponse, NotFoundError } from "../errors.ts";
import { QUERIES } from "../queries.ts";
import { CELL_LEVEL } from "../../pipeline/core/cells.ts";
import { findRegionId } from "../regions.ts";
import { newRouter } from "../router.ts";
import { Bbox, RegionName, unknownParameter, wholeNumber } from "../params.ts";

// Stored groups are level-7 cells and 30-minute slots; coarser ones are sums of those.
const FINEST_LEVEL = CELL_LEVEL.group;
const SLOT_MINUTES = [30, 60, 90, 120, 180, 240, 360, 480, 720, 1440] as const;

const SlotMinutes = z
  .string()
  .refine(
    (s) => (SLOT_MINUTES as readonly number[]).map(String).includes(s),
    `must be one of ${SLOT_MINUTES.join(", ")} (minutes)`,
  )
  .transform(Number);

const GroupsQuery = z.strictObject(
  {
    region: RegionName.optional().openapi({ description: "only this region (by name); an unknown name answers 404" }),
    bbox: Bbox.optional().openapi({
      description:
        "minLon,minLat,maxLon,maxLat: only groups whose representative origin (the mean of the members' origins) lies in this box, edges included",
      example: "14.2,49.9,14.7,50.2",
    }),
    limit: wholeNumber(1, 1000).default(50).openapi({ description: "at most this many groups (1..1000, default 50)" }),
    min_trips: wholeNumber(1, 1e9)
      .default(1)
      .openapi({ description: "only groups of at least this many trips (default 1)" }),
    cell: wholeNumber(0, FINEST_LEVEL).default(FINEST_LEVEL).openapi({
      description:
        "cell level 0..7 for origin and destination (a level-L cell is 2^-L degrees; smaller is coarser; default 7)",
    }),
    slot: SlotMinutes.default(30).openapi({
      description: `time-of-day slot in minutes: ${SLOT_MINUTES.join(", ")} (default 30)`,
    }),
  },
  unknownParameter,
);

type GroupKey = {
  regionId: number;
  originCell: number;
  destinationCell: number;
  slotMinutes: number;
  slotIndex: number;
};

const cellLevel = (id: number) => Math.floor(id / 2 ** 42);

const groupId = (k: GroupKey) => `${k.regionId}-${k.originCell}-${k.destinationCell}-${k.slotMinutes}-${k.slotIndex}`;

// Cell ids stay below 2^46 (level <= 12, 21-bit columns and rows), so they are exact JS numbers.
const GroupId = z.string().transform((text, ctx): GroupKey => {
  const m = /^(\d{1,9})-(\d{1,15})-(\d{1,15})-(\d{2,4})-(\d{1,2})$/.exec(text);
  const key = m && {
    regionId: Number(m[1]),
    originCell: Number(m[2]),
    destinationCell: Number(m[3]),
    slotMinutes: Number(m[4]),
    slotIndex: Number(m[5]),
  };
  if (
    !key ||
    cellLevel(key.originCell) !== cellLevel(key.destinationCell) ||
    cellLevel(key.originCell) > FINEST_LEVEL ||
    !(SLOT_MINUTES as readonly number[]).includes(key.slotMinutes) ||
    key.slotIndex >= 1440 / key.slotMinutes
  ) {
    ctx.addIssue({ code: "custom", message: "must be a group id as returned by GET /groups" });
    return z.NEVER;
  }
  return key;
});

type Cursor = [tripTime: string, ingestionId: number, lineNo: number];

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?$/;

// A cursor names a moment PostgreSQL can read back: 2019-02-30 would fail the cast with a 500.
function possibleTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    y >= 1 &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === s
  );
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");

const CursorParam = z.string().transform((text, ctx): Cursor => {
  try {
    const c: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (
      Array.isArray(c) &&
      c.length === 3 &&
      typeof c[0] === "string" &&
      possibleTimestamp(c[0]) &&
      Number.isSafeInteger(c[1]) &&
      c[1] >= 0 &&
      Number.isSafeInteger(c[2]) &&
      c[2] >= 0
    )
      return c as Cursor;
  } catch {
    // not base64url JSON: reported below
  }
  ctx.addIssue({ code: "custom", message: "must be a next_cursor returned by this endpoint" });
  return z.NEVER;
});

const TripsQuery = z.strictObject(
  {
    limit: wholeNumber(1, 1000).default(100).openapi({ description: "at most this many trips (1..1000, default 100)" }),
    cursor: CursorParam.optional().openapi({ description: "the next_cursor of the previous page" }),
  },
  unknownParameter,
);

const Point = z.tuple([z.number(), z.number()]).openapi({ description: "[lon, lat]" });

const Cell = z.object({
  id: z.string().openapi({ description: "cell id: (level << 42) | (x << 21) | y, as a decimal string" }),
  level: z.number().int(),
  center: Point,
  bounds: z
    .tuple([z.number(), z.number(), z.number(), z.number()])
    .openapi({ description: "[west, south, east, north]" }),
});

const Group = z.object({
  id: z.string().openapi({ description: "opaque group id for GET /groups/{id}/trips" }),
  region: z.string(),
  origin_cell: Cell,
  destination_cell: Cell,
  slot: z.string().openapi({ example: "08:00-08:30" }),
  trips: z.number().int(),
  representative: z
    .object({ origin: Point, destination: Point })
    .openapi({ description: "mean of the members' points" }),
  first_trip_at: z.string().openapi({ example: "2018-05-28 09:03:40" }),
  last_trip_at: z.string(),
});

const GroupsPage = z.object({ cell_level: z.number().int(), slot_minutes: z.number().int(), groups: z.array(Group) });

const Trip = z.object({
  ingestion_id: z.number().int(),
  line_no: z.number().int(),
  region: z.string(),
  datasource: z.string(),
  origin: Point,
  destination: Point,
  datetime: z.string(),
});

const TripsPage = z.object({ group_id: z.string(), trips: z.array(Trip), next_cursor: z.string().nullable() });

const errors = {
  400: errorResponse("an invalid parameter, named in the message"),
  404: errorResponse("unknown region or group"),
};

const listRoute = createRoute({
  method: "get",
  path: "/groups",
  summary: "Groups of similar trips, largest first",
  description:
    "Trips are similar when they share region, origin cell, destination cell and time-of-day slot. The default " +
    "is level-7 cells and 30-minute slots; cell= and slot= ask for coarser groups, summed from the stored ones.",
  request: { query: GroupsQuery },
  responses: { 200: { description: "the groups", content: { "application/json": { schema: GroupsPage } } }, ...errors },
});

const tripsRoute = createRoute({
  method: "get",
  path: "/groups/{id}/trips",
  summary: "The member trips of one group, in trip time order, a page at a time",
  request: {
    params: z.object({ id: GroupId.openapi({ description: "a group id from GET /groups" }) }),
    query: TripsQuery,
  },
  responses: {
    200: { description: "a page of trips", content: { "application/json": { schema: TripsPage } } },
    ...errors,
  },
});

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

function cell(id: string, level: number, [west, south, east, north]: number[]): z.infer<typeof Cell> {
  return { id, level, center: [(west! + east!) / 2, (south! + north!) / 2], bounds: [west!, south!, east!, north!] };
}

type GroupRow = {
  region_id: number;
  region: string;
  origin_cell: string;
  origin_bounds: number[];
  destination_cell: string;
  destination_bounds: number[];
  slot_index: number;
  trips: number;
  origin_lon: number;
  origin_lat: number;
  dest_lon: number;
  dest_lat: number;
  first_trip_at: string;
  last_trip_at: string;
};

type TripRow = {
  ingestion_id: number | null;
  line_no: number;
  region: string;
  datasource: string;
  origin_lon: number;
  origin_lat: number;
  dest_lon: number;
  dest_lat: number;
  trip_time: string;
};

/**
 * GET /groups (groups of similar trips, optionally coarser) and GET /groups/{id}/trips (their members).
 *
 * @example app.route("/", groupsRoutes(deps)); await app.request("/groups?region=Prague&cell=6&slot=60");
 */
export function groupsRoutes({ pool }: { pool: pg.Pool }) {
  return newRouter()
    .openapi(listRoute, async (c) => {
      const q = c.req.valid("query");
      const regionId = await findRegionId(pool, q.region);
      const b = q.bbox;
      const { rows } = await pool.query<GroupRow>(QUERIES.groups, [
        regionId,
        q.cell,
        q.slot,
        q.min_trips,
        b?.west ?? null,
        b?.south ?? null,
        b?.east ?? null,
        b?.north ?? null,
        q.limit,
      ]);
      const groups = rows.map((r) => ({
        id: groupId({
          regionId: r.region_id,
          originCell: Number(r.origin_cell),
          destinationCell: Number(r.destination_cell),
          slotMinutes: q.slot,
          slotIndex: r.slot_index,
        }),
        region: r.region,
        origin_cell: cell(r.origin_cell, q.cell, r.origin_bounds),
        destination_cell: cell(r.destination_cell, q.cell, r.destination_bounds),
        slot: `${hhmm(r.slot_index * q.slot)}-${hhmm((r.slot_index + 1) * q.slot)}`,
        trips: r.trips,
        representative: {
          origin: [r.origin_lon, r.origin_lat] as [number, number],
          destination: [r.dest_lon, r.dest_lat] as [number, number],
        },
        first_trip_at: r.first_trip_at,
        last_trip_at: r.last_trip_at,
      }));
      return c.json({ cell_level: q.cell, slot_minutes: q.slot, groups }, 200);
    })
    .openapi(tripsRoute, async (c) => {
      const key = c.req.valid("param").id;
      const { limit, cursor } = c.req.valid("query");
      // One row more than asked says whether there is a next page.
      const { rows } = await pool.query<TripRow>(QUERIES.groupTrips, [
        key.regionId,
        key.originCell,
        key.destinationCell,
        key.slotMinutes,
        key.slotIndex,
        cursor?.[0] ?? null,
        cursor?.[1] ?? null,
        cursor?.[2] ?? null,
        limit + 1,
      ]);
      if (rows.length === 0) throw new NotFoundError(`no group ${groupId(key)}`);
      const members = rows.filter((r) => r.ingestion_id !== null);
      const page = members.slice(0, limit);
      const last = page.at(-1);
      return c.json(
        {
          group_id: groupId(key),
          trips: page.map((r) => ({
            ingestion_id: r.ingestion_id!,
            line_no: r.line_no,
            region: r.region,
            datasource: r.datasource,
            origin: [r.origin_lon, r.origin_lat] as [number, number],
            destination: [r.dest_lon, r.dest_lat] as [number, number],
            datetime: r.trip_time,
          })),
          next_cursor:
            members.length > limit && last ? encodeCursor([last.trip_time, last.ingestion_id!, last.line_no]) : null,
        },
        200,
      );
    });
}
