import { describe, expect, it } from "vitest";
import { createPool } from "../../pipeline/core/db.ts";
import { healthRoutes } from "../../api/routes/health.ts";
import { ConfigError, DEFAULT_STALL_MS, loadConfig } from "../../pipeline/core/config.ts";

describe("GET /health", () => {
  it("answers 503 when the database cannot be reached", async () => {
    // A real connection attempt to a port where nothing listens.
    const pool = createPool("postgresql://postgres@127.0.0.1:9/none", 1);
    const app = healthRoutes({ pool, stallMs: 300_000 });
    const res = await app.request("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable", database: false });
    await pool.end();
  });

  it("takes its stall time from STALL_MS: five minutes unless set, at least a second", () => {
    expect(DEFAULT_STALL_MS).toBe(300_000);
    expect(loadConfig({}).stallMs).toBe(300_000);
    expect(loadConfig({ STALL_MS: " 60000 " }).stallMs).toBe(60_000);
    expect(loadConfig({ STALL_MS: "" }).stallMs).toBe(300_000);
    expect(() => loadConfig({ STALL_MS: "999" })).toThrow(ConfigError);
    expect(() => loadConfig({ STALL_MS: "5m" })).toThrow(/STALL_MS: must be a whole number \(got "5m"\)/);
  });
});
