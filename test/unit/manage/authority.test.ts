/**
 * `decide` (src/manage/authority.ts) on its own, rule by rule: what each principal reaches,
 * the refusal messages, the field rules, and what a holder may regenerate. The matrix
 * (matrix.test.ts) drives the same table through every surface.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../../src/keys/record";
import { decide, may, mayName } from "../../../src/manage/authority";
import type { Principal } from "../../../src/manage/principal";

const ROOT: Principal = { kind: "root" };
const token = (orgs: string[], role: "read" | "write" = "write"): Principal => ({
  kind: "token",
  id: "tok_00000000000000000000",
  orgs,
  role,
});
const record = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  v: 1,
  id: "key_holderholderholder00",
  name: "holder",
  orgs: ["acme"],
  scopes: ["read", "write"],
  start: "kg_AbCd",
  created_at: "2026-01-01T00:00:00.000Z",
  expires_at: null,
  disabled: false,
  revoked_at: null,
  ...over,
});
const holder = (over: Partial<KeyRecord> = {}): Principal => ({ kind: "key", org: "acme", record: record(over) });
const key = (orgs: string[], over: Partial<KeyRecord> = {}) => ({
  ...record({ id: "key_targettargettarget00", scopes: ["read"], ...over }),
  orgs,
});

describe("reach", () => {
  it("root reaches every org and key", () => {
    expect(decide(ROOT, "revoke", { key: key(["a", "b"]) })).toEqual({ ok: true });
    expect(decide(ROOT, "create", { orgs: ["anything"] })).toEqual({ ok: true });
  });

  it("a token sees a key one of whose orgs is its own, changes it only when all are; names only its orgs", () => {
    const t = token(["a"]);
    expect(decide(t, "show", { key: key(["a", "b"]) })).toEqual({ ok: true });
    expect(decide(t, "revoke", { key: key(["a", "b"]) })).toMatchObject({
      ok: false,
      error: "forbidden",
      message: expect.stringContaining("also acts for orgs outside"),
    });
    expect(decide(t, "show", { key: key(["b"]) })).toEqual({ ok: false, error: "not_found" });
    expect(decide(t, "create", { orgs: ["a", "b", "c"] })).toMatchObject({
      ok: false,
      error: "forbidden",
      message: 'not allowed for orgs "b", "c"',
    });
    expect(decide(token(["*"]), "revoke", { key: key(["x", "y"]) })).toEqual({ ok: true });
  });

  it("a holder reaches keys of its one org alone; '*' is no wildcard for it", () => {
    const h = holder();
    expect(decide(h, "revoke", { key: key(["acme"]) })).toEqual({ ok: true });
    expect(decide(h, "show", { key: key(["acme", "globex"]) })).toEqual({ ok: false, error: "not_found" });
    expect(decide(h, "show", { key: key([]) })).toEqual({ ok: false, error: "not_found" });
    expect(decide(h, "list", { orgs: ["globex"] })).toMatchObject({ ok: false, error: "forbidden" });
    expect(decide({ kind: "session", sub: "u", org: "acme", scopes: [] }, "list", { orgs: ["*"] })).toMatchObject({
      ok: false,
      error: "forbidden",
    });
  });

  it("refusals say why, before anything is looked at", () => {
    expect(decide(token(["a"], "read"), "revoke")).toEqual({
      ok: false,
      error: "forbidden",
      message: "This admin token is read-only (role read): it may not revoke keys.",
    });
    expect(decide(token(["a"]), "token_list")).toEqual({
      ok: false,
      error: "forbidden",
      message: "Only the root ADMIN_TOKEN may manage admin tokens.",
    });
    expect(decide(holder(), "enable")).toEqual({
      ok: false,
      error: "forbidden",
      message: "An API key may not enable keys: that is the operator's (the admin API, with root or an admin token).",
    });
    expect(decide({ kind: "portal", org: "acme", scopes: null }, "import")).toMatchObject({
      message: expect.stringMatching(/^A portal session may not import keys/),
    });
    expect(may(holder(), "disable", { key: key(["acme"]) })).toBe(true);
  });
});

describe("a leak reporter", () => {
  const reporter: Principal = { kind: "reporter", via: "github" };

  it("reports any key it presents (of any orgs), and may do nothing else", () => {
    expect(decide(reporter, "leak_report")).toEqual({ ok: true });
    expect(decide(reporter, "leak_report", { key: key(["a", "b"]) })).toEqual({ ok: true });
    for (const op of [
      "list",
      "show",
      "create",
      "revoke",
      "rotate",
      "audit",
      "usage",
      "org_show",
      "token_list",
    ] as const)
      expect(decide(reporter, op), op).toMatchObject({ ok: false, error: "forbidden" });
  });

  it("operators: root any key, a write token the keys it may change, a read token none", () => {
    expect(decide(ROOT, "leak_report", { key: key(["a", "b"]) })).toEqual({ ok: true });
    expect(decide(token(["a"]), "leak_report", { key: key(["a"]) })).toEqual({ ok: true });
    expect(decide(token(["a"]), "leak_report", { key: key(["b"]) })).toEqual({ ok: false, error: "not_found" });
    expect(decide(token(["a"]), "leak_report", { key: key(["a", "b"]) })).toMatchObject({ error: "forbidden" });
    expect(decide(token(["a"], "read"), "leak_report")).toMatchObject({
      ok: false,
      error: "forbidden",
      message: "This admin token is read-only (role read): it may not report leaked keys.",
    });
    expect(decide(holder(), "leak_report")).toMatchObject({ ok: false, error: "forbidden" });
  });
});

describe("fields", () => {
  it("every operator's field a holder names is a 400 naming it (all of them); operators may set them", () => {
    const body = {
      name: "x",
      orgs: ["acme"],
      meta: {},
      rate_limit: null,
      credits: { remaining: 1 },
      allowed_ips: null,
      scopes: ["read"],
    };
    const d = decide(holder(), "create", { fields: body });
    expect(d).toMatchObject({ ok: false, error: "invalid" });
    expect((d as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
      "orgs",
      "meta",
      "rate_limit",
      "credits",
      "allowed_ips",
    ]);
    expect(decide(ROOT, "create", { fields: body })).toEqual({ ok: true });
    expect(decide(holder(), "rotate", { fields: { grace_seconds: 60, credits: null } })).toMatchObject({
      ok: false,
      errors: [{ field: "credits" }],
    });
    expect(decide(holder(), "create", { fields: { name: "x", meta: undefined } })).toEqual({ ok: true });
    expect(mayName(holder(), "create", "rate_limit")).toBe(false);
    expect(mayName(ROOT, "create", "rate_limit")).toBe(true);
  });

  it("scopes within the holder's own (a portal link without a ceiling: any)", () => {
    expect(decide(holder(), "create", { fields: { scopes: ["read", "admin"] } })).toEqual({
      ok: false,
      error: "forbidden",
      field: "scopes",
      message: 'You cannot grant the "admin" scope: your own credential does not hold it',
    });
    expect(decide(holder(), "create", { fields: { scopes: ["write"] } })).toEqual({ ok: true });
    expect(
      decide({ kind: "session", sub: "u", org: "acme", scopes: ["read"] }, "create", { fields: { scopes: ["write"] } }),
    ).toMatchObject({ ok: false, field: "scopes" });
    expect(
      decide({ kind: "portal", org: "acme", scopes: null }, "create", { fields: { scopes: ["anything"] } }),
    ).toEqual({ ok: true });
    expect(
      decide({ kind: "portal", org: "acme", scopes: [] }, "create", { fields: { scopes: ["anything"] } }),
    ).toMatchObject({ ok: false });
  });

  it("a key holder's expiry bounds the new key's: later or never is refused, earlier or equal allowed", () => {
    const h = holder({ expires_at: "2030-01-01T00:00:00.000Z" });
    for (const later of ["2030-01-01T00:00:00.001Z", "2031-01-01T00:00:00Z", "2030-01-01T01:00:00+00:30", null]) {
      expect(decide(h, "create", { fields: { expires_at: later } }), String(later)).toMatchObject({
        ok: false,
        error: "forbidden",
        field: "expires_at",
      });
    }
    for (const fine of ["2030-01-01T00:00:00Z", "2029-12-31T23:00:00Z", "2030-01-01T00:30:00+01:00"])
      expect(decide(h, "create", { fields: { expires_at: fine } }), fine).toEqual({ ok: true });
    expect(decide(holder(), "create", { fields: { expires_at: null } })).toEqual({ ok: true }); // a key that never expires
    expect(
      decide({ kind: "session", sub: "u", org: "acme", scopes: [] }, "create", { fields: { expires_at: null } }),
    ).toEqual({ ok: true });
  });
});

describe("a holder regenerates only a key no more powerful than itself", () => {
  const rotate = (p: Principal, target: ReturnType<typeof key>) => decide(p, "rotate", { key: target });

  it("scopes, expiry, allowed_ips, rate limit, credits", () => {
    expect(rotate(holder(), key(["acme"], { scopes: ["admin"] }))).toMatchObject({
      ok: false,
      message: expect.stringContaining('"admin" scope'),
    });
    const expiring = holder({ expires_at: "2030-01-01T00:00:00.000Z" });
    expect(rotate(expiring, key(["acme"]))).toMatchObject({
      ok: false,
      message: expect.stringContaining("expiry is later"),
    });
    expect(rotate(expiring, key(["acme"], { expires_at: "2029-01-01T00:00:00.000Z" }))).toEqual({ ok: true });
    const pinned = holder({ allowed_ips: ["203.0.113.0/24", "2001:db8::/32"] });
    expect(rotate(pinned, key(["acme"]))).toMatchObject({
      ok: false,
      message: expect.stringContaining("allowed_ips are wider"),
    });
    expect(rotate(pinned, key(["acme"], { allowed_ips: ["203.0.113.0/25", "2001:db8:1::/48"] }))).toEqual({ ok: true });
    expect(rotate(pinned, key(["acme"], { allowed_ips: ["203.0.112.0/23"] }))).toMatchObject({ ok: false });
    const limited = holder({ rate_limit: { limit: 10, period_seconds: 60 } });
    expect(rotate(limited, key(["acme"]))).toMatchObject({
      ok: false,
      message: expect.stringContaining("rate limit is looser"),
    });
    expect(rotate(limited, key(["acme"], { rate_limit: { limit: 11, period_seconds: 60 } }))).toMatchObject({
      ok: false,
    });
    expect(rotate(limited, key(["acme"], { rate_limit: { limit: 10, period_seconds: 59 } }))).toMatchObject({
      ok: false,
    });
    expect(rotate(limited, key(["acme"], { rate_limit: { limit: 10, period_seconds: 60 } }))).toEqual({ ok: true });
    // Counted regionally (the default) a limit can go over where an exact one cannot: looser.
    const exact = holder({ rate_limit: { limit: 10, period_seconds: 60, mode: "exact" } });
    expect(rotate(exact, key(["acme"], { rate_limit: { limit: 10, period_seconds: 60 } }))).toMatchObject({
      ok: false,
      message: expect.stringContaining("rate limit is looser"),
    });
    expect(rotate(exact, key(["acme"], { rate_limit: { limit: 5, period_seconds: 60, mode: "exact" } }))).toEqual({
      ok: true,
    });
    expect(rotate(limited, key(["acme"], { rate_limit: { limit: 10, period_seconds: 60, mode: "exact" } }))).toEqual({
      ok: true,
    });
    const credits = { remaining: 5, set_at: "2026-01-01T00:00:00.000Z", balance_id: "key_holderholderholder00" };
    const metered = holder({ credits });
    expect(rotate(metered, key(["acme"]))).toMatchObject({
      ok: false,
      message: expect.stringContaining("not your balance"),
    });
    expect(
      rotate(metered, key(["acme"], { credits: { ...credits, balance_id: "key_otherotherotherot00" } })),
    ).toMatchObject({ ok: false });
    expect(rotate(metered, key(["acme"], { credits }))).toEqual({ ok: true });
    // Its own key, always.
    const self = record({
      expires_at: "2030-01-01T00:00:00.000Z",
      allowed_ips: ["203.0.113.0/24"],
      rate_limit: { limit: 1, period_seconds: 1 },
      credits,
    });
    expect(rotate({ kind: "key", org: "acme", record: self }, self)).toEqual({ ok: true });
    // Sessions and portal users: scopes only.
    expect(
      rotate({ kind: "session", sub: "u", org: "acme", scopes: ["read"] }, key(["acme"], { rate_limit: null })),
    ).toEqual({ ok: true });
  });
});
