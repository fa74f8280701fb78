import { parentPort, workerData } from "node:worker_threads";
import { GroupCounts } from "./group_counts.ts";
import { type CountRequest, type CountTable, TRIP_VALUES } from "./count_messages.ts";
import { WeeklyCounts } from "./weekly_counts.ts";

/**
 * The thread that keeps a large file's weekly counts and groups while the load reads it
 * (load_counts.ts LoadCounts): the loader's thread hands it each trip's values in batches and goes on
 * reading, so the hash tables' cost lands on the core PostgreSQL's COPY leaves partly idle.
 * Messages are answered in the order they come.
 */
const port = parentPort!;
const { maxGroups, segment } = workerData as { maxGroups: number; segment: number };
const weekly = new WeeklyCounts();
const groups = new GroupCounts(maxGroups);
/** The rows of each table, handed out a piece at a time. */
const tables: Record<CountTable, () => Iterator<Buffer>> = {
  regions: () => weekly.regionRows(segment)[Symbol.iterator](),
  origins: () => weekly.cellRows("origins", segment)[Symbol.iterator](),
  destinations: () => weekly.cellRows("destinations", segment)[Symbol.iterator](),
  groups: () => groups.rows(segment),
};
const reading = new Map<CountTable, Iterator<Buffer>>();
/** Bytes per answer to a request for rows. */
const PIECE_BYTES = 1 << 20;

port.on("message", (m: CountRequest) => {
  if (m.type === "trips") {
    const t = m.values;
    for (let at = 0; at < m.count * TRIP_VALUES; at += TRIP_VALUES) {
      // region, days, minute, origin column and row, destination column and row, coordinates, moment
      weekly.add(t[at]!, t[at + 1]!, t[at + 3]!, t[at + 4]!, t[at + 5]!, t[at + 6]!);
      groups.add(
        t[at]!,
        t[at + 2]!,
        t[at + 3]!,
        t[at + 4]!,
        t[at + 5]!,
        t[at + 6]!,
        t[at + 7]!,
        t[at + 8]!,
        t[at + 9]!,
        t[at + 10]!,
        t[at + 11]!,
      );
    }
    port.postMessage({ type: "counted", values: t }, [t.buffer as ArrayBuffer]);
  } else if (m.type === "end") {
    port.postMessage({ type: "ended", weekly: weekly.complete, groups: groups.complete });
  } else {
    let rows = reading.get(m.table);
    if (!rows) reading.set(m.table, (rows = tables[m.table]()));
    const pieces: Buffer[] = [];
    let bytes = 0;
    let done = false;
    while (bytes < PIECE_BYTES) {
      const next = rows.next();
      if (next.done) {
        done = true;
        break;
      }
      pieces.push(next.value);
      bytes += next.value.length;
    }
    port.postMessage({ type: "rows", piece: Buffer.concat(pieces, bytes), done });
  }
});
