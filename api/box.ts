import type { Box } from "./params.ts";

/**
 * How a box query splits into what gold answers and what silver must: the level-7 cells wholly inside
 * the box, and the rest of the box as disjoint rectangles of level-12 cells. Mirrors tripflow.cell()
 * (db/migrations/4_functions.sql): products with powers of two are exact in float8, so JavaScript and
 * PostgreSQL put every point in the same cell.
 */
export type Rect = { colLo: number; colHi: number; rowLo: number; rowHi: number };

export const GOLD_LEVEL = 7;
export const FINE_LEVEL = 12;

export function column(lon: number, level: number): number {
  const scale = 2 ** level;
  return Math.min(Math.floor(lon * scale) + 180 * scale, 360 * scale - 1);
}

export function row(lat: number, level: number): number {
  const scale = 2 ** level;
  return Math.min(Math.floor(lat * scale) + 90 * scale, 180 * scale - 1);
}

export function splitBox(box: Box): { inside: Rect | null; strips: Rect[] } {
  const g = 2 ** GOLD_LEVEL;
  const f = 2 ** (FINE_LEVEL - GOLD_LEVEL);
  // Level-7 cells [x/g, (x+1)/g) wholly inside [west, east]: x/g >= west and (x+1)/g <= east.
  const inside: Rect = {
    colLo: Math.ceil(box.west * g) + 180 * g,
    colHi: Math.floor(box.east * g) - 1 + 180 * g,
    rowLo: Math.ceil(box.south * g) + 90 * g,
    rowHi: Math.floor(box.north * g) - 1 + 90 * g,
  };
  const all: Rect = {
    colLo: column(box.west, FINE_LEVEL),
    colHi: column(box.east, FINE_LEVEL),
    rowLo: row(box.south, FINE_LEVEL),
    rowHi: row(box.north, FINE_LEVEL),
  };
  if (inside.colLo > inside.colHi || inside.rowLo > inside.rowHi) return { inside: null, strips: [all] };
  const ix0 = inside.colLo * f;
  const ix1 = (inside.colHi + 1) * f - 1;
  const iy0 = inside.rowLo * f;
  const iy1 = (inside.rowHi + 1) * f - 1;
  const strips: Rect[] = [
    { colLo: all.colLo, colHi: ix0 - 1, rowLo: all.rowLo, rowHi: all.rowHi }, // west
    { colLo: ix1 + 1, colHi: all.colHi, rowLo: all.rowLo, rowHi: all.rowHi }, // east
    { colLo: ix0, colHi: ix1, rowLo: all.rowLo, rowHi: iy0 - 1 }, // south
    { colLo: ix0, colHi: ix1, rowLo: iy1 + 1, rowHi: all.rowHi }, // north
  ].filter((r) => r.colLo <= r.colHi && r.rowLo <= r.rowHi);
  return { inside, strips };
}
