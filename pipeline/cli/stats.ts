/**
 * `npm run stats -- …`: asks the tripflow service for the average number of trips per ISO week
 * (GET /stats/weekly-average) and prints its answer as a summary and a bar chart, or as JSON.
 */
import { parseCli, UsageError } from "./args.ts";
import { renderStats, type WeeklyAverage } from "./chart.ts";
import { EXIT, reportFailure } from "./exit.ts";
import { apiError, request, resolveService } from "./http.ts";

const HELP = `Usage: npm run stats -- (--region NAME | --bbox W,S,E,N) [options]

Prints the average number of trips per ISO week (Monday to Sunday) from a running
tripflow service (GET /stats/weekly-average): the period, the number of weeks (weeks
without trips included), the trips, the weekly average, and a bar chart of the trips
per week, each bar scaled to the largest.

Periods longer than 52 weeks are charted per month instead: each month's average trips
per week, then its total (a week counts in the month of its Thursday, as ISO does for
years, so that four- and five-week months compare); --by week keeps one line per week.

Options:
  --region NAME   trips of this region (e.g. Prague)
  --bbox W,S,E,N  trips with an end in this box: minLon,minLat,maxLon,maxLat in
                  WGS84 degrees, edges inclusive (a negative first number: --bbox=-9.2,38.6,-9,38.8)
  --match WHICH   with --bbox, which end must lie in the box: origin (default),
                  destination, both or any
  --from DATE     the period starts with the ISO week of DATE (YYYY-MM-DD);
                  default: the week of the first trip
  --to DATE       the period ends with the ISO week of DATE; default: the week of the last trip
  --by HOW        chart lines: auto (default: weeks up to 52, else months), week or month
  --json          print the service's JSON answer as it is, no chart
  --url URL       the service (default: $TRIPFLOW_URL, else http://127.0.0.1:$PORT, PORT 3000)
  -h, --help      this text

Environment: API_TOKEN, the service's token, sent as Authorization: Bearer (reads
need none; it is sent when set).

Exit status: 0 with an answer, 1 when the service refused the question (its message
is printed), 2 for a usage error or a service that cannot be reached.

Examples:
  npm run stats -- --region Prague
  npm run stats -- --bbox 14.3,49.95,14.6,50.15 --match both --from 2018-05-01 --to 2018-05-31`;

const BY = ["auto", "week", "month"] as const;

/** `npm run stats -- …`: returns the exit status. */
async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    const { values } = parseCli(argv, {
      region: { type: "string" },
      bbox: { type: "string" },
      match: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      by: { type: "string", default: "auto" },
      json: { type: "boolean" },
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return EXIT.ok;
    }
    if (values.region === undefined && values.bbox === undefined) {
      throw new UsageError("give --region NAME, --bbox W,S,E,N or both");
    }
    const by = values.by as (typeof BY)[number];
    if (!BY.includes(by)) {
      throw new UsageError(`--by must be one of ${BY.join(", ")} (got ${JSON.stringify(values.by)})`);
    }
    const service = resolveService(values.url, env);

    // The service checks every value and names what is wrong; the command only passes them on.
    const query = new URLSearchParams();
    for (const key of ["region", "bbox", "match", "from", "to"] as const) {
      const v = values[key];
      if (v !== undefined) query.set(key, v);
    }
    const res = await request(service, `/stats/weekly-average?${query}`);
    if (!res.ok) throw await apiError(res);
    const text = await res.text();
    if (values.json) {
      process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
      return EXIT.ok;
    }
    const answer = JSON.parse(text) as WeeklyAverage;
    const width = Math.max(10, Math.min(50, (process.stdout.columns ?? 80) - 40));
    process.stdout.write(`${renderStats(answer, { by, width })}\n`);
    return EXIT.ok;
  } catch (err) {
    return reportFailure("stats", err, process.stderr);
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
