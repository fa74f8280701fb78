/**
 * The weekly-average panel: a region (GET /regions) or a box drawn on the map, the match mode and a period;
 * the answer of GET /stats/weekly-average exactly as the API gives it, its series as a chart, and the
 * groups of similar trips (GET /groups) listed and drawn as arrows.
 */
import { getJson } from "./api.js";
import { SeriesChart } from "./chart.js";
import { el, formatInteger, roundText } from "./format.js";
import { TripMap } from "./map.js";

const BOX_FIELDS = ["west", "south", "east", "north"];
const GROUPS_SHOWN = 20;
/** Every region's extent when no region answers: the whole map. */
const WORLD = [-180, -85, 180, 85];

const byId = (id) => document.getElementById(id);

/** [west, south, east, north] covering every bbox given. */
function union(boxes) {
  if (boxes.length === 0) return null;
  return [
    Math.min(...boxes.map((b) => b[0])),
    Math.min(...boxes.map((b) => b[1])),
    Math.max(...boxes.map((b) => b[2])),
    Math.max(...boxes.map((b) => b[3])),
  ];
}

export class WeeklyPanel {
  constructor() {
    this.form = byId("query");
    this.regionSelect = byId("region-select");
    this.matchSelect = byId("match-select");
    this.from = byId("from");
    this.to = byId("to");
    this.boxInputs = Object.fromEntries(BOX_FIELDS.map((f) => [f, byId(f)]));
    this.message = byId("weekly-message");
    this.numbers = { avg: byId("avg"), trips: byId("trips"), weeks: byId("weeks"), period: byId("period") };
    this.groupsList = byId("groups");
    this.groupsMessage = byId("groups-message");
    this.regions = [];
    this.asking = 0;
    this.chart = new SeriesChart(byId("series"));
    this.map = new TripMap(byId("map"), {
      status: byId("map-status"),
      pointer: byId("map-pointer"),
      onDrag: (box, final) => this.dragged(box, final),
    });

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    this.regionSelect.addEventListener("change", () => {
      // A box belongs to the view it was drawn on; a new region is a new view.
      this.clearBox();
      this.fitView();
      this.loadCells();
    });
    for (const input of [this.matchSelect, this.from, this.to])
      input.addEventListener("change", () => this.loadCells());
    for (const input of Object.values(this.boxInputs)) input.addEventListener("input", () => this.boxEdited());
    byId("clear-box").addEventListener("click", () => this.clearBox());
  }

  /** Reads the regions and the cells again (at start, and when an ingestion has changed the data). */
  async refresh() {
    await this.loadRegions();
    this.fitView();
    await this.loadCells();
  }

  async loadRegions() {
    try {
      const { regions } = await getJson("/regions");
      this.regions = regions;
      this.message.textContent = regions.length === 0 ? "no regions yet: upload a file of trips" : "";
    } catch (err) {
      this.regions = [];
      this.message.textContent =
        err.status === 404
          ? "regions are not available: this server has no GET /regions yet (a box typed in still works)"
          : `regions: ${err.message}`;
    }
    const chosen = this.regionSelect.value;
    const options = [el("option", "", "(no region)")];
    options[0].value = "";
    for (const r of this.regions) {
      const option = el("option", "", `${r.name} (${formatInteger(r.trips)} trips)`);
      option.value = r.name;
      options.push(option);
    }
    this.regionSelect.replaceChildren(...options);
    this.regionSelect.value = this.regions.some((r) => r.name === chosen) ? chosen : "";
  }

  /** Fits the map to the chosen region, else to every region, else to the typed box, else to the world. */
  fitView() {
    const region = this.regions.find((r) => r.name === this.regionSelect.value);
    const all = union(this.regions.map((r) => r.bbox).filter(Boolean));
    const box = this.readBox().box;
    this.map.setExtent(region?.bbox ?? all ?? (box ? [box.west, box.south, box.east, box.north] : WORLD));
  }

  loadCells() {
    return this.map.loadCells({
      region: this.regionSelect.value,
      match: this.matchSelect.value,
      from: this.from.value,
      to: this.to.value,
    });
  }

  /** The box as the inputs show it: { box, text } (text is what the API is sent), or { error }. */
  readBox() {
    const texts = BOX_FIELDS.map((f) => this.boxInputs[f].value.trim());
    if (texts.every((t) => t === "")) return { box: null, text: "" };
    const missing = BOX_FIELDS.filter((_f, i) => texts[i] === "");
    if (missing.length > 0) return { error: `box: give ${missing.join(", ")} too, or clear the box` };
    const values = texts.map(Number);
    const bad = BOX_FIELDS.filter((_f, i) => !Number.isFinite(values[i]));
    if (bad.length > 0) return { error: `box: ${bad.join(", ")} must be a number of degrees` };
    const [west, south, east, north] = values;
    return { box: { west, south, east, north }, text: texts.join(",") };
  }

  boxEdited() {
    const { box, error } = this.readBox();
    this.map.setBox(box ?? null);
    this.message.textContent = error ?? "";
  }

  /** A box dragged on the map, rounded to 5 decimals: into the inputs, and drawn from them. */
  dragged(box, final) {
    for (const f of BOX_FIELDS) this.boxInputs[f].value = String(box[f]);
    if (final) this.boxEdited();
    else this.map.setBox(box);
  }

  clearBox() {
    for (const input of Object.values(this.boxInputs)) input.value = "";
    this.boxEdited();
  }

  /** Asks the API for the weekly average and the groups of what the form shows. */
  async ask() {
    const { text: bbox, error } = this.readBox();
    if (error) {
      this.message.textContent = error;
      return;
    }
    const region = this.regionSelect.value;
    const params = { region, bbox, match: this.matchSelect.value, from: this.from.value, to: this.to.value };
    const request = ++this.asking;
    this.message.textContent = "asking…";
    this.loadCells();
    const [answer, groups] = await Promise.allSettled([
      getJson("/stats/weekly-average", params),
      getJson("/groups", { region, bbox, limit: GROUPS_SHOWN }),
    ]);
    if (request !== this.asking) return;
    if (answer.status === "fulfilled") {
      this.message.textContent = "";
      this.showAnswer(answer.value);
    } else {
      this.message.textContent = answer.reason.message;
      this.showAnswer(null);
    }
    if (groups.status === "fulfilled") this.showGroups(groups.value.groups, Boolean(bbox));
    else {
      this.showGroups([], false);
      this.groupsMessage.textContent = `groups: ${groups.reason.message}`;
    }
  }

  showAnswer(a) {
    const n = this.numbers;
    n.avg.textContent = a ? roundText(a.weekly_average, 2) : "–";
    n.trips.textContent = a ? String(a.trips) : "–";
    n.weeks.textContent = a ? String(a.weeks) : "–";
    if (!a) {
      n.period.textContent = "";
      this.chart.show([]);
      return;
    }
    const what = [
      a.region ? `region ${a.region}` : "all regions",
      a.bbox ? `box ${a.bbox.join(", ")} (${a.match} in the box)` : "",
    ].filter(Boolean);
    n.period.textContent =
      a.from === null
        ? `${what.join(", ")}: no trips stored yet`
        : `${what.join(", ")}; ISO weeks ${a.from} to ${a.to}: ${a.trips} trips / ${a.weeks} weeks = ${a.weekly_average}`;
    this.chart.show(a.series);
  }

  showGroups(groups, inBox) {
    this.map.setGroups(groups);
    const items = groups.map((g, i) => {
      const li = el("li", "group");
      li.dataset.trips = String(g.trips);
      li.dataset.groupId = g.id;
      const [ox, oy] = g.origin_cell.center;
      const [dx, dy] = g.destination_cell.center;
      li.append(
        el("span", "group-rank", `${i + 1}`),
        el("span", "group-trips", `${formatInteger(g.trips)} trip${g.trips === 1 ? "" : "s"}`),
        el("span", "group-slot", g.slot),
        el("span", "group-region", g.region),
        el("span", "group-cells", `${ox.toFixed(4)}, ${oy.toFixed(4)} → ${dx.toFixed(4)}, ${dy.toFixed(4)}`),
      );
      li.title = `first trip ${g.first_trip_at}, last ${g.last_trip_at}`;
      li.addEventListener("mouseenter", () => this.map.highlight(i));
      li.addEventListener("mouseleave", () => this.map.highlight(-1));
      return li;
    });
    this.groupsList.replaceChildren(...items);
    this.groupsMessage.textContent =
      groups.length === 0
        ? "no groups"
        : `the ${groups.length} largest groups${inBox ? " whose origin lies in the box" : ""}: ` +
          "trips that share origin cell, destination cell and half hour of the day";
  }
}
