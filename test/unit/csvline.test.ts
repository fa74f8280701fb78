import { describe, expect, it } from "vitest";
import { copyText, splitCsvLine } from "../../pipeline/bronze/csvline.ts";

describe("splitCsvLine", () => {
  it("splits plain and quoted fields", () => {
    expect(splitCsvLine("a,b,,c")).toEqual({ fields: ["a", "b", "", "c"] });
    expect(splitCsvLine('Prague,"POINT (1 2)","say ""hi""", x')).toEqual({
      fields: ["Prague", "POINT (1 2)", 'say "hi"', " x"],
    });
    expect(splitCsvLine(' "a" ,b')).toEqual({ fields: ["a", "b"] });
  });
  it("explains what is wrong with a broken line", () => {
    expect(splitCsvLine('a,"b')).toEqual({ error: "unterminated quoted field starting at character 3" });
    expect(splitCsvLine('a,b"c')).toEqual({ error: "a quote inside an unquoted field at character 4" });
    expect(splitCsvLine('"a"x,b')).toEqual({ error: "unexpected text after the closing quote at character 4" });
  });
});

describe("copyText", () => {
  it("escapes what COPY's text format would misread", () => {
    expect(copyText("a\\b\tc\nd\re")).toBe("a\\\\b\\tc\\nd\\re");
    expect(copyText(null)).toBe("\\N");
  });
});
