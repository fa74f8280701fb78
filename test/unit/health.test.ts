import { describe, expect, it } from "vitest";
import { createPool } from "../../pipeline/db.ts";
import { healthRoutes } from "../../api/routes/health.ts";
import pino from "pino";

describe("GET /health", () => {
  it("answers 503 when the database cannot be reached", async () => {
    // A real connection attempt to a port where nothing listens.
    const pool = createPool("postgresql://postgres@127.0.0.1:9/none", 1);
    const app = healthRoutes({ pool, bus: undefined as never, config: { landingDir: "." }, logger: pino({ level: "silent" }) });
    const res = await app.request("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable", database: false });
    await pool.end();
  });
});
