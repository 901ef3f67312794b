/**
 * Every admin endpoint: the happy path, bad input (400 naming the field), unknown ids
 * (404), conflicts (409), against Miniflare's real KV.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import { makeEnv, patchRecord, send } from "../../../support/worker-helpers";
import { adminEnv, api, countingKv, createViaApi, TOKEN, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

const MISSING_ID = "key_00000000000000000000";
const VIEW_FIELDS = [
  "id",
  "name",
  "key_prefix",
  "orgs",
  "scopes",
  "status",
  "enabled",
  "created_at",
  "expires_at",
  "last_used_at",
  "revoked_at",
  "rate_limit",
];

function fields(json: { errors?: { field: string }[] }): string[] {
  return (json.errors ?? []).map((e) => e.field).sort();
}

function expectProblem(res: Response, json: any, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(json).toMatchObject({ status, code });
}

describe("POST /_keygate/keys", () => {
  it("201 with the plaintext key once, id, key_prefix, created_at; no-store; the key is stored only as a hash", async () => {
    const org = uniqueOrg();
    const at = Date.now() - 1_000; // injected (other tests list audit events by time)
    vi.spyOn(clock, "now").mockReturnValue(at);
    const { res, json } = await api("POST", "/_keygate/keys", {
      body: {
        name: "Home Assistant",
        orgs: [org],
        scopes: ["read", "read", "write"],
        expires_at: "2099-01-01T00:00:00Z",
        meta: { team: "ops" },
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(json.key).toMatch(/^kg_[0-9A-Za-z]{38}$/);
    expect(json).toMatchObject({
      id: expect.stringMatching(/^key_[0-9A-Za-z]{20}$/),
      name: "Home Assistant",
      key_prefix: json.key.slice(0, 7),
      orgs: [org],
      scopes: ["read", "write"],
      status: "active",
      enabled: true,
      expires_at: "2099-01-01T00:00:00.000Z",
      last_used_at: null,
      revoked_at: null,
      meta: { team: "ops" },
    });
    expect(json.created_at).toBe(new Date(at).toISOString()); // the gateway's clock, not the wall clock
    // Stored under its hash; the plaintext is in no KV value or key.
    const record = await env.KEYS.get(kvKey.record(await hashKey(json.key)), "text");
    expect(record).not.toBeNull();
    const all = await env.KEYS.list();
    for (const k of all.keys) {
      expect(k.name).not.toContain(json.key);
      expect((await env.KEYS.get(k.name, "text")) ?? "").not.toContain(json.key);
      expect(JSON.stringify(k.metadata ?? null)).not.toContain(json.key);
    }
    // Shown once: reading it back never returns the key (or its hash).
    const shown = await api("GET", `/_keygate/keys/${json.id}`);
    expect(shown.json.key).toBeUndefined();
    expect(JSON.stringify(shown.json)).not.toContain(await hashKey(json.key));
  });

  it("the created key works through the gateway at once", async () => {
    const created = await createViaApi({ scopes: ["read"] });
    const res = await send("/things", { headers: { "x-api-key": created.key } }, adminEnv());
    expect(res.status).toBe(200);
  });

  it("uses KEY_PREFIX and KEY_PEPPER like the gateway", async () => {
    const e = adminEnv({ KEY_PREFIX: "acme_", KEY_PEPPER: "pepper-pepper-pepper" });
    const created = await createViaApi({}, e);
    expect(created.key).toMatch(/^acme_/);
    expect(await env.KEYS.get(kvKey.record(await hashKey(created.key, "pepper-pepper-pepper")))).not.toBeNull();
    expect((await send("/things", { headers: { "x-api-key": created.key } }, e)).status).toBe(200);
  });

  const BAD: [string, unknown, string[]][] = [
    ["orgs missing", { name: "x" }, ["orgs"]],
    ["orgs empty", { orgs: [] }, ["orgs"]],
    ["org with a colon", { orgs: ["a:b"] }, ["orgs"]],
    ["orgs repeated", { orgs: ["a", "a"] }, ["orgs"]],
    ["scopes not an array", { orgs: ["a"], scopes: "read" }, ["scopes"]],
    ["name not a string", { orgs: ["a"], name: 5 }, ["name"]],
    ["expires_at in the past", { orgs: ["a"], expires_at: "2001-01-01T00:00:00Z" }, ["expires_at"]],
    ["expires_at not a date", { orgs: ["a"], expires_at: "tomorrow" }, ["expires_at"]],
    ["meta not strings", { orgs: ["a"], meta: { a: 1 } }, ["meta"]],
    ["unknown field", { orgs: ["a"], scope: ["read"] }, ["scope"]],
    ["several at once", { orgs: "a", scopes: [1], expires_at: 3 }, ["expires_at", "orgs", "scopes"]],
    ["not an object", ["a"], ["(body)"]],
    [
      "too long for the listing metadata",
      { orgs: ["a"], scopes: Array.from({ length: 40 }, (_, i) => `scope-${i}-${"s".repeat(20)}`) },
      ["name", "orgs", "scopes"],
    ],
  ];
  for (const [what, body, expected] of BAD) {
    it(`400 naming the field: ${what}`, async () => {
      const { res, json } = await api("POST", "/_keygate/keys", { body });
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json)).toEqual(expected);
      for (const f of expected) expect(json.detail).toContain(f);
    });
  }

  it("400 for a body that is not JSON, or sent without a JSON content type; 413 for a huge one", async () => {
    const broken = await api("POST", "/_keygate/keys", { body: "{orgs:" });
    expectProblem(broken.res, broken.json, 400, "invalid_input");
    expect(fields(broken.json)).toEqual(["(body)"]);
    const form = await api("POST", "/_keygate/keys", {
      body: "orgs=a",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expectProblem(form.res, form.json, 400, "invalid_input");
    expect(fields(form.json)).toEqual(["(body)"]);
    const none = await api("POST", "/_keygate/keys");
    expectProblem(none.res, none.json, 400, "invalid_input");
    const huge = await api("POST", "/_keygate/keys", { body: { orgs: ["a"], name: "x".repeat(20_000) } });
    expectProblem(huge.res, huge.json, 413, "payload_too_large");
  });

  it("refused input writes nothing", async () => {
    const kv = countingKv();
    await api("POST", "/_keygate/keys", {
      body: { orgs: ["a"], expires_at: "2001-01-01T00:00:00Z" },
      env: adminEnv({ KEYS: kv }),
    });
    expect(kv.puts).toEqual([]);
  });
});

describe("GET /_keygate/keys?org=…", () => {
  it("lists one org's keys with cursor paging: every key once, never a key or hash, last_used_at included", async () => {
    const org = uniqueOrg();
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createViaApi({ name: `k${i}`, orgs: [org] }));
    await createViaApi({ orgs: [uniqueOrg()] }); // another org's key
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/_keygate/keys?org=${org}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { res, json } = await api("GET", q);
      expect(res.status).toBe(200);
      expect(json.keys.length).toBeLessThanOrEqual(2);
      seen.push(...json.keys);
      cursor = json.cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen.map((k) => k.id).sort()).toEqual(created.map((k) => k.id).sort());
    for (const k of seen) {
      expect(Object.keys(k).sort()).toEqual([...VIEW_FIELDS].sort());
      expect(k.last_used_at).toBeNull();
      expect(JSON.stringify(k)).not.toMatch(/kg_[0-9A-Za-z]{38}|[0-9a-f]{64}/);
    }
  });

  it("reads no key record and no id pointer: summaries come from the org index's metadata", async () => {
    const org = uniqueOrg();
    for (let i = 0; i < 4; i++) await createViaApi({ orgs: [org] });
    const kv = countingKv();
    const { res, json } = await api("GET", `/_keygate/keys?org=${org}`, { env: adminEnv({ KEYS: kv }) });
    expect(res.status).toBe(200);
    expect(json.keys).toHaveLength(4);
    expect(kv.lists).toEqual([`org:${org}:`]);
    expect(kv.gets).toEqual([]);
  });

  it("a key in two orgs is listed in both", async () => {
    const [a, b] = [uniqueOrg(), uniqueOrg()];
    const created = await createViaApi({ orgs: [a, b] });
    for (const org of [a, b])
      expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys.map((k: any) => k.id)).toEqual([created.id]);
  });

  it("400 naming the field: org or a filter invalid, limit out of range, unknown or repeated parameter, foreign cursor", async () => {
    const cases: [string, string[]][] = [
      ["/_keygate/keys?org=a:b", ["org"]],
      ["/_keygate/keys?org=acme&status=gone", ["status"]],
      ["/_keygate/keys?name=", ["name"]],
      ["/_keygate/keys?limit=251", ["limit"]], // across orgs: each key costs a read
      ["/_keygate/keys?org=acme&limit=0", ["limit"]],
      ["/_keygate/keys?org=acme&limit=1001", ["limit"]],
      ["/_keygate/keys?org=acme&limit=ten", ["limit"]],
      ["/_keygate/keys?org=acme&state=active", ["state"]],
      ["/_keygate/keys?org=acme&org=globex", ["org"]],
      ["/_keygate/keys?org=acme&cursor=", ["cursor"]],
    ];
    for (const [path, expected] of cases) {
      const { res, json } = await api("GET", path);
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json), path).toEqual(expected);
    }
  });
});

describe("GET /_keygate/keys/:id", () => {
  it("shows one key, with meta", async () => {
    const created = await createViaApi({ name: "shown", meta: { owner: "ci" } });
    const { res, json } = await api("GET", `/_keygate/keys/${created.id}`);
    expect(res.status).toBe(200);
    const { key: _key, ...expected } = created;
    expect(json).toEqual(expected);
  });

  it("404 for an unknown id and for one that cannot exist", async () => {
    for (const id of [MISSING_ID, "nope", "key_%2e%2ex"]) {
      const { res, json } = await api("GET", `/_keygate/keys/${id}`);
      expectProblem(res, json, 404, "not_found");
    }
    // A segment ending in a dot is refused before any routing, here as everywhere (issue 20).
    const { res, json } = await api("GET", "/_keygate/keys/key_%2e%2e");
    expectProblem(res, json, 400, "malformed_request");
  });
});

describe("PATCH /_keygate/keys/:id", () => {
  it("changes name, scopes, expires_at and enabled; shows them; leaves other fields alone", async () => {
    const created = await createViaApi({ name: "before", scopes: ["read"], meta: { a: "b" } });
    const { res, json } = await api("PATCH", `/_keygate/keys/${created.id}`, {
      body: { name: "after", scopes: ["read", "write"], expires_at: "2098-06-01T12:00:00+02:00", enabled: false },
    });
    expect(res.status).toBe(200);
    expect(json).toMatchObject({
      id: created.id,
      name: "after",
      scopes: ["read", "write"],
      expires_at: "2098-06-01T10:00:00.000Z",
      enabled: false,
      status: "disabled",
      orgs: created.orgs,
      meta: { a: "b" },
      key_prefix: created.key_prefix,
      created_at: created.created_at,
    });
    // Set by this change: a timestamp at or after creation (undefined or garbage fails).
    expect(json.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(json.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.created_at));
    const listed = (await api("GET", `/_keygate/keys?org=${created.orgs[0]}`)).json.keys[0];
    expect(listed).toMatchObject({ name: "after", scopes: ["read", "write"], enabled: false, status: "disabled" });
    const back = await api("PATCH", `/_keygate/keys/${created.id}`, { body: { enabled: true, expires_at: null } });
    expect(back.json).toMatchObject({ enabled: true, status: "active", expires_at: null });
  });

  it("moving orgs moves the org index entries (and the last use)", async () => {
    const [a, b, c] = [uniqueOrg(), uniqueOrg(), uniqueOrg()];
    const created = await createViaApi({ orgs: [a, b] });
    await send("/things", { headers: { "x-api-key": created.key } }, adminEnv()); // records a last use under a and b
    const { res, json } = await api("PATCH", `/_keygate/keys/${created.id}`, { body: { orgs: [b, c] } });
    expect(res.status).toBe(200);
    expect(json.orgs).toEqual([b, c]);
    expect((await api("GET", `/_keygate/keys?org=${a}`)).json.keys).toEqual([]);
    for (const org of [b, c]) {
      const listed = (await api("GET", `/_keygate/keys?org=${org}`)).json.keys;
      expect(listed.map((k: any) => k.id)).toEqual([created.id]);
      expect(listed[0].last_used_at).not.toBeNull();
    }
    expect(await env.KEYS.get(kvKey.orgIndex(a, created.id))).toBeNull();
    expect(await env.KEYS.get(kvKey.lastUsed(a, created.id))).toBeNull();
  });

  it("keeps record fields it does not know (written by a newer version)", async () => {
    const created = await createViaApi();
    await patchRecord(created.key, { future_field: { any: 1 } } as never);
    await api("PATCH", `/_keygate/keys/${created.id}`, { body: { name: "renamed" } });
    await api("DELETE", `/_keygate/keys/${created.id}`);
    const stored = (await env.KEYS.get(kvKey.record(await hashKey(created.key)), "json")) as Record<string, unknown>;
    expect(stored).toMatchObject({ name: "renamed", future_field: { any: 1 } });
    expect(stored.revoked_at).not.toBeNull();
  });

  it("sets and removes a key's rate_limit; rotation carries it to the new key", async () => {
    const created = await createViaApi();
    const set = await api("PATCH", `/_keygate/keys/${created.id}`, {
      body: { rate_limit: { limit: 5, period_seconds: 10 } },
    });
    expect(set.json.rate_limit).toEqual({ limit: 5, period_seconds: 10 });
    const rotated = await api("POST", `/_keygate/keys/${created.id}/rotate`, { body: {} });
    expect(rotated.json.rate_limit).toEqual({ limit: 5, period_seconds: 10 });
    const cleared = await api("PATCH", `/_keygate/keys/${rotated.json.id}`, { body: { rate_limit: null } });
    expect(cleared.json.rate_limit).toBeNull();
    const bad = await api("PATCH", `/_keygate/keys/${rotated.json.id}`, {
      body: { rate_limit: { limit: 0, period_seconds: 10 } },
    });
    expect(fields(bad.json)).toEqual(["rate_limit"]);
  });

  it("an expires_at in the past expires the key now (the 'expire' operation)", async () => {
    const created = await createViaApi();
    const { json } = await api("PATCH", `/_keygate/keys/${created.id}`, {
      body: { expires_at: new Date(Date.now() - 1000).toISOString() },
    });
    expect(json.status).toBe("expired");
  });

  it("400 naming the field; 404 unknown id; 409 revoked key", async () => {
    const created = await createViaApi();
    const cases: [unknown, string[]][] = [
      [{}, ["(body)"]],
      [{ enabled: "yes" }, ["enabled"]],
      [{ orgs: [] }, ["orgs"]],
      [{ name: "x", disabled: true }, ["disabled"]],
      [{ expires_at: "never" }, ["expires_at"]],
      [{ scopes: "a,b" }, ["scopes"]],
    ];
    for (const [body, expected] of cases) {
      const { res, json } = await api("PATCH", `/_keygate/keys/${created.id}`, { body });
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json), JSON.stringify(body)).toEqual(expected);
    }
    const missing = await api("PATCH", `/_keygate/keys/${MISSING_ID}`, { body: { name: "x" } });
    expectProblem(missing.res, missing.json, 404, "not_found");
    await api("DELETE", `/_keygate/keys/${created.id}`);
    const revoked = await api("PATCH", `/_keygate/keys/${created.id}`, { body: { enabled: true } });
    expectProblem(revoked.res, revoked.json, 409, "conflict");
    expect(revoked.json.detail).toContain("revoked");
  });
});

describe("DELETE /_keygate/keys/:id (revoke)", () => {
  it("200 with the revoked key; idempotent; one audit event", async () => {
    const created = await createViaApi();
    const first = await api("DELETE", `/_keygate/keys/${created.id}`);
    expect(first.res.status).toBe(200);
    expect(first.json).toMatchObject({ id: created.id, status: "revoked", revoked_at: expect.any(String) });
    const second = await api("DELETE", `/_keygate/keys/${created.id}`);
    expect(second.json.revoked_at).toBe(first.json.revoked_at);
    const listed = (await api("GET", `/_keygate/keys?org=${created.orgs[0]}`)).json.keys[0];
    expect(listed.status).toBe("revoked");
    const events = (await api("GET", `/_keygate/audit?key_id=${created.id}`)).json.events;
    expect(events.map((e: any) => e.action)).toEqual(["revoke", "create"]);
  });

  it("404 for an unknown id", async () => {
    const { res, json } = await api("DELETE", `/_keygate/keys/${MISSING_ID}`);
    expectProblem(res, json, 404, "not_found");
  });
});

describe("POST /_keygate/keys/:id/rotate", () => {
  it("201: a new key with the same settings; the old one expires after the grace", async () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    vi.spyOn(clock, "now").mockReturnValue(now);
    const old = await createViaApi({
      name: "svc",
      scopes: ["read"],
      expires_at: "2099-01-01T00:00:00Z",
      meta: { t: "x" },
    });
    const { res, json } = await api("POST", `/_keygate/keys/${old.id}/rotate`, { body: { grace_seconds: 3600 } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(json.key).toMatch(/^kg_/);
    expect(json.key).not.toBe(old.key);
    expect(json).toMatchObject({
      name: "svc",
      orgs: old.orgs,
      scopes: ["read"],
      expires_at: "2099-01-01T00:00:00.000Z",
      meta: { t: "x" },
      status: "active",
      replaces: old.id,
    });
    expect(json.id).not.toBe(old.id);
    expect(json.previous).toMatchObject({
      id: old.id,
      status: "rotating",
      expires_at: new Date(now + 3_600_000).toISOString(),
      rotated_at: new Date(now).toISOString(),
      replaced_by: json.id,
    });
    expect(json.previous.key).toBeUndefined();
  });

  it("no body or grace 0: the old key stops now; a grace never extends an earlier expiry", async () => {
    const a = await createViaApi();
    const now = await api("POST", `/_keygate/keys/${a.id}/rotate`);
    expect(now.res.status).toBe(201);
    expect(now.json.previous.status).toBe("rotated");
    const b = await createViaApi({ expires_at: new Date(Date.now() + 60_000).toISOString() });
    const long = await api("POST", `/_keygate/keys/${b.id}/rotate`, { body: { grace_seconds: 86_400 } });
    expect(long.json.previous.expires_at).toBe(b.expires_at);
  });

  it("400 for a bad grace; 404 unknown; 409 when revoked, expired or already rotated", async () => {
    const created = await createViaApi();
    for (const grace of [-1, 1.5, "60", 30 * 86_400 + 1, null]) {
      const { res, json } = await api("POST", `/_keygate/keys/${created.id}/rotate`, {
        body: { grace_seconds: grace },
      });
      if (grace === null) {
        expect(res.status).toBe(201); // null = the default (0), like an absent field
        continue;
      }
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json)).toEqual(["grace_seconds"]);
    }
    const again = await api("POST", `/_keygate/keys/${created.id}/rotate`);
    expectProblem(again.res, again.json, 409, "conflict");
    expect(again.json.detail).toContain("already rotated");
    const unknownField = await api("POST", `/_keygate/keys/${MISSING_ID}/rotate`, { body: { grace: 1 } });
    expectProblem(unknownField.res, unknownField.json, 404, "not_found");
    const revoked = await createViaApi();
    await api("DELETE", `/_keygate/keys/${revoked.id}`);
    expect((await api("POST", `/_keygate/keys/${revoked.id}/rotate`)).res.status).toBe(409);
    const expired = await createViaApi();
    await api("PATCH", `/_keygate/keys/${expired.id}`, { body: { expires_at: "2001-01-01T00:00:00Z" } });
    expect((await api("POST", `/_keygate/keys/${expired.id}/rotate`)).res.status).toBe(409);
    const text = await api("POST", `/_keygate/keys/${(await createViaApi()).id}/rotate`, {
      body: "grace=5",
      headers: { "content-type": "text/plain" },
    });
    expectProblem(text.res, text.json, 400, "invalid_input");
  });
});

describe("POST /_keygate/keys/import", () => {
  it("201 without repeating the key; the existing key then works through the gateway", async () => {
    const legacy = crypto.randomUUID();
    const org = uniqueOrg();
    const { res, json } = await api("POST", "/_keygate/keys/import", {
      body: { key: legacy, name: "legacy", orgs: [org] },
    });
    expect(res.status).toBe(201);
    expect(JSON.stringify(json)).not.toContain(legacy);
    expect(json).toMatchObject({ name: "legacy", orgs: [org], key_prefix: legacy.slice(0, 4), status: "active" });
    const through = await send("/things", { headers: { "x-api-key": legacy } }, adminEnv());
    expect(through.status).toBe(200);
  });

  it("409 when the key is already stored; 400 naming the field for bad keys", async () => {
    const legacy = crypto.randomUUID();
    expect((await api("POST", "/_keygate/keys/import", { body: { key: legacy, orgs: ["a"] } })).res.status).toBe(201);
    const twice = await api("POST", "/_keygate/keys/import", { body: { key: legacy, orgs: ["b"] } });
    expectProblem(twice.res, twice.json, 409, "conflict");
    const cases: [unknown, string[]][] = [
      [{ orgs: ["a"] }, ["key"]],
      [{ key: "has space", orgs: ["a"] }, ["key"]],
      [{ key: "kg_notAValidChecksummedKey000000000000000", orgs: ["a"] }, ["key"]],
      [{ key: 42, orgs: ["a"] }, ["key"]],
      [{ key: crypto.randomUUID() }, ["orgs"]],
      [{ key: "", orgs: [] }, ["key", "orgs"]],
    ];
    for (const [body, expected] of cases) {
      const { res, json } = await api("POST", "/_keygate/keys/import", { body });
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json), JSON.stringify(body)).toEqual(expected);
    }
  });
});

describe("GET /_keygate/audit", () => {
  it("every change leaves an event: actor, what, when, which key and its orgs; newest first", async () => {
    const t0 = Date.parse("2031-05-05T00:00:00Z");
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    const created = await createViaApi({ scopes: ["read"] });
    spy.mockReturnValue(t0 + 1000);
    await api("PATCH", `/_keygate/keys/${created.id}`, { body: { scopes: ["read", "write"], name: "n" } });
    spy.mockReturnValue(t0 + 2000);
    const rotated = (await api("POST", `/_keygate/keys/${created.id}/rotate`, { body: { grace_seconds: 60 } })).json;
    spy.mockReturnValue(t0 + 3000);
    await api("DELETE", `/_keygate/keys/${rotated.id}`);
    const legacy = crypto.randomUUID();
    spy.mockReturnValue(t0 + 4000);
    const imported = (await api("POST", "/_keygate/keys/import", { body: { key: legacy, orgs: ["a"] } })).json;

    const actor = "root";
    const orgs = created.orgs;
    const own = (await api("GET", `/_keygate/audit?key_id=${created.id}`)).json.events;
    expect(own).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        at: new Date(t0 + 2000).toISOString(),
        actor,
        action: "rotate",
        key_id: created.id,
        orgs,
        new_key_id: rotated.id,
        grace_seconds: 60,
        request_id: expect.any(String),
      },
      {
        id: expect.stringMatching(/^evt_/),
        at: new Date(t0 + 1000).toISOString(),
        actor,
        action: "update",
        key_id: created.id,
        orgs,
        changes: { scopes: { from: ["read"], to: ["read", "write"] }, name: { from: "", to: "n" } },
        request_id: expect.any(String),
      },
      {
        id: expect.stringMatching(/^evt_/),
        at: new Date(t0).toISOString(),
        actor,
        action: "create",
        key_id: created.id,
        orgs,
        request_id: expect.any(String),
      },
    ]);
    // The org's log holds the same events (plus the rotation's new key's), newest first.
    const byOrg = (await api("GET", `/_keygate/audit?org=${orgs[0]}`)).json.events;
    expect(byOrg.map((e: any) => [e.action, e.key_id])).toEqual([
      ["revoke", rotated.id],
      ["rotate", created.id],
      ["update", created.id],
      ["create", created.id],
    ]);
    const newer = (await api("GET", `/_keygate/audit?key_id=${rotated.id}`)).json.events;
    expect(newer.map((e: any) => e.action)).toEqual(["revoke", "rotate"]);
    const all = (await api("GET", "/_keygate/audit?limit=3")).json;
    expect(all.events.map((e: any) => [e.action, e.key_id])).toEqual([
      ["import", imported.id],
      ["revoke", rotated.id],
      ["rotate", created.id],
    ]);
    expect(all.cursor).toEqual(expect.any(String));
    const next = (await api("GET", `/_keygate/audit?limit=3&cursor=${encodeURIComponent(all.cursor)}`)).json;
    expect(next.events.map((e: any) => e.action).slice(0, 2)).toEqual(["update", "create"]);
  });

  it('the actor of the root ADMIN_TOKEN is "root", whichever token it is; never the token', async () => {
    const other = "another-admin-token-000000000000000000000000";
    const e = makeEnv({ ADMIN_TOKEN: other });
    const created = (await api("POST", "/_keygate/keys", { body: { orgs: ["a"] }, token: other, env: e })).json;
    const events = (await api("GET", `/_keygate/audit?key_id=${created.id}`, { token: other, env: e })).json.events;
    expect(events[0].actor).toBe("root");
    expect(events[0].who).toBeUndefined();
    expect(JSON.stringify(events)).not.toContain(other);
  });

  it("events written before the rename (with `who`) are listed with `actor`", async () => {
    const keyId = "key_LegacyLegacyLegacy0001";
    const event = {
      id: "evt_legacylegacy0001",
      at: "2020-01-01T00:00:00.000Z",
      who: "admin:1a2b3c4d",
      action: "revoke",
      key_id: keyId,
    };
    await env.KEYS.put(kvKey.keyAudit(keyId, "7000000000000", event.id), JSON.stringify(event), { metadata: event });
    const events = (await api("GET", `/_keygate/audit?key_id=${keyId}`)).json.events;
    const { who, ...rest } = event;
    expect(events).toEqual([{ ...rest, actor: who }]);
  });

  it("a large change is stored in full and listed in full", async () => {
    const created = await createViaApi();
    const name = "n".repeat(200);
    const scopes = Array.from({ length: 12 }, (_, i) => `scope-number-${i}`);
    await api("PATCH", `/_keygate/keys/${created.id}`, { body: { name, scopes } });
    const events = (await api("GET", `/_keygate/audit?key_id=${created.id}`)).json.events;
    expect(events[0].changes).toEqual({ name: { from: "", to: name }, scopes: { from: [], to: scopes } });
  });

  it("400 naming the field", async () => {
    for (const [path, expected] of [
      ["/_keygate/audit?key_id=nope", ["key_id"]],
      ["/_keygate/audit?limit=0", ["limit"]],
      ["/_keygate/audit?org=a:b", ["org"]],
      ["/_keygate/audit?org=acme&key_id=key_00000000000000000000", ["org"]],
      ["/_keygate/audit?actor=root", ["actor"]],
    ] as const) {
      const { res, json } = await api("GET", path);
      expectProblem(res, json, 400, "invalid_input");
      expect(fields(json)).toEqual(expected);
    }
  });

  it("requires the token like every admin endpoint", async () => {
    const { res } = await api("GET", "/_keygate/audit", { token: null });
    expect(res.status).toBe(401);
    expect((await api("GET", "/_keygate/audit", { token: TOKEN.toUpperCase() })).res.status).toBe(401);
  });
});

describe("KV failures: 503, never a half answer", () => {
  function failing(on: "get" | "put" | "list"): KVNamespace {
    const real = env.KEYS;
    const fail = () => Promise.reject(new Error("KV GET failed: 500 simulated outage"));
    return {
      get: on === "get" ? fail : real.get.bind(real),
      put: on === "put" ? fail : real.put.bind(real),
      list: on === "list" ? fail : real.list.bind(real),
      delete: real.delete.bind(real),
      getWithMetadata: real.getWithMetadata.bind(real),
    } as unknown as KVNamespace;
  }

  it("every endpoint answers 503 problem details when KV fails, and logs the cause", async () => {
    const created = await createViaApi();
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((l: string) => void lines.push(String(l)));
    vi.spyOn(console, "log").mockImplementation(() => {});
    const calls: [string, string, unknown, "get" | "put" | "list"][] = [
      ["POST", "/_keygate/keys", { orgs: ["a"] }, "put"],
      ["GET", `/_keygate/keys/${created.id}`, undefined, "get"],
      ["GET", `/_keygate/keys?org=${created.orgs[0]}`, undefined, "list"],
      ["PATCH", `/_keygate/keys/${created.id}`, { name: "x" }, "put"],
      ["DELETE", `/_keygate/keys/${created.id}`, undefined, "get"],
      ["POST", `/_keygate/keys/${created.id}/rotate`, undefined, "get"],
      ["POST", "/_keygate/keys/import", { key: crypto.randomUUID(), orgs: ["a"] }, "put"],
      ["GET", "/_keygate/audit", undefined, "list"],
    ];
    for (const [method, path, body, on] of calls) {
      const { res, json } = await api(method, path, {
        env: adminEnv({ KEYS: failing(on) }),
        ...(body ? { body } : {}),
      });
      expectProblem(res, json, 503, "store_unavailable");
    }
    vi.restoreAllMocks();
    expect(lines.filter((l) => JSON.parse(l).msg === "key store failure (admin)")).toHaveLength(calls.length);
    // The key is untouched: the failed PATCH, DELETE and rotate changed nothing.
    const shown = (await api("GET", `/_keygate/keys/${created.id}`)).json;
    expect(shown).toMatchObject({ name: "", status: "active" });
  });
});
