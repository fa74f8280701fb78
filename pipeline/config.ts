import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const schema = z.object({
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  LANDING_DIR: z.string().trim().min(1).default("./landing"),
  ARCHIVE_DIR: z.string().trim().min(1).default("./archive"),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  WORKER_CONCURRENCY: integer(1, 64).default(2),
  DB_POOL_SIZE: integer(2, 200).default(10),
  CHUNK_ROWS: integer(1000, 10_000_000).default(250_000),
  SETTLE_MS: integer(0, 600_000).default(500),
  SCAN_INTERVAL_MS: integer(100, 3_600_000).default(2000),
  PROGRESS_INTERVAL_MS: integer(0, 3_600_000).default(1000),
  DATA_DIR: z.string().trim().min(1).default("./.data"),
  UPLOAD_MAX_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(1024 ** 3),
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
  chunkRows: number;
  settleMs: number;
  scanIntervalMs: number;
  progressIntervalMs: number;
  dataDir: string;
  /** Largest body POST /ingestions accepts; a larger one answers 413. */
  uploadMaxBytes: number;
};

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
      return `${name}: ${issue.message}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`;
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
    chunkRows: c.CHUNK_ROWS,
    settleMs: c.SETTLE_MS,
    scanIntervalMs: c.SCAN_INTERVAL_MS,
    progressIntervalMs: c.PROGRESS_INTERVAL_MS,
    dataDir: c.DATA_DIR,
    uploadMaxBytes: c.UPLOAD_MAX_BYTES,
  };
}

/** The variables, their defaults and meaning: the README's table is checked against this list. */
export const CONFIG_VARIABLES = Object.keys(schema.shape);
