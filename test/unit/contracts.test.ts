import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INGESTION_STATUSES } from "../../pipeline/core/audit.ts";
import { CELL_LEVEL } from "../../pipeline/core/cells.ts";
import { EVENT_TYPES, EVENTS } from "../../pipeline/core/events.ts";

/** Every file under `dir` whose name ends with one of `exts`, with its text. */
function files(dir: string, exts: string[]): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && exts.some((x) => e.name.endsWith(x)))
    .map((e) => join(e.parentPath, e.name))
    .map((path) => ({ path, text: readFileSync(path, "utf8") }));
}

describe("contracts defined once and kept equal in TypeScript, SQL and the docs", () => {
  it("ingestion statuses: the TypeScript list is the migration's CHECK, and SQL names no other", () => {
    const audit = readFileSync("db/migrations/2_audit.sql", "utf8");
    const check = /CHECK \(status IN \(([^)]*)\)\)/.exec(audit)![1]!;
    expect(check.split(",").map((s) => s.trim().replace(/'/g, ""))).toEqual([...INGESTION_STATUSES]);
    const named = new Set<string>();
    const sources = [...files("db", [".sql"]), ...files("pipeline", [".ts"]), ...files("api", [".ts"])];
    for (const { text } of sources)
      for (const m of text.matchAll(/status\s*(?:=|<>|IN|NOT IN)\s*\(?((?:\s*'[a-z]+'\s*,?)+)\)?/g))
        for (const s of m[1]!.matchAll(/'([a-z]+)'/g)) named.add(s[1]!);
    expect(named.size).toBeGreaterThan(3);
    expect([...named].filter((s) => !(INGESTION_STATUSES as readonly string[]).includes(s))).toEqual([]);
  });

  it("cell levels: each SQL file writes or reads the level of the table it works on", () => {
    const levels = (text: string) =>
      new Set(
        [...text.matchAll(/cell_parent\([^,()]+, (\d+)\)|cell\([^()]+, (\d+)\)|\((\d+)::bigint << 42\)/g)].map((m) =>
          Number(m[1] ?? m[2] ?? m[3]),
        ),
      );
    const read = (path: string) => levels(readFileSync(path, "utf8"));
    expect(read("db/transforms/silver/trips.sql")).toEqual(new Set([CELL_LEVEL.fine]));
    expect(read("db/transforms/silver/trip_groups.sql")).toEqual(new Set([CELL_LEVEL.group]));
    expect(read("db/transforms/gold/weekly_origin_cells.sql")).toEqual(new Set([CELL_LEVEL.gold]));
    expect(read("db/transforms/gold/weekly_destination_cells.sql")).toEqual(new Set([CELL_LEVEL.gold]));
    expect(read("db/transforms/gold/weekly_cell_pairs.sql")).toEqual(new Set([CELL_LEVEL.pairs]));
    expect(read("db/transforms/seal/stage_pairs.sql")).toEqual(new Set([CELL_LEVEL.pairs]));
    expect(read("db/transforms/withdraw/aggregates.sql")).toEqual(
      new Set([CELL_LEVEL.group, CELL_LEVEL.gold, CELL_LEVEL.pairs]),
    );
    expect(read("db/queries/weekly_box_both.sql")).toEqual(
      new Set([CELL_LEVEL.pairs, CELL_LEVEL.gold, CELL_LEVEL.finePairs, CELL_LEVEL.fine]),
    );
    expect(read("db/queries/weekly_box.sql")).toEqual(new Set([CELL_LEVEL.gold, CELL_LEVEL.fine]));
    expect(read("db/queries/weekly_box_fine.sql")).toEqual(new Set([CELL_LEVEL.fineGold, CELL_LEVEL.fine]));
    expect(read("db/transforms/refine/fine_cells.sql")).toEqual(new Set([CELL_LEVEL.fineGold]));
    expect(read("db/transforms/refine/fine_pairs.sql")).toEqual(new Set([CELL_LEVEL.finePairs]));
    const all = new Set<number>(Object.values(CELL_LEVEL));
    for (const { path, text } of [...files("db/transforms", [".sql"]), ...files("db/queries", [".sql"])])
      for (const level of levels(text)) expect(all.has(level), `${path}: level ${level}`).toBe(true);
  });

  it("events: docs/data-model.md lists exactly the catalogue's types, each with its stage", () => {
    const doc = readFileSync("docs/data-model.md", "utf8");
    const rows = [...doc.matchAll(/^\| `([a-z]+\.[a-z.]+)` \| ([a-z]+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows.map(([type]) => type).sort()).toEqual([...EVENT_TYPES].sort());
    for (const [type, stage] of rows) expect(stage, type).toBe(EVENTS[type as keyof typeof EVENTS].stage);
  });
});
