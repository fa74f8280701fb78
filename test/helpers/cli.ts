import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type Run = { code: number | null; stdout: string; stderr: string; ms: number };

/**
 * Runs `pipeline/cli/<command>.ts` as a real child process with pipes (not a terminal) against the
 * service at `url`; API_TOKEN and STALL_MS are unset unless `env` gives them.
 */
export function runCli(
  command: "ingest" | "stats",
  args: string[],
  url: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `pipeline/cli/${command}.ts`, ...args], {
      cwd: ROOT,
      env: { ...process.env, TRIPFLOW_URL: url, INIT_CWD: "", API_TOKEN: "", STALL_MS: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}
