/**
 * What `ingest` prints: the progress line of a file (bar, percentage, stage, rows, rate, ETA), cut to
 * the terminal's width, the line that says what became of a file, and the table of every file with
 * its line of totals. Pure functions: the tests assert their output exactly.
 */
import { formatBytes, formatCount, formatDuration, formatEta, formatInteger } from "./format.ts";
import type { ProgressView } from "./progress.ts";

/** What became of one file: the accounting `ingest` prints. */
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

/** `[#####-----]` for a fraction in 0..1 (clamped); `width` characters between the brackets. */
export function progressBar(fraction: number, width = 20): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.floor(f * width + 1e-9);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

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

/** Left-aligned text columns, right-aligned numbers, two spaces between; no trailing blanks. */
function renderTable(header: string[], rows: string[][], numeric: boolean[]): string {
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
  const header = ["FILE", "STATUS", "INGESTION", "LOADED", "REJECTED", "DURATION", "NOTE"];
  const table = renderTable(header, rows, [false, false, true, true, true, true, false]);
  const count = (s: FileOutcome["status"]) => outcomes.filter((o) => o.status === s).length;
  const sum = (pick: (o: FileOutcome) => number | null) =>
    outcomes.reduce((t, o) => t + (o.status === "skipped" ? 0 : (pick(o) ?? 0)), 0);
  const files = outcomes.length === 1 ? "1 file" : `${outcomes.length} files`;
  const totals =
    `${files}: ${count("completed")} completed, ${count("skipped")} skipped, ${count("failed")} failed; ` +
    `${formatInteger(sum((o) => o.rowsLoaded))} rows loaded, ${formatInteger(sum((o) => o.rowsRejected))} rejected; ` +
    formatDuration(elapsedMs);
  return `${table}\n${totals}`;
}
