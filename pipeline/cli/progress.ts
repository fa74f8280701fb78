/**
 * The progress of one file through the service: FileProgress folds the bytes sent and the ingestion's
 * audit events into what its progress line shows (a ProgressView: stage, fraction, rows, rate, ETA),
 * with rates taken over a sliding window of samples.
 */
import { isTerminal, type AuditEventData } from "./sse.ts";

type Stage = "upload" | "queued" | "load" | "transform" | "done";

/** One measurement: a stage's progress counter (rows or bytes) at a time (ms). */
type Sample = { t: number; value: number };

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
function addSample(samples: Sample[], sample: Sample): void {
  samples.push(sample);
  while (samples.length > 2 && sample.t - samples[0]!.t > 60_000) samples.shift();
}

function eta(remaining: number, rate: number | undefined): number | undefined {
  if (rate === undefined || rate <= 0) return undefined;
  return Math.max(0, remaining) / rate;
}

export type ProgressView = {
  name: string;
  stage: Stage;
  /** 0..1 of the current stage. */
  fraction: number;
  /**
   * Rows so far in this stage (load: rows in bronze; transform: rows through silver and gold). Absent
   * during the upload.
   */
  rows?: number;
  /** Bytes so far (shown during the upload instead of rows). */
  bytes?: number;
  /** Rows (or, during the upload, bytes) per second. */
  rate?: number;
  etaSeconds?: number;
  /** Shown after the numbers, e.g. "#12". */
  note?: string;
};

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
 *
 * @example
 * const p = new FileProgress("trips.csv", 12_839, Date.now());
 * p.uploaded(12_839, Date.now());
 * p.queued(7);
 * renderProgressLine(p.view()); // "trips.csv [--------------------]   0% queued #7"
 */
export class FileProgress {
  stage: Stage = "upload";
  lines: number | undefined;
  chunks: number | undefined;
  silverRows = 0;
  goldRows = 0;
  private ingestionId: number | undefined;
  private sentBytes = 0;
  private bronzeRows = 0;
  private bronzeBytes = 0;
  private readonly chunkRows = new Map<number, number>();
  private readonly refreshed = new Set<number>();
  private readonly grouped = new Set<number>();
  private readonly sent: Sample[] = [];
  private readonly loadBytes: Sample[] = [];
  private readonly loadRows: Sample[] = [];
  private readonly work: Sample[] = [];

  constructor(
    private readonly name: string,
    private readonly sizeBytes: number,
    now: number,
  ) {
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
      case "silver.sealed":
        // A large file's segment: every chunk is merged at once.
        for (const chunk of this.chunkRows.keys()) {
          if (!this.merged(chunk)) this.goldRows += this.chunkRows.get(chunk) ?? 0;
          this.grouped.add(chunk);
          this.refreshed.add(chunk);
        }
        this.measureWork(t);
        break;
      default:
        if (isTerminal(e.type)) this.stage = "done";
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
        const etaSeconds = eta(this.sizeBytes - this.sentBytes, rate);
        return { name: this.name, stage: "upload", fraction, bytes: this.sentBytes, rate, etaSeconds };
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
