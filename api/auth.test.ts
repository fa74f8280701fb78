import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { requireToken } from "./auth.ts";

const TOKEN = "0123456789abcdef-secret";

/** A GET and a POST, both behind the middleware; each answers which ran. */
function app() {
  return new Hono()
    .use("*", requireToken(TOKEN))
    .get("/thing", (c) => c.text("read"))
    .post("/thing", (c) => c.text("written", 201))
    .delete("/thing", (c) => c.text("deleted"));
}

const post = (authorization?: string) =>
  app().request("/thing", { method: "POST", headers: authorization === undefined ? {} : { authorization } });

describe("requireToken", () => {
  it("lets a write through with the right bearer token, the scheme in any case", async () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER  ${TOKEN}`]) {
      const res = await post(header);
      expect(res.status, header).toBe(201);
      expect(await res.text()).toBe("written");
    }
  });

  it("answers 401 with the JSON error and WWW-Authenticate: Bearer without a token", async () => {
    const res = await post();
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="tripflow"');
    expect(await res.json()).toEqual({
      error: { code: "unauthorized", message: "POST needs the server's API_TOKEN: send Authorization: Bearer <token>" },
    });
  });

  it("answers 401 invalid_token for a wrong token, a prefix of it, a longer one, or another scheme", async () => {
    for (const header of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      "Bearer wrong-wrong-wrong-wrong",
      `Bearer ${TOKEN} extra`,
    ]) {
      const res = await post(header);
      expect(res.status, header).toBe(401);
      expect(res.headers.get("www-authenticate"), header).toBe('Bearer realm="tripflow", error="invalid_token"');
      expect(await res.json(), header).toEqual({
        error: { code: "unauthorized", message: "the bearer token is not the server's API_TOKEN" },
      });
    }
    const basic = await post(`Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`);
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toBe('Bearer realm="tripflow"');
  });

  it("guards every method but GET, HEAD and OPTIONS", async () => {
    expect((await app().request("/thing", { method: "DELETE" })).status).toBe(401);
    expect(
      (await app().request("/thing", { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    const read = await app().request("/thing");
    expect(read.status).toBe(200);
    expect(await read.text()).toBe("read");
    expect((await app().request("/thing", { method: "HEAD" })).status).toBe(200);
    // No OPTIONS route: the request reaches the router (404), the middleware does not stop it.
    expect((await app().request("/thing", { method: "OPTIONS" })).status).toBe(404);
  });
});
