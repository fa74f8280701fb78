import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { rng } from "../helpers/random.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse, type SseFrame } from "../helpers/sse.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));
const HEADER = "region,origin_coord,destination_coord,datetime,datasource";
const event = (f: SseFrame) =>
  JSON.parse(f.data) as { ingestion_id: number; type: string; payload: Record<string, unknown> };

const sampleLines = async () => (await readFile(SAMPLE, "utf8")).trimEnd().split("\n");

/** Seeded random bytes: "binary garbage" that is the same on every run. */
function garbage(seed: number, length: number): Buffer {
  const random = rng(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

type Refused = { name: string; bytes: () => Promise<Buffer>; error: RegExp };

// Each refused file holds good lines before what is wrong with it, so "nothing stored" means something.
const REFUSED: Refused[] = [
  {
    name: "empty.csv",
    bytes: async () => Buffer.alloc(0),
    error: /^the file is empty: expected a header line region,origin_coord/,
  },
  {
    name: "wrong-header.csv",
    bytes: async () =>
      Buffer.from(
        ["region,origin,destination,datetime,datasource", ...(await sampleLines()).slice(1, 11)].join("\n") + "\n",
      ),
    error: /^wrong header \(missing origin_coord, destination_coord; unexpected "origin", "destination"\)/,
  },
  {
    name: "no-header.csv",
    bytes: async () => Buffer.from((await sampleLines()).slice(1, 11).join("\n") + "\n"),
    error: /^no header line: line 1 looks like data/,
  },
  {
    name: "garbage.csv",
    bytes: async () => garbage(7, 8192),
    error: /^binary data \(a NUL byte\) near line \d+: not a CSV text file/,
  },
  {
    // old Mac line endings: a carriage return alone between lines
    name: "mac-line-endings.csv",
    bytes: async () => Buffer.from((await sampleLines()).slice(0, 11).join("\r") + "\r"),
    error:
      /^lines end with a carriage return alone \(old Mac line endings\): save the file with LF or CRLF line endings$/,
  },
  {
    // line 7 opens a quoted field that never closes
    name: "unterminated-quote.csv",
    bytes: async () => {
      const lines = await sampleLines();
      return Buffer.from(
        [
          ...lines.slice(0, 6),
          '"Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40,funny_car',
          ...lines.slice(6, 20),
        ].join("\n") + "\n",
      );
    },
    error: /^an unterminated quoted field .*line 7\)$/,
  },
  {
    // "Düsseldorf" with ü as the single Latin-1 byte 0xFC, on line 3
    name: "latin1.csv",
    bytes: async () =>
      Buffer.from(
        [
          HEADER,
          "Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40,funny_car",
          "Düsseldorf,POINT (6.77 51.22),POINT (6.78 51.23),2018-05-28 10:00:00,funny_car",
        ].join("\n") + "\n",
        "latin1",
      ),
    error: /^not valid UTF-8 near line 3: save the file as UTF-8$/,
  },
  {
    // valid UTF-8 names first, then one Latin-1 line (line 8): two exports pasted together
    name: "mixed-encoding.csv",
    bytes: async () => {
      const names = ["Zürich", "São Paulo", "Kraków", "Malmö", "Łódź", "Київ"];
      const good = names.map((n) => `${n},POINT (8.54 47.37),POINT (8.55 47.38),2019-01-01 10:00:00,src`);
      return Buffer.concat([
        Buffer.from([HEADER, ...good].join("\n") + "\n"),
        Buffer.from("Düsseldorf,POINT (6.77 51.22),POINT (6.78 51.23),2019-01-01 12:00:00,src\n", "latin1"),
      ]);
    },
    error: /^not valid UTF-8 near line 8: save the file as UTF-8$/,
  },
];

// Files whose honest answer is "completed, nothing to store".
const NOTHING_TO_STORE: { name: string; bytes: Buffer }[] = [
  { name: "header-only.csv", bytes: Buffer.from(`${HEADER}\n`) },
  { name: "header-and-blank-lines.csv", bytes: Buffer.from(`\uFEFF${HEADER}\r\n\r\n   \r\n\r\n`) },
];

describe("bad files: refused with a clear error, moved aside, nothing stored, and the next file goes through", () => {
  let db: TestDatabase;
  let tf: Started;
  let sse: ReturnType<typeof readSse>;
  let tmp: string;
  let rejectedDir: string;
  const ids = new Map<string, number>();

  /** Drops a file and resolves with its ingestion id once it has left landing. */
  async function ingest(name: string, bytes: Buffer): Promise<number> {
    const source = join(tmp, name);
    await writeFile(source, bytes);
    await dropFile(tf.landing, source, name);
    const discovered = await sse.waitFor((f) => f.event === "ingestion.discovered" && event(f).payload.file === name);
    const id = event(discovered).ingestion_id;
    await sse.waitFor((f) => f.event === "file.archived" && event(f).ingestion_id === id);
    ids.set(name, id);
    return id;
  }

  async function storedFor(id: number) {
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM silver.trips WHERE ingestion_id = $1)::int AS silver,
              (SELECT count(*) FROM audit.rejects WHERE ingestion_id = $1)::int AS rejects,
              (SELECT count(*) FROM bronze.trips WHERE ingestion_id = $1)::int AS bronze`,
      [id],
    );
    return rows[0];
  }

  async function goldTotals() {
    const { rows } = await db.pool.query(`SELECT
        (SELECT count(*) FROM silver.trips)::int AS silver,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_regions)::int AS regions,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_origin_cells)::int AS origins,
        (SELECT coalesce(sum(trips), 0) FROM gold.weekly_destination_cells)::int AS destinations,
        (SELECT coalesce(sum(trips), 0) FROM silver.trip_groups)::int AS groups`);
    return rows[0];
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
    sse = readSse((await fetch(`${tf.baseUrl}/events`)).body!);
    tmp = await mkdtemp(join(tmpdir(), "tripflow-bad-"));
    rejectedDir = join(dirname(tf.archive), "rejected");
  });

  afterAll(async () => {
    await sse?.close();
    await tf?.stop();
    await db?.drop();
  });

  it.each(REFUSED)("refuses $name", async ({ name, bytes, error }) => {
    const id = await ingest(name, await bytes());

    const { rows } = await db.pool.query(
      "SELECT status, error, rows_loaded::int, rows_rejected::int, archived_as, finished_at IS NOT NULL AS finished FROM audit.ingestions WHERE id = $1",
      [id],
    );
    expect(rows[0]).toMatchObject({
      status: "failed",
      rows_loaded: 0,
      rows_rejected: 0,
      archived_as: join(rejectedDir, `${id}-${name}`),
      finished: true,
    });
    expect(rows[0].error).toMatch(error);

    const failed = sse.frames.filter((f) => f.event === "ingestion.failed" && event(f).ingestion_id === id);
    expect(failed.map((f) => event(f).payload)).toEqual([{ error: rows[0].error }]);
    const archived = sse.frames.find((f) => f.event === "file.archived" && event(f).ingestion_id === id)!;
    expect(event(archived).payload).toEqual({ path: join(rejectedDir, `${id}-${name}`), folder: "rejected" });
    expect(sse.frames.some((f) => f.event === "ingestion.completed" && event(f).ingestion_id === id)).toBe(false);

    const res = await fetch(`${tf.baseUrl}/ingestions/${id}`);
    expect(await res.json()).toMatchObject({
      id,
      status: "failed",
      error: rows[0].error,
      rows_loaded: 0,
      rows_rejected: 0,
    });

    expect(await readdir(rejectedDir)).toContain(`${id}-${name}`);
    expect(await readFile(join(rejectedDir, `${id}-${name}`))).toEqual(await bytes()); // moved as it was
    expect(await readdir(tf.landing)).toEqual([]);
    expect(await storedFor(id)).toEqual({ silver: 0, rejects: 0, bronze: 0 });
    expect(await goldTotals()).toEqual({ silver: 0, regions: 0, origins: 0, destinations: 0, groups: 0 });
  });

  it.each(NOTHING_TO_STORE)("completes $name with zero rows", async ({ name, bytes }) => {
    const id = await ingest(name, bytes);
    const { rows } = await db.pool.query(
      "SELECT status, error, rows_loaded::int, rows_rejected::int, lines::int, archived_as FROM audit.ingestions WHERE id = $1",
      [id],
    );
    expect(rows[0]).toEqual({
      status: "completed",
      error: null,
      rows_loaded: 0,
      rows_rejected: 0,
      lines: 0,
      archived_as: join(tf.archive, `${id}-${name}`),
    });
    const completed = sse.frames.find((f) => f.event === "ingestion.completed" && event(f).ingestion_id === id)!;
    expect(event(completed).payload).toMatchObject({ rows_loaded: 0, rows_rejected: 0 });
    expect(await storedFor(id)).toEqual({ silver: 0, rejects: 0, bronze: 0 });
  });

  it("then takes a good file normally: the sample's 100 trips", async () => {
    const id = await ingest("trips.csv", await readFile(SAMPLE));
    const { rows } = await db.pool.query(
      "SELECT status, rows_loaded::int, rows_rejected::int FROM audit.ingestions WHERE id = $1",
      [id],
    );
    expect(rows[0]).toEqual({ status: "completed", rows_loaded: 100, rows_rejected: 0 });
    expect(await storedFor(id)).toEqual({ silver: 100, rejects: 0, bronze: 0 });
    expect(await goldTotals()).toEqual({ silver: 100, regions: 100, origins: 100, destinations: 100, groups: 100 });
  });

  it("leaves landing empty, refused files in rejected/ and the others in the archive", async () => {
    expect(await readdir(tf.landing)).toEqual([]);
    const name = (n: string) => `${ids.get(n)}-${n}`;
    expect((await readdir(rejectedDir)).sort()).toEqual(REFUSED.map((r) => name(r.name)).sort());
    expect((await readdir(tf.archive)).sort()).toEqual(
      [...NOTHING_TO_STORE.map((f) => name(f.name)), name("trips.csv")].sort(),
    );
    const { rows } = await db.pool.query(
      "SELECT status, count(*)::int AS n FROM audit.ingestions GROUP BY 1 ORDER BY 1",
    );
    expect(rows).toEqual([
      { status: "completed", n: NOTHING_TO_STORE.length + 1 },
      { status: "failed", n: REFUSED.length },
    ]);
  });
});
