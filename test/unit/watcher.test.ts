import { mkdtemp, rename, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { startWatcher } from "../../pipeline/landing/watcher.ts";

describe("the landing watcher's settle rule", () => {
  it("takes a file last written long ago at once, and a fresh one only after SETTLE_MS unchanged", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tripflow-watch-"));
    const taken = new Map<string, number>();
    const started = Date.now();
    const watcher = await startWatcher({
      landingDir: dir,
      settleMs: 2_000,
      scanIntervalMs: 60_000,
      logger: pino({ level: "silent" }),
      onFile: async (path) => {
        // A file still there after onFile is offered again: the first offer is what counts here.
        const name = path.slice(dir.length + 1);
        if (!taken.has(name)) taken.set(name, Date.now() - started);
      },
    });
    try {
      // Written an hour ago, then moved in (a rename keeps the mtime): unchanged since its mtime.
      await writeFile(join(dir, ".old.csv.tmp"), "region\n");
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(join(dir, ".old.csv.tmp"), hourAgo, hourAgo);
      await rename(join(dir, ".old.csv.tmp"), join(dir, "old.csv"));
      // Written now: it must stay unchanged for the whole 2 s before it is taken.
      await writeFile(join(dir, "new.csv"), "region\n");
      const deadline = Date.now() + 10_000;
      while (taken.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(taken.get("old.csv")).toBeLessThan(1_000);
      expect(taken.get("new.csv")).toBeGreaterThanOrEqual(2_000);
    } finally {
      await watcher.close();
    }
  });
});
