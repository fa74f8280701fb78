import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../bench/generate.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { freePort } from "../helpers/ports.ts";
import { childEnv, kill, startChild, type Child } from "../helpers/child.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { dirtyFile } from "../helpers/dirty.ts";

const SAMPLE = fileURLToPath(new URL("../fixtures/trips.csv", import.meta.url));
/** The screenshot the README shows, taken on the sample by this test. */
const SCREENSHOT = fileURLToPath(new URL("../../docs/console.png", import.meta.url));

/**
 * The console (GET /) in Debian's chromium, against the real service (a child process) on a real
 * database: what a person sees and does, checked against the API and the audit tables.
 */
describe("the web console in a real browser", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let base: string;
  let service: Child;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = await childEnv(db.url, { PORT: String(port), HOST: "127.0.0.1" });
    service = await startChild("all", env);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    await page.goto(base);
    await page.waitForSelector('#connection[data-state="live"]');
  });
  afterAll(async () => {
    await browser?.close();
    if (service?.process.exitCode === null) await kill(service);
    await db?.drop();
  });

  const row = (id: number) => page.locator(`tr[data-ingestion-id="${id}"]`);
  const latestId = async (file: string) =>
    (
      await db.pool.query<{ id: string }>(
        "SELECT id FROM audit.ingestions WHERE file_name = $1::text ORDER BY id DESC LIMIT 1",
        [file],
      )
    ).rows[0]?.id;

  async function uploadThroughPage(path: string, file: string): Promise<number> {
    await page.setInputFiles("#upload-input", path);
    await expect.poll(() => latestId(file), { timeout: 30_000 }).toBeDefined();
    const id = Number(await latestId(file));
    await expect.poll(() => row(id).locator(".status").textContent(), { timeout: 60_000 }).toBe("completed");
    return id;
  }

  it("shows the sample dropped onto the page until completed, with its 100 rows", async () => {
    const id = await uploadThroughPage(SAMPLE, "trips.csv");
    await expect.poll(() => row(id).locator(".rows").textContent()).toBe("100");
    expect(await row(id).locator(".file").textContent()).toContain("trips.csv");
    expect(await page.textContent("#upload-result")).toContain(String(id));
    const { rows } = await db.pool.query("SELECT status, rows_loaded FROM audit.ingestions WHERE id = $1", [id]);
    expect(rows).toEqual([{ status: "completed", rows_loaded: 100 }]);

    // The same file again: the page says which ingestion it repeats.
    await page.setInputFiles("#upload-input", SAMPLE);
    await expect.poll(() => page.textContent("#upload-result")).toContain(`duplicate of ingestion ${id}`);
  });

  it("reads Prague's weekly average as 6.8, and a box dragged on the map as the API answers it", async () => {
    await page.selectOption("#region-select", "Prague");
    await page.click("#ask");
    await expect.poll(() => page.textContent("#avg")).toBe("6.8");
    expect(await page.textContent("#trips")).toBe("34");
    expect(await page.textContent("#weeks")).toBe("5");

    // Drag across the middle of the map (fitted to Prague), then ask: the page sends what its inputs show.
    const map = (await page.locator("#map").boundingBox())!;
    await page.mouse.move(map.x + map.width * 0.15, map.y + map.height * 0.15);
    await page.mouse.down();
    await page.mouse.move(map.x + map.width * 0.6, map.y + map.height * 0.5, { steps: 8 });
    await page.mouse.move(map.x + map.width * 0.85, map.y + map.height * 0.85, { steps: 8 });
    await page.mouse.up();
    const box = await Promise.all(["#west", "#south", "#east", "#north"].map((s) => page.inputValue(s)));
    expect(box.map(Number).every(Number.isFinite)).toBe(true);
    expect(Number(box[0])).toBeLessThan(Number(box[2]));
    expect(Number(box[1])).toBeLessThan(Number(box[3]));
    await page.click("#ask");
    const answer = await (
      await fetch(`${base}/stats/weekly-average?region=Prague&bbox=${box.join(",")}&match=origin`)
    ).json();
    expect(answer.trips).toBeGreaterThan(0);
    await expect.poll(() => page.textContent("#trips")).toBe(String(answer.trips));
    expect(await page.textContent("#avg")).toBe(String(Number(answer.weekly_average.toFixed(2))));
    expect(await page.textContent("#weeks")).toBe(String(answer.weeks));

    // Groups of the region and box, largest first.
    await expect.poll(() => page.locator("#groups .group").count()).toBeGreaterThan(0);
    const sizes = (
      await page.locator("#groups .group").evaluateAll((els) => els.map((e) => e.getAttribute("data-trips")))
    ).map(Number);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("keeps every event exactly once across a restart of the service, with a file ingested meanwhile", async () => {
    service.process.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    await expect.poll(() => page.textContent("#connection"), { timeout: 20_000 }).toContain("disconnected");

    // A file dropped into the landing folder while the service is down: it is ingested once it is back.
    const tmp = join(env.LANDING_DIR!, ".restart.csv.tmp");
    await generate(3000, 41, tmp);
    await rename(tmp, join(env.LANDING_DIR!, "restart.csv"));
    service = await startChild("all", env);

    await expect.poll(() => latestId("restart.csv"), { timeout: 30_000 }).toBeDefined();
    const id = Number(await latestId("restart.csv"));
    await expect.poll(() => row(id).locator(".status").textContent(), { timeout: 60_000 }).toBe("completed");
    await expect.poll(() => page.textContent("#connection")).toContain("live");
    expect(await row(id).locator(".rows").textContent()).toBe("3000");

    // The page applied each stored event once: its count equals the audit table's since it opened, and
    // it shows one row per ingestion.
    const since = Number(await page.getAttribute("#event-count", "data-since"));
    const stored = async () =>
      (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit.events WHERE id > $1", [since]))
        .rows[0]!.n;
    await expect.poll(async () => Number(await page.getAttribute("#event-count", "data-count"))).toBe(await stored());
    const ingestions = (await db.pool.query("SELECT id FROM audit.ingestions")).rows.map((r) => String(r.id)).sort();
    const shown = await page
      .locator("tr[data-ingestion-id]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-ingestion-id")!));
    expect(shown.sort()).toEqual(ingestions);
  });

  it("shows a dirty file's rejected lines with their reasons", async () => {
    const { bytes, expected } = dirtyFile(5, 400, { badRate: 0.1, blankRate: 0 });
    const path = join(await mkdtemp(join(tmpdir(), "tripflow-console-")), "dirty.csv");
    await writeFile(path, bytes);
    const id = await uploadThroughPage(path, "dirty.csv");
    expect(await row(id).locator(".rows").textContent()).toBe(String(expected.loaded));
    expect(await row(id).locator(".rejected").textContent()).toContain(String(expected.rejected));
    await row(id).locator(".rejected a, a.rejected").first().click();
    const shown = page.locator("#rejects .reject");
    await expect.poll(() => shown.count()).toBe(Math.min(expected.rejected, 100));
    const first = expected.rejects[0]!;
    const text = await shown.first().textContent();
    expect(text).toContain(String(first.line));
    expect(text).toContain(first.reason);
  });
});
