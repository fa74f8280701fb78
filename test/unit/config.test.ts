import { describe, expect, it } from "vitest";
import { assertSafeBinding, ConfigError, isLoopback, loadConfig } from "../../pipeline/core/config.ts";

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: undefined,
      port: 3000,
      landingDir: "./landing",
      archiveDir: "./archive",
      logLevel: "info",
      workerConcurrency: 2,
      bulkNice: 10,
    });
    expect(loadConfig({ BULK_NICE: "0" }).bulkNice).toBe(0);
  });

  it("names the variable and the value when one is wrong", () => {
    expect(() => loadConfig({ PORT: "80a" })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "80a" })).toThrow(/PORT: must be a whole number \(got "80a"\)/);
    expect(() => loadConfig({ PORT: "70000" })).toThrow(/PORT/);
    expect(() => loadConfig({ WORKER_CONCURRENCY: "0" })).toThrow(/WORKER_CONCURRENCY/);
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ BULK_NICE: "20" })).toThrow(/BULK_NICE/);
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL: must be a postgres/);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", LANDING_DIR: "" })).toMatchObject({ port: 3000, landingDir: "./landing" });
  });
});

describe("no open door", () => {
  it("binds loopback, without a token and without CORS, by default", () => {
    const c = loadConfig({});
    expect(c.host).toBe("127.0.0.1");
    expect(c.apiToken).toBeUndefined();
    expect(c.corsOrigins).toEqual([]);
    expect(() => assertSafeBinding(c)).not.toThrow();
  });

  it("takes an API_TOKEN of 16 visible characters or more, and never prints a refused one", () => {
    expect(loadConfig({ API_TOKEN: " 0123456789abcdef " }).apiToken).toBe("0123456789abcdef");
    const short = () => loadConfig({ API_TOKEN: "tooshort-secret" });
    expect(short).toThrow(ConfigError);
    expect(short).toThrow(/API_TOKEN: must be at least 16 characters .*\(got 15 characters\)/);
    expect(short).not.toThrow(/tooshort-secret/);
    expect(() => loadConfig({ API_TOKEN: "0123456789 abcdef" })).toThrow(/API_TOKEN: must be visible ASCII/);
    expect(() => loadConfig({ API_TOKEN: "0123456789abcdéf" })).toThrow(/API_TOKEN: must be visible ASCII/);
  });

  it("reads CORS_ORIGINS as a list of http(s) origins, or * alone", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://Example.com/, http://localhost:5173" }).corsOrigins).toEqual([
      "https://example.com",
      "http://localhost:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).corsOrigins).toEqual(["*"]);
    for (const bad of [
      "example.com",
      "ftp://example.com",
      "https://example.com/app",
      "https://example.com?x=1",
      "*,https://example.com",
    ])
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS: /);
  });

  it("knows loopback: 127.0.0.0/8, ::1 and localhost, and nothing else", () => {
    for (const host of [
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
      "localhost",
      "LocalHost",
    ])
      expect(isLoopback(host), host).toBe(true);
    for (const host of [
      "0.0.0.0",
      "::",
      "128.0.0.1",
      "10.0.0.1",
      "192.168.1.10",
      "::ffff:10.0.0.1",
      "example.com",
      "localhost.example.com",
    ])
      expect(isLoopback(host), host).toBe(false);
  });

  it("refuses to listen beyond loopback without a token, saying how to set one", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10"]) {
      const start = () => assertSafeBinding(loadConfig({ HOST: host }));
      expect(start, host).toThrow(ConfigError);
      expect(start, host).toThrow(
        `HOST=${host} listens beyond this machine: set API_TOKEN (e.g. API_TOKEN=$(openssl rand -hex 32)) or HOST=127.0.0.1`,
      );
    }
    expect(() => assertSafeBinding(loadConfig({ HOST: "0.0.0.0", API_TOKEN: "0123456789abcdef" }))).not.toThrow();
    expect(() => assertSafeBinding(loadConfig({ HOST: "::1" }))).not.toThrow();
  });
});
