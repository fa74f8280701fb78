import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startTestServices, type Started } from "../helpers/services.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));

type Run = { code: number | null; stdout: string; stderr: string; ms: number };

/** Runs `npm run ingest` (pipeline/cli/ingest.ts) as a real child process with pipes, as test/integration/cli.test.ts does. */
function ingest(args: string[], url: string, env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "pipeline/cli/ingest.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, STALL_MS: "", TRIPFLOW_URL: url, INIT_CWD: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

describe("the command line stops waiting for an ingestion that makes no progress", () => {
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The api role alone: an upload is accepted and stays queued, as no watcher ever takes it.
    tf = await startTestServices(db.url, ["api"], { STALL_MS: "1000" });
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("says so after --stall-seconds without an event, counts the file as failed and exits 1", async () => {
    const run = await ingest(["--stall-seconds", "2", SAMPLE], tf.baseUrl);
    expect(run.code, run.stderr).toBe(1);
    // Upload, two seconds of waiting, the status request: well under the 60 s it would otherwise wait for ever.
    expect(run.ms).toBeLessThan(15_000);

    const { rows } = await db.pool.query<{ id: number; status: string }>("SELECT id, status FROM audit.ingestions");
    expect(rows).toHaveLength(1);
    const { id, status } = rows[0]!;
    expect(status).toBe("queued");

    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toContain(`trips.csv #${id}: no progress for 2 s (status queued); the service may be stuck: see GET /health and the server log`);
    expect(lines).toContain(`trips.csv failed #${id}: no progress for 2 s (status queued)`);
    const row = run.stdout.split("\n").find((l) => l.startsWith("trips.csv "));
    expect(row?.split(/ {2,}/)).toEqual(["trips.csv", "failed", `#${id}`, "-", "-", "-", "no progress for 2 s (status queued)"]);
    expect(run.stdout).toMatch(/\n1 file: 0 completed, 0 skipped, 1 failed; 0 rows loaded, 0 rejected; \d+\.\d+s\n$/);

    // The service's own view (STALL_MS=1000 there): degraded, naming the same ingestion.
    const health = await fetch(`${tf.baseUrl}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; stalled: { id: number; status: string; file_name: string; idle_ms: number }[] };
    expect(body.status).toBe("degraded");
    expect(body.stalled).toEqual([{ id, status: "queued", file_name: "trips.csv", idle_ms: expect.any(Number) }]);
    expect(body.stalled[0]!.idle_ms).toBeGreaterThanOrEqual(2000);
  });

  it("takes the stall time from STALL_MS as the service does, and refuses a bad one with exit 2", async () => {
    // New content (the same bytes would be skipped as a duplicate of the queued upload).
    const file = join(await mkdtemp(join(tmpdir(), "tripflow-stall-")), "other.csv");
    await writeFile(file, (await readFile(SAMPLE, "utf8")).replaceAll("Prague,", "Praha,"));
    const fromEnv = await ingest([file], tf.baseUrl, { STALL_MS: "1500" });
    expect(fromEnv.code, fromEnv.stderr).toBe(1);
    expect(fromEnv.stderr).toMatch(/\nother\.csv #\d+: no progress for 1\.5 s \(status queued\); the service may be stuck: see GET \/health and the server log\n/);

    const other = `${SAMPLE}.does-not-matter`; // never read: the command line is refused first
    const bad = await ingest([other], tf.baseUrl, { STALL_MS: "5m" });
    expect([bad.code, bad.stderr]).toEqual([2, 'ingest: STALL_MS: must be a whole number (got "5m")\nRun `npm run ingest -- --help` for usage.\n']);
    const zero = await ingest(["--stall-seconds", "0", other], tf.baseUrl);
    expect([zero.code, zero.stderr]).toEqual([
      2,
      'ingest: --stall-seconds: must be a whole number of seconds, at least 1 (got "0")\nRun `npm run ingest -- --help` for usage.\n',
    ]);
  });
});
