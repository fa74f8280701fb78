import { CELL_LEVEL } from "../pipeline/core/cells.ts";
import type { Box } from "./params.ts";

/**
 * How a box query splits into what gold answers and what silver must: the level-8 cells wholly inside
 * the box, and the rest of the box as disjoint rectangles of level-12 cells. Mirrors tripflow.cell()
 * (db/migrations/4_functions.sql): products with powers of two are exact in float8, so JavaScript and
 * PostgreSQL put every point in the same cell.
 */
export type Rect = { colLo: number; colHi: number; rowLo: number; rowHi: number };

export const GOLD_LEVEL = CELL_LEVEL.gold;
/** gold.weekly_origin_fine / weekly_destination_fine: level-10 counts of the segments of large files. */
export const FINE_GOLD_LEVEL = CELL_LEVEL.fineGold;
export const FINE_LEVEL = CELL_LEVEL.fine;
/** Level-12 columns per level-6 column (gold.weekly_cell_pairs' cells). */
export const PAIR_COLUMN = 2 ** (FINE_LEVEL - CELL_LEVEL.pairs);
/** Level-12 columns per level-8 column (gold.weekly_cell_pairs_fine's cells). */
const FINE_PAIR_COLUMN = 2 ** (FINE_LEVEL - CELL_LEVEL.finePairs);

export function column(lon: number, level: number): number {
  const scale = 2 ** level;
  return Math.min(Math.floor(lon * scale) + 180 * scale, 360 * scale - 1);
}

export function row(lat: number, level: number): number {
  const scale = 2 ** level;
  return Math.min(Math.floor(lat * scale) + 90 * scale, 180 * scale - 1);
}

/** The part of rectangle `a` outside rectangle `b`, as at most four disjoint rectangles. */
export function subtract(a: Rect, b: Rect | null): Rect[] {
  if (!b || b.colLo > a.colHi || b.colHi < a.colLo || b.rowLo > a.rowHi || b.rowHi < a.rowLo) return [a];
  const colLo = Math.max(a.colLo, b.colLo);
  const colHi = Math.min(a.colHi, b.colHi);
  return [
    { colLo: a.colLo, colHi: colLo - 1, rowLo: a.rowLo, rowHi: a.rowHi }, // west of b
    { colLo: colHi + 1, colHi: a.colHi, rowLo: a.rowLo, rowHi: a.rowHi }, // east of b
    { colLo, colHi, rowLo: a.rowLo, rowHi: Math.max(a.rowLo, b.rowLo) - 1 }, // south of b
    { colLo, colHi, rowLo: Math.min(a.rowHi, b.rowHi) + 1, rowHi: a.rowHi }, // north of b
  ].filter((r) => r.colLo <= r.colHi && r.rowLo <= r.rowHi);
}

/** A rectangle of cells of one level as the cells of a finer level (`to`, level 12 unless said) under it. */
function fine(r: Rect, from: number = GOLD_LEVEL, to: number = FINE_LEVEL): Rect {
  const f = 2 ** (to - from);
  return { colLo: r.colLo * f, colHi: (r.colHi + 1) * f - 1, rowLo: r.rowLo * f, rowHi: (r.rowHi + 1) * f - 1 };
}

/**
 * Splits a box into three disjoint parts:
 * - `inside`: the level-8 cells wholly inside the box (answered by gold), as level-8 columns and rows;
 * - `interior`: the other level-12 cells wholly inside the box (counted from the level-12 cell index
 *   alone, without reading a trip);
 * - `ring`: the level-12 cells the box's edges cut through (each trip there is tested against the box),
 *   but those under `inside`.
 * `all` is every level-12 cell the box touches, `inner` the level-12 cells wholly inside it and `edge`
 * the others (`ring` with the cells under `inside` included).
 */
export function splitBox(box: Box): {
  inside: Rect | null;
  interior: Rect[];
  ring: Rect[];
  edge: Rect[];
  all: Rect;
  inner: Rect | null;
} {
  const g = 2 ** GOLD_LEVEL;
  const all: Rect = {
    colLo: column(box.west, FINE_LEVEL),
    colHi: column(box.east, FINE_LEVEL),
    rowLo: row(box.south, FINE_LEVEL),
    rowHi: row(box.north, FINE_LEVEL),
  };
  // Level-12 cells strictly between the edge columns and rows lie wholly inside the box.
  const innerRect: Rect = { colLo: all.colLo + 1, colHi: all.colHi - 1, rowLo: all.rowLo + 1, rowHi: all.rowHi - 1 };
  const inner = innerRect.colLo <= innerRect.colHi && innerRect.rowLo <= innerRect.rowHi ? innerRect : null;
  // Level-7 cells [x/g, (x+1)/g) wholly inside [west, east]: x/g >= west and (x+1)/g <= east.
  const gold: Rect = {
    colLo: Math.ceil(box.west * g) + 180 * g,
    colHi: Math.floor(box.east * g) - 1 + 180 * g,
    rowLo: Math.ceil(box.south * g) + 90 * g,
    rowHi: Math.floor(box.north * g) - 1 + 90 * g,
  };
  const inside = gold.colLo <= gold.colHi && gold.rowLo <= gold.rowHi ? gold : null;
  const inside12 = inside && fine(inside);
  const interior = inner ? subtract(inner, inside12) : [];
  const edge = inner ? subtract(all, inner) : [all];
  const ring = edge.flatMap((r) => subtract(r, inside12));
  return { inside, interior, ring, edge, all, inner };
}

/** The cells of a rectangle that make whole groups of `f` columns and `f` rows, or null for none. */
function whole(r: Rect | null, f: number): Rect | null {
  if (!r) return null;
  const w = {
    colLo: Math.ceil(r.colLo / f) * f,
    colHi: Math.floor((r.colHi + 1) / f) * f - 1,
    rowLo: Math.ceil(r.rowLo / f) * f,
    rowHi: Math.floor((r.rowHi + 1) / f) * f - 1,
  };
  return w.colLo <= w.colHi && w.rowLo <= w.rowHi ? w : null;
}

/**
 * splitBox, and `pairs`: the level-6 cells (gold.weekly_cell_pairs) whose level-12 cells are all inner,
 * as those level-12 cells; `within`: the level-8 cells (gold.weekly_cell_pairs_fine) whose level-12
 * cells are all inner, likewise; null for none. Taken from `inner`, not from the box: a box edge on a
 * cell border leaves the level-12 cells along it in the ring, and pairs must hold none of the ring's.
 * `pairs` lies in `within`.
 */
export function splitBoxPairs(box: Box): ReturnType<typeof splitBox> & { pairs: Rect | null; within: Rect | null } {
  const split = splitBox(box);
  return { ...split, pairs: whole(split.inner, PAIR_COLUMN), within: whole(split.inner, FINE_PAIR_COLUMN) };
}

/**
 * The western (`half` 0) or eastern (1) half of a rectangle's columns, as a list of none or one
 * rectangle, cut between groups of `unit` columns (the rectangle's columns being whole groups).
 */
export function halfColumns(r: Rect, half: 0 | 1, unit = 1): Rect[] {
  const mid = r.colLo + Math.floor((r.colHi - r.colLo + 1) / unit / 2) * unit;
  const part = half === 0 ? { ...r, colHi: mid - 1 } : { ...r, colLo: mid };
  return part.colLo <= part.colHi ? [part] : [];
}

/** The cells both rectangles hold, or null. */
export function intersect(a: Rect, b: Rect | null): Rect | null {
  if (!b) return null;
  const r = {
    colLo: Math.max(a.colLo, b.colLo),
    colHi: Math.min(a.colHi, b.colHi),
    rowLo: Math.max(a.rowLo, b.rowLo),
    rowHi: Math.min(a.rowHi, b.rowHi),
  };
  return r.colLo <= r.colHi && r.rowLo <= r.rowHi ? r : null;
}

const area = (r: Rect | null) => (r ? (r.colHi - r.colLo + 1) * (r.rowHi - r.rowLo + 1) : 0);

/**
 * A rectangle of level-12 cells and how its trips count toward a box: `exact` tests each trip's point
 * against the box (counted when inside for sign +1, when outside for sign -1), otherwise every trip in
 * the cells counts with the sign.
 */
export type BoxPart = Rect & { exact: boolean; sign: 1 | -1 };

/**
 * How to count the trips of a box with the fewest trips read: `gold` is a rectangle of level-8 cells
 * answered from gold; `parts` correct it to the box exactly. Gold may take a level-8 cell the box cuts
 * when the box covers most of it: the trips of its part outside the box are then subtracted, fewer than
 * the trips of its part inside would be to add (a box edge just inside a cell's border costs a sliver,
 * not almost the whole cell). Each side of the box is decided by the number of level-12 cells to read.
 *
 * Count = gold(gold) + Σ parts: level-12 cells of the box outside gold add (wholly inside the box: all
 * their trips; cut by its edges: the trips inside it), level-12 cells of gold outside the box subtract
 * (wholly outside: all their trips; cut by the edges: the trips outside the box).
 */
export function planBox(box: Box, level: number = GOLD_LEVEL): { gold: Rect | null; parts: BoxPart[] } {
  const g = 2 ** level;
  const { all, inner, edge } = splitBox(box);
  // For each side, the level-8 column (row) boundary just inside the box edge and the one just outside.
  const xs = [
    [Math.ceil(box.west * g), Math.floor(box.west * g)],
    [Math.floor(box.east * g) - 1, Math.ceil(box.east * g) - 1],
  ] as const;
  const ys = [
    [Math.ceil(box.south * g), Math.floor(box.south * g)],
    [Math.floor(box.north * g) - 1, Math.ceil(box.north * g) - 1],
  ] as const;
  let best: { gold: Rect | null; cost: number } | null = null;
  for (const colLo of xs[0])
    for (const colHi of xs[1])
      for (const rowLo of ys[0])
        for (const rowHi of ys[1]) {
          const cand: Rect = {
            colLo: colLo + 180 * g,
            colHi: colHi + 180 * g,
            rowLo: rowLo + 90 * g,
            rowHi: rowHi + 90 * g,
          };
          const gold = cand.colLo <= cand.colHi && cand.rowLo <= cand.rowHi ? cand : null;
          const g12 = gold && fine(gold, level);
          // Level-12 cells read: the box's cells outside gold plus gold's cells outside the box.
          const cost = area(all) + area(g12) - 2 * area(intersect(all, g12));
          if (!best || cost < best.cost) best = { gold, cost };
        }
  const gold = best!.gold;
  const g12 = gold && fine(gold, level);
  const parts: BoxPart[] = [
    ...(inner ? subtract(inner, g12) : []).map((r) => ({ ...r, exact: false, sign: 1 as const })),
    ...edge.flatMap((r) => subtract(r, g12)).map((r) => ({ ...r, exact: true, sign: 1 as const })),
    ...(g12 ? subtract(g12, all) : []).map((r) => ({ ...r, exact: false, sign: -1 as const })),
    ...edge.flatMap((r) => intersect(r, g12) ?? []).map((r) => ({ ...r, exact: true, sign: -1 as const })),
  ];
  return { gold, parts };
}

/**
 * planBox at level 10, for when every segment of a large file has its level-10 counts: the bands the
 * parts read from silver narrow to at most a level-10 cell. Its level-10 rectangle is answered in two
 * pieces: `gold`, the level-8 cells wholly inside it (level-8 columns and rows, from gold as planBox's),
 * and `fine`, the rest of it as at most four rectangles of level-10 cells (weekly_box.sql's `fine`).
 */
export function planBoxFine(box: Box): { gold: Rect | null; fine: Rect[]; parts: BoxPart[] } {
  const { gold: g10, parts } = planBox(box, FINE_GOLD_LEVEL);
  if (!g10) return { gold: null, fine: [], parts };
  const f = 2 ** (FINE_GOLD_LEVEL - GOLD_LEVEL);
  const g8: Rect = {
    colLo: Math.ceil(g10.colLo / f),
    colHi: Math.floor((g10.colHi + 1) / f) - 1,
    rowLo: Math.ceil(g10.rowLo / f),
    rowHi: Math.floor((g10.rowHi + 1) / f) - 1,
  };
  const gold = g8.colLo <= g8.colHi && g8.rowLo <= g8.rowHi ? g8 : null;
  return { gold, fine: subtract(g10, gold && fine(gold, GOLD_LEVEL, FINE_GOLD_LEVEL)), parts };
}

/**
 * The parts in two halves that read disjoint cells and whose counts add up: two queries, one per half,
 * run side by side, one on each core (api/routes/stats.ts). A part that spans two level-8 columns (rows)
 * or more along its longer side is cut at their lines into up to `runs` runs of them that the halves
 * take in turn, so each half holds stretches of every edge in alternation: trips cluster, and a half that
 * held one end of an edge may hold most of its trips (at 100 M, a Santiago box's halves cut in the middle
 * read 1.7 and 246 ms). A shorter part is cut in the middle of its longer side. More runs share a cluster
 * more finely, but each costs its own range probes: where reading dominates (answers planned at level
 * 10, for large files) every level-8 line is a run (100 M: one-end p95 92 ms against 98 ms with 8 runs);
 * where probing does, 8 (1 M: a run per line cost 0.6 ms a question).
 */
export function halves(parts: BoxPart[], runs = 8): [BoxPart[], BoxPart[]] {
  const block = 2 ** (FINE_LEVEL - GOLD_LEVEL);
  const out: [BoxPart[], BoxPart[]] = [[], []];
  let turn = 0;
  for (const p of parts) {
    const wide = p.colHi - p.colLo >= p.rowHi - p.rowLo;
    const lo = wide ? p.colLo : p.rowLo;
    const hi = wide ? p.colHi : p.rowHi;
    const piece = (a: number, b: number): BoxPart =>
      wide ? { ...p, colLo: a, colHi: b } : { ...p, rowLo: a, rowHi: b };
    const [firstBlock, lastBlock] = [Math.floor(lo / block), Math.floor(hi / block)];
    const blocks = lastBlock - firstBlock + 1;
    if (blocks >= 2) {
      const n = Math.min(runs, blocks);
      for (let i = 0; i < n; i++) {
        const from = firstBlock + Math.floor((i * blocks) / n);
        const to = firstBlock + Math.floor(((i + 1) * blocks) / n) - 1;
        out[(i + turn) % 2]!.push(piece(Math.max(lo, from * block), Math.min(hi, to * block + block - 1)));
      }
      turn ^= 1;
    } else if (lo === hi) (out[0].length <= out[1].length ? out[0] : out[1]).push(p);
    else {
      const mid = Math.floor((lo + hi) / 2);
      out[0].push(piece(lo, mid));
      out[1].push(piece(mid + 1, hi));
    }
  }
  return out;
}
