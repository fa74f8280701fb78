import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthRoutes } from "../../api/routes/health.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

type Health = {
  status: string;
  database: boolean;
  stalled: { id: number; status: string; file_name: string; idle_ms: number }[];
};

const MINUTE = 60_000;

describe("GET /health: degraded while an unfinished ingestion makes no progress", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** An ingestion row as the registry writes it, started `startedMinutesAgo` ago. */
  async function ingestion(file: string, status: string, startedMinutesAgo: number): Promise<number> {
    const sha = createHash("sha256").update(file).digest("hex");
    const final = ["completed", "failed", "skipped"].includes(status);
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status, started_at, finished_at)
       VALUES ($1::text, $2::text, 100, $3::text, now() - make_interval(mins => $4::int), CASE WHEN $5::boolean THEN now() END)
       RETURNING id`,
      [file, sha, status, startedMinutesAgo, final],
    );
    return rows[0]!.id;
  }

  /** One audit event of the ingestion, written `minutesAgo` ago. */
  async function eventOf(id: number, minutesAgo: number): Promise<void> {
    await db.pool.query(
      "INSERT INTO audit.events (ingestion_id, type, stage, created_at) VALUES ($1::bigint, 'bronze.progress', 'bronze', now() - make_interval(mins => $2::int))",
      [id, minutesAgo],
    );
  }

  async function health(stallMs = 5 * MINUTE): Promise<{ code: number; body: Health }> {
    const res = await healthRoutes({ pool: db.pool, stallMs }).request("/health");
    return { code: res.status, body: (await res.json()) as Health };
  }

  it("is ok with no ingestion, and with a fresh one", async () => {
    expect(await health()).toEqual({ code: 200, body: { status: "ok", database: true, stalled: [] } });
    const fresh = await ingestion("fresh.csv", "loading", 0);
    await eventOf(fresh, 0);
    expect(await health()).toEqual({ code: 200, body: { status: "ok", database: true, stalled: [] } });
  });

  it("names an unfinished ingestion whose latest event is older than the stall time, and no finished one", async () => {
    // Started 20 minutes ago, last event 10 minutes ago: stalled for 10 minutes (the event counts, not the start).
    const stuck = await ingestion("stuck.csv", "loading", 20);
    await eventOf(stuck, 15);
    await eventOf(stuck, 10);
    // Queued 7 minutes ago, no event yet: its start is its last progress.
    const waiting = await ingestion("waiting.csv", "queued", 7);
    // Started long ago but moving: its latest event is a minute old.
    const slow = await ingestion("slow.csv", "transforming", 60);
    await eventOf(slow, 50);
    await eventOf(slow, 1);
    // Finished long ago: old, but not stalled.
    for (const status of ["completed", "failed", "skipped"])
      await eventOf(await ingestion(`old-${status}.csv`, status, 120), 119);

    const { code, body } = await health();
    expect(code).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.database).toBe(true);
    // Longest idle first.
    expect(body.stalled.map(({ idle_ms, ...rest }) => rest)).toEqual([
      { id: stuck, status: "loading", file_name: "stuck.csv" },
      { id: waiting, status: "queued", file_name: "waiting.csv" },
    ]);
    const [stuckIdle, waitingIdle] = body.stalled.map((s) => s.idle_ms) as [number, number];
    expect(stuckIdle).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(stuckIdle).toBeLessThan(11 * MINUTE);
    expect(waitingIdle).toBeGreaterThanOrEqual(7 * MINUTE);
    expect(waitingIdle).toBeLessThan(8 * MINUTE);

    // A longer stall time: only the ingestion idle for 10 minutes; longer still: none.
    expect((await health(8 * MINUTE)).body.stalled.map((s) => s.id)).toEqual([stuck]);
    expect(await health(30 * MINUTE)).toEqual({ code: 200, body: { status: "ok", database: true, stalled: [] } });

    // Progress again: no longer stalled.
    await eventOf(stuck, 0);
    expect((await health()).body.stalled.map((s) => s.id)).toEqual([waiting]);
  });

  it("uses the configured stall time in the app", async () => {
    const health = async (env: Record<string, string>) => {
      const { app, close } = await testApp(db, env);
      const body = (await (await app.request("/health")).json()) as Health;
      await close();
      return body.status;
    };
    // 'waiting.csv' has been queued for about 7 minutes: stalled beyond the 5-minute default, not beyond 10.
    expect(await health({})).toBe("degraded");
    expect(await health({ STALL_MS: String(10 * MINUTE) })).toBe("ok");
  });
});
