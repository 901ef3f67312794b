/**
 * SELF_SERVICE_PATH is reserved like the admin prefix: matched on the normalized path, in
 * every spelling, and never forwarded; off (unset), the path is an ordinary gateway path.
 * Failed authentications on it count against the client's per-IP budget like anywhere.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { makeEnv, unknownKey } from "../../../support/worker-helpers";
import { call, holder, PATH, ssEnv } from "./support";

describe("the path is reserved in every spelling", () => {
  const SPELLINGS = [
    "/api/keys",
    "/api/keys/",
    "/API/Keys",
    "//api//keys",
    "/api/%6beys",
    "/%61pi/keys",
    "/api;v=1/keys",
    "/api/keys;x",
    "/x/../api/keys",
    "/api/./keys",
    "/api/keys/key_AAAAAAAAAAAAAAAAAAAA/../",
    "/api/keys/anything/below/it",
  ];

  it("with a key: answered by the self-service API, the origin sees nothing", async () => {
    const a = await holder();
    for (const path of SPELLINGS) {
      const r = await call("GET", path, { key: a.key });
      expect([200, 404], path).toContain(r.res.status);
      expect(r.calls, path).toHaveLength(0);
    }
    // The canonical spellings list.
    for (const path of ["/API/Keys", "//api//keys", "/api/%6beys", "/api;v=1/keys"]) {
      const r = await call("GET", path, { key: a.key });
      expect(r.res.status, path).toBe(200);
      expect(
        r.json.map((k: any) => k.id),
        path,
      ).toEqual([a.record.id]);
    }
  });

  it("without a key, or with a bad one, whatever the method: refused, the origin sees nothing", async () => {
    for (const path of SPELLINGS) {
      for (const method of ["GET", "POST", "DELETE", "PUT", "OPTIONS"]) {
        for (const headers of [{}, { "x-api-key": unknownKey() }] as Record<string, string>[]) {
          const r = await call(method, path, { headers });
          expect(r.res.status, `${method} ${path}`).toBe(401);
          expect(r.calls, `${method} ${path}`).toHaveLength(0);
        }
      }
    }
  });

  it("a CORS preflight to the path is not forwarded either", async () => {
    const r = await call("OPTIONS", PATH, {
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(r.calls).toHaveLength(0);
    expect(r.res.status).toBe(401);
  });

  it("neighbours of the path are ordinary gateway paths", async () => {
    const a = await holder();
    for (const path of ["/api", "/api/keysx", "/api/key", "/v1/api/keys"]) {
      const r = await call("GET", path, { key: a.key });
      expect(r.res.status, path).toBe(200);
      expect(r.calls, path).toHaveLength(1);
    }
  });

  it("off (SELF_SERVICE_PATH unset): the path is forwarded like any other", async () => {
    const a = await holder();
    const r = await call("GET", PATH, { key: a.key, env: makeEnv() });
    expect(r.res.status).toBe(200);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.url).toBe(PATH);
  });

  it("any path works, and the admin prefix stays the admin API's", async () => {
    const a = await holder();
    const e = ssEnv({ SELF_SERVICE_PATH: "/v2/account/api-keys/", ADMIN_TOKEN: "t".repeat(40) });
    const r = await call("GET", "/v2/account/api-keys", { key: a.key, env: e });
    expect(r.res.status).toBe(200);
    expect(r.calls).toHaveLength(0);
    expect((await call("GET", "/api/keys", { key: a.key, env: e })).calls).toHaveLength(1);
    // The admin API does not take an API key, and the self-service API not the admin token.
    expect((await call("GET", "/_keygate/keys?org=x", { key: a.key, env: e })).res.status).toBe(401);
    expect(
      (await call("GET", "/v2/account/api-keys", { headers: { authorization: `Bearer ${"t".repeat(40)}` }, env: e }))
        .res.status,
    ).toBe(401);
  });
});

/** wrangler.toml: [[ratelimits]] AUTH_FAILURE_LIMITER simple = { limit = 30, period = 60 }. */
const FAILURE_BUDGET = 30;
let ipCounter = 0;
const freshIp = () => `198.51.${Math.floor(Math.random() * 200)}.${(ipCounter++ % 250) + 1}`;

describe("failed authentications on the path count against the client's budget", () => {
  beforeEach(async () => {
    // The binding counts in fixed windows aligned on the wall clock: start well inside one.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
  });

  // Issue 20 (class 4): a valid key from an over-budget address used to be 429 too; it is
  // now looked up in the slow lane and served, here and on forwarded paths.
  it("failures here exhaust the budget: then 429 here and on forwarded paths for guesses; a valid key still passes", async () => {
    const ip = freshIp();
    const a = await holder();
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      const r = await call(i % 2 ? "GET" : "POST", PATH, {
        headers: { "x-api-key": unknownKey(), "cf-connecting-ip": ip },
        ...(i % 2 ? {} : { body: { name: "x" } }),
      });
      expect(r.res.status, `failure ${i + 1}`).toBe(401);
    }
    const over = await call("GET", PATH, { headers: { "x-api-key": unknownKey(), "cf-connecting-ip": ip } });
    expect(over.res.status).toBe(429);
    expect(over.res.headers.get("retry-after")).toBe("60");
    const guessed = await call("GET", "/things", { headers: { "x-api-key": unknownKey(), "cf-connecting-ip": ip } });
    expect(guessed.res.status).toBe(429);
    expect(guessed.calls).toHaveLength(0);
    const valid = await call("GET", PATH, { headers: { "x-api-key": a.key, "cf-connecting-ip": ip } });
    expect(valid.res.status).toBe(200);
    const forwarded = await call("GET", "/things", { headers: { "x-api-key": a.key, "cf-connecting-ip": ip } });
    expect(forwarded.res.status).toBe(200);
    expect(forwarded.calls).toHaveLength(1);
    // Another client is unaffected.
    expect(
      (await call("GET", PATH, { headers: { "x-api-key": a.key, "cf-connecting-ip": freshIp() } })).res.status,
    ).toBe(200);
  });

  it("malformed credentials count too; a valid key's refusals (403, 404) do not", async () => {
    const ip = freshIp();
    const a = await holder({ scopes: [] });
    for (let i = 0; i < FAILURE_BUDGET + 5; i++) {
      // Authenticated, then refused by the API: not an authentication failure.
      const r = await call("DELETE", `${PATH}/key_AAAAAAAAAAAAAAAAAAAA`, {
        headers: { "x-api-key": a.key, "cf-connecting-ip": ip },
      });
      expect(r.res.status).toBe(404);
    }
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      expect(
        (await call("GET", PATH, { headers: { "x-api-key": "bad key", "cf-connecting-ip": ip } })).res.status,
      ).toBe(400);
    }
    expect((await call("GET", PATH, { headers: { "x-api-key": "bad key", "cf-connecting-ip": ip } })).res.status).toBe(
      429,
    );
  });
});
