import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { createApp } from "../../api/app.ts";
import { KEEPALIVE_MS, setKeepaliveInterval } from "../../api/sse.ts";
import { type AuditEvent, recordEvent, type Queryable } from "../../pipeline/core/audit.ts";
import type { EventBus } from "../../pipeline/core/bus.ts";
import { testApp } from "../helpers/app.ts";
import { recordTestEvent } from "../helpers/audit.ts";
import { admin, createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { readSse, type SseFrame } from "../helpers/sse.ts";

// GET /events in-process (app.request) on a real database and a real EventBus: the frames are compared
// exactly with audit.events. Tests share one database, so each one starts from the current max(id).

let db: TestDatabase;
let bus: EventBus;
let app: ReturnType<typeof createApp>;
let close: (() => Promise<void>) | undefined;
let ingA: number;
let ingB: number;
/** Subscriptions the app holds itself (its box statements planned again after some events): no stream's. */
let own: number;
const streams: { close: () => Promise<void> }[] = [];

type EventRow = AuditEvent;

async function newIngestion(fill: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    "INSERT INTO audit.ingestions (file_name, sha256, size_bytes) VALUES ($1::text, repeat($2::text, 64), 1) RETURNING id",
    [`${fill}.csv`, fill],
  );
  return rows[0]!.id;
}

async function maxId(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>("SELECT coalesce(max(id), 0)::bigint AS id FROM audit.events");
  return rows[0]!.id;
}

/** The frames a client must receive: the stored events after `after` up to `upTo`, in id order, written out by hand. */
async function expectedFrames(after: number, upTo: number, ingestion?: number): Promise<SseFrame[]> {
  const { rows } = await db.pool.query<EventRow>(
    `SELECT id, ingestion_id, type, stage, payload, created_at FROM audit.events
     WHERE id > $1::bigint AND id <= $2::bigint AND ($3::bigint IS NULL OR ingestion_id = $3::bigint) ORDER BY id`,
    [after, upTo, ingestion ?? null],
  );
  return rows.map((r) => ({
    id: String(r.id),
    event: r.type,
    data: JSON.stringify({
      id: r.id,
      ingestion_id: r.ingestion_id,
      type: r.type,
      stage: r.stage,
      payload: r.payload,
      created_at: r.created_at.toISOString(),
    }),
  }));
}

/** `count` events in one statement (one transaction). */
async function insertBatch(ingestion: number, count: number, type = "test.backlog"): Promise<void> {
  await db.pool.query(
    `INSERT INTO audit.events (ingestion_id, type, stage, payload)
     SELECT $1::bigint, $2::text, 'test', jsonb_build_object('n', g) FROM generate_series(1, $3::int) g`,
    [ingestion, type, count],
  );
}

/** `count` events, one transaction each, from `writers` concurrent writers taking turns over `ingestions`. */
async function insertConcurrently(
  count: number,
  writers: number,
  ingestions: number[],
  on: Queryable = db.pool,
): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (next < count) {
        const n = next++;
        ids.push(
          await recordTestEvent(on, ingestions[n % ingestions.length]!, "test.live", {
            n,
            writer: w,
            text: "line\nbreak",
          }),
        );
      }
    }),
  );
  return ids.sort((a, b) => a - b);
}

/**
 * Inserts a last event and waits for it: every frame a client will ever get below the fence has then
 * arrived, so comparing `frames` with the table also catches late duplicates.
 */
async function fence(sse: ReturnType<typeof readSse>, ingestion: number): Promise<number> {
  const id = await recordTestEvent(db.pool, ingestion, "test.fence", {});
  await sse.waitFor((f) => f.id === String(id));
  return id;
}

async function connect(path: string, headers: Record<string, string> = {}) {
  const res = await app.request(path, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const sse = readSse(res.body!);
  streams.push(sse);
  return sse;
}

/** Polls a condition that no event announces (the bus's listener count); fails after `timeoutMs`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Reads the raw body text until `done(text)` holds. */
async function readRawUntil(body: ReadableStream<Uint8Array>, done: (text: string) => boolean): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!done(text)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`stream ended after ${JSON.stringify(text)}`);
      text += decoder.decode(chunk.value, { stream: true });
    }
    return text;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  ({ app, bus, close } = await testApp(db));
  own = bus.listenerCount;
  ingA = await newIngestion("a");
  ingB = await newIngestion("b");
});

afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
  await until("every stream to release its subscription", () => bus.listenerCount === own);
});

afterAll(async () => {
  await close?.();
  await db?.drop();
});

describe("GET /events", () => {
  it("writes each event as one exact SSE message: event, data (the event as JSON), id", async () => {
    const before = await maxId();
    const id = await recordEvent(db.pool, ingA, "silver.promoted", { chunk: 0, rows: 100, rejected: 0, ms: 5 });
    const res = await app.request("/events", { headers: { "Last-Event-ID": String(before) } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const text = await readRawUntil(res.body!, (t) => t.includes(`\nid: ${id}\n\n`));
    const [frame] = await expectedFrames(before, id);
    expect(text).toBe(`: connected\n\nevent: silver.promoted\ndata: ${frame!.data}\nid: ${id}\n\n`);
    expect(JSON.parse(frame!.data)).toMatchObject({
      id,
      ingestion_id: ingA,
      type: "silver.promoted",
      stage: "silver",
      payload: { chunk: 0, rows: 100, rejected: 0 },
    });
  });

  it("without Last-Event-ID sends only events inserted after connecting, each once, in order", async () => {
    await insertConcurrently(3, 1, [ingA]);
    await bus.poke(); // the bus has delivered them: they are in the past for a client connecting now
    const start = await maxId();
    const sse = await connect("/events");
    const live = await insertConcurrently(20, 4, [ingA, ingB]);
    const last = await fence(sse, ingA);
    const expected = await expectedFrames(start, last);
    expect(expected).toHaveLength(21);
    expect(expected.slice(0, 20).map((f) => Number(f.id))).toEqual(live);
    expect(sse.frames).toEqual(expected);
  });

  it("with Last-Event-ID replays exactly the stored events after it, then continues live: no gap, no duplicate at the seam", async () => {
    const start = await maxId();
    await insertBatch(ingA, 1200); // more than two replay batches of 500
    const resumeAt = start + 100;
    // Writers run while the client connects and replays: events commit during the replay.
    const writing = insertConcurrently(300, 3, [ingA, ingB]);
    const sse = await connect("/events", { "Last-Event-ID": String(resumeAt) });
    await writing;
    const last = await fence(sse, ingB);
    const expected = await expectedFrames(resumeAt, last);
    expect(expected).toHaveLength(1100 + 300 + 1);
    expect(sse.frames.length).toBe(expected.length);
    expect(sse.frames).toEqual(expected);
  });

  it("sends events committed while a slow client's replay is under way once: from the table, not again from the bus", async () => {
    const start = await maxId();
    await insertBatch(ingB, 700);
    // The replay cannot finish before this client reads: every event below commits during it, is
    // queued live by the bus, and is also found in the table by the replay's later batches.
    const res = await app.request("/events", { headers: { "Last-Event-ID": String(start) } });
    expect(res.status).toBe(200);
    const during = await insertConcurrently(100, 4, [ingA, ingB]);
    await bus.poke(); // the bus has handed them to the stream's queue
    const sse = readSse(res.body!);
    streams.push(sse);
    const last = await fence(sse, ingA);
    const expected = await expectedFrames(start, last);
    expect(expected).toHaveLength(700 + 100 + 1);
    expect(expected.slice(700, 800).map((f) => Number(f.id))).toEqual(during);
    expect(sse.frames).toEqual(expected);
  });

  it("?after= resumes like Last-Event-ID; when both are given the header wins (it is the browser's newer position)", async () => {
    const start = await maxId();
    await insertBatch(ingA, 10);

    const byQuery = await connect(`/events?after=${start + 4}`);
    const byHeader = await connect("/events", { "Last-Event-ID": String(start + 4) });
    // EventSource reconnects to the same URL (still ?after=) with Last-Event-ID: the header is the newer
    // position, whether it is above or below ?after=.
    const headerBelow = await connect(`/events?after=${start + 7}`, { "Last-Event-ID": String(start + 2) });
    const headerAbove = await connect(`/events?after=${start + 2}`, { "Last-Event-ID": String(start + 7) });
    const emptyHeader = await connect(`/events?after=${start + 4}`, { "Last-Event-ID": "" });

    const last = await fence(byQuery, ingA);
    for (const s of [byHeader, headerBelow, headerAbove, emptyHeader]) await s.waitFor((f) => f.id === String(last));
    const from = (n: number) => expectedFrames(start + n, last);
    expect(byQuery.frames).toEqual(await from(4));
    expect(byHeader.frames).toEqual(await from(4));
    expect(headerBelow.frames).toEqual(await from(2));
    expect(headerAbove.frames).toEqual(await from(7));
    expect(emptyHeader.frames).toEqual(await from(4));
    expect(byQuery.frames).toHaveLength(6 + 1);
  });

  it("?ingestion= keeps one ingestion's events, in the replay, across the seam and live", async () => {
    const start = await maxId();
    await insertConcurrently(40, 1, [ingA, ingB]); // interleaved A, B, A, B …
    await insertBatch(ingB, 600);
    await insertBatch(ingA, 600);
    const writing = insertConcurrently(200, 4, [ingA, ingB]);
    const sse = await connect(`/events?ingestion=${ingA}`, { "Last-Event-ID": String(start) });
    const live = await connect(`/events?ingestion=${ingB}`);
    await writing;
    const lastA = await fence(sse, ingA);
    const expected = await expectedFrames(start, lastA, ingA);
    expect(expected).toHaveLength(20 + 600 + 100 + 1);
    expect(sse.frames).toEqual(expected);

    const lastB = await fence(live, ingB);
    expect(live.frames.length).toBeGreaterThan(0);
    expect(live.frames.every((f) => JSON.parse(f.data).ingestion_id === ingB)).toBe(true);
    expect(live.frames.at(-1)!.id).toBe(String(lastB));
    // Live-only frames are a gap-free tail of B's events.
    expect(live.frames).toEqual((await expectedFrames(start, lastB, ingB)).slice(-live.frames.length));
  });

  it("loses nothing when the LISTEN connection drops: events written while it is down arrive once, in order, after it reconnects", async () => {
    const start = await maxId();
    const sse = await connect("/events", { "Last-Event-ID": String(start) });
    await insertConcurrently(5, 1, [ingA]);
    await sse.waitFor((f) => f.id === String(start + 5));

    const oldPid = await bus.listenerPid();
    expect(oldPid).toBeGreaterThan(0);
    // Writes go through a connection opened before the outage; while the database refuses new
    // connections, pg-listen cannot come back before the events below are committed.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    let during: number[];
    try {
      await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`));
      try {
        const { rows } = await writer.query<{ ok: boolean }>("SELECT pg_terminate_backend($1::int, 10000) AS ok", [
          oldPid,
        ]);
        expect(rows[0]!.ok).toBe(true);
        during = await insertConcurrently(10, 2, [ingA, ingB], writer);
        const { rows: listeners } = await writer.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tripflow-listen' AND datname = current_database()",
        );
        expect(listeners[0]!.n).toBe(0); // really written while nobody listened
      } finally {
        await admin((c) => c.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`));
      }
    } finally {
      await writer.end();
    }

    // The bus reads the table once pg-listen is back: awaiting the last event written during the outage.
    await sse.waitFor((f) => f.id === String(during.at(-1)));
    const newPid = await bus.listenerPid();
    expect(newPid).toBeGreaterThan(0);
    expect(newPid).not.toBe(oldPid);
    await insertConcurrently(5, 1, [ingB]); // and live again through the new LISTEN
    const last = await fence(sse, ingA);
    const expected = await expectedFrames(start, last);
    expect(expected).toHaveLength(5 + 10 + 5 + 1);
    expect(sse.frames).toEqual(expected);

    // A client that lost its own connection meanwhile resumes from its last id with the same result.
    const resumed = await connect("/events", { "Last-Event-ID": sse.frames[7]!.id! });
    await resumed.waitFor((f) => f.id === String(last));
    expect(resumed.frames).toEqual(expected.slice(8));
  });

  it(`writes a ': keepalive' comment on an idle stream (every ${KEEPALIVE_MS / 1000} s by default)`, async () => {
    expect(KEEPALIVE_MS).toBe(15_000);
    setKeepaliveInterval(50);
    let res: Response;
    try {
      res = await app.request(`/events?ingestion=${ingB}`);
    } finally {
      setKeepaliveInterval();
    }
    expect(res.status).toBe(200);
    const text = await readRawUntil(res.body!, (t) => t.split(": keepalive\n\n").length > 2);
    expect(text).toBe(": connected\n\n: keepalive\n\n: keepalive\n\n");
  });

  it("releases the bus subscription when the client goes away: idle, mid-replay, or never reading", async () => {
    const before = bus.listenerCount;
    expect(before).toBe(own);

    const idle = await connect("/events");
    expect(bus.listenerCount).toBe(before + 1);
    await idle.close();
    await until("the idle stream to unsubscribe", () => bus.listenerCount === before);

    // Thousands of stored events: cancelled after the first frame, while the replay still runs.
    const replaying = await connect("/events", { "Last-Event-ID": "0" });
    await replaying.waitFor(() => true);
    expect(bus.listenerCount).toBe(before + 1);
    await replaying.close();
    await until("the replaying stream to unsubscribe", () => bus.listenerCount === before);

    // The server is blocked writing to a body nobody reads.
    const res = await app.request("/events", { headers: { "Last-Event-ID": "0" } });
    expect(bus.listenerCount).toBe(before + 1);
    await res.body!.cancel();
    await until("the unread stream to unsubscribe", () => bus.listenerCount === before);
  });

  it("cuts off a client that has stopped reading once 10,000 events wait for it, and releases it", async () => {
    const res = await app.request("/events");
    expect(res.status).toBe(200);
    expect(bus.listenerCount).toBe(own + 1);
    await insertBatch(ingB, 10_050, "test.flood");
    await until("the stalled stream to be cut off", () => bus.listenerCount === own, 30_000);
    // The body ends: the client reconnects with Last-Event-ID and loses nothing.
    const text = await new Response(res.body).text();
    expect(text).toBe(": connected\n\n");
  });

  it.each([
    ["Last-Event-ID abc", "/events", { "Last-Event-ID": "abc" }, "Last-Event-ID"],
    ["Last-Event-ID -1", "/events", { "Last-Event-ID": "-1" }, "Last-Event-ID"],
    ["Last-Event-ID 1e3", "/events", { "Last-Event-ID": "1e3" }, "Last-Event-ID"],
    ["Last-Event-ID 1.5 with a valid ?after=", "/events?after=1", { "Last-Event-ID": "1.5" }, "Last-Event-ID"],
    ["?after=abc", "/events?after=abc", {}, "after"],
    ["?after=-1", "/events?after=-1", {}, "after"],
    ["?ingestion=x", "/events?ingestion=x", {}, "ingestion"],
  ])("answers 400 invalid_parameter for %s", async (_, path, headers, parameter) => {
    const res = await app.request(path, { headers });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({
      error: { code: "invalid_parameter", message: `${parameter}: must be an audit event id (a whole number)` },
    });
    expect(bus.listenerCount).toBe(own);
  });
});
