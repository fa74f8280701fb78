/**
 * `npm run ingest -- FILE...`: uploads each file to the tripflow service (POST /ingestions), follows
 * its ingestion's events (GET /events) while showing its progress, and prints the accounting of every
 * file (GET /ingestions/:id).
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { Readable } from "node:stream";
import { ConfigError, loadConfig } from "../core/config.ts";
import { parseCli, UsageError } from "./args.ts";
import { Display } from "./display.ts";
import { EXIT, reportFailure } from "./exit.ts";
import { formatBytes, formatDuration, formatInteger } from "./format.ts";
import {
  apiError,
  describeCause,
  request,
  resolveService,
  ServiceUnreachableError,
  TokenError,
  type Service,
} from "./http.ts";
import { FileProgress } from "./progress.ts";
import { renderOutcomeLine, renderSummary, type FileOutcome } from "./render.ts";
import { followIngestion } from "./sse.ts";

const HELP = `Usage: npm run ingest -- [--url URL] [--stall-seconds N] FILE...

Uploads each CSV FILE to a running tripflow service (POST /ingestions), follows its
ingestion's events (GET /events) and shows its progress, then prints the accounting
of every file: status, rows loaded, rows rejected, duration, and for a skipped file
the ingestion that had the same content before.

Files go one at a time, in the order given. On a terminal each file has one progress
line, redrawn in place:
  trips.csv [#########-----------]  45% load 1.2M rows 250k rows/s ETA 4s #7
Stages: upload (bytes sent), queued (waiting for the service's watcher), load (bytes
of the file in bronze), transform (rows through silver and gold), then the outcome.
The ETA is the current stage's. When stderr is not a terminal, progress is printed
as plain lines: one per stage and at most one progress line every 2 seconds.
Progress goes to stderr, the final table to stdout.

Options:
  --url URL   the service (default: $TRIPFLOW_URL, else http://127.0.0.1:$PORT, PORT 3000)
  --stall-seconds N
              stop waiting for a file when no event of its ingestion came for N
              seconds (the service may be stuck); the file counts as failed
              (default: $STALL_MS / 1000, else 300)
  -h, --help  this text

Environment: API_TOKEN, the service's token, sent as Authorization: Bearer (a service
started with API_TOKEN takes uploads only with it).

Exit status: 0 when every file completed or was skipped (same content as before),
1 when any file failed, 2 for a usage error, a missing or unreadable file, a service
that cannot be reached or that refuses the token. Interrupted (Ctrl-C): 130; the
service carries on.

Example:
  npm run ingest -- data/trips.csv data/more-trips.csv`;

type Input = { path: string; name: string; size: number };

/** Every file must exist, be a regular file and be readable; all problems are reported at once. */
async function checkFiles(paths: string[], cwd: string): Promise<Input[]> {
  const problems: string[] = [];
  const inputs: Input[] = [];
  for (const given of paths) {
    const path = resolve(cwd, given);
    try {
      const st = await stat(path);
      if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTFILE" });
      await (await open(path, "r")).close();
      inputs.push({ path, name: basename(path), size: st.size });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "no such file"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : code === "ENOTFILE"
              ? "not a regular file"
              : (err as Error).message;
      problems.push(`${given}: ${why}`);
    }
  }
  if (problems.length) {
    throw new UsageError(`cannot read ${problems.length === 1 ? "a file" : "files"}:\n  ${problems.join("\n  ")}`);
  }
  return inputs;
}

/** GET /health: the service is there and its database answers. */
async function checkService(service: Service): Promise<void> {
  const unreachable = (why: string) => new ServiceUnreachableError(service.url, new Error(why));
  const res = await request(service, "/health", { signal: AbortSignal.timeout(10_000) }).catch((err) => {
    if ((err as Error).name === "TimeoutError") throw unreachable("no answer within 10 s");
    throw err;
  });
  if (res.status === 503) throw unreachable("the service answers but its database does not");
  if (!res.ok) throw unreachable(`GET /health answered HTTP ${res.status}: is this a tripflow service?`);
  await res.body?.cancel();
}

type UploadAnswer = { ingestion_id: number; status: "queued" | "skipped"; duplicate_of: number | null };

/** Streams the file to POST /ingestions?name=…, counting the bytes as they go. */
async function upload(
  service: Service,
  input: Input,
  progress: FileProgress,
  display: Display,
): Promise<UploadAnswer | FileOutcome> {
  async function* counted() {
    // 1 MiB reads: with the default 64 KiB the upload ran at a third of the speed.
    for await (const chunk of createReadStream(input.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      yield chunk;
      progress.uploaded(chunk.length, Date.now());
      display.progress(progress);
    }
  }
  let res: Response;
  try {
    res = await request(service, `/ingestions?name=${encodeURIComponent(input.name)}`, {
      method: "POST",
      headers: { "content-type": "text/csv", "content-length": String(input.size) },
      body: Readable.toWeb(Readable.from(counted())) as ReadableStream<Uint8Array>,
      duplex: "half",
    } as RequestInit);
  } catch (err) {
    if (err instanceof TokenError) throw err;
    // Cut off mid-way: the service may have gone, or refused the body before its end.
    await checkService(service);
    return failed(input, `the upload was cut off: ${describeCause(err)}`);
  }
  if (res.status === 200 || res.status === 202) return (await res.json()) as UploadAnswer;
  return failed(input, (await apiError(res)).message);
}

/** The accounting of a file that was not loaded (refused, or the same content as before). */
const NO_ACCOUNTING = { rowsLoaded: null, rowsRejected: null, durationMs: null } as const;

function failed(input: Input, error: string, ingestionId: number | null = null): FileOutcome {
  return { file: input.name, status: "failed", ingestionId, ...NO_ACCOUNTING, duplicateOf: null, error };
}

type IngestionView = {
  id: number;
  status: string;
  rows_loaded: number;
  rows_rejected: number;
  error: string | null;
  duration_ms: number | null;
  duplicate_of: number | null;
};

/** One file from upload to outcome. */
async function ingestOne(
  service: Service,
  input: Input,
  display: Display,
  stallMs: number,
  onId: (id: number) => void,
): Promise<FileOutcome> {
  // The service would answer 400; said here in the words of a command line.
  if (input.size === 0) return failed(input, "the file is empty: nothing to upload");
  const progress = new FileProgress(input.name, input.size, Date.now());
  display.stage(`${input.name}: uploading ${formatBytes(input.size)}`);
  display.restartClock();
  display.progress(progress, display.tty);
  const started = Date.now();
  const answer = await upload(service, input, progress, display);
  if ("file" in answer) return answer;
  const id = answer.ingestion_id;
  onId(id);
  if (answer.status === "skipped") {
    const duplicateOf = answer.duplicate_of;
    return { file: input.name, status: "skipped", ingestionId: id, ...NO_ACCOUNTING, duplicateOf, error: null };
  }

  progress.queued(id);
  display.stage(`${input.name}: uploaded in ${formatDuration(Date.now() - started)}, queued as ingestion #${id}`);
  display.restartClock();
  display.progress(progress, display.tty);
  const terminal = await followIngestion(
    service,
    id,
    stallMs,
    (event) => {
      const { stageChanged } = progress.apply(event);
      if (stageChanged && progress.stage === "load") display.stage(`${input.name}: loading into bronze (#${id})`);
      if (stageChanged && progress.stage === "transform") {
        const chunks = progress.chunks ?? 0;
        const loaded = `${formatInteger(progress.lines ?? 0)} rows in ${chunks} chunk${chunks === 1 ? "" : "s"}`;
        display.stage(`${input.name}: bronze loaded: ${loaded}; transforming (#${id})`);
      }
      if (stageChanged) display.restartClock();
      if (progress.stage !== "done") display.progress(progress, stageChanged && display.tty);
    },
    (after) => display.line(`${input.name}: event stream dropped; resuming after event ${after}`),
  );
  if (terminal === undefined) {
    // The status it is stuck in; a service that is gone altogether is said as such (exit 2).
    const res = await request(service, `/ingestions/${id}`);
    let status = "unknown";
    if (res.ok) status = ((await res.json()) as IngestionView).status;
    else await res.body?.cancel();
    const note = `no progress for ${stallMs / 1000} s (status ${status})`;
    display.line(`${input.name} #${id}: ${note}; the service may be stuck: see GET /health and the server log`);
    return failed(input, note, id);
  }

  // The accounting from the ingestion itself; the terminal event's payload when that is unavailable.
  const p = terminal.payload ?? {};
  let view: Partial<IngestionView> = {
    rows_loaded: p.rows_loaded as number,
    rows_rejected: p.rows_rejected as number,
    duration_ms: p.duration_ms as number,
    error: (p.error as string) ?? null,
    duplicate_of: (p.duplicate_of as number) ?? null,
  };
  const res = await request(service, `/ingestions/${id}`).catch(() => undefined);
  if (res?.ok) view = (await res.json()) as IngestionView;
  else await res?.body?.cancel();
  const status =
    terminal.type === "ingestion.completed"
      ? "completed"
      : terminal.type === "ingestion.skipped"
        ? "skipped"
        : "failed";
  return {
    file: input.name,
    status,
    ingestionId: id,
    rowsLoaded: view.rows_loaded ?? null,
    rowsRejected: view.rows_rejected ?? null,
    durationMs: view.duration_ms ?? null,
    duplicateOf: view.duplicate_of ?? null,
    error: status === "failed" ? (view.error ?? "failed") : null,
  };
}

/** How long to wait for an ingestion's next event: --stall-seconds, else STALL_MS read as the service reads it. */
function stallTime(flag: string | undefined, env: Record<string, string | undefined>): number {
  if (flag !== undefined) {
    if (!/^\s*\d+\s*$/.test(flag) || Number(flag) < 1) {
      const got = JSON.stringify(flag);
      throw new UsageError(`--stall-seconds: must be a whole number of seconds, at least 1 (got ${got})`);
    }
    return Number(flag) * 1000;
  }
  try {
    return loadConfig({ STALL_MS: env.STALL_MS }).stallMs;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message.replace(/^invalid configuration:\s*/, ""));
    throw err;
  }
}

/** `npm run ingest -- FILE...`: returns the exit status. */
async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const stdout = process.stdout;
  const stderr = process.stderr;
  const display = new Display(stderr, stderr.isTTY === true && env.TERM !== "dumb");
  let current: number | undefined;
  const onSigint = () => {
    display.close();
    const still =
      current === undefined ? "" : `; ingestion #${current} carries on in the service (GET /ingestions/${current})`;
    stderr.write(`interrupted${still}\n`);
    process.exit(130);
  };
  try {
    const { values, positionals } = parseCli(argv, { "stall-seconds": { type: "string" } }, true);
    if (values.help) {
      stdout.write(`${HELP}\n`);
      return EXIT.ok;
    }
    if (positionals.length === 0) throw new UsageError("no FILE given");
    const stallMs = stallTime(values["stall-seconds"], env);
    const service = resolveService(values.url, env);
    // npm runs scripts from the package's folder; INIT_CWD is where the user typed the command.
    const inputs = await checkFiles(positionals, env.INIT_CWD || process.cwd());
    await checkService(service);
    process.on("SIGINT", onSigint);

    const started = Date.now();
    const outcomes: FileOutcome[] = [];
    for (const input of inputs) {
      current = undefined;
      const outcome = await ingestOne(service, input, display, stallMs, (id) => (current = id));
      current = undefined;
      display.line(renderOutcomeLine(outcome));
      outcomes.push(outcome);
    }
    stdout.write(`\n${renderSummary(outcomes, Date.now() - started)}\n`);
    return outcomes.some((o) => o.status === "failed") ? EXIT.failed : EXIT.ok;
  } catch (err) {
    display.close();
    // Its errors come mid-way through a file: the status says which step the service refused.
    return reportFailure("ingest", err, stderr, (e) => `the service answered HTTP ${e.status}: ${e.message}`);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
