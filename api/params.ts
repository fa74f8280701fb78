import { z } from "@hono/zod-openapi";
import { BadRequestError } from "./errors.ts";

/** Query parameters shared by the routes: each failure message is what the client is told after the name. */

export function wholeNumber(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,10}$/, message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message);
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$/;

export type Box = { west: number; south: number; east: number; north: number };

export const Bbox = z.string().transform((text, ctx): Box => {
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  const parts = text.split(",").map((s) => s.trim());
  if (parts.length !== 4 || !parts.every((s) => DECIMAL.test(s)))
    return fail("must be minLon,minLat,maxLon,maxLat: four decimal numbers separated by commas");
  // Number() of a valid decimal is finite or +-Infinity (1e999): the range checks below refuse the latter.
  const [west, south, east, north] = parts.map(Number) as [number, number, number, number];
  if (![west, east].every((v) => v >= -180 && v <= 180)) return fail("longitudes must be within -180..180");
  if (![south, north].every((v) => v >= -90 && v <= 90)) return fail("latitudes must be within -90..90");
  if (west > east || south > north) return fail("minLon must not exceed maxLon, nor minLat maxLat");
  return { west, south, east, north };
});

export const unknownParameter = {
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === "unrecognized_keys" ? `unknown parameter ${issue.keys?.join(", ")}` : undefined,
};

// PostgreSQL text cannot hold NUL: such a name would fail in the query rather than find nothing.
export const RegionName = z
  .string()
  .min(1, "must be a region name")
  .max(200)
  .regex(/^[^\0]+$/, "must be a region name");

const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s) && s >= "0001-01-01";
  }, "must be a real calendar date YYYY-MM-DD");

/**
 * `from` and `to` of a period of ISO weeks, for a route's query schema; `checkPeriod` refuses them in
 * the wrong order.
 *
 * @example const Query = z.strictObject({ ...PeriodParams, region: RegionName.optional() }, unknownParameter);
 */
export const PeriodParams = {
  from: IsoDate.optional().openapi({
    description: "the period starts with the ISO week of this date",
    example: "2018-05-01",
  }),
  to: IsoDate.optional().openapi({
    description: "the period ends with the ISO week of this date",
    example: "2018-05-31",
  }),
};

/** A 400 when `from` is after `to` (both 'YYYY-MM-DD', so text order is date order). */
export function checkPeriod(q: { from?: string | undefined; to?: string | undefined }): void {
  if (q.from !== undefined && q.to !== undefined && q.from > q.to)
    throw new BadRequestError("from: must not be after to", "invalid_parameter");
}
