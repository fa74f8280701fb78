/**
 * The benchmark's seeded trip generator, streamed to a file: several regions with hotspots (so that
 * groups recur), rush hours, two years of dates and a few datasources.
 *
 * @example npx tsx test/bench/generate.ts --rows 1000000 --seed 1 --out /tmp/trips-1m.csv
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { rng } from "../helpers/random.ts";

export type Region = { name: string; lon: number; lat: number; spread: number };

export const REGIONS: Region[] = [
  { name: "Prague", lon: 14.42, lat: 50.08, spread: 0.12 },
  { name: "Turin", lon: 7.68, lat: 45.07, spread: 0.1 },
  { name: "Hamburg", lon: 9.99, lat: 53.55, spread: 0.15 },
  { name: "Quito", lon: -78.5, lat: -0.2, spread: 0.08 },
  { name: "Accra", lon: -0.2, lat: 5.6, spread: 0.1 },
  { name: "Santiago", lon: -70.65, lat: -33.45, spread: 0.15 },
];
const DATASOURCES = ["funny_car", "baba_car", "cheap_mobile", "bad_diesel_vehicles", "pt_search_app"];
const HOTSPOTS_PER_REGION = 24;
/** Spread of trips around a hotspot, in degrees (about 170 m): a hotspot covers a few level-7 cells. */
const HOTSPOT_SIGMA = 0.0015;
const START = Date.UTC(2019, 0, 7); // a Monday
const DAYS = 728; // two years: 104 ISO weeks

/** Writes `rows` trips to `out`; the same seed always gives the same bytes. */
export async function generate(rows: number, seed: number, out: string): Promise<void> {
  const random = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
  const hotspots = REGIONS.map((r) =>
    Array.from(
      { length: HOTSPOTS_PER_REGION },
      () => [r.lon + (random() - 0.5) * 2 * r.spread, r.lat + (random() - 0.5) * 2 * r.spread] as const,
    ),
  );
  const file = createWriteStream(out);
  let buf = "region,origin_coord,destination_coord,datetime,datasource\n";
  for (let i = 0; i < rows; i++) {
    const ri = Math.floor(random() * REGIONS.length);
    const region = REGIONS[ri]!;
    const hs = hotspots[ri]!;
    const o = hs[Math.floor(random() * random() * HOTSPOTS_PER_REGION)]!; // some hotspots much busier
    const d = hs[Math.floor(random() * HOTSPOTS_PER_REGION)]!;
    const olon = o[0] + gauss() * HOTSPOT_SIGMA;
    const olat = o[1] + gauss() * HOTSPOT_SIGMA;
    const dlon = d[0] + gauss() * HOTSPOT_SIGMA;
    const dlat = d[1] + gauss() * HOTSPOT_SIGMA;
    // Rush hours around 08:00 and 17:30, the rest spread over the day.
    const u = random();
    const minute = u < 0.35 ? 480 + gauss() * 45 : u < 0.7 ? 1050 + gauss() * 50 : random() * 1440;
    const m = Math.min(1439, Math.max(0, Math.floor(minute)));
    const day = Math.floor(random() * DAYS);
    const t = new Date(START + day * 86_400_000 + m * 60_000 + Math.floor(random() * 60) * 1000);
    const ts = t.toISOString().slice(0, 19).replace("T", " ");
    const ds = DATASOURCES[Math.floor(random() * DATASOURCES.length)]!;
    buf += `${region.name},POINT (${olon.toFixed(7)} ${olat.toFixed(7)}),POINT (${dlon.toFixed(7)} ${dlat.toFixed(7)}),${ts},${ds}\n`;
    if (buf.length > 1 << 20) {
      if (!file.write(buf)) await once(file, "drain");
      buf = "";
    }
  }
  file.end(buf);
  await once(file, "finish");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1]! : fallback;
  };
  await generate(Number(arg("rows", "1000")), Number(arg("seed", "1")), arg("out", "trips.csv"));
}
