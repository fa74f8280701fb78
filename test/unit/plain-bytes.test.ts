import { describe, expect, it } from "vitest";
import { LineSource } from "../../pipeline/bronze/line_source.ts";
import { lineReader } from "../../pipeline/bronze/parse.ts";
import { PlainBytes } from "../../pipeline/bronze/plain_bytes.ts";
import { Dimensions, SilverRows, segmentBytes, segmentLine } from "../../pipeline/bronze/silver_rows.ts";
import { picker, rng } from "../helpers/random.ts";

const COLUMNS = ["region", "origin_coord", "destination_coord", "datetime", "datasource"] as const;

/** Dimensions that know every name (ids from a counter), so that no database is needed. */
function knownDimensions(): Dimensions {
  const dimensions = new Dimensions(null as never);
  const ids = { regions: new Map<string, number>(), datasources: new Map<string, number>() };
  dimensions.cached = (table, name) => {
    if (!ids[table].has(name)) ids[table].set(name, ids[table].size + 1);
    return ids[table].get(name);
  };
  return dimensions;
}

/** The silver row (binary COPY) that one reader writes for a line. */
function written(read: (out: SilverRows) => unknown) {
  const out = new SilverRows();
  const result = read(out);
  return { result, bytes: Buffer.concat(out.take()).toString("hex") };
}

/** What SilverRows holds with no row: the binary COPY header. */
const HEADER_ONLY = written(() => undefined).bytes;

describe("pipeline/bronze/plain_bytes.ts: a usual line read from its bytes", () => {
  it("writes the same silver row as the text reader for every line it takes, and takes the usual ones (random lines)", () => {
    const random = rng(11);
    const pick = picker(random);
    const name = () =>
      pick([
        "Turin",
        "Prague",
        "Prague",
        " Turin",
        "Turin ",
        "",
        "a".repeat(100),
        "é".repeat(51),
        "Zürich",
        "x\ty",
        '"q"',
      ]);
    const number = (intDigits: number) =>
      (random() < 0.3 ? "-" : "") +
      String(Math.floor(random() * 10 ** intDigits)) +
      pick(["", ".", `.${String(Math.floor(random() * 1e9))}`, ".12345678901234567890123", ".5"]);
    const point = () =>
      pick(["POINT (", "POINT (", "POINT (", "point (", "POINT(", "POINT  ("]) +
      pick([number(1), number(2), number(3), number(4), "1e1", "180.0000001", "-180"]) +
      pick([" ", " ", " ", "  "]) +
      pick([number(1), number(2), "90.5", "-90"]) +
      pick([")", ")", ")", ") "]);
    const time = () =>
      pick([
        `${String(1 + Math.floor(random() * 9999)).padStart(4, "0")}-${String(1 + Math.floor(random() * 12)).padStart(2, "0")}-${String(1 + Math.floor(random() * 31)).padStart(2, "0")} ${String(Math.floor(random() * 25)).padStart(2, "0")}:${String(Math.floor(random() * 61)).padStart(2, "0")}:${String(Math.floor(random() * 61)).padStart(2, "0")}`,
        "2020-02-29 23:59:59",
        "2019-02-29 08:05:00",
        "2019-03-04T08:05:00",
        "2019-03-04 08:05",
        "0000-01-01 00:00:00",
      ]);
    const usualPoint = () => `POINT (${number(2)} ${number(1)})`;
    const reader = lineReader(COLUMNS);
    const dimensions = knownDimensions();
    const plain = new PlainBytes();
    let taken = 0;
    let usual = 0;
    for (let i = 0; i < 30_000; i++) {
      const usualLine = random() < 0.5;
      const fields = usualLine
        ? [pick(["Turin", "Zürich"]), usualPoint(), usualPoint(), "2020-02-29 23:59:59", "cheap_mobile"]
        : [name(), point(), point(), time(), name()];
      if (!usualLine && random() < 0.03) fields.push("extra");
      if (!usualLine && random() < 0.03) fields.pop();
      const line = fields.join(",") + pick(["", "", "\r"]);
      if (usualLine) usual++;
      // The line between other bytes: nothing outside [from, to) may count.
      const before = pick(["", "a,b,\n", '"x",POINT (1 2)\n']);
      const buf = Buffer.from(before + line + pick(["", "\n", ',"x"\n']));
      const from = Buffer.byteLength(before);
      const to = from + Buffer.byteLength(line);
      const text = written((out) => segmentLine(reader, dimensions, out, 7, line, 42));
      const bytes = written((out) => segmentBytes(plain, dimensions, out, 7, buf, from, to, 42));
      if (bytes.result === undefined) {
        expect(usualLine, `a usual line not taken: ${line}`).toBe(false);
        expect(bytes.bytes, line).toBe(HEADER_ONLY);
        continue;
      }
      taken++;
      expect(bytes.result, line).toBe("trip");
      expect(text.result, line).toBe("trip");
      expect(bytes.bytes, line).toBe(text.bytes);
    }
    expect(usual).toBeGreaterThan(10_000);
    expect(taken).toBeGreaterThan(usual); // some random lines are of the usual form too
  });

  it("refuses what the text reader would refuse or read otherwise, leaving it to that reader", () => {
    const plain = new PlainBytes();
    const ok = "Prague,POINT (14.4 50.1),POINT (14.5 50.0),2018-05-28 09:03:40,cheap_mobile";
    expect(plain.read(Buffer.from(ok), 0, ok.length)).toBe(true);
    expect([plain.originLon, plain.originLat, plain.destinationLon, plain.destinationLat]).toEqual([
      14.4, 50.1, 14.5, 50,
    ]);
    expect([plain.minute, plain.second]).toEqual([9 * 60 + 3, 40]);
    for (const line of [
      ok.replace("Prague", ""),
      ok.replace("Prague", "Prague "),
      ok.replace("cheap_mobile", "cheap,mobile"),
      ok.replace("cheap_mobile", '"cheap_mobile"'),
      ok.replace("14.4 50.1", "14.4 90.1"),
      ok.replace("14.5", "1000.5"),
      ok.replace("2018-05-28", "2018-02-29"),
      ok.replace("09:03:40", "24:03:40"),
      ok.replace("09:03:40", "09:03:40.5"),
      "",
      "   ",
    ])
      expect(plain.read(Buffer.from(line), 0, Buffer.byteLength(line)), line).toBe(false);
  });

  it("reads only the line it is given: a long run of lines without a comma stays linear", () => {
    // 200,000 lines with no comma in one buffer: a search for a comma past each line's end would read
    // the rest of the buffer every time (about 10^11 bytes here); within the line, 1.2 MB in all.
    const buf = Buffer.from("hello\n".repeat(200_000));
    const plain = new PlainBytes();
    const started = performance.now();
    let taken = 0;
    for (let from = 0; from < buf.length; from += 6) if (plain.read(buf, from, from + 5)) taken++;
    expect(taken).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("pipeline/bronze/line_source.ts: lines of a byte stream", () => {
  it("hands out the same lines and offsets as splitting the whole text, however the reads cut it", async () => {
    const random = rng(5);
    for (let round = 0; round < 200; round++) {
      const parts = Array.from(
        { length: Math.floor(random() * 40) },
        () => ["Zürich,1", "", "a\r", "€€€,𝄞", "x".repeat(Math.floor(random() * 300))][Math.floor(random() * 5)]!,
      );
      const text = parts.join("\n") + (random() < 0.5 ? "\n" : "");
      const bytes = Buffer.from(text);
      const reads: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(random() * 70);
        reads.push(bytes.subarray(at, at + n));
        at += n;
      }
      const source = new LineSource(
        (async function* () {
          yield* reads;
        })(),
        1000,
      );
      const got: string[] = [];
      const positions: number[] = [];
      for (;;) {
        const lines = await source.next(1 + Math.floor(random() * 5));
        if (lines === null) break;
        got.push(...lines);
        positions.push(source.position);
      }
      const expected = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
      expect(got, JSON.stringify(text)).toEqual(text === "" ? [] : expected);
      expect(positions.at(-1) ?? 1000).toBe(1000 + bytes.length);
      expect(await source.atEnd()).toBe(true);
    }
  });

  it("joins a line longer than many reads once (linear in its length)", async () => {
    // A 16 MiB line in 1 KiB reads: joining the cut line with each read would copy about 128 GB.
    const line = Buffer.alloc(16 * 2 ** 20, 0x61);
    const reads = Array.from({ length: line.length / 1024 }, (_, k) => line.subarray(k * 1024, (k + 1) * 1024));
    const source = new LineSource(
      (async function* () {
        yield* reads;
        yield Buffer.from("\nb\n");
      })(),
      0,
    );
    const started = performance.now();
    const first = await source.nextBytes(1);
    expect(first!.bounds[1]! - first!.bounds[0]!).toBe(line.length);
    expect(await source.next(10)).toEqual(["b"]);
    expect(source.position).toBe(line.length + 3);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
