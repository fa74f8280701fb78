/**
 * The ingestions table: the API's records (GET /ingestions, GET /ingestions/{id}) advanced by the audit
 * events as they arrive. One row per ingestion id, updated in place; a record fetched from the API replaces
 * what the events said only when it is at least as new as the newest event applied to that ingestion.
 */
import { getJson } from "./api.js";
import { TERMINAL_EVENTS } from "./contract.js";
import { el, formatBytes, formatInteger, formatMs, formatTime } from "./format.js";

const TERMINAL = new Set(["completed", "failed", "skipped"]);
/** Live statuses in the order an ingestion passes them; an event never moves one back (a replay cannot either). */
const RANK = { queued: 0, loading: 1, transforming: 2 };
/** The stages whose time a row shows, in flow order ("ingestion" is the final bookkeeping). */
const STAGES = ["landing", "bronze", "silver", "gold", "ingestion", "archive"];
const STAGE_LABEL = { ingestion: "finish" };
const PAGE = 50;

/** One ingestion: its API record plus what its events told since. */
class Ingestion {
  constructor(id) {
    this.id = id;
    this.record = {
      file_name: "",
      size_bytes: null,
      status: "queued",
      rows_loaded: 0,
      rows_rejected: 0,
      error: null,
      started_at: null,
      duration_ms: null,
      duplicate_of: null,
    };
    /** Newest event id applied, or the record's last event when it was newer. */
    this.eventId = 0;
    /** Event times and stages, for the time per stage; complete only when the first event was seen. */
    this.marks = [];
    this.sawStart = false;
    this.bytes = 0;
    this.totalBytes = null;
    this.bronzeRows = 0;
    this.lines = null;
    this.promoted = 0;
    this.stored = 0;
    this.rejected = 0;
    this.note = "";
  }

  get status() {
    return this.record.status;
  }

  /** Takes the API's record; its changing fields only when it is not older than the events applied. */
  merge(r) {
    const rec = this.record;
    for (const key of ["file_name", "size_bytes", "sha256", "started_at", "duplicate_of", "archived_as"])
      if (r[key] !== undefined) rec[key] = r[key];
    const at = r.last_event?.id ?? 0;
    if (at >= this.eventId || TERMINAL.has(r.status)) {
      for (const key of ["status", "rows_loaded", "rows_rejected", "error", "finished_at", "duration_ms"])
        if (r[key] !== undefined) rec[key] = r[key];
      if (at > this.eventId) this.eventId = at;
    }
  }

  advance(status) {
    if (TERMINAL.has(this.record.status)) return;
    if (TERMINAL.has(status) || RANK[status] > RANK[this.record.status]) this.record.status = status;
  }

  apply(e) {
    const p = e.payload ?? {};
    const t = Date.parse(e.created_at);
    if (e.id > this.eventId) this.eventId = e.id;
    if (e.stage !== "maintenance" && Number.isFinite(t)) {
      if (this.marks.length === 0 && (e.type === "ingestion.discovered" || e.type === "ingestion.skipped"))
        this.sawStart = true;
      this.marks.push({ t, stage: e.stage });
    }
    const rec = this.record;
    switch (e.type) {
      case "ingestion.discovered":
        rec.file_name ||= p.file;
        rec.size_bytes ??= p.size_bytes;
        break;
      case "ingestion.skipped":
        rec.file_name ||= p.file;
        rec.duplicate_of = p.duplicate_of;
        this.advance("skipped");
        break;
      case "ingestion.resumed":
        if (!TERMINAL.has(rec.status) && p.status in RANK) rec.status = p.status;
        this.note = "resumed";
        break;
      case "bronze.progress":
        this.bytes = p.bytes;
        this.totalBytes = p.total_bytes;
        this.bronzeRows = p.rows;
        this.advance("loading");
        break;
      case "bronze.loaded":
        this.bytes = p.bytes;
        this.bronzeRows = p.rows;
        this.lines = p.rows;
        this.advance("transforming");
        break;
      case "silver.promoted":
        this.promoted += p.rows + p.rejected;
        this.stored += p.rows;
        this.rejected += p.rejected;
        break;
      case "bronze.retrying":
      case "step.retrying":
        this.note = `retrying (${p.attempt}/${p.max_attempts}): ${p.error}`;
        break;
      case "ingestion.completed":
        rec.rows_loaded = p.rows_loaded;
        rec.rows_rejected = p.rows_rejected;
        rec.duration_ms = p.duration_ms;
        this.note = "";
        this.advance("completed");
        break;
      case "ingestion.failed":
        rec.error = p.error;
        this.advance("failed");
        break;
      case "file.archived":
        rec.archived_as = p.path;
        break;
    }
  }

  /** Wall time from the start to each event, counted to that event's stage; null unless every event was seen. */
  stageTimes() {
    if (!this.sawStart) return null;
    const started = Date.parse(this.record.started_at ?? "");
    let prev = Number.isFinite(started) && started <= this.marks[0].t ? started : this.marks[0].t;
    const times = {};
    for (const { t, stage } of this.marks) {
      times[stage] = (times[stage] ?? 0) + Math.max(0, t - prev);
      prev = Math.max(prev, t);
    }
    return times;
  }

  /** Rows per second: of the whole ingestion once it ended, else of the rows read (or promoted) so far. */
  rate() {
    const rec = this.record;
    if (rec.status === "completed" && rec.duration_ms > 0)
      return ((rec.rows_loaded + rec.rows_rejected) * 1000) / rec.duration_ms;
    if (TERMINAL.has(rec.status) || this.marks.length < 2) return null;
    const elapsed = this.marks.at(-1).t - this.marks[0].t;
    const rows = rec.status === "transforming" ? this.promoted : this.bronzeRows;
    return elapsed > 0 && rows > 0 ? (rows * 1000) / elapsed : null;
  }

  /** The progress bar: bytes read of the file while loading, rows through silver of its lines after. */
  progress() {
    const rec = this.record;
    if (rec.status === "completed") return { value: 1, max: 1, label: "done" };
    if (rec.status === "skipped") return { value: 1, max: 1, label: `skipped: same as #${rec.duplicate_of ?? "?"}` };
    if (rec.status === "failed") return { value: 0, max: 1, label: "failed" };
    if (rec.status === "transforming" && this.lines !== null) {
      const done = Math.min(this.promoted, this.lines);
      return {
        value: done,
        max: Math.max(this.lines, 1),
        label: `${formatInteger(done)} of ${formatInteger(this.lines)} rows through silver`,
      };
    }
    const total = this.totalBytes ?? rec.size_bytes;
    if (this.bytes > 0 && total > 0)
      return {
        value: this.bytes,
        max: total,
        label: `${formatBytes(this.bytes)} of ${formatBytes(total)} read, ${formatInteger(this.bronzeRows)} rows`,
      };
    return { value: 0, max: 1, label: rec.status === "queued" ? "waiting for the watcher" : rec.status };
  }

  storedRows() {
    return TERMINAL.has(this.status) ? this.record.rows_loaded : Math.max(this.stored, this.record.rows_loaded);
  }

  rejectedRows() {
    return TERMINAL.has(this.status) ? this.record.rows_rejected : Math.max(this.rejected, this.record.rows_rejected);
  }
}

/** The cells of one table row, made once and updated in place. */
function makeRow(id, onRejects) {
  const tr = el("tr");
  tr.dataset.ingestionId = String(id);
  const cells = {
    id: el("td", "id", `#${id}`),
    file: el("td", "file"),
    status: el("td", "status"),
    progressCell: el("td", "progress-cell"),
    rows: el("td", "rows num"),
    rejected: el("td", "rejected num"),
    rate: el("td", "rate num"),
    stages: el("td", "stages"),
    started: el("td", "started"),
  };
  cells.bar = el("progress");
  cells.barLabel = el("span", "bar-label");
  cells.progressCell.append(cells.bar, cells.barLabel);
  cells.fileName = el("span", "file-name");
  cells.fileNote = el("small", "file-note");
  cells.file.append(cells.fileName, cells.fileNote);
  cells.rejectedLink = el("a", "rejects-link");
  cells.rejectedLink.href = "#rejects";
  cells.rejectedLink.addEventListener("click", (event) => {
    event.preventDefault();
    onRejects(id);
  });
  cells.rejected.append(cells.rejectedLink);
  cells.stageBar = el("span", "stage-bar");
  cells.stageText = el("small", "stage-text");
  cells.stages.append(cells.stageBar, cells.stageText);
  tr.append(
    cells.id,
    cells.file,
    cells.status,
    cells.progressCell,
    cells.rows,
    cells.rejected,
    cells.rate,
    cells.stages,
    cells.started,
  );
  return { tr, cells };
}

function renderStages(cells, times, durationMs) {
  cells.stageBar.replaceChildren();
  if (!times) {
    cells.stageText.textContent =
      durationMs === null || durationMs === undefined ? "" : `total ${formatMs(durationMs)}`;
    cells.stages.title = "the first events of this ingestion are older than this page's replay";
    return;
  }
  const total = STAGES.reduce((sum, s) => sum + (times[s] ?? 0), 0);
  const parts = STAGES.filter((s) => times[s] !== undefined);
  for (const s of parts) {
    const seg = el("span", `seg seg-${s}`);
    seg.style.flexGrow = String(total > 0 ? times[s] / total : 1);
    seg.title = `${STAGE_LABEL[s] ?? s}: ${formatMs(times[s])}`;
    cells.stageBar.append(seg);
  }
  const text = parts.map((s) => `${STAGE_LABEL[s] ?? s} ${formatMs(times[s])}`).join(" · ");
  cells.stageText.textContent = text;
  cells.stages.title = `wall time up to each stage's events: ${text}`;
}

function render(ing, cells) {
  const rec = ing.record;
  cells.fileName.textContent = rec.file_name || "(unnamed)";
  cells.fileName.title = rec.sha256 ? `sha256 ${rec.sha256}` : "";
  const notes = [];
  if (rec.size_bytes !== null && rec.size_bytes !== undefined) notes.push(formatBytes(rec.size_bytes));
  if (rec.duplicate_of !== null && rec.duplicate_of !== undefined) notes.push(`duplicate of #${rec.duplicate_of}`);
  if (rec.error) notes.push(rec.error);
  else if (ing.note && !TERMINAL.has(rec.status)) notes.push(ing.note);
  cells.fileNote.textContent = notes.join(" · ");
  cells.status.textContent = rec.status;
  cells.status.dataset.status = rec.status;
  const bar = ing.progress();
  cells.bar.max = bar.max;
  cells.bar.value = bar.value;
  cells.bar.title = bar.label;
  cells.barLabel.textContent = bar.label;
  cells.rows.textContent = String(ing.storedRows());
  cells.rejectedLink.textContent = String(ing.rejectedRows());
  cells.rejectedLink.title = "show the rejected lines with their reasons";
  const rate = ing.rate();
  cells.rate.textContent = rate === null ? "–" : formatInteger(rate);
  renderStages(cells, ing.stageTimes(), rec.duration_ms);
  cells.started.textContent = rec.started_at ? formatTime(rec.started_at) : "";
}

export class IngestionTable {
  /**
   * @param {{ tbody: HTMLElement, older: HTMLButtonElement, message: HTMLElement, onRejects: (ing: object) => void }} parts
   */
  constructor({ tbody, older, message, onRejects }) {
    this.tbody = tbody;
    this.older = older;
    this.message = message;
    this.onRejects = onRejects;
    this.items = new Map();
    this.rows = new Map();
    this.dirty = new Set();
    this.fetching = new Set();
    this.listeners = [];
    this.nextBefore = null;
    /** The oldest ingestion of the first page when there are more: events of older ones are not shown. */
    this.floor = 0;
    this.renderTimer = undefined;
    older.addEventListener("click", () => {
      this.floor = 0;
      this.loadPage(this.nextBefore);
    });
  }

  /** Calls `fn(ingestion)` whenever an ingestion's row changes. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  get(id) {
    return this.items.get(id);
  }

  /** The newest ingestions from the API; resolves with the newest event id among them (0 for none). */
  async loadPage(before) {
    const page = await getJson("/ingestions", { limit: PAGE, before: before ?? undefined });
    for (const record of page.ingestions) this.upsert(record);
    if (before === null) this.floor = page.next_before === null ? 0 : Math.min(...page.ingestions.map((r) => r.id));
    this.nextBefore = page.next_before;
    this.older.hidden = page.next_before === null;
    return Math.max(0, ...page.ingestions.map((r) => r.last_event?.id ?? 0));
  }

  /** Re-reads the ingestions on the first page (after a reconnection). */
  async resync() {
    try {
      await this.loadPage(null);
    } catch {
      // the events replayed on reconnection carry the same news; this read only double-checks
    }
  }

  upsert(record) {
    const ing = this.ensure(record.id);
    ing.merge(record);
    this.touch(record.id);
  }

  ensure(id) {
    let ing = this.items.get(id);
    if (!ing) {
      ing = new Ingestion(id);
      this.items.set(id, ing);
    }
    return ing;
  }

  apply(event) {
    const id = event.ingestion_id;
    if (id === null || id === undefined) return;
    const known = this.items.has(id);
    // Ingestions older than the pages shown stay off the table (the replay at start would add them all),
    // unless one comes back to life.
    if (!known && id < this.floor && event.type !== "ingestion.resumed") return;
    const ing = this.ensure(id);
    const ended = TERMINAL.has(ing.status);
    ing.apply(event);
    this.touch(id);
    // A row born from an event lacks the record's details (start time, sha256); an ending changes them.
    if (!known || (!ended && TERMINAL_EVENTS.includes(event.type))) this.fetch(id);
  }

  /** GET /ingestions/{id} into the row; one request at a time per id. */
  async fetch(id) {
    if (this.fetching.has(id)) return;
    this.fetching.add(id);
    try {
      this.upsert(await getJson(`/ingestions/${id}`));
    } catch (err) {
      this.message.textContent = `ingestion ${id}: ${err.message}`;
    } finally {
      this.fetching.delete(id);
    }
  }

  touch(id) {
    this.dirty.add(id);
    this.renderTimer ??= setTimeout(() => this.flush(), 30);
  }

  flush() {
    this.renderTimer = undefined;
    for (const id of this.dirty) {
      const ing = this.items.get(id);
      render(ing, this.row(id).cells);
      for (const fn of this.listeners) fn(ing);
    }
    this.dirty.clear();
  }

  /** The row of `id`, made and put in id order (newest first) on first use. */
  row(id) {
    let row = this.rows.get(id);
    if (row) return row;
    row = makeRow(id, (i) => this.onRejects(this.items.get(i)));
    this.rows.set(id, row);
    const after = [...this.tbody.children].find((tr) => Number(tr.dataset.ingestionId) < id);
    this.tbody.insertBefore(row.tr, after ?? null);
    return row;
  }
}
