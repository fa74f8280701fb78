import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerIngestion } from "../../pipeline/landing/register.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { startTestServices, type Started } from "../helpers/services.ts";
import { readSse } from "../helpers/sse.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));
const SAMPLE_SHA256 = "568f8e5010143f38645ae5a1b339f166957f6305357a55a01b5532032ea979e2";
const HEADER = "region,origin_coord,destination_coord,datetime,datasource";

/** Four good lines; line 3 has four fields, line 5 an origin at latitude 95. */
const BAD_LINES =
  [
    HEADER,
    "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40,src",
    "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40",
    "Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-28 10:03:40,src",
    "Turin,POINT (7.6 95.0),POINT (7.7 45.1),2018-05-28 09:03:40,x",
    "Hamburg,POINT (10.0 53.5),POINT (10.1 53.6),2018-05-28 11:03:40,src",
    "Hamburg,POINT (10.0 53.5),POINT (10.1 53.6),2018-05-28 12:03:40,src",
  ].join("\n") + "\n";

/** A request body streamed in pieces: fetch sends it chunked, without Content-Length. */
function streamed(bytes: Uint8Array, piece = 1000): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + piece));
      at += piece;
    },
  });
}

function upload(
  baseUrl: string,
  query: string,
  body: BodyInit | ReadableStream<Uint8Array>,
  type: string | null = "text/csv",
) {
  return fetch(`${baseUrl}/ingestions${query}`, {
    method: "POST",
    headers: type === null ? {} : { "Content-Type": type },
    body: body as BodyInit,
    duplex: "half",
  } as RequestInit);
}

/** Follows an upload's events link until the file is archived; returns the event types in order. */
async function follow(baseUrl: string, events: string): Promise<string[]> {
  const sse = readSse((await fetch(`${baseUrl}${events}`)).body!);
  try {
    await sse.waitFor((f) => f.event === "file.archived");
    return sse.frames.map((f) => f.event!);
  } finally {
    await sse.close();
  }
}

describe("the ingestion endpoints, with api, worker and watcher", () => {
  let db: TestDatabase;
  let tf: Started;
  let first: { ingestion_id: number };

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("takes an upload into landing and through the pipeline as one ingestion", async () => {
    const res = await upload(tf.baseUrl, "?name=trips.csv", streamed(await readFile(SAMPLE)));
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toEqual({
      ingestion_id: expect.any(Number),
      status: "queued",
      file_name: "trips.csv",
      sha256: SAMPLE_SHA256,
      size_bytes: 12839,
      duplicate_of: null,
      events: `/events?ingestion=${body.ingestion_id}&after=0`,
    });
    expect(res.headers.get("location")).toBe(`/ingestions/${body.ingestion_id}`);
    first = body;

    // The queued row is continued by the watcher without an ingestion.resumed event.
    const types = await follow(tf.baseUrl, body.events);
    // The two merges run on separate queues, in either order.
    expect([...types.slice(0, 3), ...types.slice(3, 5).sort(), ...types.slice(5)]).toEqual([
      "ingestion.discovered",
      "bronze.loaded",
      "silver.promoted",
      "gold.refreshed",
      "silver.grouped",
      "ingestion.completed",
      "file.archived",
    ]);

    const one = await fetch(`${tf.baseUrl}/ingestions/${body.ingestion_id}`);
    expect(one.status).toBe(200);
    const ing = await one.json();
    expect(ing).toMatchObject({
      id: body.ingestion_id,
      file_name: "trips.csv",
      sha256: SAMPLE_SHA256,
      size_bytes: 12839,
      status: "completed",
      rows_loaded: 100,
      rows_rejected: 0,
      error: null,
      duplicate_of: null,
      archived_as: join(tf.archive, `${body.ingestion_id}-trips.csv`),
      last_event: { type: "file.archived", stage: "archive", payload: { folder: "archive" } },
    });
    // duration_ms comes from microsecond timestamps, the ISO strings have milliseconds.
    expect(Math.abs(Date.parse(ing.finished_at) - Date.parse(ing.started_at) - ing.duration_ms)).toBeLessThanOrEqual(1);
    expect(ing.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const { rows } = await db.pool.query("SELECT id FROM audit.ingestions WHERE sha256 = $1", [SAMPLE_SHA256]);
    expect(rows).toEqual([{ id: body.ingestion_id }]);
    const { rows: last } = await db.pool.query("SELECT max(id)::int AS id FROM audit.events WHERE ingestion_id = $1", [
      body.ingestion_id,
    ]);
    expect(ing.last_event.id).toBe(last[0].id);
    expect(await readdir(tf.landing)).toEqual([]);
    expect(await readdir(tf.archive)).toEqual([`${body.ingestion_id}-trips.csv`]);
  });

  it("answers 200 skipped for the same bytes under another name, and archives them", async () => {
    const res = await upload(tf.baseUrl, "?name=again", await readFile(SAMPLE));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      status: "skipped",
      file_name: "again.csv",
      sha256: SAMPLE_SHA256,
      duplicate_of: first.ingestion_id,
    });
    expect(body.ingestion_id).toBeGreaterThan(first.ingestion_id);
    const ing = await (await fetch(`${tf.baseUrl}/ingestions/${body.ingestion_id}`)).json();
    expect(ing).toMatchObject({
      status: "skipped",
      duplicate_of: first.ingestion_id,
      rows_loaded: 0,
      last_event: { type: "file.archived" },
    });
    expect(ing.duration_ms).toBeGreaterThanOrEqual(0);
    expect(await readdir(tf.landing)).toEqual([]);
    expect((await readdir(tf.archive)).sort()).toEqual(
      [`${first.ingestion_id}-trips.csv`, `${body.ingestion_id}-again.csv`].sort(),
    );
  });

  it("pages through the rejected lines of an upload", async () => {
    const res = await upload(tf.baseUrl, "?name=bad-lines", BAD_LINES, "text/plain; charset=utf-8");
    expect(res.status).toBe(202);
    const { ingestion_id: id, events, file_name } = await res.json();
    expect(file_name).toBe("bad-lines.csv");
    await follow(tf.baseUrl, events);
    const ing = await (await fetch(`${tf.baseUrl}/ingestions/${id}`)).json();
    expect(ing).toMatchObject({ status: "completed", rows_loaded: 4, rows_rejected: 2 });

    const page1 = await (await fetch(`${tf.baseUrl}/ingestions/${id}/rejects?limit=1`)).json();
    expect(page1).toEqual({
      ingestion_id: id,
      rejects: [
        {
          line_no: 3,
          raw: "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40",
          reason: "wrong number of fields: expected 5, found 4",
        },
      ],
      next_after: 3,
    });
    const page2 = await (
      await fetch(`${tf.baseUrl}/ingestions/${id}/rejects?limit=1&after=${page1.next_after}`)
    ).json();
    expect(page2).toEqual({
      ingestion_id: id,
      rejects: [
        {
          line_no: 5,
          raw: "Turin,POINT (7.6 95.0),POINT (7.7 45.1),2018-05-28 09:03:40,x",
          reason: "origin latitude 95 outside -90..90",
        },
      ],
      next_after: null,
    });
    const all = await (await fetch(`${tf.baseUrl}/ingestions/${id}/rejects`)).json();
    expect(all.rejects.map((r: { line_no: number }) => r.line_no)).toEqual([3, 5]);
    const none = await (await fetch(`${tf.baseUrl}/ingestions/${first.ingestion_id}/rejects`)).json();
    expect(none).toEqual({ ingestion_id: first.ingestion_id, rejects: [], next_after: null });
  });

  it("pages GET /ingestions newest first, visiting every ingestion once", async () => {
    const { rows } = await db.pool.query<{ id: number }>("SELECT id FROM audit.ingestions ORDER BY id DESC");
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const seen: number[] = [];
    let query = "?limit=1";
    for (let pages = 0; pages <= rows.length; pages++) {
      const page = await (await fetch(`${tf.baseUrl}/ingestions${query}`)).json();
      expect(page.ingestions.length).toBeLessThanOrEqual(1);
      seen.push(...page.ingestions.map((i: { id: number }) => i.id));
      if (page.next_before === null) break;
      query = `?limit=1&before=${page.next_before}`;
    }
    expect(seen).toEqual(rows.map((r) => r.id));

    // A list item is the same object as GET /ingestions/{id} answers.
    const list = await (await fetch(`${tf.baseUrl}/ingestions`)).json();
    expect(list.next_before).toBeNull();
    expect(list.ingestions.at(-1)).toEqual(
      await (await fetch(`${tf.baseUrl}/ingestions/${first.ingestion_id}`)).json(),
    );
  });

  it("answers 400 naming the parameter for bad names, ids and limits, 404 for unknown ids", async () => {
    const expect400 = async (res: Response, param: string) => {
      expect(res.status, `${res.url}`).toBe(400);
      const { error } = await res.json();
      expect(error.code).toBe("invalid_parameter");
      expect(error.message.startsWith(`${param}: `), error.message).toBe(true);
    };
    for (const name of ["../x.csv", ".hidden.csv", "a/b.csv", "a\\b.csv", "a\0b.csv", "..", "", "x".repeat(201)])
      await expect400(await upload(tf.baseUrl, `?name=${encodeURIComponent(name)}`, "a,b\n"), "name");
    for (const id of ["abc", "1e9", "-1", "1;DROP TABLE x", "1.5", "9".repeat(16)]) {
      await expect400(await fetch(`${tf.baseUrl}/ingestions/${encodeURIComponent(id)}`), "id");
      await expect400(await fetch(`${tf.baseUrl}/ingestions/${encodeURIComponent(id)}/rejects`), "id");
    }
    for (const limit of ["0", "501", "NaN", "1e2", "-5", "99999999999999999999", "1;DROP TABLE audit.events"])
      await expect400(await fetch(`${tf.baseUrl}/ingestions?limit=${encodeURIComponent(limit)}`), "limit");
    await expect400(await fetch(`${tf.baseUrl}/ingestions?before=NaN`), "before");
    await expect400(await fetch(`${tf.baseUrl}/ingestions/1/rejects?limit=1001`), "limit");
    await expect400(await fetch(`${tf.baseUrl}/ingestions/1/rejects?after=x`), "after");

    for (const path of ["/ingestions/999999", "/ingestions/999999/rejects"]) {
      const res = await fetch(`${tf.baseUrl}${path}`);
      expect(res.status).toBe(404);
      expect((await res.json()).error).toEqual({ code: "not_found", message: "no ingestion 999999" });
    }
    expect(await readdir(tf.landing)).toEqual([]);
  });

  it("answers 415 for other content types and 400 for an empty body", async () => {
    for (const type of ["application/json", null]) {
      const res = await upload(tf.baseUrl, "?name=x.csv", new TextEncoder().encode('{"a":1}'), type);
      expect(res.status).toBe(415);
      expect((await res.json()).error.code).toBe("unsupported_media_type");
    }
    const empty = await upload(tf.baseUrl, "?name=x.csv", "");
    expect(empty.status).toBe(400);
    expect((await empty.json()).error.code).toBe("empty_body");
    expect(await readdir(tf.landing)).toEqual([]);
  });
});

describe("uploads to an API without a watcher, UPLOAD_MAX_BYTES=1000", () => {
  let db: TestDatabase;
  let api: Started;
  const big = new TextEncoder().encode(HEADER + "\n" + "x".repeat(2000) + "\n");

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startTestServices(db.url, ["api"], { UPLOAD_MAX_BYTES: "1000" });
  });

  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it("answers 413 with Content-Length, and without it once the limit is passed, leaving nothing behind", async () => {
    for (const body of [big, streamed(big, 300)]) {
      const res = await upload(api.baseUrl, "?name=big.csv", body);
      expect(res.status).toBe(413);
      expect((await res.json()).error).toEqual({
        code: "payload_too_large",
        message: "the upload is larger than the limit of 1000 bytes (UPLOAD_MAX_BYTES)",
      });
    }

    // Refused on the announced size at once: the client has sent 100 of the 5000 bytes it announced.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sentFirst = false;
    const stalled = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sentFirst) {
          sentFirst = true;
          return controller.enqueue(new Uint8Array(100).fill(120));
        }
        await gate;
        controller.close();
      },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      release();
    }, 5000);
    try {
      const res = await fetch(`${api.baseUrl}/ingestions?name=big.csv`, {
        method: "POST",
        headers: { "Content-Type": "text/csv", "Content-Length": "5000" },
        body: stalled,
        duplex: "half",
      } as RequestInit);
      expect(res.status).toBe(413);
      expect((await res.json()).error.code).toBe("payload_too_large");
      expect(timedOut).toBe(false);
    } finally {
      clearTimeout(timer);
      release();
    }

    expect(await readdir(api.landing)).toEqual([]);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions");
    expect(rows[0].n).toBe(0);
  });

  it("accepts a body of exactly the limit, and never overwrites a landing file of the same name", async () => {
    const exact = HEADER + "\n" + "y".repeat(1000 - HEADER.length - 2) + "\n";
    expect(Buffer.byteLength(exact)).toBe(1000);
    const a = await upload(api.baseUrl, "?name=same.csv", streamed(new TextEncoder().encode(exact), 999));
    expect(a.status).toBe(202);
    const b = await upload(api.baseUrl, "?name=same.csv", BAD_LINES);
    expect(b.status).toBe(202);
    const second = await b.json();
    expect(second.file_name).toBe(`same-${second.ingestion_id}.csv`);

    expect((await readdir(api.landing)).sort()).toEqual(["same.csv", `same-${second.ingestion_id}.csv`].sort());
    expect(await readFile(join(api.landing, "same.csv"), "utf8")).toBe(exact);
    expect(await readFile(join(api.landing, second.file_name), "utf8")).toBe(BAD_LINES);
    const { rows } = await db.pool.query("SELECT file_name, status FROM audit.ingestions ORDER BY id");
    expect(rows).toEqual([
      { file_name: "same.csv", status: "queued" },
      { file_name: second.file_name, status: "queued" },
    ]);
  });

  it("refuses names with invisible or text-direction characters, and takes other Unicode names", async () => {
    const before = (await readdir(api.landing)).sort();
    // U+202E shows "photo\u202Evsc.exe" as "photoexe.csv"; the others are isolates, marks, zero-width
    // characters, a BOM, a C1 control and a line separator.
    const names: [string, string][] = [
      ["\u202Evsc.csv", "U+202E"],
      ["photo\u202Evsc.exe", "U+202E"],
      ["a\u202Ab.csv", "U+202A"],
      ["a\u2066b\u2069.csv", "U+2066"],
      ["a\u200Eb.csv", "U+200E"],
      ["a\u200Fb.csv", "U+200F"],
      ["a\u061Cb.csv", "U+061C"],
      ["a\u200Bb.csv", "U+200B"],
      ["\uFEFFa.csv", "U+FEFF"],
      ["a\u0085b.csv", "U+0085"],
      ["a\u2028b.csv", "U+2028"],
    ];
    for (const [name, code] of names) {
      const res = await upload(api.baseUrl, `?name=${encodeURIComponent(name)}`, BAD_LINES);
      expect(res.status, code).toBe(400);
      expect(await res.json(), code).toEqual({
        error: {
          code: "invalid_parameter",
          message: `name: must not contain invisible or text-direction characters (found ${code})`,
        },
      });
    }
    expect((await readdir(api.landing)).sort()).toEqual(before);

    const res = await upload(
      api.baseUrl,
      `?name=${encodeURIComponent("Praha – léto 2018 ☀")}`,
      `${HEADER}\nPrague,POINT (14.4 50.0),POINT (14.5 50.1),2018-07-01 09:00:00,src\n`,
    );
    expect(res.status).toBe(202);
    expect((await res.json()).file_name).toBe("Praha – léto 2018 ☀.csv");
  });
});

describe("registerIngestion", () => {
  let db: TestDatabase;
  const sha = (c: string) => c.repeat(64);

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function insert(status: string, sha256: string): Promise<number> {
    const { rows } = await db.pool.query(
      "INSERT INTO audit.ingestions (file_name, sha256, size_bytes, status) VALUES ('old.csv', $1, 10, $2) RETURNING id",
      [sha256, status],
    );
    return rows[0].id;
  }

  const eventsOf = async (id: number) =>
    (await db.pool.query("SELECT type, payload FROM audit.events WHERE ingestion_id = $1 ORDER BY id", [id])).rows;

  it("continues a loading or transforming ingestion with ingestion.resumed", async () => {
    for (const [status, c] of [
      ["loading", "a"],
      ["transforming", "b"],
    ] as const) {
      const id = await insert(status, sha(c));
      const { ingestion, action } = await registerIngestion(db.pool, "new.csv", sha(c), 10);
      expect([ingestion.id, ingestion.file_name, action]).toEqual([id, "new.csv", "load"]);
      expect(await eventsOf(id)).toEqual([{ type: "ingestion.resumed", payload: { file: "new.csv", status } }]);
    }
  });

  it("continues a queued ingestion without an event", async () => {
    const id = await insert("queued", sha("c"));
    const { ingestion, action } = await registerIngestion(db.pool, "up.csv", sha("c"), 10);
    expect([ingestion.id, action]).toEqual([id, "load"]);
    expect(await eventsOf(id)).toEqual([]);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM audit.ingestions WHERE sha256 = $1", [
      sha("c"),
    ]);
    expect(rows[0].n).toBe(1);
  });

  it("skips an upload of content that is still being ingested", async () => {
    const id = await insert("queued", sha("d"));
    const { ingestion, action } = await registerIngestion(db.pool, "up.csv", sha("d"), 10, "upload");
    expect(action).toBe("skip");
    expect(ingestion).toMatchObject({ status: "skipped", duplicate_of: id });
    expect(await eventsOf(id)).toEqual([]);
    expect((await eventsOf(ingestion.id)).map((e) => e.type)).toEqual(["ingestion.skipped"]);
  });
});
