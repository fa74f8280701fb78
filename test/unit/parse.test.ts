import { describe, expect, it } from "vitest";
import {
  bronzeRow,
  CopyBuffer,
  lineReader,
  NAME_MAX_CHARS,
  parsePoint,
  parseTime,
  patternPoint,
  patternTime,
} from "../../pipeline/bronze/parse.ts";
import { picker, rng } from "../helpers/random.ts";

describe("pipeline/bronze/parse.ts: reading a data line", () => {
  it("reads the WKT point variants real exports contain and refuses the rest", () => {
    const cases: [string, number[] | null][] = [
      ["POINT (14.4973794438195 50.00136875782316)", [14.4973794438195, 50.00136875782316]],
      ["point(1 2)", [1, 2]],
      ["  POINT ( -7.5   -45.25 ) ", [-7.5, -45.25]],
      ["POINT (+7.5 +1e+1)", [7.5, 10]],
      ["POINT (1e-5 -2.5E1)", [0.00001, -25]],
      ["POINT (007. .5)", [7, 0.5]],
      ["POINT (1 2 3)", null],
      ["POINT (NaN 2)", null],
      ["POINT (1e400 2)", null],
      ["POINT (1234 2)", null],
      ["POINT (Infinity 2)", null],
      ["LINESTRING (1 2, 3 4)", null],
      ["", null],
    ];
    for (const [wkt, expected] of cases) {
      const p = parsePoint(wkt);
      expect(p && [p.lon, p.lat], wkt).toEqual(expected);
      // What goes to COPY is the number as written: PostgreSQL's float8 input reads the same double.
      if (p) expect([Number(p.lonText), Number(p.latText)], wkt).toEqual(expected);
    }
  });

  it("keeps the written time and refuses impossible dates", () => {
    const cases: [string, string | null][] = [
      ["2018-05-28 09:03:40", "2018-05-28 09:03:40"],
      ["2020-02-29T23:59:59.5", "2020-02-29 23:59:59.5"],
      [" 2018-05-28 09:03 ", "2018-05-28 09:03:00"],
      ["2000-02-29 00:00:00", "2000-02-29 00:00:00"],
      ["2018-04-30 12:00:00", "2018-04-30 12:00:00"],
      ["2018-12-31 12:00:00", "2018-12-31 12:00:00"],
      ["2018-04-31 12:00:00", null],
      ["1900-02-29 10:00:00", null],
      ["2021-02-29 10:00:00", null],
      ["2018-13-01 10:00:00", null],
      ["2018-05-28 24:00:00", null],
      ["0000-01-01 00:00:00", null],
      ["28/05/2018 09:03", null],
      ["2018-05-28 09:03:40.1234567", null],
    ];
    for (const [text, expected] of cases) expect(parseTime(text), text).toBe(expected);
  });

  it("reads the usual forms by scanning exactly as the patterns read them (random points and times)", () => {
    // parsePoint and parseTime read 'POINT (d.ddd d.ddd)' and 'YYYY-MM-DD HH:MM:SS' without their
    // pattern; every text here, usual or nearly so, must give what the pattern alone gives.
    const random = rng(42);
    const pick = picker(random);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join("");
    const number = () =>
      pick(["", "-", "+", "--"]) +
      digits(pick([0, 1, 2, 3, 3, 4])) +
      pick(["", ".", `.${digits(pick([1, 6, 9, 15, 17, 22, 25]))}`, "e1"]);
    const points = Array.from(
      { length: 20_000 },
      () =>
        pick(["POINT (", "POINT (", "point (", "POINT(", "POINT  ("]) +
        number() +
        pick([" ", " ", "  ", ""]) +
        number() +
        pick([")", ")", ") ", "", "))"]),
    );
    points.push("POINT (-0 -0.0)", "POINT (9007199254740993 1)", "POINT (180.00000000000000000001 0)");
    for (const text of points) {
      const read = parsePoint(text);
      const expected = patternPoint(text);
      expect(read && [Object.is(read.lon, -0) ? "-0" : read.lon, read.lat, read.lonText, read.latText], text).toEqual(
        expected && [
          Object.is(expected.lon, -0) ? "-0" : expected.lon,
          expected.lat,
          expected.lonText,
          expected.latText,
        ],
      );
    }
    const two = (max: number) => String(Math.floor(random() * (max + 1))).padStart(2, "0");
    const times = Array.from(
      { length: 20_000 },
      () =>
        `${pick(["0000", "0001", "1900", "2000", "2019", "2020", "2100", "9999", "20x9"])}-${two(13)}-${two(32)}` +
        `${pick([" ", " ", "T", "  "])}${two(24)}:${two(60)}:${two(60)}${pick(["", "", ".5", "x"])}`,
    );
    for (const text of times) expect(parseTime(text), text).toBe(patternTime(text));
  });

  it("reads usual lines in one pass exactly as the general reader reads them (random lines)", () => {
    const columns = ["region", "origin_coord", "destination_coord", "datetime", "datasource"] as const;
    const fast = lineReader(columns);
    const general = lineReader(columns, { plain: false });
    const random = rng(7);
    const pick = picker(random);
    const name = () =>
      pick([
        "Turin",
        "Prague",
        " Turin",
        "Turin ",
        "",
        "a".repeat(100),
        "b".repeat(101),
        "Zürich",
        "x\ty",
        '"q"',
        "a,b",
      ]);
    const point = () =>
      pick(["POINT (", "POINT (", "point (", "POINT("]) +
      pick(["7.6", "-180", "180.0000001", "14.42", "500", "-0.5", "1e1"]) +
      " " +
      pick(["45.07", "-90", "90.5", "50.08", "-33.4", "0"]) +
      pick([")", ")", ") "]);
    const time = () =>
      pick([
        "2019-03-04 08:05:00",
        "2019-03-04 08:05:00",
        "2019-02-29 08:05:00",
        "2019-03-04T08:05:00",
        "2019-03-04 08:05",
      ]);
    for (let i = 0; i < 20_000; i++) {
      const fields = [name(), point(), point(), time(), name()];
      if (random() < 0.05) fields.push("extra");
      if (random() < 0.05) fields.pop();
      const line = fields.join(",");
      expect(fast.parse(line), line).toEqual(general.parse(line));
    }
  });

  it("splits with CSV quoting, in the header's column order, and names the first problem", () => {
    const r = lineReader(["datetime", "region", "origin_coord", "destination_coord", "datasource"]);
    expect(r.parse('2018-05-28 09:03:40, Turin ,"POINT (7.6 45.0)",POINT (7.7 45.1),cheap_mobile')).toEqual({
      region: "Turin",
      datasource: "cheap_mobile",
      origin: { lon: 7.6, lat: 45, lonText: "7.6", latText: "45.0" },
      destination: { lon: 7.7, lat: 45.1, lonText: "7.7", latText: "45.1" },
      time: "2018-05-28 09:03:40",
    });
    const reason = (line: string) => (r.parse(line) as { reason: string }).reason;
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 45.0),POINT (7.7 45.1)")).toBe(
      "wrong number of fields: expected 5, found 4",
    );
    expect(reason('2018-05-28 09:03:40,"Turin,POINT (7.6 45.0),POINT (7.7 45.1),x')).toMatch(
      /^unparseable CSV line: unterminated quoted field/,
    );
    expect(reason("2018-05-28 09:03:40,  ,POINT (7.6 45.0),POINT (7.7 45.1),x")).toBe("empty region");
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 45.0),POINT (7.7 45.1),")).toBe("empty datasource");
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 95.0),POINT (7.7 45.1),x")).toBe(
      "origin latitude 95 outside -90..90",
    );
    expect(reason("2018-05-28 09:03:40,Turin,POINT (914.4 45.0),POINT (7.7 45.1),x")).toBe(
      "origin longitude 914.4 outside -180..180",
    );
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 45.0),POINT (-181 45.1),x")).toBe(
      "destination longitude -181 outside -180..180",
    );
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 45.0),POINT (7.7 -90.5),x")).toBe(
      "destination latitude -90.5 outside -90..90",
    );
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6,POINT (7.7 45.1),x")).toBe(
      "unparseable origin point 'POINT (7.6' (expected POINT (lon lat))",
    );
    expect(reason("2018-05-28 09:03:40,Turin,it's here,POINT (7.7 45.1),x")).toBe(
      "unparseable origin point 'it''s here' (expected POINT (lon lat))",
    );
    expect(reason("2018-05-28 09:03:40,Turin,POINT (7.6 45.0),POINT(7.7),x")).toBe(
      "unparseable destination point 'POINT(7.7)' (expected POINT (lon lat))",
    );
    expect(reason("2018-02-30 09:03:40,Turin,POINT (7.6 45.0),POINT (7.7 45.1),x")).toBe(
      "unparseable or impossible datetime '2018-02-30 09:03:40' (expected YYYY-MM-DD HH:MM:SS)",
    );
    // The order of the checks: the region is named before a bad point.
    expect(reason("2018-02-30 09:03:40,,POINT (7.6 95.0),POINT (7.7 45.1),x")).toBe("empty region");
  });

  it("refuses a region or datasource longer than NAME_MAX_CHARS code points, after trimming", () => {
    expect(NAME_MAX_CHARS).toBe(100);
    const r = lineReader(["region", "origin_coord", "destination_coord", "datetime", "datasource"]);
    const line = (region: string, datasource: string, origin = "POINT (7.6 45.0)") =>
      `${region},${origin},POINT (7.7 45.1),2018-05-28 09:03:40,${datasource}`;
    const reason = (l: string) => {
      const p = r.parse(l);
      return "reason" in p ? p.reason : null;
    };
    const x100 = "x".repeat(100);
    const x101 = "x".repeat(101);

    expect(r.parse(line(x100, x100))).toMatchObject({ region: x100, datasource: x100 });
    expect(r.parse(line(`  ${x100}  `, x100))).toMatchObject({ region: x100 }); // the spaces around do not count
    expect(reason(line(x101, "ds"))).toBe("region longer than 100 characters (101)");
    expect(reason(line("Turin", x101))).toBe("datasource longer than 100 characters (101)");
    expect(reason(line("x".repeat(3000), "ds"))).toBe("region longer than 100 characters (3000)");

    // Counted in code points: 100 emoji are 200 UTF-16 units (and 400 bytes) and pass; 101 do not.
    const taxis = "🚕".repeat(100);
    expect(taxis.length).toBe(200);
    expect(r.parse(line(taxis, `é${"ü".repeat(99)}`))).toMatchObject({
      region: taxis,
      datasource: `é${"ü".repeat(99)}`,
    });
    expect(reason(line("🚕".repeat(101), "ds"))).toBe("region longer than 100 characters (101)");
    expect(reason(line("Turin", `東京${"🚕".repeat(99)}`))).toBe("datasource longer than 100 characters (101)");

    // The order of the checks: empty region, region too long, empty datasource, datasource too long, points.
    expect(reason(line("", x101))).toBe("empty region");
    expect(reason(line(x101, ""))).toBe("region longer than 100 characters (101)");
    expect(reason(line("Turin", x101, "POINT (914.4 45.0)"))).toBe("datasource longer than 100 characters (101)");
    expect(reason(line(x101, x101, "nowhere"))).toBe("region longer than 100 characters (101)");

    // A 10 MB name is read in linear time (trimming included: a long run of inner spaces once took hours).
    const started = performance.now();
    expect(reason(line(`x${" ".repeat(10_000_000)}x `, "ds"))).toBe("region longer than 100 characters (10000002)");
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("writes one COPY text row per data line: a trip's fields, or the line as written and its reason", () => {
    const r = lineReader(["region", "origin_coord", "destination_coord", "datetime", "datasource"]);
    expect(bronzeRow(r, "Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-28 09:03:40,cheap_mobile\r", 7)).toBe(
      "7\tTurin\tcheap_mobile\t7.6\t45.0\t7.7\t45.1\t2018-05-28 09:03:40\t\\N\t\\N\n",
    );
    expect(bronzeRow(r, "Tu\\rin\t,x", 8)).toBe(
      "8\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\tTu\\\\rin\\t,x\twrong number of fields: expected 5, found 2\n",
    );
    expect(bronzeRow(r, "   \r", 9)).toBeNull();
    expect(bronzeRow(r, "", 10)).toBeNull();
  });

  it("gathers COPY rows into buffers whose pieces are never written again, whatever the characters", () => {
    const out = new CopyBuffer(64);
    const rows = ["a\tb\n", "Zürich 東京 🚕\n", `${"x".repeat(100)}\n`, "end\n"];
    const first = out.take();
    expect(first).toEqual([]);
    out.add(rows[0]!);
    const piece = out.take();
    const before = Buffer.concat(piece).toString();
    for (const r of rows.slice(1)) out.add(r); // fills the 64-byte buffer and overflows into new ones
    const rest = out.take();
    expect(Buffer.concat(piece).toString()).toBe(before); // the first piece was not overwritten
    expect(Buffer.concat([...piece, ...rest]).toString()).toBe(rows.join(""));
    expect(out.take()).toEqual([]);
  });
});
