import { parseArgs, type ParseArgsConfig } from "node:util";
import type { AuditEvent } from "../core/audit.ts";

/**
 * What the command-line tools share: argument parsing, the service's address, HTTP errors, an SSE
 * parser, and the rendering of progress lines, summary tables and charts. The rendering functions are
 * pure (no clock, no terminal): the tests assert their output exactly.
 */

// ---------------------------------------------------------------------------------------------------
// Errors and exit codes

/** Exit codes of both commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A wrong command line: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** No answer from the service at all (connection refused, DNS, reset): exit 2. */
export class ServiceUnreachableError extends Error {
  override name = "ServiceUnreachableError";
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach tripflow at ${url}: ${describeCause(cause)} — is \`npm start\` running?`, { cause });
  }
}

/** The service answered with an error body `{ error: { code, message } }` (or something else that is not 2xx). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * A 401: the service takes writes only with its token. Exit 2 like an unreachable service: nothing
 * was done, and the fix is in the environment.
 */
export class TokenError extends ApiError {
  override name = "TokenError";
  constructor(sent: boolean) {
    super(
      401,
      "unauthorized",
      sent
        ? "the server refused the token in API_TOKEN: set API_TOKEN to the server's token"
        : "the server requires a token: set API_TOKEN to the server's token",
    );
  }
}

/** The innermost useful message of a fetch failure: undici wraps the socket error in `cause`. */
export function describeCause(err: unknown): string {
  let e = err as { message?: string; code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  while (e?.cause && typeof e.cause === "object") e = e.cause as typeof e;
  // A refused connection to "localhost" may carry one error per address tried.
  if (!e?.message && Array.isArray(e?.errors) && e.errors.length) e = e.errors[0] as typeof e;
  return e?.message || e?.code || String(err);
}

// ---------------------------------------------------------------------------------------------------
// Arguments and the service address

/** node:util parseArgs, strict, with its errors turned into UsageError. */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * The service's base URL: `--url`, else TRIPFLOW_URL, else http://127.0.0.1:$PORT (3000), without a
 * trailing slash. The caller passes the environment: only the entry point reads process.env.
 *
 * @example serviceUrl(undefined, { PORT: "3999" }) // "http://127.0.0.1:3999"
 */
export function serviceUrl(flag: string | undefined, env: Record<string, string | undefined>): string {
  const raw = flag || env.TRIPFLOW_URL || `http://127.0.0.1:${env.PORT || 3000}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(raw)} (expected e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`not an http(s) URL: ${raw}`);
  return url.href.replace(/\/+$/, "");
}

/** The service the commands talk to: its base URL and the token they send, when there is one. */
export type Service = { url: string; token: string | undefined };

/**
 * serviceUrl's address, and the token of API_TOKEN (the server's): the one place the commands read it.
 * `request` sends it as `Authorization: Bearer <token>`.
 *
 * @example resolveService(undefined, { API_TOKEN: "0123456789abcdef" }) // { url: "http://127.0.0.1:3000", token: "0123456789abcdef" }
 */
export function resolveService(flag: string | undefined, env: Record<string, string | undefined>): Service {
  const token = env.API_TOKEN?.trim() || undefined;
  // fetch cannot put anything else in a header; the server refuses such a token too.
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw new UsageError("API_TOKEN: must be visible ASCII characters without spaces");
  return { url: serviceUrl(flag, env), token };
}

/**
 * fetch `path` of the service with its token; a failure to connect becomes ServiceUnreachableError
 * naming the base URL, a 401 answer TokenError.
 */
export async function request(service: Service, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (service.token !== undefined) headers.set("authorization", `Bearer ${service.token}`);
  let res: Response;
  try {
    res = await fetch(`${service.url}${path}`, { ...init, headers });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ServiceUnreachableError(service.url, err);
  }
  if (res.status === 401) {
    await res.body?.cancel().catch(() => {});
    throw new TokenError(service.token !== undefined);
  }
  return res;
}

/** The error of a non-2xx answer: the API's own `{ error: { code, message } }` when it sent one. */
export async function apiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === "string")
      return new ApiError(res.status, String(body.error.code ?? "error"), body.error.message);
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(res.status, "http_error", `HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`);
}

// ---------------------------------------------------------------------------------------------------
// Server-sent events

export type SseFrame = { id?: string; event?: string; data: string };

/**
 * An incremental text/event-stream parser: feed it decoded text as it arrives, get whole messages back.
 * Comments (keepalives) are dropped; CRLF and CR line endings are accepted as the standard allows.
 */
export class SseParser {
  private buffer = "";

  feed(text: string): SseFrame[] {
    this.buffer += text;
    const frames: SseFrame[] = [];
    for (;;) {
      const normalized = this.buffer.replace(/\r\n?/g, "\n");
      const end = normalized.indexOf("\n\n");
      if (end < 0) {
        this.buffer = normalized;
        return frames;
      }
      const block = normalized.slice(0, end);
      this.buffer = normalized.slice(end + 2);
      const frame: SseFrame = { data: "" };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        fields++;
        if (field === "data") data.push(value);
        else if (field === "id") frame.id = value;
        else if (field === "event") frame.event = value;
      }
      if (fields === 0) continue;
      frame.data = data.join("\n");
      frames.push(frame);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Numbers

/** 999 -> "999", 1500 -> "1.5k", 250000 -> "250k", 1234567 -> "1.2M": three significant figures at most. */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n));
  for (const [limit, suffix] of [[1e6, "k"], [1e9, "M"], [1e12, "G"]] as const) {
    const scaled = n / (limit / 1000);
    if (Math.abs(scaled) < 999.5 || suffix === "G") return `${trimFixed(scaled, Math.abs(scaled) < 10 ? 1 : 0)}${suffix}`;
  }
  return String(n);
}

/** Bytes in powers of 1000: 12839 -> "12.8 kB", 1_500_000 -> "1.5 MB", 250_400_000 -> "250 MB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 999.5 && u < units.length - 1);
  return `${trimFixed(v, v < 100 ? 1 : 0)} ${units[u]}`;
}

/** Seconds left, short: 4 -> "4s", 65 -> "1m05s", 3725 -> "1h02m"; unknown (NaN, Infinity, negative) -> "--". */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 100 * 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return ">99h";
}

/** A duration in milliseconds: 93 -> "0.09s", 1234 -> "1.2s", 75000 -> "1m15s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** 1234567 -> "1,234,567": exact numbers for the accounting. */
export function formatInteger(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** An average, at most two decimals, no trailing zeros, grouped: 6.8 -> "6.8", 34/3 -> "11.33", 2386.64 -> "2,386.64". */
export function formatAverage(n: number): string {
  const [whole, fraction] = trimFixed(n, 2).split(".") as [string, string | undefined];
  return fraction === undefined ? formatInteger(Number(whole)) : `${formatInteger(Number(whole))}.${fraction}`;
}

/** toFixed without trailing zeros after the point: (6.8, 2) -> "6.8", (10, 1) -> "10". */
function trimFixed(n: number, digits: number): string {
  return digits === 0 ? n.toFixed(0) : n.toFixed(digits).replace(/\.?0+$/, "");
}

// ---------------------------------------------------------------------------------------------------
// Progress of one file

export type Stage = "upload" | "queued" | "load" | "transform" | "done";

/** One measurement: a stage's progress counter (rows or bytes) at a time (ms). */
export type Sample = { t: number; value: number };

/**
 * The rate of a counter per second over about the last `windowMs`: from the newest sample at least
 * that old (or the oldest there is) to the newest. Undefined with fewer than two samples or no time
 * between them.
 */
export function rateOf(samples: Sample[], windowMs = 10_000): number | undefined {
  if (samples.length < 2) return undefined;
  const last = samples[samples.length - 1]!;
  let i = samples.length - 2;
  while (i > 0 && last.t - samples[i]!.t < windowMs) i--;
  const first = samples[i]!;
  const dt = (last.t - first.t) / 1000;
  if (dt <= 0) return undefined;
  return (last.value - first.value) / dt;
}

/** Appends a sample, forgetting those older than a minute (but always keeping two). */
export function addSample(samples: Sample[], sample: Sample): void {
  samples.push(sample);
  while (samples.length > 2 && sample.t - samples[0]!.t > 60_000) samples.shift();
}

/** `[#####-----]` for a fraction in 0..1 (clamped); `width` characters between the brackets. */
export function progressBar(fraction: number, width = 20): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.floor(f * width + 1e-9);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

export type ProgressView = {
  name: string;
  stage: Stage;
  /** 0..1 of the current stage. */
  fraction: number;
  /** Rows so far in this stage (load: rows in bronze; transform: rows through silver and gold). Absent during the upload. */
  rows?: number;
  /** Bytes so far (shown during the upload instead of rows). */
  bytes?: number;
  /** Rows (or, during the upload, bytes) per second. */
  rate?: number;
  etaSeconds?: number;
  /** Shown after the numbers, e.g. "#12". */
  note?: string;
};

/**
 * One progress line, the same on a terminal (redrawn in place) and in plain output:
 * `trips.csv [#########-----------]  45% load 1.2M rows 250k rows/s ETA 4s`.
 */
export function renderProgressLine(v: ProgressView, barWidth = 20): string {
  const pct = `${String(Math.floor(Math.min(1, Math.max(0, v.fraction)) * 100)).padStart(3)}%`;
  const parts = [v.name, progressBar(v.fraction, barWidth), pct, v.stage];
  if (v.stage === "upload") {
    if (v.bytes !== undefined) parts.push(formatBytes(v.bytes));
    if (v.rate !== undefined) parts.push(`${formatBytes(v.rate)}/s`);
  } else if (v.rows !== undefined) {
    parts.push(`${formatCount(v.rows)} rows`);
    if (v.rate !== undefined) parts.push(`${formatCount(v.rate)} rows/s`);
  }
  if (v.stage !== "done" && v.stage !== "queued") parts.push(`ETA ${formatEta(v.etaSeconds)}`);
  if (v.note) parts.push(v.note);
  return parts.join(" ");
}

/** Cuts a line to the terminal's width (one column spare, so that it never wraps). */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 10 || line.length < columns) return line;
  return `${line.slice(0, columns - 2)}…`;
}

// ---------------------------------------------------------------------------------------------------
// The final accounting of `ingest`

export type FileOutcome = {
  file: string;
  status: "completed" | "failed" | "skipped";
  ingestionId: number | null;
  rowsLoaded: number | null;
  rowsRejected: number | null;
  durationMs: number | null;
  duplicateOf: number | null;
  error: string | null;
};

/** Left-aligned text columns, right-aligned numbers, two spaces between; no trailing blanks. */
export function renderTable(header: string[], rows: string[][], numeric: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * The table printed when every file is done, then one line of totals:
 * ```
 * FILE       STATUS     INGESTION  LOADED  REJECTED  DURATION  NOTE
 * trips.csv  completed  #1            100         0     0.09s
 * ```
 */
export function renderSummary(outcomes: FileOutcome[], elapsedMs: number): string {
  const num = (n: number | null) => (n === null ? "-" : formatInteger(n));
  const rows = outcomes.map((o) => [
    o.file,
    o.status,
    o.ingestionId === null ? "-" : `#${o.ingestionId}`,
    o.status === "skipped" ? "-" : num(o.rowsLoaded),
    o.status === "skipped" ? "-" : num(o.rowsRejected),
    formatDuration(o.durationMs),
    o.status === "skipped" ? `same content as #${o.duplicateOf ?? "?"}` : (o.error ?? ""),
  ]);
  const table = renderTable(
    ["FILE", "STATUS", "INGESTION", "LOADED", "REJECTED", "DURATION", "NOTE"],
    rows,
    [false, false, true, true, true, true, false],
  );
  const count = (s: FileOutcome["status"]) => outcomes.filter((o) => o.status === s).length;
  const sum = (pick: (o: FileOutcome) => number | null) => outcomes.reduce((t, o) => t + (o.status === "skipped" ? 0 : (pick(o) ?? 0)), 0);
  const files = outcomes.length === 1 ? "1 file" : `${outcomes.length} files`;
  const totals =
    `${files}: ${count("completed")} completed, ${count("skipped")} skipped, ${count("failed")} failed; ` +
    `${formatInteger(sum((o) => o.rowsLoaded))} rows loaded, ${formatInteger(sum((o) => o.rowsRejected))} rejected; ${formatDuration(elapsedMs)}`;
  return `${table}\n${totals}`;
}

// ---------------------------------------------------------------------------------------------------
// The weekly chart of `stats`

const DAY = 86_400_000;

/** ISO week label of a Monday 'YYYY-MM-DD': the week belongs to the year of its Thursday. "2018-05-07" -> "2018-W19". */
export function isoWeekLabel(monday: string): string {
  const thursday = new Date(Date.parse(`${monday}T00:00:00Z`) + 3 * DAY);
  const year = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY);
  return `${year}-W${String(Math.floor(dayOfYear / 7) + 1).padStart(2, "0")}`;
}

/** Month 'YYYY-MM' of a week (Monday 'YYYY-MM-DD'): the month of its Thursday, as ISO does for years. */
export function monthOfWeek(monday: string): string {
  return new Date(Date.parse(`${monday}T00:00:00Z`) + 3 * DAY).toISOString().slice(0, 7);
}

/** One line of a chart: the bar is `value` scaled to the largest; `text` is right-aligned after it, `extra` follows. */
export type ChartRow = { label: string; value: number; text: string; extra?: string };

/** 3197.64 -> "3,197.6": one decimal, grouped. */
export function formatDecimal(n: number): string {
  const [whole, fraction] = n.toFixed(1).split(".") as [string, string];
  return `${formatInteger(Number(whole))}.${fraction}`;
}

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
export function byWeek(series: { week: string; trips: number }[]): ChartRow[] {
  return series.map((w) => ({ label: `${isoWeekLabel(w.week)} ${w.week}`, value: w.trips, text: formatInteger(w.trips) }));
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

const MATCH_WORDS: Record<string, string> = {
  origin: "trips starting in the box",
  destination: "trips ending in the box",
  both: "trips starting and ending in the box",
  any: "trips starting or ending in the box",
};

/** The answer's summary: what was asked, the period, the number of weeks and trips, the average. */
export function renderStatsSummary(a: WeeklyAverage): string {
  const what = [
    a.region !== null ? `region ${a.region}` : null,
    a.bbox !== null ? `bbox ${a.bbox.join(",")} (${MATCH_WORDS[a.match] ?? a.match})` : null,
  ].filter(Boolean);
  const lines = [`Weekly average of trips: ${what.join(", ")}`];
  const period = a.from === null || a.to === null ? "no data" : `${a.from} .. ${a.to} (${a.weeks} ISO ${a.weeks === 1 ? "week" : "weeks"}, Monday to Sunday)`;
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
 */
export function renderStats(a: WeeklyAverage, opts: { by?: "auto" | "week" | "month"; width?: number; maxWeeks?: number } = {}): string {
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

// ---------------------------------------------------------------------------------------------------
// Following one ingestion: its events folded into what the progress line shows

/** An audit event as GET /events sends it in `data:` (pipeline/core/audit.ts's AuditEvent, as JSON). */
export type AuditEventData = Omit<AuditEvent, "created_at"> & { created_at: string };

export const TERMINAL_EVENTS = new Set(["ingestion.completed", "ingestion.failed", "ingestion.skipped"]);

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/**
 * The progress of one file, fed with the bytes sent and the ingestion's events; no clock of its own
 * (every call says what time it is), so the same inputs always draw the same line.
 *
 * Stages: `upload` (bytes sent of the file's size; rows unknown yet), `queued` (accepted, waiting for
 * the watcher), `load` (bronze bytes of the file's size and rows, from bronze.progress), `transform`
 * (after bronze.loaded: the rows of each chunk count once through silver and once through the merges
 * (trip groups and gold), half the bar each; "rows" are those through both), `done`. Rates are taken
 * over about the last 10 s (3 s for the upload); the ETA is the current stage's. Event times are the
 * server's (`created_at`), so that a replay after a reconnection does not distort the rates.
 */
export class FileProgress {
  stage: Stage = "upload";
  ingestionId: number | undefined;
  sentBytes = 0;
  bronzeRows = 0;
  bronzeBytes = 0;
  lines: number | undefined;
  chunks: number | undefined;
  silverRows = 0;
  goldRows = 0;
  private readonly chunkRows = new Map<number, number>();
  private readonly refreshed = new Set<number>();
  private readonly grouped = new Set<number>();
  private readonly sent: Sample[] = [];
  private readonly loadBytes: Sample[] = [];
  private readonly loadRows: Sample[] = [];
  private readonly work: Sample[] = [];

  constructor(readonly name: string, readonly sizeBytes: number, now: number) {
    this.sent.push({ t: now, value: 0 });
  }

  /** `n` more bytes of the upload went out at `now`. */
  uploaded(n: number, now: number): void {
    this.sentBytes += n;
    addSample(this.sent, { t: now, value: this.sentBytes });
  }

  /** The service accepted the upload as ingestion `id`. */
  queued(id: number): void {
    this.ingestionId = id;
    this.stage = "queued";
  }

  /** Folds one event in; says whether the stage changed (worth a line of its own in plain output). */
  apply(e: AuditEventData): { stageChanged: boolean } {
    const before = this.stage;
    const t = Date.parse(e.created_at);
    const p = e.payload ?? {};
    switch (e.type) {
      case "ingestion.discovered":
      case "ingestion.resumed":
        // The load's clock starts here: the first bronze.progress then has a rate.
        if (Number.isFinite(t) && this.loadBytes.length === 0) {
          this.loadBytes.push({ t, value: 0 });
          this.loadRows.push({ t, value: 0 });
          this.work.push({ t, value: 0 });
        }
        break;
      case "bronze.progress":
        this.bronzeRows = num(p.rows) ?? this.bronzeRows;
        this.bronzeBytes = num(p.bytes) ?? this.bronzeBytes;
        if (Number.isFinite(t)) {
          addSample(this.loadBytes, { t, value: this.bronzeBytes });
          addSample(this.loadRows, { t, value: this.bronzeRows });
        }
        if (this.stage === "upload" || this.stage === "queued") this.stage = "load";
        break;
      case "bronze.loaded":
        this.bronzeRows = num(p.rows) ?? this.bronzeRows;
        this.bronzeBytes = num(p.bytes) ?? this.bronzeBytes;
        this.lines = num(p.rows);
        this.chunks = num(p.chunks);
        if (this.stage !== "done") this.stage = "transform";
        break;
      case "silver.promoted": {
        const rows = (num(p.rows) ?? 0) + (num(p.rejected) ?? 0);
        const chunk = num(p.chunk);
        if (chunk !== undefined) this.chunkRows.set(chunk, rows);
        this.silverRows += rows;
        if (chunk !== undefined && this.merged(chunk)) this.goldRows += rows;
        this.measureWork(t);
        break;
      }
      case "silver.grouped":
      case "gold.refreshed": {
        // A chunk is through the merges once both its groups and its gold are merged.
        const chunk = num(p.chunk);
        const seen = e.type === "gold.refreshed" ? this.refreshed : this.grouped;
        if (chunk !== undefined && !seen.has(chunk)) {
          seen.add(chunk);
          if (this.merged(chunk)) this.goldRows += this.chunkRows.get(chunk) ?? 0;
        }
        this.measureWork(t);
        break;
      }
      default:
        if (TERMINAL_EVENTS.has(e.type)) this.stage = "done";
    }
    return { stageChanged: this.stage !== before };
  }

  /** Both merges of a chunk (groups and gold) are done. */
  private merged(chunk: number): boolean {
    return this.refreshed.has(chunk) && this.grouped.has(chunk);
  }

  private measureWork(t: number): void {
    if (!Number.isFinite(t)) return;
    addSample(this.work, { t, value: this.silverRows + this.goldRows });
  }

  /** What the progress line shows now. */
  view(): ProgressView {
    const id = this.ingestionId === undefined ? undefined : `#${this.ingestionId}`;
    switch (this.stage) {
      case "upload": {
        const rate = rateOf(this.sent, 3000);
        const fraction = this.sizeBytes > 0 ? this.sentBytes / this.sizeBytes : 0;
        return { name: this.name, stage: "upload", fraction, bytes: this.sentBytes, rate, etaSeconds: eta(this.sizeBytes - this.sentBytes, rate) };
      }
      case "queued":
        return { name: this.name, stage: "queued", fraction: 0, note: id };
      case "load": {
        const total = this.sizeBytes || 1;
        const byteRate = rateOf(this.loadBytes);
        return {
          name: this.name,
          stage: "load",
          fraction: this.bronzeBytes / total,
          rows: this.bronzeRows,
          rate: rateOf(this.loadRows),
          etaSeconds: eta(this.sizeBytes - this.bronzeBytes, byteRate),
          note: id,
        };
      }
      case "transform":
      case "done": {
        const lines = this.lines ?? this.bronzeRows;
        const total = 2 * lines;
        const done = this.silverRows + this.goldRows;
        const workRate = rateOf(this.work);
        return {
          name: this.name,
          stage: this.stage,
          fraction: this.stage === "done" ? 1 : total > 0 ? done / total : 0,
          rows: this.goldRows,
          rate: workRate === undefined ? undefined : workRate / 2,
          etaSeconds: this.stage === "done" ? 0 : eta(total - done, workRate),
          note: id,
        };
      }
    }
  }
}

function eta(remaining: number, rate: number | undefined): number | undefined {
  if (rate === undefined || rate <= 0) return undefined;
  return Math.max(0, remaining) / rate;
}

/**
 * The last line of a file, what became of it:
 * `trips.csv [####################] 100% completed #1: 100 rows loaded, 0 rejected in 0.09s`,
 * `bad.csv failed #2: wrong header (…)`, `again.csv skipped #3: same content as #1`.
 */
export function renderOutcomeLine(o: FileOutcome): string {
  const id = o.ingestionId === null ? "" : ` #${o.ingestionId}`;
  switch (o.status) {
    case "completed":
      return (
        `${o.file} ${progressBar(1)} 100% completed${id}: ${formatInteger(o.rowsLoaded ?? 0)} rows loaded, ` +
        `${formatInteger(o.rowsRejected ?? 0)} rejected in ${formatDuration(o.durationMs)}`
      );
    case "skipped":
      return `${o.file} skipped${id}: same content as #${o.duplicateOf ?? "?"}`;
    case "failed":
      return `${o.file} failed${id}: ${o.error ?? "unknown error"}`;
  }
}
