/**
 * The #rejects panel: an ingestion's rejected lines (GET /ingestions/{id}/rejects), a page of 100 at a
 * time, each with its line number, reason and raw text.
 */
import { getJson } from "./api.js";
import { el } from "./format.js";

export class RejectsPanel {
  constructor({ panel, title, list, message, more, close }) {
    Object.assign(this, { panel, title, list, message, more });
    this.id = undefined;
    this.after = null;
    more.addEventListener("click", () => this.load());
    close.addEventListener("click", () => {
      panel.hidden = true;
      this.id = undefined;
    });
  }

  /** Shows the first page of ingestion `ing`'s rejected lines. */
  show(ing) {
    this.id = ing.id;
    this.after = null;
    this.title.textContent = `Rejected lines of ingestion #${ing.id} (${ing.record.file_name})`;
    this.list.replaceChildren();
    this.message.textContent = "loading…";
    this.more.hidden = true;
    this.panel.hidden = false;
    this.panel.scrollIntoView({ block: "nearest" });
    return this.load();
  }

  async load() {
    const id = this.id;
    let page;
    try {
      page = await getJson(`/ingestions/${id}/rejects`, { limit: 100, after: this.after ?? undefined });
    } catch (err) {
      if (id === this.id) this.message.textContent = err.message;
      return;
    }
    if (id !== this.id) return; // another ingestion was chosen meanwhile
    for (const r of page.rejects) {
      const li = el("li", "reject");
      li.append(el("span", "line-no", `line ${r.line_no}`), el("span", "reason", r.reason), el("code", "raw", r.raw));
      this.list.append(li);
    }
    this.after = page.next_after;
    this.more.hidden = page.next_after === null;
    const n = this.list.children.length;
    this.message.textContent =
      n === 0 ? "no rejected lines" : `${n} line${n === 1 ? "" : "s"} shown${this.more.hidden ? "" : "; more below"}`;
  }
}
