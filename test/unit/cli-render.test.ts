import { describe, expect, it } from "vitest";
import { UsageError } from "../../pipeline/cli/args.ts";
import {
  barLength,
  byMonth,
  isoWeekLabel,
  renderChart,
  renderStats,
  type WeeklyAverage,
} from "../../pipeline/cli/chart.ts";
import { formatAverage, formatBytes, formatCount, formatDuration, formatEta } from "../../pipeline/cli/format.ts";
import { serviceUrl } from "../../pipeline/cli/http.ts";
import { FileProgress, rateOf } from "../../pipeline/cli/progress.ts";
import {
  fitToWidth,
  progressBar,
  renderOutcomeLine,
  renderProgressLine,
  renderSummary,
  type FileOutcome,
} from "../../pipeline/cli/render.ts";
import { SseParser, type AuditEventData } from "../../pipeline/cli/sse.ts";

describe("numbers", () => {
  it("formats ETAs short, and unknown ones as --", () => {
    expect([0, 4, 4.2, 59, 59.5, 65, 599, 3599, 3725, 99 * 3600].map(formatEta)).toEqual([
      "0s",
      "4s",
      "5s",
      "59s",
      "1m00s",
      "1m05s",
      "9m59s",
      "59m59s",
      "1h02m",
      "99h00m",
    ]);
    expect([undefined, NaN, Infinity, -1, 100 * 3600].map(formatEta)).toEqual(["--", "--", "--", "--", ">99h"]);
  });

  it("formats counts with three significant figures at most", () => {
    expect(
      [0, 7, 999, 1000, 1500, 12_345, 250_000, 999_499, 999_600, 1_234_567, 2_000_000, 3.4e9].map(formatCount),
    ).toEqual(["0", "7", "999", "1k", "1.5k", "12k", "250k", "999k", "1M", "1.2M", "2M", "3.4G"]);
  });

  it("formats bytes in powers of 1000", () => {
    expect([0, 999, 12_839, 1_500_000, 99_940_000, 200_610_303, 2e12].map(formatBytes)).toEqual([
      "0 B",
      "999 B",
      "12.8 kB",
      "1.5 MB",
      "99.9 MB",
      "201 MB",
      "2 TB",
    ]);
  });

  it("formats averages with at most two decimals", () => {
    expect([0, 7, 6.8, 34 / 3, 2386.6428, 1_234_567.25].map(formatAverage)).toEqual([
      "0",
      "7",
      "6.8",
      "11.33",
      "2,386.64",
      "1,234,567.25",
    ]);
  });

  it("formats durations", () => {
    expect([93, 999, 1234, 59_940, 75_000, 3_725_000].map(formatDuration)).toEqual([
      "0.09s",
      "1.00s",
      "1.2s",
      "59.9s",
      "1m15s",
      "1h02m",
    ]);
    expect(formatDuration(null)).toBe("-");
  });

  it("takes rates over about the last window of samples", () => {
    expect(rateOf([])).toBeUndefined();
    expect(rateOf([{ t: 0, value: 0 }])).toBeUndefined();
    expect(
      rateOf([
        { t: 5, value: 0 },
        { t: 5, value: 10 },
      ]),
    ).toBeUndefined();
    // from the newest sample at least 10 s old: t=2000 (value 100) to t=14000 (value 1300)
    const samples = [0, 2000, 8000, 12000, 14000].map((t) => ({ t, value: t / 10 }));
    samples[0]!.value = 5000; // outside the window: ignored
    expect(rateOf(samples)).toBe(100);
    expect(rateOf(samples, 3000)).toBe(100); // t=8000 .. 14000
  });
});

describe("the progress line", () => {
  it("draws a bar of the given width, clamped", () => {
    expect(progressBar(0.45, 10)).toBe("[####------]");
    expect(progressBar(0.5, 10)).toBe("[#####-----]");
    expect(progressBar(0, 4)).toBe("[----]");
    expect(progressBar(1, 4)).toBe("[####]");
    expect(progressBar(1.7, 4)).toBe("[####]");
    expect(progressBar(-1, 4)).toBe("[----]");
    expect(progressBar(NaN, 4)).toBe("[----]");
  });

  it("shows rows, rate and ETA while loading", () => {
    const line = renderProgressLine(
      { name: "trips.csv", stage: "load", fraction: 0.45, rows: 1_234_567, rate: 250_000, etaSeconds: 4, note: "#7" },
      10,
    );
    expect(line).toBe("trips.csv [####------]  45% load 1.2M rows 250k rows/s ETA 4s #7");
  });

  it("shows bytes while uploading, nothing unknown, and no ETA while queued", () => {
    expect(
      renderProgressLine({
        name: "t.csv",
        stage: "upload",
        fraction: 0.2,
        bytes: 2_400_000,
        rate: 120_000_000,
        etaSeconds: 0.08,
      }),
    ).toBe("t.csv [####----------------]  20% upload 2.4 MB 120 MB/s ETA 1s");
    expect(renderProgressLine({ name: "t.csv", stage: "upload", fraction: 0, bytes: 0 })).toBe(
      "t.csv [--------------------]   0% upload 0 B ETA --",
    );
    expect(renderProgressLine({ name: "t.csv", stage: "queued", fraction: 0, note: "#3" })).toBe(
      "t.csv [--------------------]   0% queued #3",
    );
  });

  it("fits a terminal without wrapping", () => {
    expect(fitToWidth("abcdefghijklmnop", 12)).toBe("abcdefghij…");
    expect(fitToWidth("abcdefghijk", 12)).toBe("abcdefghijk");
    expect(fitToWidth("abcdefghijklmnop", undefined)).toBe("abcdefghijklmnop");
  });
});

describe("FileProgress", () => {
  const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
  let id = 0;
  const event = (type: string, s: number, payload: Record<string, unknown> = {}): AuditEventData => ({
    id: ++id,
    ingestion_id: 7,
    type,
    stage: type.split(".")[0]!,
    payload,
    created_at: at(s),
  });

  it("follows a file from upload to completion", () => {
    const p = new FileProgress("big.csv", 100_000_000, 0);
    p.uploaded(50_000_000, 1000);
    expect(renderProgressLine(p.view())).toBe("big.csv [##########----------]  50% upload 50 MB 50 MB/s ETA 1s");
    p.uploaded(50_000_000, 2000);
    p.queued(7);
    expect(renderProgressLine(p.view())).toBe("big.csv [--------------------]   0% queued #7");

    expect(p.apply(event("ingestion.discovered", 0)).stageChanged).toBe(false);
    expect(
      p.apply(event("bronze.progress", 2, { rows: 500_000, bytes: 25_000_000, total_bytes: 100_000_000, chunks: 2 }))
        .stageChanged,
    ).toBe(true);
    // 25 MB in 2 s: 75 MB left at 12.5 MB/s
    expect(renderProgressLine(p.view())).toBe(
      "big.csv [#####---------------]  25% load 500k rows 250k rows/s ETA 6s #7",
    );
    p.apply(event("silver.promoted", 3, { chunk: 0, rows: 249_000, rejected: 1000 }));
    expect(
      p.apply(event("bronze.progress", 4, { rows: 1_000_000, bytes: 50_000_000, total_bytes: 100_000_000, chunks: 4 }))
        .stageChanged,
    ).toBe(false);
    expect(renderProgressLine(p.view())).toBe("big.csv [##########----------]  50% load 1M rows 250k rows/s ETA 4s #7");

    expect(p.apply(event("bronze.loaded", 8, { rows: 2_000_000, bytes: 100_000_000, chunks: 8 })).stageChanged).toBe(
      true,
    );
    expect(p.stage).toBe("transform");
    p.apply(event("silver.grouped", 9, { chunk: 0, groups: 1000 }));
    p.apply(event("gold.refreshed", 10, { chunk: 0 }));
    for (let chunk = 1; chunk < 4; chunk++)
      p.apply(event("silver.promoted", 10, { chunk, rows: 250_000, rejected: 0 }));
    // through silver: 4 chunks (1M rows), through gold: chunk 0 (250k rows); 1.25M of 4M row-steps in 10 s:
    // 62.5k rows/s, 2.75M row-steps left at 125k/s
    expect(renderProgressLine(p.view())).toBe(
      "big.csv [######--------------]  31% transform 250k rows 63k rows/s ETA 22s #7",
    );

    expect(
      p.apply(event("ingestion.completed", 30, { rows_loaded: 1_999_000, rows_rejected: 1000, duration_ms: 30_000 }))
        .stageChanged,
    ).toBe(true);
    expect(p.stage).toBe("done");
  });

  it("counts each chunk once through silver and once through the merges (groups and gold, in either order)", () => {
    const p = new FileProgress("f.csv", 10, 0);
    p.queued(1);
    p.apply(event("bronze.loaded", 1, { rows: 100, bytes: 10, chunks: 1 }));
    p.apply(event("silver.promoted", 2, { chunk: 0, rows: 90, rejected: 10 }));
    expect(renderProgressLine(p.view(), 10)).toBe("f.csv [#####-----]  50% transform 0 rows ETA -- #1");
    p.apply(event("gold.refreshed", 3, { chunk: 0 }));
    expect(p.goldRows).toBe(0); // its groups are not merged yet
    p.apply(event("gold.refreshed", 3, { chunk: 0 })); // the same chunk again changes nothing
    p.apply(event("silver.grouped", 3, { chunk: 0, groups: 40 }));
    expect([p.silverRows, p.goldRows]).toEqual([100, 100]);
    // 100 row-steps from t=2 to t=3: 50 rows/s through both
    expect(renderProgressLine(p.view(), 10)).toBe("f.csv [##########] 100% transform 100 rows 50 rows/s ETA 0s #1");
  });

  it("counts a large file's chunks through the merges at once when its segment is sealed", () => {
    const p = new FileProgress("big.csv", 10, 0);
    p.queued(2);
    p.apply(event("bronze.loaded", 1, { rows: 300, bytes: 10, chunks: 3 }));
    for (let chunk = 0; chunk < 3; chunk++) p.apply(event("silver.promoted", 2, { chunk, rows: 100, rejected: 0 }));
    expect([p.silverRows, p.goldRows]).toEqual([300, 0]);
    const sealed = event("silver.sealed", 3, {
      rows: 300,
      chunks: 3,
      gold_from_load: true,
      indexes_ms: 5,
      attach_ms: 5,
      ms: 10,
    });
    p.apply(sealed);
    expect([p.silverRows, p.goldRows]).toEqual([300, 300]);
    p.apply(sealed);
    expect(p.goldRows).toBe(300); // once
  });
});

describe("the accounting", () => {
  const outcomes: FileOutcome[] = [
    {
      file: "trips.csv",
      status: "completed",
      ingestionId: 1,
      rowsLoaded: 100,
      rowsRejected: 0,
      durationMs: 93,
      duplicateOf: null,
      error: null,
    },
    {
      file: "big.csv",
      status: "completed",
      ingestionId: 12,
      rowsLoaded: 1_999_000,
      rowsRejected: 1000,
      durationMs: 75_000,
      duplicateOf: null,
      error: null,
    },
    {
      file: "bad.csv",
      status: "failed",
      ingestionId: 13,
      rowsLoaded: 0,
      rowsRejected: 0,
      durationMs: 512,
      duplicateOf: null,
      error: "wrong header",
    },
    {
      file: "empty.csv",
      status: "failed",
      ingestionId: null,
      rowsLoaded: null,
      rowsRejected: null,
      durationMs: null,
      duplicateOf: null,
      error: "the file is empty",
    },
    {
      file: "again.csv",
      status: "skipped",
      ingestionId: 14,
      rowsLoaded: 0,
      rowsRejected: 0,
      durationMs: null,
      duplicateOf: 1,
      error: null,
    },
  ];

  it("prints one row per file and the totals", () => {
    expect(renderSummary(outcomes, 80_250)).toBe(
      [
        "FILE       STATUS     INGESTION     LOADED  REJECTED  DURATION  NOTE",
        "trips.csv  completed         #1        100         0     0.09s",
        "big.csv    completed        #12  1,999,000     1,000     1m15s",
        "bad.csv    failed           #13          0         0     0.51s  wrong header",
        "empty.csv  failed             -          -         -         -  the file is empty",
        "again.csv  skipped          #14          -         -         -  same content as #1",
        "5 files: 2 completed, 1 skipped, 2 failed; 1,999,100 rows loaded, 1,000 rejected; 1m20s",
      ].join("\n"),
    );
  });

  it("ends each file with one line", () => {
    expect(outcomes.map(renderOutcomeLine)).toEqual([
      "trips.csv [####################] 100% completed #1: 100 rows loaded, 0 rejected in 0.09s",
      "big.csv [####################] 100% completed #12: 1,999,000 rows loaded, 1,000 rejected in 1m15s",
      "bad.csv failed #13: wrong header",
      "empty.csv failed: the file is empty",
      "again.csv skipped #14: same content as #1",
    ]);
  });
});

describe("the weekly chart", () => {
  it("labels weeks the ISO way: the year of their Thursday", () => {
    expect(["2018-05-07", "2018-12-31", "2020-12-28", "2021-01-04", "2024-12-30"].map(isoWeekLabel)).toEqual([
      "2018-W19",
      "2019-W01",
      "2020-W53",
      "2021-W01",
      "2025-W01",
    ]);
  });

  it("scales bars to the largest count; a non-zero count always shows", () => {
    expect([0, 1, 49, 50, 100].map((c) => barLength(c, 100, 10))).toEqual([0, 1, 5, 5, 10]);
    expect(barLength(0, 0, 10)).toBe(0);
    const row = (label: string, value: number) => ({ label, value, text: value.toLocaleString("en-US") });
    expect(
      renderChart([row("2018-W19", 10), row("2018-W20", 5), row("2018-W21", 0), row("2018-W22", 1000)], 10, "#"),
    ).toBe(
      [
        "2018-W19  #" + " ".repeat(14) + "10",
        "2018-W20  #" + " ".repeat(15) + "5",
        "2018-W21" + " ".repeat(18) + "0",
        "2018-W22  ##########  1,000",
      ].join("\n"),
    );
    expect(
      renderChart(
        [
          { label: "a", value: 2, text: "2/w", extra: "x" },
          { label: "bb", value: 1, text: "1/w" },
        ],
        4,
        "#",
      ),
    ).toBe("a   ####  2/w  x\nbb  ##    1/w");
  });

  const answer = (series: { week: string; trips: number }[]): WeeklyAverage => ({
    region: "Prague",
    bbox: null,
    match: "origin",
    from: series[0]?.week ?? null,
    to: series.length ? new Date(Date.parse(series.at(-1)!.week) + 6 * 86_400_000).toISOString().slice(0, 10) : null,
    weeks: series.length,
    trips: series.reduce((s, w) => s + w.trips, 0),
    weekly_average: series.length ? series.reduce((s, w) => s + w.trips, 0) / series.length : 0,
    series,
  });

  it("prints the summary and one line per week", () => {
    const a = answer([
      { week: "2018-05-07", trips: 8 },
      { week: "2018-05-14", trips: 4 },
      { week: "2018-05-21", trips: 0 },
      { week: "2018-05-28", trips: 6 },
      { week: "2018-06-04", trips: 16 },
    ]);
    expect(renderStats(a, { width: 8 })).toBe(
      [
        "Weekly average of trips: region Prague",
        "  period          2018-05-07 .. 2018-06-10 (5 ISO weeks, Monday to Sunday)",
        "  weeks           5",
        "  trips           34",
        "  weekly average  6.8",
        "",
        "Trips per ISO week (week, its Monday):",
        "2018-W19 2018-05-07  ████       8",
        "2018-W20 2018-05-14  ██         4",
        "2018-W21 2018-05-21             0",
        "2018-W22 2018-05-28  ███        6",
        "2018-W23 2018-06-04  ████████  16",
      ].join("\n"),
    );
  });

  it("charts more than 52 weeks per month, each week in the month of its Thursday", () => {
    const series = Array.from({ length: 53 }, (_, i) => ({
      week: new Date(Date.UTC(2018, 3, 30) + i * 7 * 86_400_000).toISOString().slice(0, 10),
      trips: 1,
    }));
    series[1]!.trips = 6; // May: 10 trips in 5 weeks
    // 2018-04-30's Thursday is 2018-05-03: May has 5 weeks (Apr 30 .. May 28), June 4
    expect(byMonth(series).slice(0, 2)).toEqual([
      { label: "2018-05", value: 2, text: "2.0/week", extra: "10 in 5 weeks" },
      { label: "2018-06", value: 1, text: "1.0/week", extra: "4 in 4 weeks" },
    ]);
    const text = renderStats(answer(series), { width: 6 });
    expect(text).toContain(
      "\n\nTrips per week, month by month (each ISO week counted in the month of its Thursday):\n" +
        "2018-05  ██████  2.0/week  10 in 5 weeks\n" +
        "2018-06  ███     1.0/week  4 in 4 weeks\n",
    );
    expect(text.split("\n").filter((l) => l.startsWith("20"))).toHaveLength(13); // May 2018 .. May 2019
    expect(renderStats(answer(series), { width: 6, by: "week" })).toContain(
      "\n2018-W18 2018-04-30  █       1\n2018-W19 2018-05-07  ██████  6\n",
    );
    expect(renderStats(answer(series.slice(0, 3)), { width: 6, by: "month" })).toContain(
      "\n2018-05  ██████  2.7/week  8 in 3 weeks",
    );
  });

  it("says so when nothing matches", () => {
    const a = answer([]);
    expect(renderStats(a)).toBe(
      [
        "Weekly average of trips: region Prague",
        "  period          no data",
        "  weeks           0",
        "  trips           0",
        "  weekly average  0",
        "",
        "no trips to chart",
      ].join("\n"),
    );
  });

  it("draws no chart of empty weeks", () => {
    const a = answer([
      { week: "2018-05-07", trips: 0 },
      { week: "2018-05-14", trips: 0 },
    ]);
    expect(renderStats(a)).toMatch(/ {2}weeks {11}2\n {2}trips {11}0\n {2}weekly average {2}0\n\nno trips to chart$/);
  });

  it("describes a box and which end of the trip must lie in it", () => {
    const a = {
      ...answer([{ week: "2018-05-07", trips: 3 }]),
      region: null,
      bbox: [14.3, 49.95, 14.6, 50.15],
      match: "both",
    };
    expect(renderStats(a).split("\n")[0]).toBe(
      "Weekly average of trips: bbox 14.3,49.95,14.6,50.15 (trips starting and ending in the box)",
    );
  });
});

describe("server-sent events", () => {
  it("parses frames split anywhere, with CRLF, skipping comments", () => {
    const p = new SseParser();
    expect(p.feed(": connected\n\nid: 5\nevent: bronze.lo")).toEqual([]);
    expect(p.feed('aded\ndata: {"a":1}\n\nid: 6\r\nevent: x\r\ndata: line1\r\ndata: line2\r\n')).toEqual([
      { id: "5", event: "bronze.loaded", data: '{"a":1}' },
    ]);
    expect(p.feed("\r\n: keepalive\n\n")).toEqual([{ id: "6", event: "x", data: "line1\nline2" }]);
  });
});

describe("the service URL", () => {
  it("comes from --url, else TRIPFLOW_URL, else PORT on 127.0.0.1", () => {
    expect(serviceUrl("http://example.com:8080/", { TRIPFLOW_URL: "http://a:1" })).toBe("http://example.com:8080");
    expect(serviceUrl(undefined, { TRIPFLOW_URL: "http://a:1/base/", PORT: "5" })).toBe("http://a:1/base");
    expect(serviceUrl(undefined, { PORT: "3999" })).toBe("http://127.0.0.1:3999");
    expect(serviceUrl(undefined, {})).toBe("http://127.0.0.1:3000");
    expect(() => serviceUrl("localhost:3000", {})).toThrow(UsageError);
    expect(() => serviceUrl("nonsense", {})).toThrow("not a URL");
  });
});
