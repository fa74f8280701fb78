import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Where Debian's chromium lives (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/**
 * A headless chromium for the console's tests, driven by playwright-core over its own protocol: the
 * real browser engine, the machine's package, no download.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium() ?? installChromium();
  if (!executablePath)
    throw new Error(
      "no chromium found: run `sudo apt-get update && sudo apt-get install -y chromium` (as .ci/run does) or set CHROMIUM_PATH",
    );
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

const findChromium = () => CANDIDATES.find((p): p is string => !!p && existsSync(p));

/** As root on Debian, the tests install chromium themselves, as start-up installs PostGIS; else nothing. */
function installChromium(): string | undefined {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-q"], { stdio: "ignore", env });
  execFileSync("apt-get", ["install", "-y", "-q", "chromium"], { stdio: "ignore", env });
  return findChromium();
}
