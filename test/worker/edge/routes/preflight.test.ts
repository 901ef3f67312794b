/**
 * Issue 8, class 5: CORS preflights. A forwarded preflight carries no body, never skips a
 * route's `hide`, and a credential it carries is dropped (when forwarded without a key) or
 * checked (when it must authenticate) — never forwarded unchecked.
 */
import { describe, expect, it } from "vitest";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { basic, makeEnv, mint, through, unknownKey } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([
  { path: "/private/*", methods: ["GET", "POST"], scopes: ["secret"], hide: true },
  { path: "/hidden-any/*", scopes: ["secret"], hide: true },
  { path: "/public/*", auth: "public" },
]);
const pre = (method = "POST", headers: Record<string, string> = {}, body?: string): RequestInit => ({
  method: "OPTIONS",
  headers: { origin: "https://app.example", "access-control-request-method": method, ...headers },
  ...(body !== undefined ? { body } : {}),
});

describe("CORS preflights (issue 8, class 5)", () => {
  it("a forwarded preflight carries no body, and no Content-Length for one", async () => {
    const { res, calls } = await through(
      "/things",
      pre("POST", { "content-type": "application/json" }, '{"smuggled":true}'),
      makeEnv({ ROUTES }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.method).toBe("OPTIONS");
    expect(calls[0]!.bodyBytes).toBe(0);
    expect(calls[0]!.headers["content-length"] ?? "0").toBe("0");
  });

  it("an authenticated preflight (CORS_PREFLIGHT=auth) carries no body either", async () => {
    const { key } = await mint();
    const { res, calls } = await through(
      "/things",
      pre("POST", { "x-api-key": key }, "x".repeat(1000)),
      makeEnv({ ROUTES, CORS_PREFLIGHT: "auth" }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.bodyBytes).toBe(0);
  });

  for (const p of PROFILE_CASES) {
    it(`${p.name}: a preflight never skips hide — for the route of the method it announces or its own`, async () => {
      const env = makeEnv({ ...p.vars, ROUTES });
      const { key } = await mint({ orgs: ["acme"], scopes: ["read"] });
      for (const path of ["/private/doc", "/hidden-any/doc"]) {
        // No key: the profile's "no key" answer, as for any protected path; not forwarded.
        const anon = await through(path, pre("GET"), env);
        expect(anon.calls, path).toHaveLength(0);
        expectRefusal(p, anon.res, anon.body, p.missingStatus);
        // A key without the scope: 404, as for the hidden route itself; not forwarded.
        const scoped = await through(path, pre("POST", p.present(key)), env);
        expect(scoped.calls, path).toHaveLength(0);
        expectRefusal(p, scoped.res, scoped.body, 404);
      }
    });
  }

  it("a hidden route's preflight is forwarded for a key that has the scope", async () => {
    const { key } = await mint({ scopes: ["secret"] });
    const { res, calls } = await through("/private/doc", pre("GET", { "x-api-key": key }), makeEnv({ ROUTES }));
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-api-key-scopes"]).toBe("secret");
  });

  it("a preflight forwarded without a key drops every credential it carries, good or bad", async () => {
    const { key } = await mint();
    const variants: Record<string, string>[] = [
      { "x-api-key": key },
      { "x-api-key": unknownKey() },
      { authorization: `Bearer ${key}` },
      { authorization: basic(key) },
      { authorization: "Digest username=alice" },
      { authorization: "Bearer some.jwt.token" },
      { cookie: "session=abc" },
    ];
    for (const headers of variants) {
      const { res, calls } = await through("/things", pre("POST", headers), makeEnv({ ROUTES }));
      expect(res.status).toBe(200);
      const seen = calls[0]!.headers;
      expect(seen["x-api-key"], JSON.stringify(headers)).toBeUndefined();
      expect(seen.authorization, JSON.stringify(headers)).toBeUndefined();
      expect(seen.cookie, JSON.stringify(headers)).toBeUndefined();
      expect(seen["x-org-slug"]).toBeUndefined();
      expect(seen["x-api-key-id"]).toBeUndefined();
    }
  });

  it("with CORS_PREFLIGHT=auth the credential is checked: a bad key is 401, not forwarded", async () => {
    const { res, calls } = await through(
      "/things",
      pre("POST", { "x-api-key": unknownKey() }),
      makeEnv({ ROUTES, CORS_PREFLIGHT: "auth" }),
    );
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it("a public route's preflight is still forwarded (without credentials)", async () => {
    const { res, calls } = await through(
      "/public/x",
      pre("GET", { authorization: "Bearer x.y.z" }),
      makeEnv({ ROUTES }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers.authorization).toBeUndefined();
  });
});
