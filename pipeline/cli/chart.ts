/**
 * What `stats` prints: the summary of GET /stats/weekly-average's answer (WeeklyAverage) and a bar
 * chart of its trips, one line per ISO week or, for long periods, per month (each week counted in the
 * month of its Thursday). Pure functions: the tests assert their output exactly.
 */
import { formatAverage, formatDecimal, formatInteger } from "./format.ts";

/** GET /stats/weekly-average's answer, as JSON. */
export type WeeklyAverage = {
  region: string | null;
  bbox: number[] | null;
  match: string;
  from: string | null;
  to: string | null;
  weeks: number;
  trips: number;
  weekly_average: number;
  series: { week: string; trips: number }[];
};

const DAY = 86_400_000;

/**
 * ISO week label of a Monday 'YYYY-MM-DD': the week belongs to the year of its Thursday.
 * "2018-05-07" -> "2018-W19".
 */
export function isoWeekLabel(monday: string): string {
  const thursday = new Date(Date.parse(`${monday}T00:00:00Z`) + 3 * DAY);
  const year = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY);
  return `${year}-W${String(Math.floor(dayOfYear / 7) + 1).padStart(2, "0")}`;
}

/** Month 'YYYY-MM' of a week (Monday 'YYYY-MM-DD'): the month of its Thursday, as ISO does for years. */
function monthOfWeek(monday: string): string {
  return new Date(Date.parse(`${monday}T00:00:00Z`) + 3 * DAY).toISOString().slice(0, 7);
}

/** One line of a chart: the bar is `value` scaled to the largest; `text` is right-aligned after it, `extra` follows. */
type ChartRow = { label: string; value: number; text: string; extra?: string };

/**
 * One row per month: the average trips per week of the month's weeks (a week counts in the month of
 * its Thursday), so that four- and five-week months compare; the total follows.
 */
export function byMonth(series: { week: string; trips: number }[]): ChartRow[] {
  const months: { label: string; trips: number; weeks: number }[] = [];
  for (const w of series) {
    const label = monthOfWeek(w.week);
    const last = months[months.length - 1];
    if (last?.label === label) {
      last.trips += w.trips;
      last.weeks++;
    } else months.push({ label, trips: w.trips, weeks: 1 });
  }
  return months.map((m) => ({
    label: m.label,
    value: m.trips / m.weeks,
    text: `${formatDecimal(m.trips / m.weeks)}/week`,
    extra: `${formatInteger(m.trips)} in ${m.weeks} ${m.weeks === 1 ? "week" : "weeks"}`,
  }));
}

/** One row per week: "2018-W19 2018-05-07" (ISO week and its Monday) and its trips. */
function byWeek(series: { week: string; trips: number }[]): ChartRow[] {
  return series.map((w) => ({
    label: `${isoWeekLabel(w.week)} ${w.week}`,
    value: w.trips,
    text: formatInteger(w.trips),
  }));
}

/** Length of a bar: proportional to the largest value, rounded; a non-zero value gets at least one block. */
export function barLength(value: number, max: number, width: number): number {
  if (max <= 0 || value <= 0) return 0;
  return Math.max(1, Math.round((value / max) * width));
}

/**
 * A horizontal bar chart, one line per row: label, bar scaled to the largest value, the value's text.
 * `2018-W19 2018-05-07  ████████████████████████████████  10`
 */
export function renderChart(rows: ChartRow[], width = 40, block = "█"): string {
  const max = Math.max(0, ...rows.map((r) => r.value));
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length));
  const textWidth = Math.max(1, ...rows.map((r) => r.text.length));
  return rows
    .map((r) => {
      const bar = block.repeat(barLength(r.value, max, width)).padEnd(width);
      const line = `${r.label.padEnd(labelWidth)}  ${bar}  ${r.text.padStart(textWidth)}`;
      return r.extra ? `${line}  ${r.extra}` : line;
    })
    .join("\n");
}

const MATCH_WORDS: Record<string, string> = {
  origin: "trips starting in the box",
  destination: "trips ending in the box",
  both: "trips starting and ending in the box",
  any: "trips starting or ending in the box",
};

/** The answer's summary: what was asked, the period, the number of weeks and trips, the average. */
function renderStatsSummary(a: WeeklyAverage): string {
  const what = [
    a.region !== null ? `region ${a.region}` : null,
    a.bbox !== null ? `bbox ${a.bbox.join(",")} (${MATCH_WORDS[a.match] ?? a.match})` : null,
  ].filter(Boolean);
  const lines = [`Weekly average of trips: ${what.join(", ")}`];
  const period =
    a.from === null || a.to === null
      ? "no data"
      : `${a.from} .. ${a.to} (${a.weeks} ISO ${a.weeks === 1 ? "week" : "weeks"}, Monday to Sunday)`;
  const rows: [string, string][] = [
    ["period", period],
    ["weeks", formatInteger(a.weeks)],
    ["trips", formatInteger(a.trips)],
    ["weekly average", formatAverage(a.weekly_average)],
  ];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(15)} ${v}`);
  return lines.join("\n");
}

/**
 * Summary and chart. Up to `maxWeeks` weeks (and always with `by: "week"`) one line per ISO week;
 * longer periods (or `by: "month"`) one line per month, its average per week.
 *
 * @example process.stdout.write(`${renderStats(answer, { by: "auto", width: 40 })}\n`);
 */
export function renderStats(
  a: WeeklyAverage,
  opts: { by?: "auto" | "week" | "month"; width?: number; maxWeeks?: number } = {},
): string {
  const by = opts.by ?? "auto";
  const summary = renderStatsSummary(a);
  if (a.trips === 0) return `${summary}\n\nno trips to chart`; // a chart of empty bars says nothing more
  const monthly = by === "month" || (by === "auto" && a.series.length > (opts.maxWeeks ?? 52));
  const rows = monthly ? byMonth(a.series) : byWeek(a.series);
  const heading = monthly
    ? "Trips per week, month by month (each ISO week counted in the month of its Thursday):"
    : "Trips per ISO week (week, its Monday):";
  return `${summary}\n\n${heading}\n${renderChart(rows, opts.width ?? 40)}`;
}
