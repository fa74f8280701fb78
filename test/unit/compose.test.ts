import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { assertSafeBinding, CONFIG_VARIABLES, isLoopback, loadConfig } from "../../pipeline/core/config.ts";

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8");

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | { target: number; published: number | string })[];
  volumes?: string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
};

const compose = parse(read("docker-compose.yml")) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const dockerfile = read("Dockerfile");

/** The shell `docker compose up` runs in, in these tests: what the file requires from it. */
const SHELL = { API_TOKEN: "compose-test-token-0123456789abcdef" };

/**
 * Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME:?message}: a required variable that
 * is unset or empty throws, as compose then refuses to start.
 */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g,
    (_, name: string, colon?: string, op?: string, arg = "") => {
      const v = shell[name];
      if (v !== undefined && !(colon && v === "")) return v;
      if (op === "?") throw new Error(`compose: ${name}: ${arg}`);
      return op === "-" ? arg : "";
    },
  );
}

/** A service's environment as the strings the container sees (compose writes numbers and booleans as text). */
function env(s: Service, shell: Record<string, string> = SHELL): Record<string, string> {
  return Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? "" : interpolate(String(v), shell)]),
  );
}

/** `host:container` (or `ip:host:container`) pairs of a service's published ports. */
function published(s: Service): { host: number; container: number }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === "object") return { host: Number(p.published), container: p.target };
    const parts = p.replace(/\/(tcp|udp)$/, "").split(":");
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)) };
  });
}

/** Where each bind mount's host path lands in the container. */
function mounts(s: Service): Map<string, string> {
  return new Map((s.volumes ?? []).map((v) => v.split(":")).map(([host, container]) => [container!, host!]));
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n(\s*#.*\n)*/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const [, keyword, rest] = /^(\S+)\s+(.*)$/.exec(l)!;
    return { keyword: keyword!.toUpperCase(), rest: rest!.replace(/\s+/g, " ") };
  });

/** The last value of a Dockerfile instruction (the runtime stage's, when stages repeat it). */
function instruction(name: string): string | undefined {
  return instructions.filter((i) => i.keyword === name).at(-1)?.rest;
}

describe("docker-compose.yml", () => {
  it("has the services db, app and worker", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["app", "db", "worker"]);
    expect(compose.services.db!.image).toBe("postgis/postgis:15-3.3");
    expect(compose.services.db!.volumes).toEqual(["pgdata:/var/lib/postgresql/data"]);
    expect(Object.keys(compose.volumes ?? {})).toEqual(["pgdata"]);
    expect(JSON.stringify(compose.services.db!.healthcheck?.test)).toContain("pg_isready");
  });

  it("starts PostgreSQL with exactly the settings db/server-settings.sql applies to a server", () => {
    const command = compose.services.db!.command ?? [];
    expect(command[0]).toBe("postgres");
    const flags = command.slice(1);
    expect(flags.filter((_, i) => i % 2 === 0).every((f) => f === "-c")).toBe(true);
    const fromCompose = flags.filter((_, i) => i % 2 === 1).map((kv) => kv.split("="));
    const fromSql = [...read("db/server-settings.sql").matchAll(/^ALTER SYSTEM SET (\w+) = '([^']*)';/gm)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(fromSql.length).toBeGreaterThanOrEqual(8);
    expect(fromCompose).toEqual(fromSql);
  });

  it("sets only variables that pipeline/core/config.ts reads (POSTGRES_* on the db service alone)", () => {
    for (const [name, s] of services) {
      for (const key of Object.keys(env(s))) {
        if (name === "db") expect(key, `db sets ${key}`).toMatch(/^POSTGRES_/);
        else expect(CONFIG_VARIABLES, `${name} sets ${key}`).toContain(key);
      }
    }
  });

  it("gives tripflow's services values that loadConfig accepts, and a DATABASE_URL pointing at db", () => {
    const db = env(compose.services.db!);
    for (const [name, s] of services.filter(([n]) => n !== "db")) {
      const config = loadConfig(env(s));
      const url = new URL(config.databaseUrl ?? "");
      expect(url.hostname, name).toBe("db");
      expect(url.username, name).toBe(db.POSTGRES_USER);
      expect(url.password, name).toBe(db.POSTGRES_PASSWORD);
      expect(url.pathname, name).toBe(`/${db.POSTGRES_DB}`);
      expect(s.depends_on?.db, name).toEqual({ condition: "service_healthy" });
    }
  });

  it("lets no service listen beyond loopback without an API_TOKEN, which it takes from the shell", () => {
    // The API is published, so it must listen beyond the container's own loopback.
    expect(loadConfig(env(compose.services.app!)).host).toBe("0.0.0.0");
    for (const [name, s] of services.filter(([n]) => n !== "db")) {
      const config = loadConfig(env(s));
      expect(() => assertSafeBinding(config), name).not.toThrow();
      if (isLoopback(config.host)) continue;
      // Required (`${API_TOKEN:?…}`): never a value written in the file, never silently empty.
      expect(String(s.environment?.API_TOKEN), name).toMatch(/^\$\{API_TOKEN:\?[^}]+\}$/);
      expect(config.apiToken, name).toBe(SHELL.API_TOKEN);
      expect(() => env(s, {}), name).toThrow(/API_TOKEN: set API_TOKEN/);
      expect(() => env(s, { API_TOKEN: "" }), name).toThrow(/API_TOKEN: set API_TOKEN/);
    }
  });

  it("runs all roles in app and the worker role in worker, from the same image", () => {
    const app = compose.services.app!;
    const worker = compose.services.worker!;
    expect(app.command?.slice(-2)).toEqual(["pipeline/main.ts", "all"]);
    expect(worker.command?.slice(-2)).toEqual(["pipeline/main.ts", "worker"]);
    expect(worker.image).toBe(app.image);
  });

  it("publishes the API on its PORT", () => {
    const app = compose.services.app!;
    const port = loadConfig(env(app)).port;
    expect(published(app)).toEqual([{ host: port, container: port }]);
  });

  it("leaves the worker without ports, files or the HTTP health check, so it scales", () => {
    const worker = compose.services.worker!;
    expect(worker.ports).toBeUndefined();
    expect(worker.volumes).toBeUndefined();
    expect(worker.healthcheck?.disable).toBe(true);
  });

  it("mounts landing/, archive/ and rejected/ where LANDING_DIR and ARCHIVE_DIR point", () => {
    const app = compose.services.app!;
    const config = loadConfig(env(app));
    const m = mounts(app);
    expect(m.get(config.landingDir)).toBe("./landing");
    expect(m.get(config.archiveDir)).toBe("./archive");
    // The orchestrator moves refused files to rejected/ beside the archive folder.
    expect(m.get(posix.join(config.archiveDir, "..", "rejected"))).toBe("./rejected");
  });
});

describe("Dockerfile", () => {
  it("exposes the default PORT", () => {
    expect(Number(instruction("EXPOSE"))).toBe(loadConfig({}).port);
  });

  it("listens beyond the container (HOST=0.0.0.0), so the API starts only with an API_TOKEN given at run time", () => {
    const vars = Object.fromEntries(
      instructions
        .filter((i) => i.keyword === "ENV")
        .flatMap((i) => i.rest.split(" ").map((kv) => kv.split("=") as [string, string])),
    );
    expect(vars.HOST).toBe("0.0.0.0");
    expect(vars).not.toHaveProperty("API_TOKEN"); // a token in an image is readable by anyone who pulls it
    expect(() => assertSafeBinding(loadConfig({ HOST: vars.HOST }))).toThrow(/set API_TOKEN/);
  });

  it("runs as the node user, with a health check on /health and all roles by default", () => {
    expect(instruction("USER")).toBe("node");
    expect(instruction("HEALTHCHECK")).toMatch(/\/health/);
    expect(instruction("HEALTHCHECK")).toMatch(/process\.env\.PORT/);
    expect(instruction("FROM")).toBe("node:20-bookworm-slim");
    expect(JSON.parse(instruction("CMD") ?? "null")).toEqual(["node", "--import", "tsx", "pipeline/main.ts", "all"]);
  });

  it("builds with npm ci and ships only production dependencies", () => {
    expect(instructions.some((i) => i.keyword === "RUN" && /^npm ci\b/.test(i.rest))).toBe(true);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });
});
