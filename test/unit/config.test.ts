import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../pipeline/config.ts";

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ databaseUrl: undefined, port: 3000, landingDir: "./landing", archiveDir: "./archive", logLevel: "info", workerConcurrency: 2 });
  });

  it("names the variable and the value when one is wrong", () => {
    expect(() => loadConfig({ PORT: "80a" })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "80a" })).toThrow(/PORT: must be a whole number \(got "80a"\)/);
    expect(() => loadConfig({ PORT: "70000" })).toThrow(/PORT/);
    expect(() => loadConfig({ WORKER_CONCURRENCY: "0" })).toThrow(/WORKER_CONCURRENCY/);
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL: must be a postgres/);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", LANDING_DIR: "" })).toMatchObject({ port: 3000, landingDir: "./landing" });
  });
});
