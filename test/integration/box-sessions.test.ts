import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOX_CONNECTIONS, BoxSessions, createBoxPool } from "../../api/box_sessions.ts";
import { boxWarmups } from "../../api/routes/stats.ts";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk, type Row } from "../helpers/bronze.ts";
import { testApp } from "../helpers/app.ts";
import { createTestDatabase, quietLogger, type TestDatabase } from "../helpers/database.ts";

type Prepared = { name: string; generic_plans: number; custom_plans: number };

/** The prepared statements of every connection of `pool`, all of them held at once (so each is another one). */
async function preparedOnEachConnection(pool: pg.Pool): Promise<Prepared[][]> {
  const clients = await Promise.all(Array.from({ length: BOX_CONNECTIONS }, () => pool.connect()));
  try {
    return await Promise.all(
      clients.map(
        async (c) =>
          (
            await c.query<Prepared>(
              "SELECT name, generic_plans::int, custom_plans::int FROM pg_prepared_statements ORDER BY name",
            )
          ).rows,
      ),
    );
  } finally {
    for (const c of clients) c.release();
  }
}

const executions = (each: Prepared[][]) => each.flat().reduce((n, s) => n + s.generic_plans + s.custom_plans, 0);

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("box queries planned ahead (api/box_sessions.ts)", () => {
  let db: TestDatabase;
  let boxPool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    boxPool = createBoxPool(db.url, "tripflow-test-boxes");
  });
  afterAll(async () => {
    await boxPool?.end();
    await db?.drop();
  });

  it("plans every box query, in both region forms, on every connection, each with its generic plan", async () => {
    const boxes = new BoxSessions(boxPool, () => boxWarmups(db.pool), quietLogger);
    await boxes.warm();
    const each = await preparedOnEachConnection(boxPool);
    // one end for each end and both ends (no finer gold here), each with and without a region
    expect(each.map((statements) => statements.length)).toEqual(Array(BOX_CONNECTIONS).fill(6));
    expect(new Set(each.map((statements) => statements.map((s) => s.name).join()))).toHaveProperty("size", 1);
    for (const s of each.flat()) expect(s).toMatchObject({ generic_plans: 1, custom_plans: 0 });
  });

  it("runs one warm-up more when asked during one, and never fails for a warm-up that cannot run", async () => {
    let asked = 0;
    const boxes = new BoxSessions(
      boxPool,
      async () => {
        asked++;
        return [];
      },
      quietLogger,
    );
    await Promise.all([boxes.warm(), boxes.warm(), boxes.warm()]);
    expect(asked).toBe(2);

    const failing = new BoxSessions(
      boxPool,
      async () => [{ sql: "SELECT no_such_column FROM gold.weekly_regions WHERE $1::int IS NULL", values: [null] }],
      quietLogger,
    );
    await expect(failing.warm()).resolves.toBeUndefined();
    // the pool still answers: the connection that failed was dropped, not handed out broken
    const { rows } = await failing.query<{ one: number }>("SELECT 1 AS one WHERE $1::int IS NULL", [null]);
    expect(rows).toEqual([{ one: 1 }]);
  });

  it("answers on the statements planned ahead, and plans them again after an event that drops plans", async () => {
    // a few trips in and around the box asked below, so that the answer runs its queries
    const trips: Row[] = Array.from({ length: 40 }, (_, i) => [
      "Prague",
      `POINT (${14.2 + i * 0.012} 50.05)`,
      `POINT (14.45 ${49.9 + i * 0.007})`,
      `2021-03-${String(1 + (i % 28)).padStart(2, "0")} 08:00:00`,
      "test",
    ]);
    const payload = await bronzeChunk(db.pool, trips);
    expect((await promoteSilverChunk(db.pool, payload)).stored).toBe(40);
    await mergeGroupsChunk(db.pool, payload);
    await mergeGoldChunk(db.pool, payload);
    const t = await testApp(db);
    try {
      // planned when the app was made: every connection holds the six statements
      const planned = await until(
        () => preparedOnEachConnection(t.boxPool),
        (each) => each.every((statements) => statements.length === 6),
      );
      expect(planned.map((statements) => statements.length)).toEqual(Array(BOX_CONNECTIONS).fill(6));

      // match=any runs four of them (origin, destination, both ends in two halves), and no new one
      const res = await t.app.request("/stats/weekly-average?bbox=14.3,49.95,14.6,50.15&match=any");
      expect(res.status).toBe(200);
      const after = await preparedOnEachConnection(t.boxPool);
      expect(after.map((statements) => statements.length)).toEqual(Array(BOX_CONNECTIONS).fill(6));
      expect(executions(after) - executions(planned)).toBe(4);

      // a vacuum's event: each connection runs each statement once more
      await db.pool.query(
        "INSERT INTO audit.events (ingestion_id, type, stage, payload) VALUES (NULL, 'maintenance.vacuumed', 'maintenance', '{}')",
      );
      const replanned = await until(
        () => preparedOnEachConnection(t.boxPool),
        (each) => executions(each) - executions(after) >= 6 * BOX_CONNECTIONS,
      );
      expect(executions(replanned) - executions(after)).toBe(6 * BOX_CONNECTIONS);
    } finally {
      await t.close();
    }
  });
});
