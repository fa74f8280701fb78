import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, chownSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import type { Logger } from "pino";

class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

const DEFAULT_DATABASE = "tripflow";
const PRIVATE_PORT = 54329;

type Probe = { ok: true; version: number } | { ok: false; reason: string };

async function probe(url: string): Promise<Probe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    return { ok: true, version: Math.floor(Number(rows[0]!.v) / 10000) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function installedMajors(): number[] {
  const dir = "/usr/lib/postgresql";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map(Number)
    .filter((n) => Number.isInteger(n) && existsSync(join(dir, String(n), "bin", "initdb")))
    .sort((a, b) => b - a);
}

function postgisPackage(major: number): string {
  return `postgresql-${major}-postgis-3`;
}

function aptInstall(packages: string[], logger: Logger): void {
  logger.info({ component: "bootstrap", packages }, "installing Debian packages");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-q", ...packages], { stdio: "inherit", env });
  let result = install();
  if (result.status !== 0) {
    spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
    result = install();
  }
  if (result.status !== 0) throw new DatabaseUnavailableError(`apt-get install ${packages.join(" ")} failed`);
}

async function hasPostgis(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'");
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Makes sure the server behind `url` offers PostGIS: installs Debian's package when it can. */
async function ensurePostgis(url: string, major: number, logger: Logger): Promise<void> {
  if (await hasPostgis(url)) return;
  const host = new URL(url).hostname;
  const local = host === "" || host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
  const command = `sudo apt-get update && sudo apt-get install -y ${postgisPackage(major)}`;
  if (!local || !isRoot() || !existsSync(`/usr/lib/postgresql/${major}`)) {
    throw new DatabaseUnavailableError(
      `PostGIS is not available on the PostgreSQL ${major} server at ${host || "the local socket"}. ` +
        `Install it on that machine with:\n  ${command}`,
    );
  }
  aptInstall([postgisPackage(major)], logger);
  if (!(await hasPostgis(url)))
    throw new DatabaseUnavailableError(`PostGIS still missing after installing; run:\n  ${command}`);
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } catch (err) {
    // Another process created it between the check and the CREATE: that is what we wanted.
    if ((err as { code?: string }).code !== "42P04") throw err;
  } finally {
    await client.end();
  }
}

/** Runs a PostgreSQL binary as the `postgres` system user when we are root (initdb refuses root). */
function runPgBinary(bin: string, args: string[], owner: { uid: number; gid: number } | undefined): void {
  const options = { stdio: "pipe" as const, ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) };
  execFileSync(bin, args, options);
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const out = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (out.status !== 0)
    throw new DatabaseUnavailableError("running as root and there is no 'postgres' user to own a private cluster");
  return { uid: Number(out.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Creates (once) and starts a private cluster under `<dataDir>/pg`, listening on 127.0.0.1:54329. */
async function startPrivateCluster(dataDir: string, logger: Logger): Promise<string> {
  let majors = installedMajors();
  if (majors.length === 0) {
    if (!isRoot())
      throw new DatabaseUnavailableError(
        "no PostgreSQL server is reachable on 127.0.0.1:5432 and no PostgreSQL binaries are installed. Run:\n" +
          "  sudo apt-get update && sudo apt-get install -y postgresql-15 postgresql-15-postgis-3\n" +
          "or set DATABASE_URL to a PostgreSQL with PostGIS.",
      );
    aptInstall(["postgresql-15", "postgresql-15-postgis-3"], logger);
    majors = installedMajors();
  }
  const major = majors[0]!;
  const bin = `/usr/lib/postgresql/${major}/bin`;
  const owner = postgresUser();
  let root = resolve(dataDir, "pg");
  mkdirSync(root, { recursive: true });
  if (owner) chownSync(root, owner.uid, owner.gid);
  if (owner && spawnSync("test", ["-w", root], { uid: owner.uid, gid: owner.gid }).status !== 0) {
    // The checkout is not reachable by the postgres user (a root-only home): keep the cluster in its home.
    const tag = createHash("sha256").update(root).digest("hex").slice(0, 12);
    root = `/var/lib/postgresql/tripflow-${tag}`;
    mkdirSync(root, { recursive: true });
    chownSync(root, owner.uid, owner.gid);
    logger.info({ component: "bootstrap", root }, "data folder not reachable by the postgres user; using its home");
  }
  const pgdata = join(root, "data");
  if (!existsSync(join(pgdata, "PG_VERSION"))) {
    logger.info({ component: "bootstrap", pgdata }, "creating a private PostgreSQL cluster");
    runPgBinary(`${bin}/initdb`, ["-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"], owner);
  }
  const url = `postgresql://postgres@127.0.0.1:${PRIVATE_PORT}/postgres`;
  if (!(await probe(url)).ok) {
    logger.info({ component: "bootstrap", pgdata, port: PRIVATE_PORT }, "starting the private PostgreSQL cluster");
    const logFile = join(root, "server.log");
    if (!existsSync(logFile)) {
      writeFileSync(logFile, "");
      if (owner) chownSync(logFile, owner.uid, owner.gid);
    }
    runPgBinary(
      `${bin}/pg_ctl`,
      ["-D", pgdata, "-l", logFile, "-w", "-o", `-p ${PRIVATE_PORT} -k ${root} -c listen_addresses=127.0.0.1`, "start"],
      owner,
    );
  }
  await ensurePostgis(url, major, logger);
  return url;
}

/**
 * Finds the database to use: DATABASE_URL as given, else the local server on 127.0.0.1:5432 (user
 * postgres, database `tripflow`, created if missing), else a private cluster under DATA_DIR. Makes
 * sure PostGIS is installable there. Never asks for input.
 *
 * @example const url = await resolveDatabase(config.databaseUrl, config.dataDir, logger);
 */
export async function resolveDatabase(
  databaseUrl: string | undefined,
  dataDir: string,
  logger: Logger,
): Promise<string> {
  if (databaseUrl) {
    const p = await probe(databaseUrl);
    if (!p.ok)
      throw new DatabaseUnavailableError(`cannot connect to DATABASE_URL (${redact(databaseUrl)}): ${p.reason}`);
    await ensurePostgis(databaseUrl, p.version, logger);
    return databaseUrl;
  }
  const adminUrl = await findLocalServer(dataDir, logger);
  await createDatabaseIfMissing(adminUrl, DEFAULT_DATABASE);
  const url = withDatabase(adminUrl, DEFAULT_DATABASE);
  logger.info({ component: "bootstrap", database: redact(url) }, "using database");
  return url;
}

/** The local server's maintenance database URL (127.0.0.1:5432, else the private cluster), with PostGIS. */
export async function findLocalServer(dataDir: string, logger: Logger): Promise<string> {
  let adminUrl = "postgresql://postgres@127.0.0.1:5432/postgres";
  const local = await probe(adminUrl);
  if (local.ok) {
    await ensurePostgis(adminUrl, local.version, logger);
  } else {
    logger.info({ component: "bootstrap", reason: local.reason }, "no usable PostgreSQL on 127.0.0.1:5432");
    adminUrl = await startPrivateCluster(dataDir, logger);
  }
  return adminUrl;
}

/** The URL without its password, for logs and error messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
