/**
 * Admin changes seen through the gateway: revocation stops a cached key at once in this
 * isolate, rotation keeps the old key for exactly its grace period (time injected with
 * vi.spyOn(clock, "now"), never slept), and keys on their way out carry Sunset and
 * Deprecation headers on forwarded responses.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../../src/lib/clock";
import type { Vars } from "../../../support/worker-helpers";
import { basic, makeEnv, mint, patchRecord, through } from "../../../support/worker-helpers";
import { adminEnv, api, createViaApi, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

const DAY_MS = 86_400_000;

const PROFILES: Record<string, { vars: Vars; present: (key: string) => Record<string, string>; invalid: string }> = {
  argos: {
    vars: { AUTH_PROFILE: "argos" },
    present: (key) => ({ "x-api-key": key }),
    invalid: '{"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}',
  },
  operate: {
    vars: { AUTH_PROFILE: "operate" },
    present: (key) => ({ "x-api-key": key }),
    invalid: '{"success":false,"error":{"type":"authentication_error","message":"Invalid or expired API Key"}}',
  },
  argus: {
    vars: { AUTH_PROFILE: "argus" },
    present: (key) => ({ authorization: `Bearer ${key}` }),
    invalid: '{"detail":"Not authenticated"}',
  },
  onecodex: {
    vars: { AUTH_PROFILE: "onecodex" },
    present: (key) => ({ authorization: basic(key) }),
    invalid: JSON.stringify({
      message:
        "The server could not verify that you are authorized to access the URL requested.  You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.",
      status: 401,
    }),
  },
  default: {
    vars: {},
    present: (key) => ({ "x-api-key": key }),
    invalid:
      '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The API key is invalid, expired or revoked.","code":"invalid_key"}',
  },
};

describe("revocation through the admin API", () => {
  for (const [name, p] of Object.entries(PROFILES)) {
    it(`${name}: a cached key gets the profile's 401 on the very next request, origin never called`, async () => {
      const e = adminEnv(p.vars);
      const created = await createViaApi({}, e);
      expect((await through("/things", { headers: p.present(created.key) }, e)).res.status).toBe(200); // now cached
      expect((await api("DELETE", `/_keygate/keys/${created.id}`, { env: e })).res.status).toBe(200);
      const { res, body, calls } = await through("/things", { headers: p.present(created.key) }, e);
      expect(res.status).toBe(401);
      expect(body).toBe(p.invalid);
      expect(res.headers.get("www-authenticate")).not.toBeNull();
      expect(calls).toHaveLength(0);
    });
  }

  it("control (no revocation feed): the same change written behind the isolate's back is served from cache until the TTL (the documented bound)", async () => {
    // Without REVOCATION_FEED: with it, the isolate's background poll may drop the entry
    // early (docs/revocation.md), which is what test/revocation covers.
    const e = adminEnv({ REVOCATION_FEED: undefined });
    const created = await createViaApi({}, e);
    expect((await through("/things", { headers: { "x-api-key": created.key } }, e)).res.status).toBe(200);
    await patchRecord(created.key, { revoked_at: new Date().toISOString() }); // what another isolate's revoke looks like here
    expect((await through("/things", { headers: { "x-api-key": created.key } }, e)).res.status).toBe(200);
    vi.spyOn(clock, "now").mockReturnValue(Date.now() + 30_001); // CACHE_TTL_MS later
    expect((await through("/things", { headers: { "x-api-key": created.key } }, e)).res.status).toBe(401);
  });
});

describe("rotation through the hot path", () => {
  it("the old key works through its grace period, to the millisecond, then gets the profile's 401; the new one works", async () => {
    const e = adminEnv({ AUTH_PROFILE: "argos" });
    const t0 = Date.now();
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    const old = await createViaApi({ scopes: ["read"] }, e);
    expect((await through("/things", { headers: { "x-api-key": old.key } }, e)).res.status).toBe(200);
    const rotated = (await api("POST", `/_keygate/keys/${old.id}/rotate`, { body: { grace_seconds: 10 }, env: e }))
      .json;

    spy.mockReturnValue(t0 + 9_999);
    const during = await through("/things", { headers: { "x-api-key": old.key } }, e);
    expect(during.res.status).toBe(200);
    expect(during.calls[0]!.headers["x-api-key-id"]).toBe(old.id);
    expect(during.res.headers.get("sunset")).toBe(new Date(t0 + 10_000).toUTCString());
    expect(during.res.headers.get("deprecation")).toBe(`@${Math.floor(t0 / 1000)}`);
    const fresh = await through("/things", { headers: { "x-api-key": rotated.key } }, e);
    expect(fresh.res.status).toBe(200);
    expect(fresh.calls[0]!.headers["x-api-key-id"]).toBe(rotated.id);
    expect(fresh.calls[0]!.headers["x-api-key-scopes"]).toBe("read");
    expect(fresh.res.headers.get("sunset")).toBeNull();

    spy.mockReturnValue(t0 + 10_000); // the old record is still in the isolate's cache: expiry is checked anyway
    const after = await through("/things", { headers: { "x-api-key": old.key } }, e);
    expect(after.res.status).toBe(401);
    expect(after.body).toBe(PROFILES.argos!.invalid);
    expect(after.calls).toHaveLength(0);
    expect((await through("/things", { headers: { "x-api-key": rotated.key } }, e)).res.status).toBe(200);
  });

  it("grace 0 (the default): the old key stops at once, though cached", async () => {
    const e = adminEnv();
    const old = await createViaApi({}, e);
    expect((await through("/things", { headers: { "x-api-key": old.key } }, e)).res.status).toBe(200);
    const rotated = (await api("POST", `/_keygate/keys/${old.id}/rotate`, { env: e })).json;
    expect((await through("/things", { headers: { "x-api-key": old.key } }, e)).res.status).toBe(401);
    expect((await through("/things", { headers: { "x-api-key": rotated.key } }, e)).res.status).toBe(200);
  });
});

describe("updates through the hot path (at once in this isolate)", () => {
  const ROUTES = JSON.stringify([{ path: "/admin/*", scopes: ["admin"] }]);

  it("scopes: 403 before, forwarded with the new scopes after", async () => {
    const e = adminEnv({ ROUTES });
    const k = await createViaApi({ scopes: ["read"] }, e);
    expect((await through("/admin/users", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(403);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { scopes: ["read", "admin"] }, env: e });
    const after = await through("/admin/users", { headers: { "x-api-key": k.key } }, e);
    expect(after.res.status).toBe(200);
    expect(after.calls[0]!.headers["x-api-key-scopes"]).toBe("read,admin");
  });

  it("enabled: false gives 401, true brings the key back", async () => {
    const e = adminEnv();
    const k = await createViaApi({}, e);
    expect((await through("/x", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(200);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { enabled: false }, env: e });
    const off = await through("/x", { headers: { "x-api-key": k.key } }, e);
    expect(off.res.status).toBe(401);
    expect(off.calls).toHaveLength(0);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { enabled: true }, env: e });
    expect((await through("/x", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(200);
  });

  it("expires_at in the past: 401 at once; orgs: the injected org follows", async () => {
    const e = adminEnv();
    const [a, b] = [uniqueOrg(), uniqueOrg()];
    const k = await createViaApi({ orgs: [a] }, e);
    expect((await through("/x", { headers: { "x-api-key": k.key } }, e)).calls[0]!.headers["x-org-slug"]).toBe(a);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { orgs: [b] }, env: e });
    expect((await through("/x", { headers: { "x-api-key": k.key } }, e)).calls[0]!.headers["x-org-slug"]).toBe(b);
    await api("PATCH", `/_keygate/keys/${k.id}`, {
      body: { expires_at: new Date(Date.now() - 1).toISOString() },
      env: e,
    });
    expect((await through("/x", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(401);
  });

  it("import: a key clients already sent (negatively cached here) works at once", async () => {
    const e = adminEnv();
    const legacy = crypto.randomUUID();
    expect((await through("/x", { headers: { "x-api-key": legacy } }, e)).res.status).toBe(401); // cached as unknown
    expect(
      (await api("POST", "/_keygate/keys/import", { body: { key: legacy, orgs: ["acme"] }, env: e })).res.status,
    ).toBe(201);
    expect((await through("/x", { headers: { "x-api-key": legacy } }, e)).res.status).toBe(200);
  });
});

describe("Sunset (RFC 8594) and Deprecation (RFC 9745) on forwarded responses", () => {
  it("within EXPIRY_WARNING_DAYS (default 7) of expiry, not before", async () => {
    const t0 = Date.parse("2030-03-01T00:00:00Z");
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    const expires = t0 + 30 * DAY_MS;
    const { key } = await mint({ expires_at: new Date(expires).toISOString() });
    const early = await through("/x", { headers: { "x-api-key": key } }, makeEnv());
    expect(early.res.status).toBe(200);
    expect(early.res.headers.get("sunset")).toBeNull();
    expect(early.res.headers.get("deprecation")).toBeNull();
    spy.mockReturnValue(expires - 7 * DAY_MS);
    const warned = await through("/x", { headers: { "x-api-key": key } }, makeEnv());
    expect(warned.res.headers.get("sunset")).toBe("Sun, 31 Mar 2030 00:00:00 GMT");
    expect(warned.res.headers.get("deprecation")).toBe(`@${(expires - 7 * DAY_MS) / 1000}`);
    // The client sees them; the origin never does.
    expect(warned.calls[0]!.headers.sunset).toBeUndefined();
  });

  it("EXPIRY_WARNING_DAYS changes the window; 0 turns the expiry warning off", async () => {
    const { key } = await mint({ expires_at: new Date(Date.now() + 3 * DAY_MS).toISOString() });
    expect(
      (await through("/x", { headers: { "x-api-key": key } }, makeEnv({ EXPIRY_WARNING_DAYS: "2" }))).res.headers.get(
        "sunset",
      ),
    ).toBeNull();
    expect(
      (await through("/x", { headers: { "x-api-key": key } }, makeEnv({ EXPIRY_WARNING_DAYS: "0" }))).res.headers.get(
        "sunset",
      ),
    ).toBeNull();
    expect(
      (await through("/x", { headers: { "x-api-key": key } }, makeEnv({ EXPIRY_WARNING_DAYS: "3" }))).res.headers.get(
        "sunset",
      ),
    ).not.toBeNull();
  });

  it("a rotation's grace longer than the warning window still warns for the whole grace", async () => {
    const e = adminEnv({ EXPIRY_WARNING_DAYS: "1" });
    const old = await createViaApi({}, e);
    await api("POST", `/_keygate/keys/${old.id}/rotate`, { body: { grace_seconds: 20 * 86_400 }, env: e });
    const res = (await through("/x", { headers: { "x-api-key": old.key } }, e)).res;
    expect(res.headers.get("sunset")).not.toBeNull();
    expect(res.headers.get("deprecation")).toMatch(/^@\d+$/);
  });

  it("never replaces the origin's own values", async () => {
    const { key } = await mint({ expires_at: new Date(Date.now() + DAY_MS).toISOString() });
    const { res } = await through("/deprecated", { headers: { "x-api-key": key } }, makeEnv());
    expect(res.status).toBe(200);
    expect(res.headers.get("sunset")).toBe("Wed, 01 Jan 2031 00:00:00 GMT");
    expect(res.headers.get("deprecation")).toBe("@1700000000");
  });

  it("a key with no expiry, and the gateway's own errors, carry neither", async () => {
    const { key } = await mint();
    expect((await through("/x", { headers: { "x-api-key": key } }, makeEnv())).res.headers.get("sunset")).toBeNull();
    const expiring = await mint({ expires_at: new Date(Date.now() + DAY_MS).toISOString(), scopes: [] });
    const denied = await through(
      "/admin/x",
      { headers: { "x-api-key": expiring.key } },
      makeEnv({ ROUTES: JSON.stringify([{ path: "/admin/*", scopes: ["admin"] }]) }),
    );
    expect(denied.res.status).toBe(403);
    expect(denied.res.headers.get("sunset")).toBeNull();
  });
});
