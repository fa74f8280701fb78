/**
 * `npm run demo`: starts everything (as `npm start`), drops the sample file into landing, follows its
 * audit events until it is archived, prints what was stored, and keeps serving. `--exit` stops after.
 */
import { copyFile, mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEvent } from "./core/audit.ts";
import { configOrExit } from "./core/config.ts";
import { createLogger } from "./core/logger.ts";
import { SQL } from "./core/sql.ts";
import { startServices } from "./services.ts";

const SAMPLE = fileURLToPath(new URL("../test/fixtures/trips.csv", import.meta.url));
const NAME = "sample-trips.csv";

async function main(): Promise<void> {
  const exitAfter = process.argv.includes("--exit");
  const config = configOrExit();
  // Keep the console for the walkthrough: only warnings and errors from the services.
  const logger = createLogger({ logLevel: config.logLevel === "info" ? "warn" : config.logLevel });
  const services = await startServices(["api", "worker", "watch"], config, logger);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`tripflow is up: console and API on http://localhost:${services.port}/, watching ${config.landingDir}`);

  let ingestion: number | undefined;
  const finished = new Promise<AuditEvent>((resolve) => {
    services.bus!.subscribe((e) => {
      if (
        ingestion === undefined &&
        (e.type === "ingestion.discovered" || e.type === "ingestion.skipped" || e.type === "ingestion.resumed") &&
        e.payload.file === NAME
      )
        ingestion = e.ingestion_id!;
      if (e.ingestion_id !== ingestion || ingestion === undefined) return;
      say(`  event ${String(e.id).padStart(4)}  ${e.type.padEnd(22)} ${JSON.stringify(e.payload)}`);
      if (e.type === "file.archived" || e.type === "ingestion.failed") resolve(e);
    });
  });

  await mkdir(config.landingDir, { recursive: true });
  const tmp = join(config.landingDir, `.${NAME}.tmp`);
  await copyFile(SAMPLE, tmp);
  await rename(tmp, join(config.landingDir, NAME));
  say(`dropped the sample (100 trips) into ${join(config.landingDir, NAME)}; events as they happen:`);
  await finished;

  type Summary = { region: string; trips: number; weeks: number; weekly_average: string };
  const { rows } = await services.pool.query<Summary>(SQL.demoRegionsSummary);
  say("\nstored in gold (trips, ISO weeks from first to last trip, weekly average):");
  for (const r of rows)
    say(
      `  ${r.region.padEnd(10)} ${String(r.trips).padStart(6)} trips  ${String(r.weeks).padStart(3)} weeks  ${r.weekly_average} per week`,
    );
  const { rows: totals } = await services.pool.query<{ trips: number; groups: number }>(
    "SELECT (SELECT count(*) FROM silver.trips)::int AS trips, (SELECT count(*) FROM silver.trip_groups)::int AS groups",
  );
  say(`  silver: ${totals[0]!.trips} trips in ${totals[0]!.groups} groups of similar trips`);
  if (exitAfter) {
    await services.stop();
    return;
  }
  say(`\nStill running. Try: curl -N http://localhost:${services.port}/events   (Ctrl-C to stop)`);
  const stop = async () => {
    await services.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`tripflow: ${err.message}\n`);
  process.exit(1);
});
