/**
 * `npm run bench:quiet -- [--database NAME] [--role all|api] [--seed S] [--requests R] [--quiet-seconds Q]`: the
 * benchmark's box questions (the same seeded requests as `npm run bench`) asked of the real service over
 * the database a benchmark left (tripflow_bench by default, on DATABASE_URL's server or the local one),
 * three times: on a freshly started service, at once again, and again after Q seconds of quiet (12 by
 * default: past node-postgres' default idle timeout of 10 s, within tripflow's five minutes). The service
 * runs every role as `npm start` does, or (`--role api`) the API alone, whose connections nothing else
 * keeps busy. Set DB_IDLE_MS=10000 to see node-postgres' default. Prints
 * p50 / p95 per pass for one-end and both-ends questions: what a fresh or an idle connection costs.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { findLocalServer, withDatabase } from "../../pipeline/core/bootstrap.ts";
import { parseCount, query, randomRequests, startService } from "./run.ts";

const { values } = parseArgs({
  options: {
    database: { type: "string", default: "tripflow_bench" },
    role: { type: "string", default: "all" },
    seed: { type: "string", default: "1" },
    requests: { type: "string", default: "150" },
    "quiet-seconds": { type: "string", default: "12" },
  },
});
const server = process.env.DATABASE_URL
  ? withDatabase(process.env.DATABASE_URL, "postgres")
  : await findLocalServer(path.join(import.meta.dirname, "../../.data"), pino({ level: "silent" }));
const asked = randomRequests(parseCount(values.requests), Number(values.seed)).filter((r) => r.bbox);
const dir = await mkdtemp(path.join(os.tmpdir(), "quiet-"));
const svc = await startService(withDatabase(server, values.database), dir, values.role);

const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.ceil(q * xs.length) - 1] ?? NaN;
async function pass(name: string): Promise<string> {
  const ms: Record<"one end" | "both ends", number[]> = { "one end": [], "both ends": [] };
  for (const r of asked) {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${svc.port}/stats/weekly-average?${query(r)}`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${query(r)}: HTTP ${res.status}`);
    ms[r.match === "origin" || r.match === "destination" ? "one end" : "both ends"].push(performance.now() - t);
  }
  const cell = (xs: number[]) => `${percentile(xs, 0.5).toFixed(1)} / ${percentile(xs, 0.95).toFixed(1)} ms`;
  return `| ${name} | ${cell(ms["one end"])} | ${cell(ms["both ends"])} |`;
}

try {
  const rows = [await pass("a fresh service"), await pass("at once again")];
  await new Promise((r) => setTimeout(r, Number(values["quiet-seconds"]) * 1000));
  rows.push(await pass(`after ${values["quiet-seconds"]} s of quiet`));
  const idle = process.env.DB_IDLE_MS ? `DB_IDLE_MS=${process.env.DB_IDLE_MS}` : "DB_IDLE_MS default";
  const head = `| pass (${values.database}, role ${values.role}, ${idle}) | one end p50 / p95 | both or any p50 / p95 |`;
  console.log(`${head}\n|---|---|---|\n${rows.join("\n")}`);
} finally {
  await svc.stop();
}
