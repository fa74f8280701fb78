import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A rule that cannot fail is no rule: each import rule of .dependency-cruiser.cjs is run, exactly as
// `npm run lint:deps` runs it, on a small tree that breaks it once, beside imports that are allowed.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEPCRUISE = join(ROOT, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");
const CONFIG = join(ROOT, ".dependency-cruiser.cjs");

/** path -> the local files it imports ("type " before one: a type-only import). Allowed: wiring -> api and stages -> core, stages in flow order. */
const ALLOWED: Record<string, string[]> = {
  "pipeline/core/log.ts": [],
  "pipeline/landing/inbox.ts": ["../core/log.ts"],
  "pipeline/bronze/load.ts": ["../core/log.ts", "../landing/inbox.ts"],
  "pipeline/transform/task.ts": ["../core/log.ts", "../landing/inbox.ts", "../bronze/load.ts"],
  "pipeline/cli/tool.ts": ["../core/log.ts"],
  "api/app.ts": ["../pipeline/core/log.ts"],
  "pipeline/services.ts": ["../api/app.ts", "./landing/inbox.ts", "./transform/task.ts"],
  "pipeline/main.ts": ["./services.ts", "./core/log.ts"],
  "pipeline/demo.ts": ["./services.ts"],
  "test/e2e.test.ts": ["../api/app.ts", "../pipeline/bronze/load.ts"],
  "test/helpers/unused.ts": [], // test files may stand alone
};

/** Each breaks one rule, on top of ALLOWED. */
const FORBIDDEN: Record<string, string[]> = {
  "pipeline/core/a.ts": ["./b.ts"],
  "pipeline/core/b.ts": ["./a.ts"],
  "api/reach.ts": ["../pipeline/bronze/load.ts"],
  "api/wire.ts": ["../pipeline/services.ts"],
  "api/types.ts": ["type ../pipeline/landing/inbox.ts"],
  "pipeline/core/reach.ts": ["../landing/inbox.ts"],
  "pipeline/landing/reach.ts": ["../bronze/load.ts"],
  "pipeline/bronze/reach.ts": ["../transform/task.ts"],
  "pipeline/transform/reach.ts": ["../cli/tool.ts"],
  "pipeline/cli/reach.ts": ["../landing/inbox.ts"],
  "pipeline/joins.ts": ["../api/app.ts", "./bronze/load.ts"],
  "pipeline/core/lonely.ts": [],
};

type Violation = { rule: { name: string }; from: string; to: string };
type Cruise = { exitCode: number | null; violations: string[]; modules: number; dependencies: number };

const dirs: string[] = [];

/** Writes the tree to a new folder and runs dependency-cruiser there as `npm run lint:deps` does. */
async function cruise(tree: Record<string, string[]>): Promise<Cruise> {
  const dir = await mkdtemp(join(tmpdir(), "tripflow-depcruise-"));
  dirs.push(dir);
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", allowImportingTsExtensions: true, noEmit: true } }),
  );
  for (const [path, imports] of Object.entries(tree)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    const lines = imports.map((spec, i) => {
      const [keyword, from] = spec.startsWith("type ") ? ["import type", spec.slice(5)] : ["import", spec];
      return `${keyword} { x as x${i} } from "${from}";\n`;
    });
    const uses = imports.map((_, i) => `x${i}`).join(", ");
    await writeFile(join(dir, path), `${lines.join("")}export const x = [${uses}];\n`);
  }
  const args = [DEPCRUISE, "pipeline", "api", "test", "--config", CONFIG, "--output-type"];
  const run = (type: string) => spawnSync(process.execPath, [...args, type], { cwd: dir, encoding: "utf8" });
  const { summary } = JSON.parse(run("json").stdout) as {
    summary: { violations: Violation[]; totalCruised: number; totalDependenciesCruised: number };
  };
  return {
    exitCode: run("err-long").status, // the json reporter always exits 0; lint runs the err-long reporter
    violations: summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort(),
    modules: summary.totalCruised,
    dependencies: summary.totalDependenciesCruised,
  };
}

let allowed: Cruise;
let forbidden: Cruise;

beforeAll(async () => {
  [allowed, forbidden] = await Promise.all([cruise(ALLOWED), cruise({ ...ALLOWED, ...FORBIDDEN })]);
}, 20_000);

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("dependency-cruiser rules", () => {
  it("resolve every .ts import specifier and pass the allowed imports", () => {
    expect(allowed.modules).toBe(Object.keys(ALLOWED).length);
    expect(allowed.dependencies).toBe(Object.values(ALLOWED).flat().length);
    expect(allowed.violations).toEqual([]);
    expect(allowed.exitCode).toBe(0);
  });

  it("fail on each forbidden import, and only on those", () => {
    expect(forbidden.violations).toEqual([
      "api-not-into-stages: api/reach.ts -> pipeline/bronze/load.ts",
      "api-not-into-stages: api/types.ts -> pipeline/landing/inbox.ts",
      "api-not-into-stages: api/wire.ts -> pipeline/services.ts",
      "no-circular: pipeline/core/a.ts -> pipeline/core/b.ts",
      "no-orphans: pipeline/core/lonely.ts -> pipeline/core/lonely.ts",
      "only-wiring-joins-api-and-stages: pipeline/joins.ts -> api/app.ts",
      "stages-one-way-bronze: pipeline/bronze/reach.ts -> pipeline/transform/task.ts",
      "stages-one-way-cli: pipeline/cli/reach.ts -> pipeline/landing/inbox.ts",
      "stages-one-way-core: pipeline/core/reach.ts -> pipeline/landing/inbox.ts",
      "stages-one-way-landing: pipeline/landing/reach.ts -> pipeline/bronze/load.ts",
      "stages-one-way-transform: pipeline/transform/reach.ts -> pipeline/cli/tool.ts",
    ]);
    expect(forbidden.exitCode).toBe(forbidden.violations.length); // one error each, and lint fails
  });
});
