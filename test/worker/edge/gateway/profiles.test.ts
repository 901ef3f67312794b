/**
 * The five seed contracts plus `default`: every row of the SPEC table, per profile, with
 * the real origin observed (what it received; that a rejection never reached it).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../../src/lib/clock";
import type { Vars } from "../../../support/worker-helpers";
import { basic, makeEnv, mint, patchRecord, probeKv, through, unknownKey } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([
  { path: "/public/*", auth: "public" },
  { path: "/admin/*", scopes: ["admin"] },
  { path: "/private/*", scopes: ["admin"], hide: true },
  // Several scopes: every one is required, not only the first.
  { path: "/billing/*", scopes: ["read", "billing"] },
  { path: "/exports/*", scopes: ["read", "billing", "export"], hide: true },
]);

interface Contract {
  vars: Vars;
  /** How an existing client of this API sends its key. */
  present: (key: string) => Record<string, string>;
  missing: { status: number; body: string };
  invalid: string;
  forbidden: unknown;
  notFound: string;
  contentType: string;
  challenge: string;
}

const WERKZEUG_401 =
  "The server could not verify that you are authorized to access the URL requested.  You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.";

const CONTRACTS: Record<string, Contract> = {
  argos: {
    vars: { AUTH_PROFILE: "argos" },
    present: (key) => ({ "x-api-key": key }),
    missing: {
      status: 401,
      body: '{"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}',
    },
    invalid: '{"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}',
    forbidden: { error: { code: "FORBIDDEN", status: 403, message: expect.any(String) } },
    notFound: '{"error":{"code":"NOT_FOUND","status":404,"message":"The requested resource was not found."}}',
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
  },
  artanis: {
    vars: { AUTH_PROFILE: "artanis" },
    present: (key) => ({ "x-api-key": key, "x-org-slug": "acme" }),
    missing: { status: 401, body: '{"error":"Unauthorized","status":401,"message":"Missing or invalid x-api-key"}' },
    invalid: '{"error":"Unauthorized","status":401,"message":"Missing or invalid x-api-key"}',
    forbidden: { error: "Forbidden", status: 403, message: expect.any(String) },
    notFound: '{"error":"Not Found","status":404,"message":"The requested resource was not found."}',
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
  },
  operate: {
    vars: { AUTH_PROFILE: "operate" },
    present: (key) => ({ "x-api-key": key }),
    missing: {
      status: 400,
      body: '{"success":false,"error":{"type":"authentication_error","message":"Missing API Key"}}',
    },
    invalid: '{"success":false,"error":{"type":"authentication_error","message":"Invalid or expired API Key"}}',
    forbidden: { success: false, error: { type: "authentication_error", message: expect.any(String) } },
    notFound: '{"success":false,"error":{"type":"not_found_error","message":"The requested resource was not found."}}',
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
  },
  argus: {
    vars: { AUTH_PROFILE: "argus" },
    present: (key) => ({ "X-API-Key": key }),
    missing: { status: 401, body: '{"detail":"Not authenticated"}' },
    invalid: '{"detail":"Not authenticated"}',
    forbidden: { detail: "Not enough permissions" },
    notFound: '{"detail":"Not Found"}',
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key", Bearer realm="api"',
  },
  onecodex: {
    vars: { AUTH_PROFILE: "onecodex" },
    present: (key) => ({ authorization: basic(key) }),
    missing: { status: 401, body: JSON.stringify({ message: WERKZEUG_401, status: 401 }) },
    invalid: JSON.stringify({ message: WERKZEUG_401, status: 401 }),
    forbidden: {
      message:
        "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.",
      status: 403,
    },
    notFound: JSON.stringify({
      message:
        "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
      status: 404,
    }),
    contentType: "application/json",
    challenge: 'Basic realm="api", charset="UTF-8", ApiKey realm="api", header="x-api-key"',
  },
  default: {
    vars: {},
    present: (key) => ({ authorization: `Bearer ${key}` }),
    missing: {
      status: 401,
      body: '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"No API key was provided.","code":"missing_credential"}',
    },
    invalid:
      '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The API key is invalid, expired or revoked.","code":"invalid_key"}',
    forbidden: { type: "about:blank", title: "Forbidden", status: 403, detail: expect.any(String), code: "forbidden" },
    notFound:
      '{"type":"about:blank","title":"Not Found","status":404,"detail":"The requested resource was not found.","code":"not_found"}',
    contentType: "application/problem+json",
    challenge: 'ApiKey realm="api", header="x-api-key", Bearer realm="api", Basic realm="api", charset="UTF-8"',
  },
};

afterEach(() => vi.restoreAllMocks());

function expectGatewayError(res: Response, status: number, contentType: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe(contentType);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-request-id")).toMatch(/^[\w-]+$/);
}

for (const [name, contract] of Object.entries(CONTRACTS)) {
  describe(`profile ${name}`, () => {
    const env = () => makeEnv({ ...contract.vars, ROUTES });

    it("no credential: the contract's status and body, challenge on 401, origin never called", async () => {
      const { res, body, calls } = await through("/things", {}, env());
      expectGatewayError(res, contract.missing.status, contract.contentType);
      expect(body).toBe(contract.missing.body);
      expect(res.headers.get("www-authenticate")).toBe(contract.missing.status === 401 ? contract.challenge : null);
      expect(calls).toHaveLength(0);
    });

    it("unknown key: 401 with the contract's body, origin never called", async () => {
      const { res, body, calls } = await through("/things", { headers: contract.present(unknownKey()) }, env());
      expectGatewayError(res, 401, contract.contentType);
      expect(res.headers.get("www-authenticate")).toBe(contract.challenge);
      expect(body).toBe(contract.invalid);
      expect(calls).toHaveLength(0);
    });

    it("a key with our prefix and a bad checksum: the same 401", async () => {
      const { key } = await mint();
      const forged = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
      const { res, body, calls } = await through("/things", { headers: contract.present(forged) }, env());
      expect(res.status).toBe(401);
      expect(body).toBe(contract.invalid);
      expect(calls).toHaveLength(0);
    });

    it("revoked, disabled and expired keys: byte-identical 401 bodies", async () => {
      const revoked = await mint();
      await patchRecord(revoked.key, { revoked_at: new Date().toISOString() });
      const disabled = await mint();
      await patchRecord(disabled.key, { disabled: true });
      const expired = await mint();
      await patchRecord(expired.key, { expires_at: new Date(Date.now() - 1000).toISOString() });
      for (const { key } of [revoked, disabled, expired]) {
        const { res, body, calls } = await through("/things", { headers: contract.present(key) }, env());
        expect(res.status).toBe(401);
        expect(body).toBe(contract.invalid);
        expect(calls).toHaveLength(0);
      }
    });

    it("a key that expires while cached stops at its expiry instant, on a cache hit", async () => {
      // The expiry falls inside CACHE_TTL_MS (30 s) of the first lookup: the answers at and
      // after it come from the in-isolate cache (one KV read in all), so the expiry is
      // checked on the cached record itself.
      const t0 = Date.now();
      const expiresAt = t0 + 10_000;
      const now = vi.spyOn(clock, "now").mockReturnValue(t0);
      const kv = probeKv();
      const gw = makeEnv({ ...contract.vars, ROUTES, KEYS: kv.binding });
      const { key } = await mint({ expires_at: new Date(expiresAt).toISOString() });
      expect((await through("/things", { headers: contract.present(key) }, gw)).res.status).toBe(200);
      now.mockReturnValue(expiresAt - 1);
      expect((await through("/things", { headers: contract.present(key) }, gw)).res.status).toBe(200);
      now.mockReturnValue(expiresAt);
      const after = await through("/things", { headers: contract.present(key) }, gw);
      expect(after.res.status).toBe(401);
      expect(after.body).toBe(contract.invalid);
      expect(after.calls).toHaveLength(0);
      expect(kv.gets).toBe(1);
    });

    it("valid key without the route's scope: 403 in the contract's shape, origin never called", async () => {
      const { key } = await mint({ scopes: ["read"] });
      const { res, body, calls } = await through("/admin/users", { headers: contract.present(key) }, env());
      expectGatewayError(res, 403, contract.contentType);
      expect(res.headers.get("www-authenticate")).toBeNull();
      expect(JSON.parse(body)).toEqual(contract.forbidden);
      expect(calls).toHaveLength(0);
    });

    it("a route needing several scopes: a key missing any one of them is refused, origin never called", async () => {
      for (const scopes of [["read"], ["billing"], ["read", "export"]]) {
        const { key } = await mint({ scopes });
        const { res, body, calls } = await through("/billing/invoices", { headers: contract.present(key) }, env());
        expectGatewayError(res, 403, contract.contentType);
        expect(JSON.parse(body), scopes.join(",")).toEqual(contract.forbidden);
        expect(calls, scopes.join(",")).toHaveLength(0);
      }
      for (const scopes of [
        ["read", "billing"],
        ["billing", "read"],
      ]) {
        const hidden = await mint({ scopes });
        const { res, body, calls } = await through("/exports/2026", { headers: contract.present(hidden.key) }, env());
        expectGatewayError(res, 404, contract.contentType);
        expect(body).toBe(contract.notFound);
        expect(calls).toHaveLength(0);
      }
      const { key, record } = await mint({ scopes: ["billing", "read"] });
      const ok = await through("/billing/invoices", { headers: contract.present(key) }, env());
      expect(ok.res.status).toBe(200);
      expect(ok.calls).toHaveLength(1);
      expect(ok.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
      expect(ok.calls[0]!.headers["x-api-key-scopes"]).toBe("billing,read");
    });

    it("a route marked hide answers 404 instead of 403", async () => {
      const { key } = await mint({ scopes: ["read"] });
      const { res, body, calls } = await through("/private/sample-1", { headers: contract.present(key) }, env());
      expectGatewayError(res, 404, contract.contentType);
      expect(body).toBe(contract.notFound);
      expect(calls).toHaveLength(0);
    });

    it("valid key: forwarded with trusted identity headers and without the credential", async () => {
      const { key, record } = await mint({ scopes: ["read", "admin"] });
      const headers = { ...contract.present(key), "x-api-key-id": "spoofed", "x-api-key-scopes": "everything" };
      const { res, body, calls } = await through("/admin/users?page=2", { headers }, env());
      expect(res.status).toBe(200);
      expect(res.headers.get("x-origin")).toBe("echo");
      expect(calls).toHaveLength(1);
      const seen = calls[0]!;
      expect(seen.url).toBe("/admin/users?page=2");
      expect(seen.headers["x-org-slug"]).toBe("acme");
      expect(seen.headers["x-api-key-id"]).toBe(record.id);
      expect(seen.headers["x-api-key-scopes"]).toBe("read,admin");
      expect(seen.headers["x-api-key"]).toBeUndefined();
      expect(seen.headers.authorization).toBeUndefined();
      expect(body).not.toContain(key);
    });

    it("public route: forwarded without a key and without identity headers", async () => {
      const { res, calls } = await through("/public/schema", { headers: { "x-org-slug": "spoofed" } }, env());
      expect(res.status).toBe(200);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.headers["x-org-slug"]).toBeUndefined();
      expect(calls[0]!.headers["x-api-key-id"]).toBeUndefined();
    });

    it("two different keys in one request: 400, origin never called", async () => {
      const a = await mint();
      const b = await mint();
      const { res, calls } = await through(
        "/things",
        { headers: { "x-api-key": a.key, authorization: `Bearer ${b.key}`, "x-api-key-2": "x" } },
        makeEnv({ ...contract.vars, CREDENTIAL_SOURCES: "x-api-key,bearer" }),
      );
      expect(res.status).toBe(400);
      expect(calls).toHaveLength(0);
    });
  });
}

describe("artanis: the client names the org in x-org-slug", () => {
  const env = () => makeEnv({ AUTH_PROFILE: "artanis" });

  it("forwards with the org the client named when the key belongs to it", async () => {
    const { key } = await mint({ orgs: ["acme", "globex"] });
    const { res, calls } = await through(
      "/api/prompts?projectSlug=p",
      { headers: { "x-api-key": key, "x-org-slug": "globex" } },
      env(),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-org-slug"]).toBe("globex");
  });

  it("403 when the key's organizations do not include the x-org-slug sent", async () => {
    const { key } = await mint({ orgs: ["acme"] });
    const { res, body, calls } = await through(
      "/api/prompts",
      { headers: { "x-api-key": key, "x-org-slug": "globex" } },
      env(),
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(body)).toEqual({
      error: "Forbidden",
      status: 403,
      message: "The API key does not belong to the organization in x-org-slug",
    });
    expect(calls).toHaveLength(0);
  });

  it("400 when x-org-slug is missing", async () => {
    const { key } = await mint();
    const { res, body, calls } = await through("/api/prompts", { headers: { "x-api-key": key } }, env());
    expect(res.status).toBe(400);
    expect(JSON.parse(body)).toEqual({ error: "Bad Request", status: 400, message: "Missing x-org-slug header" });
    expect(calls).toHaveLength(0);
  });
});

describe("operate: the key's org is injected, whatever the client sends", () => {
  it("replaces a client-sent x-org-slug with the key's org", async () => {
    const { key } = await mint({ orgs: ["acme"] });
    const { res, calls } = await through(
      "/companies/list",
      { headers: { "x-api-key": key, "x-org-slug": "globex" } },
      makeEnv({ AUTH_PROFILE: "operate" }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-org-slug"]).toBe("acme");
  });

  it("an empty x-api-key header is malformed, not missing: 400 that names it (see empty-credential.test.ts)", async () => {
    const { res, body, calls } = await through(
      "/companies/list",
      { headers: { "x-api-key": "" } },
      makeEnv({ AUTH_PROFILE: "operate" }),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(body)).toEqual({
      success: false,
      error: { type: "authentication_error", message: "Malformed credential: empty x-api-key header" },
    });
    expect(calls).toHaveLength(0);
  });
});

describe("argus: X-API-Key or Authorization: Bearer", () => {
  const env = () => makeEnv({ AUTH_PROFILE: "argus" });

  it("accepts both, with the Bearer scheme in any case", async () => {
    const { key } = await mint();
    for (const headers of [
      { "X-API-Key": key },
      { Authorization: `Bearer ${key}` },
      { Authorization: `bearer ${key}` },
      { Authorization: `BEARER  ${key}` },
    ] as Record<string, string>[]) {
      const { res, calls } = await through("/api/devices", { headers }, env());
      expect(res.status).toBe(200);
      expect(calls[0]!.headers.authorization).toBeUndefined();
    }
  });

  it("does not accept Basic", async () => {
    const { key } = await mint();
    const { res } = await through("/api/devices", { headers: { authorization: basic(key) } }, env());
    expect(res.status).toBe(401);
  });
});

describe("onecodex: Basic (key as username, empty password) or X-API-Key", () => {
  const env = () =>
    makeEnv({ AUTH_PROFILE: "onecodex", ROUTES: JSON.stringify([{ path: "/api/v1/schema", auth: "public" }]) });

  it("accepts curl -u KEY: and X-API-Key", async () => {
    const { key, record } = await mint();
    for (const headers of [{ authorization: basic(key) }, { "X-API-Key": key }] as Record<string, string>[]) {
      const { res, calls } = await through("/api/v1/account", { headers }, env());
      expect(res.status).toBe(200);
      expect(calls[0]!.headers["x-api-key-id"]).toBe(record.id);
      expect(calls[0]!.headers.authorization).toBeUndefined();
    }
  });

  it("public routes pass unauthenticated; a valid key there is still identified", async () => {
    const anonymous = await through("/api/v1/schema", {}, env());
    expect(anonymous.res.status).toBe(200);
    expect(anonymous.calls[0]!.headers["x-api-key-id"]).toBeUndefined();
    const { key, record } = await mint();
    const identified = await through("/api/v1/schema", { headers: { authorization: basic(key) } }, env());
    expect(identified.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
  });

  it("a bad key on a public route is still refused (the client meant to authenticate)", async () => {
    const { res, calls } = await through("/api/v1/schema", { headers: { "X-API-Key": unknownKey() } }, env());
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it("Basic with a password is refused as malformed", async () => {
    const { key } = await mint();
    const { res, body } = await through("/api/v1/account", { headers: { authorization: basic(key, "secret") } }, env());
    expect(res.status).toBe(400);
    expect(JSON.parse(body).status).toBe(400);
    expect(body).not.toContain(key);
  });
});
