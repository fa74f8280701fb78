import { BlockList, isIP } from "node:net";
import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const integer = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().min(min).max(max));

/** STALL_MS when unset: five minutes without an event (a chunk's step takes seconds, a whole load many events). */
export const DEFAULT_STALL_MS = 300_000;

const schema = z.object({
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  LANDING_DIR: z.string().trim().min(1).default("./landing"),
  ARCHIVE_DIR: z.string().trim().min(1).default("./archive"),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  WORKER_CONCURRENCY: integer(1, 64).default(2),
  DB_POOL_SIZE: integer(2, 200).default(10),
  DB_IDLE_MS: integer(1000, 86_400_000).default(300_000),
  BULK_NICE: integer(0, 19).default(10),
  CHUNK_ROWS: integer(1000, 10_000_000).default(250_000),
  SETTLE_MS: integer(0, 600_000).default(500),
  SCAN_INTERVAL_MS: integer(100, 3_600_000).default(2000),
  PROGRESS_INTERVAL_MS: integer(0, 3_600_000).default(1000),
  DATA_DIR: z.string().trim().min(1).default("./.data"),
  UPLOAD_MAX_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(1024 ** 3),
  BULK_MIN_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(32 * 1024 ** 2),
  MAX_SEGMENTS: integer(1, 1000).default(8),
  FINE_MIN_TRIPS: integer(1, Number.MAX_SAFE_INTEGER).default(20_000_000),
  PAIRS_MIN_TRIPS: integer(1, Number.MAX_SAFE_INTEGER).default(5_000_000),
  LOAD_GROUPS_MAX: integer(0, 1_500_000).default(390_000),
  STALL_MS: integer(1000, 86_400_000).default(DEFAULT_STALL_MS),
  API_TOKEN: z
    .string()
    .trim()
    .min(16, "must be at least 16 characters (e.g. API_TOKEN=$(openssl rand -hex 32))")
    // It travels in an HTTP header, where only visible ASCII is safe.
    .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters without spaces")
    .optional(),
  CORS_ORIGINS: z
    .string()
    .transform((list, ctx) => {
      const origins = list
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean);
      if (origins.includes("*")) {
        if (origins.length > 1) ctx.addIssue({ code: "custom", message: "* allows every origin: give it alone" });
        return ["*"];
      }
      return origins.map((o) => {
        const origin = parseOrigin(o);
        if (origin === undefined)
          ctx.addIssue({
            code: "custom",
            message: `${JSON.stringify(o)} is not an origin like https://example.com:8080 (scheme, host, port; no path)`,
          });
        return origin ?? o;
      });
    })
    .default([]),
});

export type Config = {
  /** Undefined until resolved: without it, start-up finds or prepares a local PostgreSQL. */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  landingDir: string;
  archiveDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  workerConcurrency: number;
  dbPoolSize: number;
  /** DB_IDLE_MS: an idle pool connection is closed after this long (pipeline/core/db.ts createPool). */
  dbIdleMs: number;
  /** BULK_NICE: how much lower the CPU priority of a large file's load, its seal and the compactions runs (pipeline/core/db.ts lowerPriority); 0: as the API's. */
  bulkNice: number;
  chunkRows: number;
  settleMs: number;
  scanIntervalMs: number;
  progressIntervalMs: number;
  dataDir: string;
  /** Largest body POST /ingestions accepts; a larger one answers 413. */
  uploadMaxBytes: number;
  /** Files at least this large load as a segment of their own, sealed as a unit (pipeline/transform/seal.ts). */
  bulkMinBytes: number;
  /** Segments of large files (silver.trips partitions besides 0) a compaction keeps at most (pipeline/transform/compact.ts). */
  maxSegments: number;
  /** Segments of at least this many trips get level-10 counts once their ingestion completed (pipeline/transform/refine.ts). */
  fineMinTrips: number;
  /** Segments of at least this many trips get level-8 cell pairs once their ingestion completed (pipeline/transform/refine.ts). */
  pairsMinTrips: number;
  /** LOAD_GROUPS_MAX: the most groups a large file's load keeps in memory (pipeline/bronze/intake.ts); 0: none. */
  loadGroupsMax: number;
  /** An unfinished ingestion without an event for longer than this is stalled: GET /health says degraded, the CLI stops waiting. */
  stallMs: number;
  /** When set, requests other than GET, HEAD and OPTIONS need `Authorization: Bearer <apiToken>`. */
  apiToken: string | undefined;
  /** Origins answered with CORS headers (normalised, e.g. "https://example.com"), or ["*"]; empty: no CORS. */
  corsOrigins: string[];
};

/** "https://Example.com/" -> "https://example.com"; undefined for anything but a bare http(s) origin. */
function parseOrigin(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const bare = url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password && !/[?#]/.test(text);
  return (url.protocol === "http:" || url.protocol === "https:") && bare ? url.origin : undefined;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Reads the configuration once from the environment; nothing else reads process.env.
 * A bad value throws a ConfigError that names the variable, e.g. `PORT: must be a whole number`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as a shell user expects from `PORT= npm start`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      const value = env[name];
      // A secret is not echoed to the terminal or a log, even a wrong one.
      const got =
        value === undefined
          ? ""
          : name === "API_TOKEN"
            ? ` (got ${value.trim().length} characters)`
            : ` (got ${JSON.stringify(value)})`;
      return `${name}: ${issue.message}${got}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const c = parsed.data;
  return {
    databaseUrl: c.DATABASE_URL,
    port: c.PORT,
    host: c.HOST,
    landingDir: c.LANDING_DIR,
    archiveDir: c.ARCHIVE_DIR,
    logLevel: c.LOG_LEVEL,
    workerConcurrency: c.WORKER_CONCURRENCY,
    dbPoolSize: c.DB_POOL_SIZE,
    dbIdleMs: c.DB_IDLE_MS,
    bulkNice: c.BULK_NICE,
    chunkRows: c.CHUNK_ROWS,
    settleMs: c.SETTLE_MS,
    scanIntervalMs: c.SCAN_INTERVAL_MS,
    progressIntervalMs: c.PROGRESS_INTERVAL_MS,
    dataDir: c.DATA_DIR,
    uploadMaxBytes: c.UPLOAD_MAX_BYTES,
    bulkMinBytes: c.BULK_MIN_BYTES,
    maxSegments: c.MAX_SEGMENTS,
    fineMinTrips: c.FINE_MIN_TRIPS,
    pairsMinTrips: c.PAIRS_MIN_TRIPS,
    loadGroupsMax: c.LOAD_GROUPS_MAX,
    stallMs: c.STALL_MS,
    apiToken: c.API_TOKEN,
    corsOrigins: c.CORS_ORIGINS,
  };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
LOOPBACK.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

/** Only this machine can connect to HOST: localhost, 127.0.0.0/8 or ::1 (brackets allowed: [::1]). */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h === "localhost.") return true;
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The API may listen beyond this machine only behind a token: without API_TOKEN, a HOST other than
 * loopback would let anyone who can reach the port upload files. Called where the api role starts
 * (a worker never listens, so it may share an environment that sets HOST).
 *
 * @example assertSafeBinding(loadConfig({ HOST: "0.0.0.0" })) // throws ConfigError: ... set API_TOKEN ...
 */
export function assertSafeBinding(config: Pick<Config, "host" | "apiToken">): void {
  if (config.apiToken !== undefined || isLoopback(config.host)) return;
  throw new ConfigError(
    `HOST=${config.host} listens beyond this machine: set API_TOKEN (e.g. API_TOKEN=$(openssl rand -hex 32)) or HOST=127.0.0.1`,
  );
}

/** The variables, their defaults and meaning: the README's table is checked against this list. */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

/**
 * The configuration of an entry point (`npm start`, `npm run demo`): a bad value ends the process with
 * exit code 2 and the message on stderr, before anything starts.
 */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tripflow: ${err.message}\n`);
    process.exit(2);
  }
}
