/**
 * The per-week series as bars, drawn by uPlot (served from node_modules as /console/vendor/uplot.js, which
 * defines the global `uPlot`). Weeks are ISO weeks: x is each week's Monday, read in UTC.
 */
const HEIGHT = 240;
const HALF_WEEK = 3.5 * 86_400;
/** Room for one week's date label on the x axis (CSS pixels). */
const LABEL_PX = 84;

const isoDay = (ts) => new Date(ts * 1000).toISOString().slice(0, 10);

export class SeriesChart {
  constructor(container) {
    this.container = container;
    this.plot = undefined;
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT })).observe(container);
  }

  width() {
    return Math.max(200, this.container.clientWidth);
  }

  /** Draws [{ week: "YYYY-MM-DD", trips }]; an empty series clears the chart. */
  show(series) {
    this.plot?.destroy();
    this.plot = undefined;
    this.container.replaceChildren();
    const uPlot = globalThis.uPlot;
    if (!uPlot) {
      this.container.textContent = "the chart library (uPlot) did not load";
      return;
    }
    if (series.length === 0) return;
    const xs = series.map((w) => Date.parse(`${w.week}T00:00:00Z`) / 1000);
    const ys = series.map((w) => w.trips);
    const opts = {
      width: this.width(),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [xs[0] - HALF_WEEK, xs[xs.length - 1] + HALF_WEEK] },
        y: { range: (_u, _min, max) => [0, max > 0 ? Math.ceil(max * 1.1) : 1] },
      },
      axes: [
        {
          // Ticks on the weeks' Mondays, as many as fit.
          splits: (u) => {
            const every = Math.max(1, Math.ceil((xs.length * LABEL_PX) / Math.max(u.width - 60, LABEL_PX)));
            return xs.filter((_x, i) => i % every === 0);
          },
          values: (_u, splits) => splits.map(isoDay),
        },
        { label: "trips per week" },
      ],
      series: [
        { label: "week of", value: (_u, ts) => (ts === null ? "–" : isoDay(ts)) },
        {
          label: "trips",
          stroke: "#2563eb",
          fill: "rgba(37, 99, 235, 0.35)",
          paths: uPlot.paths.bars({ size: [0.8, 80] }),
          points: { show: false },
        },
      ],
    };
    this.plot = new uPlot(opts, [xs, ys], this.container);
  }
}
