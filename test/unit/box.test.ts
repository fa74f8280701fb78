import { describe, expect, it } from "vitest";
import { column, FINE_LEVEL, GOLD_LEVEL, row, splitBox, subtract, type Rect } from "../../api/box.ts";
import { rng } from "../helpers/random.ts";

const cells = (r: Rect) => {
  const out: string[] = [];
  for (let x = r.colLo; x <= r.colHi; x++) for (let y = r.rowLo; y <= r.rowHi; y++) out.push(`${x},${y}`);
  return out;
};
const F = 2 ** FINE_LEVEL;
const west = (x: number) => x / F - 180;
const south = (y: number) => y / F - 90;

describe("splitBox", () => {
  it("cuts every box into gold cells, interior cells wholly inside and a ring, each level-12 cell once", () => {
    const random = rng(11);
    const f = 2 ** (FINE_LEVEL - GOLD_LEVEL);
    for (let i = 0; i < 80; i++) {
      // boxes up to ~0.03° whose edges often sit exactly on level-7 or level-12 lines
      const edge = (base: number) => {
        const r = random();
        const v = base + random() * 0.03;
        return r < 0.25 ? Math.round(v * 128) / 128 : r < 0.5 ? Math.round(v * F) / F : v;
      };
      const [a, b, c, d] = [edge(-0.02), edge(-0.02), edge(-0.01), edge(-0.01)];
      const box = { west: Math.min(a, b), east: Math.max(a, b), south: Math.min(c, d), north: Math.max(c, d) };
      const s = splitBox(box);
      const gold = s.inside ? cells({ colLo: s.inside.colLo * f, colHi: (s.inside.colHi + 1) * f - 1, rowLo: s.inside.rowLo * f, rowHi: (s.inside.rowHi + 1) * f - 1 }) : [];
      const parts = [...gold, ...s.interior.flatMap(cells), ...s.ring.flatMap(cells)];
      const all = new Set(cells(s.all));
      // disjoint and complete: as many pieces as cells, every piece a cell of the box, no piece twice
      expect(new Set(parts).size, JSON.stringify(box)).toBe(parts.length);
      expect(parts.length, JSON.stringify(box)).toBe(all.size);
      expect(parts.filter((k) => !all.has(k)), JSON.stringify(box)).toEqual([]);
      const split = [...(s.inner ? cells(s.inner) : []), ...s.edge.flatMap(cells)];
      expect(new Set(split).size).toBe(all.size);
      expect(split.filter((k) => !all.has(k))).toEqual([]);
      const outside = [...gold, ...s.interior.flatMap(cells)].filter((key) => {
        const [x, y] = key.split(",").map(Number) as [number, number];
        return !(west(x) >= box.west && west(x + 1) <= box.east && south(y) >= box.south && south(y + 1) <= box.north);
      });
      expect(outside, JSON.stringify(box)).toEqual([]);
      expect(s.all).toEqual({ colLo: column(box.west, FINE_LEVEL), colHi: column(box.east, FINE_LEVEL), rowLo: row(box.south, FINE_LEVEL), rowHi: row(box.north, FINE_LEVEL) });
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
});
