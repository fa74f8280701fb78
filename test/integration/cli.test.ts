import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startTestServices, type Started } from "../helpers/services.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));

const cli = runCli;

/** The summary table's row of a file, split into its columns. */
function row(stdout: string, file: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(`${file} `));
  if (!line) throw new Error(`no row for ${file} in:\n${stdout}`);
  return line.split(/ {2,}/);
}

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("the command line, against the real services", () => {
  let db: TestDatabase;
  let tf: Started;
  let dir: string;
  let sampleId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
    dir = await mkdtemp(join(tmpdir(), "tripflow-cli-"));
    await writeFile(join(dir, "bad.csv"), "a,b,c\n1,2,3\n");
    await writeFile(join(dir, "again.csv"), await readFile(SAMPLE));
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("ingests the sample, fails a bad file, skips the same content again: exit 1 and the accounting", async () => {
    const run = await cli("ingest", [SAMPLE, join(dir, "bad.csv"), join(dir, "again.csv")], tf.baseUrl);
    expect(run.code, run.stderr).toBe(1);

    const { rows } = await db.pool.query<{
      id: number;
      file_name: string;
      status: string;
      rows_loaded: number;
      rows_rejected: number;
      error: string | null;
      duplicate_of: number | null;
    }>(
      "SELECT id, file_name, status, rows_loaded, rows_rejected, error, duplicate_of FROM audit.ingestions ORDER BY id",
    );
    expect(rows.map((r) => [r.file_name, r.status])).toEqual([
      ["trips.csv", "completed"],
      ["bad.csv", "failed"],
      ["again.csv", "skipped"],
    ]);
    const [sample, bad, again] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    sampleId = sample.id;
    const stored = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM silver.trips WHERE ingestion_id = $1::bigint",
      [sample.id],
    );
    expect([sample.rows_loaded, sample.rows_rejected, stored.rows[0]!.n]).toEqual([100, 0, 100]);

    // The table: FILE STATUS INGESTION LOADED REJECTED DURATION NOTE
    expect(run.stdout).toMatch(/^\nFILE {7}STATUS {5}INGESTION {2}LOADED {2}REJECTED {2}DURATION {2}NOTE\n/);
    expect(row(run.stdout, "trips.csv")).toEqual([
      "trips.csv",
      "completed",
      `#${sample.id}`,
      "100",
      "0",
      expect.stringMatching(/^\d+\.\d+s$/),
    ]);
    expect(row(run.stdout, "bad.csv")).toEqual([
      "bad.csv",
      "failed",
      `#${bad.id}`,
      "0",
      "0",
      expect.stringMatching(/^\d+\.\d+s$/),
      bad.error,
    ]);
    expect(bad.error).toMatch(/^wrong header/);
    expect(row(run.stdout, "again.csv")).toEqual([
      "again.csv",
      "skipped",
      `#${again.id}`,
      "-",
      "-",
      "-",
      `same content as #${sample.id}`,
    ]);
    expect(again.duplicate_of).toBe(sample.id);
    expect(run.stdout).toMatch(
      /\n3 files: 1 completed, 1 skipped, 1 failed; 100 rows loaded, 0 rejected; \d+\.\d+s\n$/,
    );

    // Not a terminal: plain lines, no carriage returns or escape sequences; stage lines and the outcomes.
    expect(run.stderr).not.toMatch(/[\r\x1b]/);
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toContain(`trips.csv: bronze loaded: 100 rows in 1 chunk; transforming (#${sample.id})`);
    expect(lines).toContain(
      `trips.csv [####################] 100% completed #${sample.id}: 100 rows loaded, 0 rejected in ${row(run.stdout, "trips.csv")[5]}`,
    );
    expect(lines).toContain(`bad.csv failed #${bad.id}: ${bad.error}`);
    expect(lines).toContain(`again.csv skipped #${again.id}: same content as #${sample.id}`);
    expect(
      lines.filter((l) => /^trips\.csv: uploaded in \d/.test(l) && l.endsWith(`queued as ingestion #${sample.id}`)),
    ).toHaveLength(1);
  });

  it("exits 0 when every file completed or was skipped", async () => {
    const run = await cli("ingest", [SAMPLE], tf.baseUrl);
    expect(run.code, run.stderr).toBe(0);
    expect(row(run.stdout, "trips.csv")).toEqual([
      "trips.csv",
      "skipped",
      expect.stringMatching(/^#\d+$/),
      "-",
      "-",
      "-",
      `same content as #${sampleId}`,
    ]);
  });

  it("resumes the event stream with Last-Event-ID when it drops", async () => {
    // A proxy in front of the service that cuts the first event stream right after its first event.
    const resumedWith: (string | undefined)[] = [];
    let streams = 0;
    const proxy = http.createServer((req, res) => {
      const isEvents = req.url!.startsWith("/events");
      const cut = isEvents && streams++ === 0;
      if (isEvents) resumedWith.push(req.headers["last-event-id"] as string | undefined);
      const upstream = http.request(`${tf.baseUrl}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.on("data", (chunk: Buffer) => {
          if (cut && /(^|\n)id: /.test(chunk.toString()))
            res.write(chunk, () => {
              res.destroy();
              up.destroy();
            });
          else res.write(chunk);
        });
        up.on("end", () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      // The sample's trips in a region of their own: new content, and the Prague figures stay as they are.
      const other = (await readFile(SAMPLE, "utf8")).replace(/^[^,\n]+,/gm, (m, offset: number) =>
        offset === 0 ? m : "Resumeville,",
      );
      await writeFile(join(dir, "resume.csv"), other);
      const run = await cli(
        "ingest",
        [join(dir, "resume.csv")],
        `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(row(run.stdout, "resume.csv").slice(1, 5)).toEqual([
        "completed",
        expect.stringMatching(/^#\d+$/),
        "100",
        "0",
      ]);
      const dropped = run.stderr.match(/resume\.csv: event stream dropped; resuming after event (\d+)\n/);
      expect(dropped, run.stderr).not.toBeNull();
      expect(resumedWith.slice(0, 2)).toEqual([undefined, dropped![1]]);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it("refuses a missing file before uploading anything: exit 2", async () => {
    const before = await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions");
    const run = await cli("ingest", [SAMPLE, join(dir, "nope.csv"), dir], tf.baseUrl);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `ingest: cannot read files:\n  ${join(dir, "nope.csv")}: no such file\n  ${dir}: not a regular file\n` +
        "Run `npm run ingest -- --help` for usage.\n",
    );
    expect(run.stdout).toBe("");
    expect((await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions")).rows).toEqual(before.rows);
  });

  it("says so when the service cannot be reached: exit 2", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const ingest = await cli("ingest", [SAMPLE], url);
    expect(ingest.code).toBe(2);
    expect(ingest.stderr).toBe(
      `ingest: cannot reach tripflow at ${url}: connect ECONNREFUSED ${url.slice(7)} — is \`npm start\` running?\n`,
    );
    const stats = await cli("stats", ["--region", "Prague"], url);
    expect(stats.code).toBe(2);
    expect(stats.stderr).toBe(
      `stats: cannot reach tripflow at ${url}: connect ECONNREFUSED ${url.slice(7)} — is \`npm start\` running?\n`,
    );
  });

  it("prints Prague's weekly average and one bar per week", async () => {
    const run = await cli("stats", ["--region", "Prague"], tf.baseUrl);
    expect(run.code, run.stderr).toBe(0);
    const api = (await (await fetch(`${tf.baseUrl}/stats/weekly-average?region=Prague`)).json()) as {
      from: string;
      to: string;
      series: { week: string; trips: number }[];
    };
    expect(api.series.map((w) => w.trips).reduce((a, b) => a + b)).toBe(34);
    const [head, chart] = run.stdout.split("\n\n") as [string, string];
    expect(head).toBe(
      [
        "Weekly average of trips: region Prague",
        `  period          ${api.from} .. ${api.to} (5 ISO weeks, Monday to Sunday)`,
        "  weeks           5",
        "  trips           34",
        "  weekly average  6.8",
      ].join("\n"),
    );
    const bars = chart.trimEnd().split("\n").slice(1);
    expect(bars).toHaveLength(5);
    const max = Math.max(...api.series.map((w) => w.trips));
    bars.forEach((line, i) => {
      const w = api.series[i]!;
      expect(line).toMatch(new RegExp(`^\\d{4}-W\\d\\d ${w.week}  █*\\s+${w.trips}$`));
      expect((line.match(/█/g) ?? []).length).toBe(w.trips === 0 ? 0 : Math.max(1, Math.round((w.trips / max) * 40)));
    });
  });

  it("prints the service's JSON with --json", async () => {
    const run = await cli("stats", ["--region", "Prague", "--from", "2018-05-14", "--json"], tf.baseUrl);
    expect(run.code, run.stderr).toBe(0);
    const api = await (await fetch(`${tf.baseUrl}/stats/weekly-average?region=Prague&from=2018-05-14`)).json();
    expect(JSON.parse(run.stdout)).toEqual(api);
  });

  it("prints the service's message and exits 1 when it refuses the question", async () => {
    const bad = await cli("stats", ["--bbox", "14,50,15"], tf.baseUrl);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      "stats: bbox: must be minLon,minLat,maxLon,maxLat: four decimal numbers separated by commas\n",
    );
    const unknown = await cli("stats", ["--region", "Atlantis"], tf.baseUrl);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('stats: unknown region "Atlantis"\n');
  });

  it("answers --help and refuses a wrong command line with exit 2", async () => {
    for (const command of ["ingest", "stats"] as const) {
      const help = await cli(command, ["--help"], tf.baseUrl);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: npm run ${command} -- `));
    }
    const noFile = await cli("ingest", [], tf.baseUrl);
    expect([noFile.code, noFile.stderr]).toEqual([
      2,
      "ingest: no FILE given\nRun `npm run ingest -- --help` for usage.\n",
    ]);
    const unknown = await cli("stats", ["--region", "Prague", "--weeks", "3"], tf.baseUrl);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^stats: Unknown option '--weeks'/);
  });
});

describe("the command line, against a service with API_TOKEN", () => {
  const TOKEN = "cli-test-token-0123456789";
  let db: TestDatabase;
  let tf: Started;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url, ["api", "worker", "watch"], { API_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  const ingestions = async () =>
    (await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions")).rows[0].n as number;

  it("says a token is needed, or that its token is refused: exit 2, nothing uploaded", async () => {
    const none = await cli("ingest", [SAMPLE], tf.baseUrl);
    expect(none.code, none.stderr).toBe(2);
    expect(
      none.stderr.endsWith("ingest: the server requires a token: set API_TOKEN to the server's token\n"),
      none.stderr,
    ).toBe(true);
    expect(none.stdout).toBe("");

    const wrong = await cli("ingest", [SAMPLE], tf.baseUrl, { API_TOKEN: `${TOKEN}-old` });
    expect(wrong.code, wrong.stderr).toBe(2);
    expect(
      wrong.stderr.endsWith("ingest: the server refused the token in API_TOKEN: set API_TOKEN to the server's token\n"),
      wrong.stderr,
    ).toBe(true);
    expect(await ingestions()).toBe(0);
  });

  it("sends API_TOKEN as a bearer token: the upload goes through and completes", async () => {
    const run = await cli("ingest", [SAMPLE], tf.baseUrl, { API_TOKEN: TOKEN });
    expect(run.code, run.stderr).toBe(0);
    expect(row(run.stdout, "trips.csv").slice(1, 5)).toEqual([
      "completed",
      expect.stringMatching(/^#\d+$/),
      "100",
      "0",
    ]);
    expect(await ingestions()).toBe(1);
    // Reads need no token; with one they work the same.
    const stats = await cli("stats", ["--region", "Prague"], tf.baseUrl, { API_TOKEN: TOKEN });
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toContain("  trips           34\n");
  });
});

const ingest = (args: string[], url: string, env: Record<string, string> = {}) => runCli("ingest", args, url, env);

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
    expect(lines).toContain(
      `trips.csv #${id}: no progress for 2 s (status queued); the service may be stuck: see GET /health and the server log`,
    );
    expect(lines).toContain(`trips.csv failed #${id}: no progress for 2 s (status queued)`);
    const row = run.stdout.split("\n").find((l) => l.startsWith("trips.csv "));
    expect(row?.split(/ {2,}/)).toEqual([
      "trips.csv",
      "failed",
      `#${id}`,
      "-",
      "-",
      "-",
      "no progress for 2 s (status queued)",
    ]);
    expect(run.stdout).toMatch(/\n1 file: 0 completed, 0 skipped, 1 failed; 0 rows loaded, 0 rejected; \d+\.\d+s\n$/);

    // The service's own view (STALL_MS=1000 there): degraded, naming the same ingestion.
    const health = await fetch(`${tf.baseUrl}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as {
      status: string;
      stalled: { id: number; status: string; file_name: string; idle_ms: number }[];
    };
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
    expect(fromEnv.stderr).toMatch(
      /\nother\.csv #\d+: no progress for 1\.5 s \(status queued\); the service may be stuck: see GET \/health and the server log\n/,
    );

    const other = `${SAMPLE}.does-not-matter`; // never read: the command line is refused first
    const bad = await ingest([other], tf.baseUrl, { STALL_MS: "5m" });
    expect([bad.code, bad.stderr]).toEqual([
      2,
      'ingest: STALL_MS: must be a whole number (got "5m")\nRun `npm run ingest -- --help` for usage.\n',
    ]);
    const zero = await ingest(["--stall-seconds", "0", other], tf.baseUrl);
    expect([zero.code, zero.stderr]).toEqual([
      2,
      'ingest: --stall-seconds: must be a whole number of seconds, at least 1 (got "0")\nRun `npm run ingest -- --help` for usage.\n',
    ]);
  });
});
