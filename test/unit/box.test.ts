import { describe, expect, it } from "vitest";
import {
  column,
  FINE_GOLD_LEVEL,
  FINE_LEVEL,
  GOLD_LEVEL,
  halves,
  intersect,
  planBox,
  planBoxFine,
  row,
  splitBox,
  subtract,
  type Rect,
} from "../../api/box.ts";
import { rng } from "../helpers/random.ts";

const cells = (r: Rect) => {
  const out: string[] = [];
  for (let x = r.colLo; x <= r.colHi; x++) for (let y = r.rowLo; y <= r.rowHi; y++) out.push(`${x},${y}`);
  return out;
};
const F = 2 ** FINE_LEVEL;
const G = 2 ** GOLD_LEVEL;
const west = (x: number) => x / F - 180;
const south = (y: number) => y / F - 90;

describe("splitBox", () => {
  it("cuts every box into gold cells, interior cells wholly inside and a ring, each level-12 cell once", () => {
    const random = rng(11);
    const f = 2 ** (FINE_LEVEL - GOLD_LEVEL);
    for (let i = 0; i < 80; i++) {
      // boxes up to ~0.03° whose edges often sit exactly on gold-level or level-12 lines
      const edge = (base: number) => {
        const r = random();
        const v = base + random() * 0.03;
        return r < 0.25 ? Math.round(v * G) / G : r < 0.5 ? Math.round(v * F) / F : v;
      };
      const [a, b, c, d] = [edge(-0.02), edge(-0.02), edge(-0.01), edge(-0.01)];
      const box = { west: Math.min(a, b), east: Math.max(a, b), south: Math.min(c, d), north: Math.max(c, d) };
      const s = splitBox(box);
      const gold = s.inside
        ? cells({
            colLo: s.inside.colLo * f,
            colHi: (s.inside.colHi + 1) * f - 1,
            rowLo: s.inside.rowLo * f,
            rowHi: (s.inside.rowHi + 1) * f - 1,
          })
        : [];
      const parts = [...gold, ...s.interior.flatMap(cells), ...s.ring.flatMap(cells)];
      const all = new Set(cells(s.all));
      // disjoint and complete: as many pieces as cells, every piece a cell of the box, no piece twice
      expect(new Set(parts).size, JSON.stringify(box)).toBe(parts.length);
      expect(parts.length, JSON.stringify(box)).toBe(all.size);
      expect(
        parts.filter((k) => !all.has(k)),
        JSON.stringify(box),
      ).toEqual([]);
      const split = [...(s.inner ? cells(s.inner) : []), ...s.edge.flatMap(cells)];
      expect(new Set(split).size).toBe(all.size);
      expect(split.filter((k) => !all.has(k))).toEqual([]);
      const outside = [...gold, ...s.interior.flatMap(cells)].filter((key) => {
        const [x, y] = key.split(",").map(Number) as [number, number];
        return !(west(x) >= box.west && west(x + 1) <= box.east && south(y) >= box.south && south(y + 1) <= box.north);
      });
      expect(outside, JSON.stringify(box)).toEqual([]);
      expect(s.all).toEqual({
        colLo: column(box.west, FINE_LEVEL),
        colHi: column(box.east, FINE_LEVEL),
        rowLo: row(box.south, FINE_LEVEL),
        rowHi: row(box.north, FINE_LEVEL),
      });
    }
  });

  it("subtracts rectangles into at most four disjoint pieces", () => {
    const a = { colLo: 0, colHi: 9, rowLo: 0, rowHi: 9 };
    expect(subtract(a, null)).toEqual([a]);
    expect(subtract(a, { colLo: 20, colHi: 30, rowLo: 0, rowHi: 9 })).toEqual([a]);
    const pieces = subtract(a, { colLo: 3, colHi: 5, rowLo: 4, rowHi: 6 });
    expect(pieces).toHaveLength(4);
    expect(pieces.flatMap(cells)).toHaveLength(100 - 9);
    expect(subtract(a, a)).toEqual([]);
  });

  it("intersects rectangles", () => {
    const a = { colLo: 0, colHi: 9, rowLo: 0, rowHi: 9 };
    expect(intersect(a, { colLo: 5, colHi: 20, rowLo: -3, rowHi: 2 })).toEqual({
      colLo: 5,
      colHi: 9,
      rowLo: 0,
      rowHi: 2,
    });
    expect(intersect(a, { colLo: 10, colHi: 20, rowLo: 0, rowHi: 9 })).toBeNull();
    expect(intersect(a, null)).toBeNull();
  });
});

describe("planBox", () => {
  const inBox = (b: { west: number; south: number; east: number; north: number }, lon: number, lat: number) =>
    lon >= b.west && lon <= b.east && lat >= b.south && lat <= b.north;
  const inRect = (r: Rect, level: number, lon: number, lat: number) => {
    const x = column(lon, level);
    const y = row(lat, level);
    return x >= r.colLo && x <= r.colHi && y >= r.rowLo && y <= r.rowHi;
  };

  type Box = Parameters<typeof planBox>[0];
  type Point = [lon: number, lat: number];

  /** 400 points around a box (`margin` degrees beyond it), some on its edges, some snapped to grid lines. */
  const pointsAround = (random: () => number, box: Box, margin: number, snapped: (lon: number, lat: number) => Point) =>
    Array.from({ length: 400 }, (): Point => {
      const lon = box.west - margin + random() * (box.east - box.west + 2 * margin);
      const lat = box.south - margin + random() * (box.north - box.south + 2 * margin);
      const snap = random();
      return snap < 0.1
        ? [box.west, lat]
        : snap < 0.15
          ? [box.east, lat]
          : snap < 0.2
            ? [lon, box.north]
            : snap < 0.3
              ? snapped(lon, lat)
              : [lon, lat];
    });

  /** The points a plan counts: its level-8 gold, its level-10 cells, and its level-12 parts with their signs. */
  const countedByPlan = (box: Box, plan: ReturnType<typeof planBoxFine>, points: Point[]) => {
    let counted = 0;
    for (const [lon, lat] of points) {
      if (plan.gold && inRect(plan.gold, GOLD_LEVEL, lon, lat)) counted++;
      for (const r of plan.fine) if (inRect(r, FINE_GOLD_LEVEL, lon, lat)) counted++;
      for (const p of plan.parts) {
        if (!inRect(p, FINE_LEVEL, lon, lat)) continue;
        if (!p.exact || inBox(box, lon, lat) === p.sign > 0) counted += p.sign;
      }
    }
    return counted;
  };

  it("counts exactly the points in the box: gold's cells, plus and minus the level-12 parts", () => {
    const random = rng(23);
    let extended = 0;
    for (let i = 0; i < 300; i++) {
      // boxes from a few level-12 cells to several gold cells, edges often on cell lines, around 0,0
      const edge = (base: number, size: number) => {
        const r = random();
        const v = base + random() * size;
        return r < 0.2 ? Math.round(v * G) / G : r < 0.4 ? Math.round(v * F) / F : v;
      };
      const size = random() < 0.5 ? 0.01 : 0.06;
      const [a, b, c, d] = [edge(-0.03, size), edge(-0.03, size), edge(-0.02, size), edge(-0.02, size)];
      const box = { west: Math.min(a, b), east: Math.max(a, b), south: Math.min(c, d), north: Math.max(c, d) };
      const plan = planBox(box);
      const s = splitBox(box);
      if (
        plan.gold &&
        (!s.inside ||
          plan.gold.colLo < s.inside.colLo ||
          plan.gold.colHi > s.inside.colHi ||
          plan.gold.rowLo < s.inside.rowLo ||
          plan.gold.rowHi > s.inside.rowHi)
      )
        extended++;
      // points around the box, some on its edges and on gold-level / level-12 lines
      const points = pointsAround(random, box, 0.01, (lon, lat) => [Math.round(lon * G) / G, Math.round(lat * F) / F]);
      const direct = points.filter(([lon, lat]) => inBox(box, lon, lat)).length;
      expect(countedByPlan(box, { ...plan, fine: [] }, points), JSON.stringify(box)).toBe(direct);
    }
    // the seeded boxes do exercise gold cells that the box cuts
    expect(extended).toBeGreaterThan(20);
  });

  it("counts exactly the points in the box at level 10: level-8 cells, level-10 cells around them, the parts", () => {
    const random = rng(29);
    const T = 2 ** FINE_GOLD_LEVEL;
    let bothLevels = 0;
    for (let i = 0; i < 300; i++) {
      // edges often on level-8, level-10 or level-12 lines
      const edge = (base: number, size: number) => {
        const r = random();
        const v = base + random() * size;
        return r < 0.15 ? Math.round(v * G) / G : r < 0.3 ? Math.round(v * T) / T : r < 0.4 ? Math.round(v * F) / F : v;
      };
      const size = random() < 0.3 ? 0.004 : 0.06;
      const [a, b, c, d] = [edge(-0.03, size), edge(-0.03, size), edge(-0.02, size), edge(-0.02, size)];
      const box = { west: Math.min(a, b), east: Math.max(a, b), south: Math.min(c, d), north: Math.max(c, d) };
      const plan = planBoxFine(box);
      if (plan.gold && plan.fine.length > 0) bothLevels++;
      const points = pointsAround(random, box, 0.005, (lon, lat) => [Math.round(lon * T) / T, Math.round(lat * G) / G]);
      const direct = points.filter(([lon, lat]) => inBox(box, lon, lat)).length;
      expect(countedByPlan(box, plan, points), JSON.stringify(box)).toBe(direct);
      // the parts are at most a level-10 cell deep: the bands silver is read for are a quarter as wide as at level 8
      const depth = (p: Rect) => Math.min(p.colHi - p.colLo, p.rowHi - p.rowLo) + 1;
      for (const p of plan.parts) expect(depth(p)).toBeLessThanOrEqual(2 ** (FINE_LEVEL - FINE_GOLD_LEVEL));
    }
    expect(bothLevels).toBeGreaterThan(100);
  });

  it("takes a gold cell from gold when the box covers most of it", () => {
    // West edge one level-12 column inside a gold column: that column comes from gold, minus a sliver.
    const box = { west: 1 / F, south: 0, east: 2 / G, north: 2 / G };
    const plan = planBox(box);
    expect(plan.gold).toEqual({ colLo: 180 * G, colHi: 180 * G + 1, rowLo: 90 * G, rowHi: 90 * G + 1 });
    const negative = plan.parts.filter((p) => p.sign < 0);
    expect(negative.reduce((n, p) => n + (p.colHi - p.colLo + 1) * (p.rowHi - p.rowLo + 1), 0)).toBeLessThan(
      3 * 2 * (F / G),
    );
  });
});

describe("halves", () => {
  it("gives the two halves a long part's level-8 blocks in turn, so that a cluster of trips on one edge is shared", () => {
    const part = (colLo: number, colHi: number, rowLo: number, rowHi: number) =>
      ({ colLo, colHi, rowLo, rowHi, exact: true, sign: 1 }) as const;
    // 70 columns from column 10: blocks 0 (10-15), 1 (16-31), 2 (32-47), 3 (48-63), 4 (64-79); then a tall one
    const [first, second] = halves([part(10, 79, 5, 5), part(7, 7, 0, 40)]);
    expect(first).toEqual([part(10, 15, 5, 5), part(32, 47, 5, 5), part(64, 79, 5, 5), part(7, 7, 16, 31)]);
    expect(second).toEqual([part(16, 31, 5, 5), part(48, 63, 5, 5), part(7, 7, 0, 15), part(7, 7, 32, 40)]);
    // at most `runs` runs: two runs of the five blocks (0-1 and 2-4)
    expect(halves([part(10, 79, 5, 5)], 2)).toEqual([[part(10, 31, 5, 5)], [part(32, 79, 5, 5)]]);
  });

  it("cuts the parts into two halves of disjoint pieces that hold every cell once, with its sign and test", () => {
    const random = rng(31);
    for (let i = 0; i < 200; i++) {
      const [a, b, c, d] = [random() * 0.08 - 0.04, random() * 0.08 - 0.04, random() * 0.06, random() * 0.06];
      const box = { west: Math.min(a, b), east: Math.max(a, b), south: Math.min(c, d), north: Math.max(c, d) };
      const { parts } = planBox(box);
      const key = (p: { exact: boolean; sign: number }, cell: string) => `${p.exact},${p.sign},${cell}`;
      const expected = parts.flatMap((p) => cells(p).map((c) => key(p, c))).sort();
      const [first, second] = halves(parts);
      const got = [...first, ...second].flatMap((p) => cells(p).map((c) => key(p, c))).sort();
      expect(got).toEqual(expected);
      const area = (ps: Rect[]) => ps.reduce((n, p) => n + cells(p).length, 0);
      // half each, but for one run of level-8 lines per part (at most an eighth of it and a line more:
      // runs taken in turn, an odd number of them; a part cut in the middle with an odd length; a cell)
      const block = 2 ** (FINE_LEVEL - GOLD_LEVEL);
      const slack = parts.reduce((n, p) => {
        const [long, short] = [p.colHi - p.colLo + 1, p.rowHi - p.rowLo + 1].sort((x, y) => y - x) as [number, number];
        return n + short * (Math.ceil(long / 8) + 2 * block);
      }, 0);
      expect(Math.abs(area(first) - area(second))).toBeLessThanOrEqual(slack);
    }
  });
});
