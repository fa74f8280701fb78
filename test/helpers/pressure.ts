import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type pg from "pg";
import { SseParser } from "../../pipeline/cli/sse.ts";
import type { SseFrame } from "./sse.ts";

/** Tools of the pressure test: raw HTTP clients that count every failure, and what /proc and pg_stat_activity say. */

export type SseClient = {
  frames: SseFrame[];
  /** Set when the request failed, answered other than 200 text/event-stream, or the stream ended before close(). */
  readonly failure: string | undefined;
  /** Resolves on the server's ": connected" comment (written once the stream's bus subscription is taken). */
  connected: Promise<void>;
  /** Resolves once `done(frames)` holds; rejects when the stream fails or after the timeout. */
  waitUntil: (done: (frames: SseFrame[]) => boolean, timeoutMs: number, what: string) => Promise<void>;
  close: () => void;
};

/** Opens GET `url` as an event stream over node's http module and keeps it open until close(). */
export function openSse(url: string, agent: http.Agent): SseClient {
  const frames: SseFrame[] = [];
  const changed = new EventEmitter();
  changed.setMaxListeners(0);
  let failure: string | undefined;
  let closing = false;
  let onConnected!: () => void;
  let onRefused!: (err: Error) => void;
  const connected = new Promise<void>((resolve, reject) => {
    onConnected = resolve;
    onRefused = reject;
  });
  connected.catch(() => {}); // also reported through `failure`
  const parser = new SseParser((comment) => {
    if (comment === "connected") onConnected();
  });
  const fail = (why: string) => {
    if (closing || failure) return;
    failure = why;
    onRefused(new Error(why));
    changed.emit("change");
  };
  const req = http.get(url, { agent, headers: { accept: "text/event-stream" } }, (res) => {
    if (res.statusCode !== 200 || !String(res.headers["content-type"]).startsWith("text/event-stream")) {
      fail(`answered ${res.statusCode} ${res.headers["content-type"]}`);
      res.resume();
      return;
    }
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      const parsed = parser.feed(chunk);
      if (parsed.length === 0) return;
      frames.push(...parsed);
      changed.emit("change");
    });
    res.on("end", () => fail("stream ended by the server"));
    res.on("error", (err) => fail(`response error: ${err.message}`));
  });
  req.on("error", (err) => fail(`request error: ${err.message}`));
  return {
    frames,
    get failure() {
      return failure;
    },
    connected,
    waitUntil: (done, timeoutMs, what) =>
      new Promise<void>((resolve, reject) => {
        const finish = (err?: Error) => {
          clearTimeout(timer);
          changed.off("change", check);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (done(frames)) finish();
          else if (failure) finish(new Error(`${what}: ${failure}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`${what}: not within ${timeoutMs} ms; last id ${frames.at(-1)?.id}`)),
          timeoutMs,
        );
        changed.on("change", check);
        check();
      }),
    close: () => {
      closing = true;
      req.destroy();
    },
  };
}

export type Answer = { status: number; body: unknown; ms: number } | { error: string; ms: number };

/** GET `url`; a network error or a timeout is an answer too (`error`), never a throw. */
export function get(url: string, agent: http.Agent, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        const ms = performance.now() - started;
        try {
          resolve({ status: res.statusCode!, body: JSON.parse(text), ms });
        } catch {
          resolve({ status: res.statusCode!, body: text, ms });
        }
      });
      res.on("error", (err) => resolve({ error: `response error: ${err.message}`, ms: performance.now() - started }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve({ error: err.message, ms: performance.now() - started }));
  });
}

/** Resident set size of a process in MB, from /proc/<pid>/status (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) / 1024;
}

/**
 * TCP connections the server side of `port` still holds: ESTABLISHED (01) and CLOSE_WAIT (08, the
 * client has gone and the server has not closed its socket yet) rows of /proc/net/tcp{,6}.
 */
export async function serverConnections(port: number): Promise<number> {
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const localPort = parseInt(cols[1]!.split(":")[1]!, 16);
      if (localPort === port && (cols[3] === "01" || cols[3] === "08")) n++;
    }
  }
  return n;
}

/** Client connections to `database` by application_name (parallel query workers and autovacuum are not connections). */
export async function backendsByName(pool: pg.Pool, database: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ name: string; n: number }>(
    `SELECT application_name AS name, count(*)::int AS n FROM pg_stat_activity
     WHERE datname = $1::text AND backend_type = 'client backend' GROUP BY 1`,
    [database],
  );
  return new Map(rows.map((r) => [r.name, r.n]));
}

/** The p-th percentile (0..100) of some numbers, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Monday of the ISO week of a 'YYYY-MM-DD' date, computed here by hand rather than taken from the API. */
export function isoMonday(date: string): string {
  const t = Date.parse(`${date}T00:00:00Z`);
  const sinceMonday = (new Date(t).getUTCDay() + 6) % 7;
  return new Date(t - sinceMonday * 86_400_000).toISOString().slice(0, 10);
}

export type Backend = { state: string; idle_s: number; query: string };

/** The sessions of one application_name on `database`: their state, seconds since it last changed, and last query. */
export async function sessions(pool: pg.Pool, database: string, applicationName: string): Promise<Backend[]> {
  const { rows } = await pool.query<Backend>(
    `SELECT state, extract(epoch FROM now() - state_change)::float8 AS idle_s, left(query, 60) AS query FROM pg_stat_activity
     WHERE datname = $1::text AND application_name = $2::text AND backend_type = 'client backend' ORDER BY pid`,
    [database, applicationName],
  );
  return rows;
}
