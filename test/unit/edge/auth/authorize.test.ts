/**
 * authorize(): org and scopes of a valid key against the matched route. Every required
 * scope counts, not only the first: routes here need one, two or three scopes, and a key
 * missing any one of them (first, middle or last) is refused naming that scope.
 * Runs in workerd (npm test) and in Node (npm run test:mutation).
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import { authorize } from "../../../../src/edge/auth/authorize";
import type { Route } from "../../../../src/edge/routes/table";
import { parseRoutes } from "../../../../src/edge/routes/table";
import type { Env } from "../../../../src/env";
import type { KeyRecord } from "../../../../src/keys/record";

/** parseConfig only checks that KEYS looks like a KV binding; authorize never reads it. */
const KEYS = { get: async () => null } as unknown as KVNamespace;
const config = (vars: Record<string, unknown> = {}) =>
  parseConfig({ KEYS, ORIGIN_URL: "https://api.example.com", ...vars } as Env);

function record(scopes: string[], orgs: string[] = ["acme"]): KeyRecord {
  return {
    v: 1,
    id: "key_AAAAAAAAAAAAAAAAAAAA",
    name: "t",
    orgs,
    scopes,
    start: "kg_AAAA",
    created_at: "2026-01-01T00:00:00.000Z",
    expires_at: null,
    disabled: false,
    revoked_at: null,
  };
}

/** Parsed inside each test (not at collection), so a parse failure fails the tests. */
function routes(): Record<"one" | "two" | "three" | "none", Route> {
  const [one, two, three, none] = parseRoutes([
    { path: "/one", scopes: ["read"] },
    { path: "/two", scopes: ["read", "billing"] },
    { path: "/three", scopes: ["read", "billing", "export"] },
    { path: "/none" },
  ]);
  return { one: one!, two: two!, three: three!, none: none! };
}

describe("authorize: scopes", () => {
  const cfg = () => config();
  const noHeaders = new Headers();

  it("a route without scopes admits any valid key", () => {
    expect(authorize(record([]), routes().none, cfg(), noHeaders)).toEqual({ ok: true, value: "acme" });
  });

  it.each([
    ["one", ["read"]],
    ["two", ["read", "billing"]],
    ["two", ["billing", "read"]],
    ["three", ["export", "billing", "read", "extra"]],
  ] as const)("%# route %s: a key holding every required scope is admitted", (route, scopes) => {
    expect(authorize(record([...scopes]), routes()[route], cfg(), noHeaders)).toEqual({ ok: true, value: "acme" });
  });

  it.each([
    ["one", [], "read"],
    ["two", ["read"], "billing"], // only the first required scope held
    ["two", ["billing"], "read"], // only the second
    ["two", [], "read"],
    ["three", ["read", "billing"], "export"], // only the last one missing
    ["three", ["read", "export"], "billing"], // only a middle one missing
    ["three", ["billing", "export"], "read"],
  ] as const)("%# route %s: a key missing any one required scope is refused, naming it", (route, scopes, missing) => {
    expect(authorize(record([...scopes]), routes()[route], cfg(), noHeaders)).toEqual({
      ok: false,
      code: "forbidden",
      detail: `The API key lacks the "${missing}" scope required here`,
    });
  });

  it("a scope is matched exactly, not by prefix or case", () => {
    for (const held of [["read", "bill"], ["read", "billing:write"], ["read", "BILLING"], ["read,billing"]]) {
      expect(authorize(record(held), routes().two, cfg(), noHeaders).ok, held.join("|")).toBe(false);
    }
  });
});

describe("authorize: org", () => {
  it("ORG_SOURCE=key: the key's first org, whatever the client sends", () => {
    const headers = new Headers({ "x-org-slug": "globex" });
    expect(authorize(record([], ["acme", "globex"]), routes().none, config(), headers)).toEqual({
      ok: true,
      value: "acme",
    });
  });

  it("ORG_SOURCE=header: the named org when the key belongs to it; 403 otherwise; 400 when absent", () => {
    const cfg = config({ AUTH_PROFILE: "artanis" });
    const key = record(["read", "billing"], ["acme", "globex"]);
    expect(authorize(key, routes().two, cfg, new Headers({ "x-org-slug": " globex " }))).toEqual({
      ok: true,
      value: "globex",
    });
    expect(authorize(key, routes().two, cfg, new Headers({ "x-org-slug": "initech" }))).toEqual({
      ok: false,
      code: "forbidden",
      detail: "The API key does not belong to the organization in x-org-slug",
    });
    for (const h of [{}, { "x-org-slug": "" }, { "x-org-slug": "   " }] as Record<string, string>[]) {
      expect(authorize(key, routes().two, cfg, new Headers(h))).toEqual({
        ok: false,
        code: "malformed_request",
        detail: "Missing x-org-slug header",
      });
    }
  });

  it("ORG_SOURCE=header: the org check does not excuse a missing scope", () => {
    const cfg = config({ AUTH_PROFILE: "artanis" });
    const decision = authorize(record(["read"], ["acme"]), routes().two, cfg, new Headers({ "x-org-slug": "acme" }));
    expect(decision).toMatchObject({ ok: false, code: "forbidden" });
  });
});
