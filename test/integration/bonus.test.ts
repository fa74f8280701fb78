import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeGoldChunk, mergeGroupsChunk } from "../../pipeline/transform/merge.ts";
import { promoteSilverChunk } from "../../pipeline/transform/promote.ts";
import { bronzeChunk } from "../helpers/bronze.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { dropFile, startTestServices, type Started } from "../helpers/services.ts";
import { readSse } from "../helpers/sse.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));
const BONUS = fileURLToPath(new URL("../../db/queries/bonus.sql", import.meta.url));

/** The statements of bonus.sql in file order: the top-regions view, Q1a, Q1b, Q2. Split on a semicolon that ends a line. */
function statements(): string[] {
  return readFileSync(BONUS, "utf8")
    .split(/;[ \t]*\r?\n/)
    .map((s) =>
      s
        .split("\n")
        .filter((line) => !line.trim().startsWith("--"))
        .join("\n")
        .trim(),
    )
    .filter((s) => s !== "");
}

type Answers = {
  latest: { datasource: string; region: string; trip_time: string; among_regions: string }[];
  perRegion: { region: string; trips: number; datasource: string; latest_trip_time: string }[];
  cheapMobile: { region: string }[];
};

/** Runs bonus.sql statement by statement; timestamps come back as the text PostgreSQL prints. */
async function answers(url: string): Promise<Answers> {
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === 1114 ? (v: string) => v : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  await client.connect();
  try {
    const stmts = statements();
    expect(stmts).toHaveLength(4);
    const results = [];
    for (const s of stmts) results.push((await client.query(s)).rows);
    const [, latest, perRegion, cheapMobile] = results;
    return { latest: latest!, perRegion: perRegion!, cheapMobile: cheapMobile! };
  } finally {
    await client.end();
  }
}

type CsvTrip = { line: number; region: string; datetime: string; datasource: string };

/** The sample parsed with plain string splitting (it has no quoted fields), independent of the pipeline. */
function sampleTrips(): CsvTrip[] {
  const [header, ...lines] = readFileSync(SAMPLE, "utf8").trimEnd().split("\n");
  const cols = header!.split(",");
  return lines.map((text, i) => {
    const f = text.split(",");
    expect(f).toHaveLength(cols.length);
    const get = (name: string) => f[cols.indexOf(name)]!.trim();
    return { line: i + 2, region: get("region"), datetime: get("datetime"), datasource: get("datasource") };
  });
}

/** The same readings and tie-breaks as bonus.sql, computed in TypeScript. */
function expectedFromCsv(trips: CsvTrip[]) {
  const counts = new Map<string, number>();
  for (const t of trips) counts.set(t.region, (counts.get(t.region) ?? 0) + 1);
  const top = [...counts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0)).slice(0, 2);
  const latestFirst = (a: CsvTrip, b: CsvTrip) =>
    a.datetime !== b.datetime
      ? a.datetime > b.datetime
        ? -1
        : 1
      : a.datasource !== b.datasource
        ? a.datasource < b.datasource
          ? -1
          : 1
        : a.line - b.line;
  const inTop = trips.filter((t) => top.some(([r]) => r === t.region)).sort(latestFirst);
  return {
    top,
    latest: inTop[0]!,
    perRegion: top.map(([region, n]) => ({
      region,
      n,
      trip: trips.filter((t) => t.region === region).sort(latestFirst)[0]!,
    })),
    cheapMobile: [...new Set(trips.filter((t) => t.datasource === "cheap_mobile").map((t) => t.region))].sort(),
  };
}

describe("bonus.sql on the sample file", () => {
  let db: TestDatabase;
  let tf: Started;
  let got: Answers;

  beforeAll(async () => {
    db = await createTestDatabase();
    tf = await startTestServices(db.url);
    const res = await fetch(`${tf.baseUrl}/events`);
    const sse = readSse(res.body!);
    try {
      await dropFile(tf.landing, SAMPLE, "trips.csv");
      await sse.waitFor((f) => f.event === "file.archived");
    } finally {
      await sse.close();
    }
    got = await answers(db.url);
  });

  afterAll(async () => {
    await tf?.stop();
    await db?.drop();
  });

  it("loaded all 100 trips", async () => {
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM silver.trips");
    expect(rows[0].n).toBe(100);
  });

  it("Q1: of the two most common regions (Turin 38, Prague 34) the latest trip is Turin's, from pt_search_app", () => {
    // Facts of the sample, checked by hand: Hamburg's 2018-05-31 11:59:33 (baba_car) is later but
    // Hamburg (28 trips) is not among the two.
    expect(got.latest).toEqual([
      {
        datasource: "pt_search_app",
        region: "Turin",
        trip_time: "2018-05-31 06:20:59",
        among_regions: "Turin (38 trips), Prague (34 trips)",
      },
    ]);
    const e = expectedFromCsv(sampleTrips());
    expect(e.top).toEqual([
      ["Turin", 38],
      ["Prague", 34],
    ]);
    expect(got.latest[0]).toMatchObject({
      datasource: e.latest.datasource,
      region: e.latest.region,
      trip_time: e.latest.datetime,
    });
  });

  it("Q1 per region: Turin's latest trip is pt_search_app, Prague's cheap_mobile", () => {
    expect(got.perRegion).toEqual([
      { region: "Turin", trips: 38, datasource: "pt_search_app", latest_trip_time: "2018-05-31 06:20:59" },
      { region: "Prague", trips: 34, datasource: "cheap_mobile", latest_trip_time: "2018-05-29 12:44:02" },
    ]);
    const e = expectedFromCsv(sampleTrips());
    expect(got.perRegion).toEqual(
      e.perRegion.map((p) => ({
        region: p.region,
        trips: p.n,
        datasource: p.trip.datasource,
        latest_trip_time: p.trip.datetime,
      })),
    );
  });

  it("Q2: cheap_mobile appears in Hamburg, Prague and Turin", () => {
    expect(got.cheapMobile).toEqual([{ region: "Hamburg" }, { region: "Prague" }, { region: "Turin" }]);
    expect(got.cheapMobile.map((r) => r.region)).toEqual(expectedFromCsv(sampleTrips()).cheapMobile);
  });

  it("runs as a whole with psql -f", () => {
    const out = execFileSync(
      "psql",
      ["-X", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "|", "-d", db.url, "-f", BONUS],
      { encoding: "utf8" },
    );
    expect(out.trim().split("\n")).toEqual([
      "CREATE VIEW",
      "pt_search_app|Turin|2018-05-31 06:20:59|Turin (38 trips), Prague (34 trips)",
      "Turin|38|pt_search_app|2018-05-31 06:20:59",
      "Prague|34|cheap_mobile|2018-05-29 12:44:02",
      "Hamburg",
      "Prague",
      "Turin",
    ]);
  });
});

describe("bonus.sql tie-breaks, on hand-made trips", () => {
  let db: TestDatabase;
  let got: Answers;
  const o = "POINT (7.6 45.0)";
  const d = "POINT (7.7 45.1)";

  beforeAll(async () => {
    db = await createTestDatabase();
    // Three regions with two trips each: the two taken are Aachen and Bonn, by name. Cologne's trips
    // are the latest of all and must not count. Four trips share the latest time of Aachen and Bonn:
    // datasource alpha wins over beta and zeta by name, then line 3 (Bonn) over line 5 (Aachen).
    const p = await bronzeChunk(db.pool, [
      ["Bonn", o, d, "2018-06-01 10:00:00", "beta"], // line 2
      ["Bonn", o, d, "2018-06-01 10:00:00", "alpha"], // line 3
      ["Aachen", o, d, "2018-06-01 10:00:00", "zeta"], // line 4
      ["Aachen", o, d, "2018-06-01 10:00:00", "alpha"], // line 5
      ["Cologne", o, d, "2018-07-01 00:00:00", "gamma"], // line 6
      ["Cologne", o, d, "2018-07-02 00:00:00", "cheap_mobile"], // line 7
    ]);
    expect(await promoteSilverChunk(db.pool, p)).toMatchObject({ applied: true, stored: 6, rejected: 0 });
    expect(await mergeGroupsChunk(db.pool, p)).toMatchObject({ applied: true });
    expect(await mergeGoldChunk(db.pool, p)).toMatchObject({ applied: true });
    got = await answers(db.url);
  });

  afterAll(async () => db?.drop());

  it("Q1 takes equal-count regions by name and equal-time trips by datasource, then line", () => {
    expect(got.latest).toEqual([
      {
        datasource: "alpha",
        region: "Bonn",
        trip_time: "2018-06-01 10:00:00",
        among_regions: "Aachen (2 trips), Bonn (2 trips)",
      },
    ]);
    expect(got.perRegion).toEqual([
      { region: "Aachen", trips: 2, datasource: "alpha", latest_trip_time: "2018-06-01 10:00:00" },
      { region: "Bonn", trips: 2, datasource: "alpha", latest_trip_time: "2018-06-01 10:00:00" },
    ]);
  });

  it("Q2 lists only the regions with a cheap_mobile trip", () => {
    expect(got.cheapMobile).toEqual([{ region: "Cologne" }]);
  });
});
