/**
 * The map: a canvas in plain lon/lat (equirectangular, scaled by cos(latitude) so that shapes keep their
 * proportions), fitted to a region's bounding box or to all regions'. It shades gold's grid cells by trips
 * (GET /stats/cells), draws the box, and groups of similar trips as arrows; dragging on it draws a box.
 * No tiles, no network beyond the API.
 */
import { getJson } from "./api.js";
import { formatInteger } from "./format.js";

const MARGIN = { left: 58, right: 12, top: 10, bottom: 34 };
const COARSEST = 1;
const FINEST = 8;
/** A cell is drawn at least this wide (CSS pixels) at the level asked for. */
const MIN_CELL_PX = 3;
const COLORS = { cell: "37, 99, 235", box: "#d97706", arrow: "#b91c1c", highlight: "#7c3aed", axis: "#555" };

/** A round step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`. */
function niceStep(span, count) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

function ticks(lo, hi, count) {
  const step = niceStep(hi - lo, count);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return { values: out, decimals };
}

const round5 = (x) => Number(x.toFixed(5));

export class TripMap {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ status: HTMLElement, pointer: HTMLElement, onDrag: (box: object, final: boolean) => void }} parts
   */
  constructor(canvas, { status, pointer, onDrag }) {
    Object.assign(this, { canvas, status, pointer, onDrag });
    this.extent = [-180, -85, 180, 85];
    this.cells = [];
    this.maxTrips = 0;
    this.box = null;
    this.groups = [];
    this.highlighted = -1;
    this.drag = null;
    this.cellsRequest = 0;
    this.frame = undefined;
    new ResizeObserver(() => this.draw()).observe(canvas);
    canvas.addEventListener("pointerdown", (e) => this.pointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.pointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.pointerUp(e));
    canvas.addEventListener("pointercancel", () => {
      this.drag = null;
      this.draw();
    });
    canvas.addEventListener("pointerleave", () => {
      if (!this.drag) this.pointer.textContent = "";
    });
  }

  /** Fits the view to [west, south, east, north] (with a margin); the box and arrows stay. */
  setExtent(bbox) {
    this.extent = bbox;
    this.draw();
  }

  /** The box to draw, { west, south, east, north } in degrees, or null. */
  setBox(box) {
    this.box = box;
    this.draw();
  }

  setGroups(groups) {
    this.groups = groups;
    this.highlighted = -1;
    this.draw();
  }

  highlight(index) {
    this.highlighted = index;
    this.draw();
  }

  /** The displayed view: the extent padded and widened to the plot's proportions. */
  layout() {
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    const pw = Math.max(1, width - MARGIN.left - MARGIN.right);
    const ph = Math.max(1, height - MARGIN.top - MARGIN.bottom);
    let [w, s, e, n] = this.extent;
    const padX = Math.max((e - w) * 0.05, 0.005);
    const padY = Math.max((n - s) * 0.05, 0.005);
    w -= padX;
    e += padX;
    s -= padY;
    n += padY;
    const k = Math.max(Math.cos((((s + n) / 2) * Math.PI) / 180), 0.05);
    const scale = Math.min(pw / ((e - w) * k), ph / (n - s)); // pixels per degree of latitude
    const cx = (w + e) / 2;
    const cy = (s + n) / 2;
    const halfLon = pw / (scale * k) / 2;
    const halfLat = ph / scale / 2;
    return {
      width,
      height,
      left: MARGIN.left,
      top: MARGIN.top,
      pw,
      ph,
      west: cx - halfLon,
      east: cx + halfLon,
      south: cy - halfLat,
      north: cy + halfLat,
    };
  }

  x(lon) {
    const f = this.frame;
    return f.left + ((lon - f.west) / (f.east - f.west)) * f.pw;
  }

  y(lat) {
    const f = this.frame;
    return f.top + ((f.north - lat) / (f.north - f.south)) * f.ph;
  }

  /** [lon, lat] under a pointer event, clamped to the plot. */
  lonLat(event) {
    const f = this.frame;
    const r = this.canvas.getBoundingClientRect();
    const px = Math.min(Math.max(event.clientX - r.left - f.left, 0), f.pw);
    const py = Math.min(Math.max(event.clientY - r.top - f.top, 0), f.ph);
    const lon = f.west + (px / f.pw) * (f.east - f.west);
    const lat = f.north - (py / f.ph) * (f.north - f.south);
    return [Math.min(Math.max(lon, -180), 180), Math.min(Math.max(lat, -90), 90)];
  }

  inPlot(event) {
    const f = this.frame;
    const r = this.canvas.getBoundingClientRect();
    const px = event.clientX - r.left - f.left;
    const py = event.clientY - r.top - f.top;
    return px >= 0 && py >= 0 && px <= f.pw && py <= f.ph;
  }

  dragBox() {
    const [[x0, y0], [x1, y1]] = [this.drag.from, this.drag.to];
    return {
      west: round5(Math.min(x0, x1)),
      south: round5(Math.min(y0, y1)),
      east: round5(Math.max(x0, x1)),
      north: round5(Math.max(y0, y1)),
    };
  }

  pointerDown(event) {
    if (!this.frame || event.button !== 0 || !this.inPlot(event)) return;
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    const at = this.lonLat(event);
    this.drag = { from: at, to: at, x: event.clientX, y: event.clientY, moved: false };
  }

  pointerMove(event) {
    if (!this.frame) return;
    const [lon, lat] = this.lonLat(event);
    if (!this.drag) {
      this.pointer.textContent = this.inPlot(event) ? this.describePoint(lon, lat) : "";
      return;
    }
    this.drag.to = [lon, lat];
    this.drag.moved ||= Math.hypot(event.clientX - this.drag.x, event.clientY - this.drag.y) >= 4;
    if (this.drag.moved) this.onDrag(this.dragBox(), false);
  }

  pointerUp(event) {
    if (!this.drag) return;
    this.drag.to = this.lonLat(event);
    const { moved } = this.drag;
    const box = this.dragBox();
    this.drag = null;
    if (moved) this.onDrag(box, true);
    else this.draw();
  }

  describePoint(lon, lat) {
    const where = `${lon.toFixed(5)}°, ${lat.toFixed(5)}°`;
    const cell = this.cells.find((c) => lon >= c.west && lon <= c.east && lat >= c.south && lat <= c.north);
    return cell ? `${where}: ${formatInteger(cell.trips)} trips in this cell` : where;
  }

  /**
   * Loads gold's cells for the view at the finest level that keeps them a few pixels wide, one level
   * coarser each time the API says there would be too many.
   */
  async loadCells({ region, match, from, to }) {
    const request = ++this.cellsRequest;
    const f = this.layout();
    const pxPerDegree = f.pw / (f.east - f.west);
    let level = Math.min(FINEST, Math.max(COARSEST, Math.floor(Math.log2(pxPerDegree / MIN_CELL_PX))));
    const bbox = [Math.max(-180, f.west), Math.max(-90, f.south), Math.min(180, f.east), Math.min(90, f.north)].map(
      (v) => round5(v),
    );
    const end = match === "destination" ? "destination" : "origin";
    for (;;) {
      try {
        const answer = await getJson("/stats/cells", { region, bbox: bbox.join(","), match: end, level, from, to });
        if (request !== this.cellsRequest) return;
        this.cells = answer.cells;
        this.maxTrips = Math.max(0, ...answer.cells.map((c) => c.trips));
        this.status.textContent =
          `cells of ${answer.cell_degrees}° (level ${answer.level}) shaded by trips by ${end}: ` +
          `${formatInteger(answer.trips)} trips in ${formatInteger(answer.cells.length)} cells`;
        this.draw();
        return;
      } catch (err) {
        if (request !== this.cellsRequest) return;
        if (err.code === "too_many_cells" && level > COARSEST) {
          level--;
          continue;
        }
        this.cells = [];
        this.maxTrips = 0;
        this.status.textContent =
          err.status === 404 && err.code === "not_found" && /route/.test(err.message)
            ? "no cells to draw: this server has no GET /stats/cells yet"
            : `no cells to draw: ${err.message}`;
        this.draw();
        return;
      }
    }
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const f = this.layout();
    if (f.width === 0 || f.height === 0) return;
    this.frame = f;
    if (canvas.width !== Math.round(f.width * dpr) || canvas.height !== Math.round(f.height * dpr)) {
      canvas.width = Math.round(f.width * dpr);
      canvas.height = Math.round(f.height * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, f.width, f.height);
    ctx.fillStyle = "#f8fafc";
    ctx.fillRect(f.left, f.top, f.pw, f.ph);

    ctx.save();
    ctx.beginPath();
    ctx.rect(f.left, f.top, f.pw, f.ph);
    ctx.clip();
    this.drawGrid(ctx);
    this.drawCells(ctx);
    const box = this.drag?.moved ? this.dragBox() : this.box;
    if (box) this.drawBox(ctx, box);
    this.drawGroups(ctx);
    ctx.restore();
    this.drawAxes(ctx);
  }

  drawGrid(ctx) {
    const f = this.frame;
    ctx.strokeStyle = "#e2e8f0";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const lon of ticks(f.west, f.east, f.pw / 90).values) {
      ctx.moveTo(Math.round(this.x(lon)) + 0.5, f.top);
      ctx.lineTo(Math.round(this.x(lon)) + 0.5, f.top + f.ph);
    }
    for (const lat of ticks(f.south, f.north, f.ph / 60).values) {
      ctx.moveTo(f.left, Math.round(this.y(lat)) + 0.5);
      ctx.lineTo(f.left + f.pw, Math.round(this.y(lat)) + 0.5);
    }
    ctx.stroke();
  }

  drawCells(ctx) {
    const top = Math.log1p(this.maxTrips) || 1;
    for (const c of this.cells) {
      const x0 = this.x(c.west);
      const y0 = this.y(c.north);
      const alpha = 0.18 + 0.82 * (Math.log1p(c.trips) / top);
      ctx.fillStyle = `rgba(${COLORS.cell}, ${alpha.toFixed(3)})`;
      ctx.fillRect(x0, y0, Math.max(1, this.x(c.east) - x0), Math.max(1, this.y(c.south) - y0));
    }
  }

  drawBox(ctx, b) {
    const x0 = this.x(b.west);
    const y0 = this.y(b.north);
    const w = this.x(b.east) - x0;
    const h = this.y(b.south) - y0;
    ctx.fillStyle = "rgba(217, 119, 6, 0.12)";
    ctx.fillRect(x0, y0, w, h);
    ctx.strokeStyle = COLORS.box;
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.strokeRect(x0, y0, w, h);
    ctx.setLineDash([]);
  }

  drawGroups(ctx) {
    const max = Math.max(1, ...this.groups.map((g) => g.trips));
    // Smallest first, so that the largest groups are drawn on top; the highlighted one last of all.
    const order = this.groups.map((_g, i) => i).reverse();
    if (this.highlighted >= 0) order.push(this.highlighted);
    for (const i of order) {
      const g = this.groups[i];
      const [ox, oy] = g.origin_cell.center;
      const [dx, dy] = g.destination_cell.center;
      const color = i === this.highlighted ? COLORS.highlight : COLORS.arrow;
      const width = (i === this.highlighted ? 2 : 0) + 1.5 + 4 * (g.trips / max);
      arrow(ctx, [this.x(ox), this.y(oy)], [this.x(dx), this.y(dy)], width, color);
      ctx.fillStyle = color;
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.fillText(String(i + 1), this.x(ox) + 4, this.y(oy) - 4);
    }
  }

  drawAxes(ctx) {
    const f = this.frame;
    ctx.strokeStyle = COLORS.axis;
    ctx.lineWidth = 1;
    ctx.strokeRect(f.left + 0.5, f.top + 0.5, f.pw - 1, f.ph - 1);
    ctx.fillStyle = COLORS.axis;
    ctx.font = "11px system-ui, sans-serif";
    const lon = ticks(f.west, f.east, f.pw / 90);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of lon.values) ctx.fillText(`${v.toFixed(lon.decimals)}°`, this.x(v), f.top + f.ph + 4);
    ctx.fillText("longitude", f.left + f.pw / 2, f.top + f.ph + 19);
    const lat = ticks(f.south, f.north, f.ph / 60);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of lat.values) ctx.fillText(`${v.toFixed(lat.decimals)}°`, f.left - 5, this.y(v));
    ctx.save();
    ctx.translate(11, f.top + f.ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("latitude", 0, 0);
    ctx.restore();
  }
}

/** An arrow from `a` to `b` (pixels); a group that starts and ends in one cell is a ring. */
function arrow(ctx, [ax, ay], [bx, by], width, color) {
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.globalAlpha = 0.8;
  const len = Math.hypot(bx - ax, by - ay);
  if (len < 3) {
    ctx.beginPath();
    ctx.arc(ax, ay, 5 + width, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.globalAlpha = 1;
    return;
  }
  const head = Math.min(8 + 2 * width, len / 2);
  const ux = (bx - ax) / len;
  const uy = (by - ay) / len;
  ctx.beginPath();
  ctx.moveTo(ax, ay);
  ctx.lineTo(bx - ux * head * 0.8, by - uy * head * 0.8);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(bx, by);
  ctx.lineTo(bx - ux * head - uy * head * 0.5, by - uy * head + ux * head * 0.5);
  ctx.lineTo(bx - ux * head + uy * head * 0.5, by - uy * head - ux * head * 0.5);
  ctx.closePath();
  ctx.fill();
  ctx.globalAlpha = 1;
}
