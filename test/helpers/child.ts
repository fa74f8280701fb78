import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../pipeline/main.ts", import.meta.url));

export type Child = { process: ChildProcess; output: () => string; exited: Promise<number | null> };

/** Starts `pipeline/main.ts <mode>` as a real child process and resolves once it says it started. */
export async function startChild(mode: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, mode], {
    env: { ...process.env, LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes("tripflow started")) {
    if (child.exitCode !== null) throw new Error(`child exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`child did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: child, output: () => out, exited };
}

/** SIGKILL: the process gets no chance to clean up. */
export async function kill(child: Child): Promise<void> {
  child.process.kill("SIGKILL");
  await child.exited;
}

/**
 * The environment of a tripflow child process on a test database: private landing and archive folders
 * under a new temporary folder, any free port, small chunks and quick scans so that a few thousand
 * lines make several chunks and events; `overrides` wins.
 */
export async function childEnv(
  databaseUrl: string,
  overrides: Record<string, string> = {},
): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmpdir(), "tripflow-child-"));
  return {
    DATABASE_URL: databaseUrl,
    PORT: "0",
    LANDING_DIR: join(root, "landing"),
    ARCHIVE_DIR: join(root, "archive"),
    CHUNK_ROWS: "1000",
    PROGRESS_INTERVAL_MS: "0",
    SETTLE_MS: "100",
    SCAN_INTERVAL_MS: "300",
    ...overrides,
  };
}
