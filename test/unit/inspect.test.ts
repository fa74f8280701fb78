import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { inspectFile } from "../../pipeline/landing/inspect.ts";
import { isCandidate } from "../../pipeline/landing/watcher.ts";

async function file(content: string | Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tripflow-inspect-"));
  const path = join(dir, "f.csv");
  await writeFile(path, content);
  return path;
}

const HEADER = "region,origin_coord,destination_coord,datetime,datasource";

describe("inspectFile", () => {
  it("hashes the file and maps the header's columns in file order, after a BOM and with spaces", async () => {
    const text = `\uFEFF Datasource , region,origin_coord,destination_coord,datetime\r\nx,Prague,"POINT (1 2)","POINT (3 4)",2018-01-01 00:00:00\r\n`;
    const r = await inspectFile(await file(text));
    expect(r.problem).toBeNull();
    expect(r.columns).toEqual(["datasource", "region", "origin_coord", "destination_coord", "datetime"]);
    expect(r.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(r.headerBytes).toBe(Buffer.byteLength(text.split("\n")[0]!) + 1);
  });

  it("refuses empty files, wrong headers, binary data, bad UTF-8 and unterminated quotes, saying why", async () => {
    expect((await inspectFile(await file(""))).problem).toMatch(/empty/);
    expect((await inspectFile(await file("a,b,c\n1,2,3\n"))).problem).toMatch(
      /wrong header \(missing region, origin_coord.*unexpected "a"/,
    );
    expect((await inspectFile(await file(`${HEADER}\nx\u0000y\n`))).problem).toMatch(/binary data .* line 2/);
    expect(
      (
        await inspectFile(
          await file(Buffer.concat([Buffer.from(`${HEADER}\nD`), Buffer.from([0xfc]), Buffer.from("sseldorf\n")])),
        )
      ).problem,
    ).toMatch(/not valid UTF-8 near line 2/);
    expect((await inspectFile(await file(`${HEADER}\n"Prague,a,b,c,d\n`))).problem).toMatch(
      /unterminated quoted field/,
    );
    // old Mac line endings: read as one line, the file would hold no data at all
    const cr = `${HEADER}\rPrague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-28 09:03:40,x\r`;
    expect((await inspectFile(await file(cr))).problem).toMatch(/^lines end with a carriage return alone/);
    expect((await inspectFile(await file(`${HEADER}\r${"x".repeat(70_000)}\r`))).problem).toMatch(
      /^lines end with a carriage return alone/,
    );
    expect((await inspectFile(await file(`${HEADER}\r\n`))).problem).toBeNull(); // CRLF is fine
  });

  it("checks UTF-8 across its 1 MiB reads: a character cut by a read's end is whole with the next", async () => {
    // The file is read in 1 MiB pieces; put each kind of character (2, 3, 4 bytes) across the first
    // boundary at every offset, then a bad byte there, then a character cut off by the file's end.
    const READ = 1 << 20;
    const around = (middle: Buffer, offset: number) => {
      const head = Buffer.from(`${HEADER}\n`);
      const fill = Buffer.alloc(READ - offset - head.length, "x");
      return Buffer.concat([head, fill, middle, Buffer.from("\nrest\n")]);
    };
    for (const ch of ["é", "東", "😀"]) {
      const bytes = Buffer.from(ch);
      for (let offset = 1; offset < bytes.length; offset++)
        expect((await inspectFile(await file(around(bytes, offset)))).problem).toBeNull();
    }
    const bad = await inspectFile(await file(around(Buffer.from([0xe6, 0x9d, 0x41]), 1)));
    expect(bad.problem).toMatch(/not valid UTF-8 near line 2/);
    expect(
      (await inspectFile(await file(Buffer.concat([Buffer.from(`${HEADER}\nx`), Buffer.from([0xe6, 0x9d])])))).problem,
    ).toMatch(/truncated character/);
  });

  it("accepts a header-only file", async () => {
    const r = await inspectFile(await file(`${HEADER}\n`));
    expect(r.problem).toBeNull();
    expect(r.columns).toHaveLength(5);
  });
});

describe("isCandidate", () => {
  it("takes csv files, not temporary or hidden ones", () => {
    expect(["trips.csv", "TRIPS.CSV", "a.b.csv"].map(isCandidate)).toEqual([true, true, true]);
    expect([".trips.csv", "trips.csv.tmp", "trips.tmp", "trips.txt", ".x.csv.tmp"].map(isCandidate)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
