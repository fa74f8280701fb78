// Import rules for tripflow: wiring -> api and stages -> core, stages in flow order
// (landing -> bronze -> transform). Run: `npm run lint:deps`. Paths are relative to the repo root.

/** Files that may put api/ and the stages together. */
const WIRING = "^pipeline/(main|services|demo)[.]ts$";
/** A stage's insides, as api/ must not see them. */
const STAGES = "^pipeline/(landing|bronze|transform|cli)/|^pipeline/(services|main|demo)[.]ts$";
/** Anything of this repo's own (not node_modules, not node: built-ins). */
const LOCAL = "^(api|pipeline|test)/";

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Import cycles make load order and layering unclear: break the cycle by moving the shared part down.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "api-not-into-stages",
      comment:
        "api/ gets what it needs from a stage as a small named service handed in by the wiring: " +
        "it never imports a stage, the CLI or the wiring (type-only imports included).",
      severity: "error",
      from: { path: "^api/" },
      to: { path: STAGES },
    },
    {
      name: "stages-one-way-core",
      comment:
        "pipeline/core is used by everything and imports nothing of ours outside itself: no stage, no CLI, no wiring, no api/.",
      severity: "error",
      from: { path: "^pipeline/core/" },
      to: { path: LOCAL, pathNot: "^pipeline/core/" },
    },
    {
      name: "stages-one-way-landing",
      comment: "pipeline/landing is the first stage: it imports only pipeline/core (and itself).",
      severity: "error",
      from: { path: "^pipeline/landing/" },
      to: { path: LOCAL, pathNot: "^pipeline/(core|landing)/" },
    },
    {
      name: "stages-one-way-bronze",
      comment: "pipeline/bronze imports only pipeline/core and the earlier stage pipeline/landing (and itself).",
      severity: "error",
      from: { path: "^pipeline/bronze/" },
      to: { path: LOCAL, pathNot: "^pipeline/(core|landing|bronze)/" },
    },
    {
      name: "stages-one-way-transform",
      comment: "pipeline/transform imports only pipeline/core and the earlier stages landing and bronze (and itself).",
      severity: "error",
      from: { path: "^pipeline/transform/" },
      to: { path: LOCAL, pathNot: "^pipeline/(core|landing|bronze|transform)/" },
    },
    {
      name: "stages-one-way-cli",
      comment: "The CLI talks to the database through pipeline/core only (and itself): no stage, no api/, no wiring.",
      severity: "error",
      from: { path: "^pipeline/cli/" },
      to: { path: LOCAL, pathNot: "^pipeline/(core|cli)/" },
    },
    {
      name: "only-wiring-joins-api-and-stages",
      comment:
        "Only the wiring files (and test/) put api/ and the stages together. api/ and the stage folders are kept apart by the rules above; " +
        "this one stops any other module (e.g. a new file at the pipeline/ root) from importing api/.",
      severity: "error",
      from: { pathNot: [WIRING, "^api/", "^test/"] },
      to: { path: "^api/" },
    },
    {
      name: "no-orphans",
      comment:
        "A source file that imports nothing and that nothing imports is dead or misplaced (knip finds the subtler cases). " +
        "Tests, entry points and config files are excepted.",
      severity: "error",
      from: {
        orphan: true,
        pathNot: [
          "(^|/)[.][^/]+[.](?:js|cjs|mjs|ts|json)$", // dot files, e.g. .dependency-cruiser.cjs
          "[.]d[.]ts$",
          "(^|/)tsconfig[.]json$",
          "(^|/)(?:vitest|knip)[.]config[.](?:js|cjs|mjs|ts|json)$",
          "[.]test[.]ts$",
          "^test/",
          "^pipeline/(main|demo)[.]ts$",
          "^pipeline/cli/(ingest|stats)[.]ts$",
          "^api/docs/[^/]+[.]js$", // scripts for the browser, served by api/routes/docs.ts, never imported
        ],
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: ["node_modules"] },
    exclude: { path: ["^[.]data/", "^landing/", "^archive/", "^rejected/", "^coverage/"] },
    // typescript 7 (the native compiler) has no JavaScript API that dependency-cruiser can use, so @swc/core parses.
    parser: "swc",
    // Type-only imports count too (swc keeps them; this asks the same of tsc): api/ importing a stage's types
    // is still reaching into its insides. test/unit/lint-rules.test.ts checks it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
