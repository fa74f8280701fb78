/**
 * Numbers as the commands print them: counts and bytes short (three significant figures), exact
 * integers and averages grouped with commas, durations and ETAs in seconds, minutes and hours. Pure
 * functions: the tests assert their output exactly.
 */

/** formatCount's suffixes, each with the value it is used below. */
const COUNT_SUFFIXES = [
  [1e6, "k"],
  [1e9, "M"],
  [1e12, "G"],
] as const;

/** 999 -> "999", 1500 -> "1.5k", 250000 -> "250k", 1234567 -> "1.2M": three significant figures at most. */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n));
  for (const [limit, suffix] of COUNT_SUFFIXES) {
    const scaled = n / (limit / 1000);
    if (Math.abs(scaled) < 999.5 || suffix === "G") {
      return `${trimFixed(scaled, Math.abs(scaled) < 10 ? 1 : 0)}${suffix}`;
    }
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
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * An average, at most two decimals, no trailing zeros, grouped:
 * 6.8 -> "6.8", 34/3 -> "11.33", 2386.64 -> "2,386.64".
 */
export function formatAverage(n: number): string {
  const [whole, fraction] = trimFixed(n, 2).split(".") as [string, string | undefined];
  return fraction === undefined ? formatInteger(Number(whole)) : `${formatInteger(Number(whole))}.${fraction}`;
}

/** 3197.64 -> "3,197.6": one decimal, grouped. */
export function formatDecimal(n: number): string {
  const [whole, fraction] = n.toFixed(1).split(".") as [string, string];
  return `${formatInteger(Number(whole))}.${fraction}`;
}

/** toFixed without trailing zeros after the point: (6.8, 2) -> "6.8", (10, 1) -> "10". */
function trimFixed(n: number, digits: number): string {
  return digits === 0 ? n.toFixed(0) : n.toFixed(digits).replace(/\.?0+$/, "");
}
