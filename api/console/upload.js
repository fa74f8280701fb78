/**
 * Uploads: a CSV file dropped onto the page (or picked) goes to POST /ingestions as the request body. Its
 * row appears as soon as the server accepts it; the result line then follows the ingestion to its end.
 */
import { apiError, apiToken, query } from "./api.js";
import { el, formatBytes } from "./format.js";

/** POST one file; resolves with { status, body } (status 0: no answer). XHR, for the upload's progress. */
function post(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/ingestions?${query({ name: file.name })}`);
    // The server checks the content itself; the type only says "a file as the body".
    xhr.setRequestHeader("Content-Type", "text/csv");
    const token = apiToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      let body;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, body: undefined }));
    xhr.send(file);
  });
}

export class Uploader {
  constructor({ input, dropzone, result, table }) {
    Object.assign(this, { input, dropzone, result, table });
    /** Lines of #upload-result by ingestion id, updated when that ingestion ends. */
    this.watched = new Map();
    this.busy = Promise.resolve();
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = ""; // the same file picked again is a new upload (and shows as a duplicate)
      this.send(files);
    });
    // Anywhere on the page accepts a drop; the zone shows where.
    const over = (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      dropzone.classList.add("over");
    };
    window.addEventListener("dragover", over);
    window.addEventListener("dragleave", (event) => {
      if (event.relatedTarget === null) dropzone.classList.remove("over");
    });
    window.addEventListener("drop", (event) => {
      dropzone.classList.remove("over");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.send([...event.dataTransfer.files]);
    });
    table.onChange((ing) => this.follow(ing));
  }

  /** Uploads the files one after another, after any batch still going. */
  send(files) {
    if (files.length === 0) return;
    this.result.replaceChildren();
    this.watched.clear();
    this.busy = this.busy.then(async () => {
      for (const file of files) await this.upload(file);
    });
  }

  async upload(file) {
    const line = el("div", "upload-line", `${file.name}: uploading ${formatBytes(file.size)}…`);
    this.result.append(line);
    const { status, body } = await post(file, (sent) => {
      const pct = file.size > 0 ? Math.floor((100 * sent) / file.size) : 100;
      line.textContent = `${file.name}: uploading, ${pct}% of ${formatBytes(file.size)}`;
    });
    if (status === 0) {
      line.textContent = `${file.name}: not sent: the server does not answer`;
      line.dataset.outcome = "error";
      return;
    }
    if (status !== 200 && status !== 202) {
      const err = apiError(status, body);
      const hint = status === 401 ? " (set the API token below)" : "";
      line.textContent = `${file.name}: refused: ${err.message}${hint}`;
      line.dataset.outcome = "refused";
      return;
    }
    const id = body.ingestion_id;
    this.table.upsert({
      id,
      file_name: body.file_name,
      size_bytes: body.size_bytes,
      sha256: body.sha256,
      status: body.status,
      duplicate_of: body.duplicate_of,
    });
    if (body.status === "skipped") {
      line.textContent = `${file.name}: duplicate of ingestion ${body.duplicate_of}: the same content was ingested before (recorded as #${id}, skipped)`;
      line.dataset.outcome = "duplicate";
      return;
    }
    line.textContent = `${file.name}: accepted as ingestion ${id}, queued`;
    line.dataset.outcome = "queued";
    this.watched.set(id, line);
    this.table.fetch(id);
    const ing = this.table.get(id);
    if (ing) this.follow(ing);
  }

  /** Updates an uploaded file's line as its ingestion goes on. */
  follow(ing) {
    const line = this.watched.get(ing.id);
    if (!line) return;
    const rec = ing.record;
    const name = rec.file_name;
    if (rec.status === "completed") {
      line.textContent = `${name}: ingestion ${ing.id} completed: ${rec.rows_loaded} rows stored, ${rec.rows_rejected} rejected`;
      line.dataset.outcome = "completed";
    } else if (rec.status === "failed") {
      line.textContent = `${name}: ingestion ${ing.id} refused: ${rec.error ?? "failed"}`;
      line.dataset.outcome = "refused";
    } else {
      line.textContent = `${name}: ingestion ${ing.id} ${rec.status}: ${ing.progress().label}`;
      return;
    }
    this.watched.delete(ing.id);
  }
}
