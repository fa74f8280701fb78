import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "pino";

export type WatcherOptions = {
  landingDir: string;
  /** A file is taken once its size and mtime stayed the same for this long (counted from its mtime when first seen). */
  settleMs: number;
  /** Full rescans of the folder, a safety net for missed fs events (network mounts, bursts). */
  scanIntervalMs: number;
  logger: Logger;
  /** Handles one settled file; files are handed over one at a time, in name order. */
  onFile: (path: string) => Promise<void>;
};

/** Landing files worth taking: `*.csv`, not dotfiles, not `*.tmp` (write-then-rename in progress). */
export function isCandidate(name: string): boolean {
  return !name.startsWith(".") && /\.csv$/i.test(name) && !/\.tmp$/i.test(name);
}

/**
 * Watches the landing folder: files present at start and files that arrive later, each handed to
 * `onFile` once its size and mtime have settled. A file that is still there after `onFile` (a failed
 * attempt) is tried again at the next scan.
 *
 * @example const w = await startWatcher({ landingDir: "landing", settleMs: 500, scanIntervalMs: 2000, logger, onFile });
 */
export async function startWatcher(
  options: WatcherOptions,
): Promise<{ close: () => Promise<void>; idle: () => Promise<void> }> {
  const dir = resolve(options.landingDir);
  await mkdir(dir, { recursive: true });
  const log = options.logger.child({ component: "watcher" });
  const seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
  const failed = new Map<string, number>();
  let closed = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let nextAt = Infinity;

  const scan = async (): Promise<void> => {
    if (closed) return;
    let names: string[];
    try {
      names = (await readdir(dir)).filter(isCandidate).sort();
    } catch (err) {
      log.error({ err }, "cannot read the landing folder");
      return;
    }
    const now = Date.now();
    let waiting = false;
    for (const name of names) {
      if (closed) return;
      const path = join(dir, name);
      let st;
      try {
        st = await stat(path);
      } catch {
        seen.delete(name);
        continue;
      }
      if (!st.isFile()) continue;
      const prev = seen.get(name);
      const changed = !prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs;
      // A file seen for the first time has been as it is since its mtime (every write sets it; a time
      // ahead of this clock counts as now): one written long enough ago (moved or linked in, present at
      // start) is taken at once. One seen changing has been as it is since now.
      const since = changed ? (prev ? now : Math.min(now, st.mtimeMs)) : prev.since;
      if (changed) seen.set(name, { size: st.size, mtimeMs: st.mtimeMs, since });
      if (now - since < options.settleMs) {
        waiting = true;
        continue;
      }
      // A file that failed is retried with a growing pause, not in a tight loop.
      const retryAt = failed.get(name);
      if (retryAt !== undefined && now < retryAt) continue;
      try {
        await options.onFile(path);
        failed.delete(name);
      } catch (err) {
        log.error({ err, file: name }, "file not ingested; will retry");
        failed.set(name, Date.now() + 10_000);
      }
      seen.delete(name);
    }
    for (const name of seen.keys()) if (!names.includes(name)) seen.delete(name);
    if (waiting) request(Math.max(50, Math.min(options.settleMs, options.scanIntervalMs)));
  };

  const run = () => {
    running = running.then(scan, scan);
    return running;
  };

  // One timer: the earliest requested scan wins; after each scan the periodic one is requested.
  const request = (ms: number) => {
    if (closed) return;
    const at = Date.now() + ms;
    if (timer && nextAt <= at) return;
    if (timer) clearTimeout(timer);
    nextAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      nextAt = Infinity;
      void run().then(() => request(options.scanIntervalMs));
    }, ms);
  };

  let fsWatcher: FSWatcher | undefined;
  try {
    fsWatcher = watch(dir, () => request(50));
    fsWatcher.on("error", (err) => log.warn({ err }, "fs.watch failed; relying on periodic scans"));
  } catch (err) {
    log.warn({ err }, "fs.watch unavailable; relying on periodic scans");
  }
  log.info({ dir }, "watching the landing folder");
  request(0);

  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      fsWatcher?.close();
      await running;
    },
    idle: () => running,
  };
}
