import { spawn, type ChildProcess } from "node:child_process";
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
