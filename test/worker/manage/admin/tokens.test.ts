/**
 * Scoped admin tokens: POST/GET/DELETE /_keygate/tokens (root only), authentication with
 * one (hashed lookup, cached per isolate, revocation at once here, expiry exact), the role,
 * the actor in audit events, and root's listing of keys across orgs — against Miniflare's
 * real KV through the real worker.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import { send } from "../../../support/worker-helpers";
import { adminEnv, api, countingKv, createViaApi, mintToken, PROBLEM_401, TOKEN, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

function fields(json: { errors?: { field: string }[] }): string[] {
  return (json.errors ?? []).map((e) => e.field).sort();
}

describe("POST /_keygate/tokens (root)", () => {
  it("201 with the plaintext token once, its id and settings; stored only as a hash", async () => {
    const org = uniqueOrg();
    const { res, json } = await api("POST", "/_keygate/tokens", {
      body: { name: "acme backend", orgs: [org], role: "write", expires_at: "2099-01-01T00:00:00Z" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(json).toEqual({
      token: expect.stringMatching(/^kgt_[0-9A-Za-z]{38}$/),
      id: expect.stringMatching(/^tok_[0-9A-Za-z]{20}$/),
      name: "acme backend",
      token_prefix: json.token.slice(0, 8),
      orgs: [org],
      role: "write",
      status: "active",
      created_at: expect.any(String),
      expires_at: "2099-01-01T00:00:00.000Z",
      revoked_at: null,
    });
    expect(await env.KEYS.get(kvKey.token(await hashKey(json.token)))).not.toBeNull();
    for (const k of (await env.KEYS.list()).keys) {
      expect(k.name).not.toContain(json.token);
      expect((await env.KEYS.get(k.name, "text")) ?? "").not.toContain(json.token);
      expect(JSON.stringify(k.metadata ?? null)).not.toContain(json.token);
    }
    // Listed, never with the token.
    const listed = (await api("GET", "/_keygate/tokens?limit=1000")).json;
    const mine = listed.tokens.find((t: any) => t.id === json.id);
    const { token: _t, ...rest } = json;
    expect(mine).toEqual(rest);
    expect(JSON.stringify(listed)).not.toContain(json.token);
  });

  it('orgs ["*"] means every org; role read', async () => {
    const { json } = await api("POST", "/_keygate/tokens", { body: { name: "auditor", orgs: ["*"], role: "read" } });
    expect(json).toMatchObject({ orgs: ["*"], role: "read", expires_at: null });
  });

  const BAD: [string, unknown, string[]][] = [
    ["name missing", { orgs: ["a"], role: "read" }, ["name"]],
    ["orgs missing", { name: "n", role: "read" }, ["orgs"]],
    ["orgs empty", { name: "n", orgs: [], role: "read" }, ["orgs"]],
    ["* with other orgs", { name: "n", orgs: ["*", "a"], role: "read" }, ["orgs"]],
    ["an org with a colon", { name: "n", orgs: ["a:b"], role: "read" }, ["orgs"]],
    ["role missing", { name: "n", orgs: ["a"] }, ["role"]],
    ["role unknown", { name: "n", orgs: ["a"], role: "admin" }, ["role"]],
    ["expires_at past", { name: "n", orgs: ["a"], role: "read", expires_at: "2001-01-01T00:00:00Z" }, ["expires_at"]],
    ["unknown field", { name: "n", orgs: ["a"], role: "read", scopes: ["x"] }, ["scopes"]],
    [
      "too long for the listing metadata",
      { name: "n", orgs: Array.from({ length: 12 }, (_, i) => `org-${i}-${"o".repeat(100)}`), role: "read" },
      ["name", "orgs"],
    ],
  ];
  for (const [what, body, expected] of BAD) {
    it(`400 naming the field: ${what}; nothing written`, async () => {
      const kv = countingKv();
      const { res, json } = await api("POST", "/_keygate/tokens", { body, env: adminEnv({ KEYS: kv }) });
      expect(res.status).toBe(400);
      expect(json.code).toBe("invalid_input");
      expect(fields(json)).toEqual(expected);
      expect(kv.puts).toEqual([]);
    });
  }

  it("token create and revoke are audited with the root actor, never the token", async () => {
    const t0 = Date.parse("2032-02-02T00:00:00Z");
    vi.spyOn(clock, "now").mockReturnValue(t0);
    const tok = await mintToken({ orgs: [uniqueOrg()], role: "read" });
    vi.spyOn(clock, "now").mockReturnValue(t0 + 1000);
    await api("DELETE", `/_keygate/tokens/${tok.id}`);
    const events = (await api("GET", "/_keygate/audit?limit=2")).json.events;
    expect(events).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        at: new Date(t0 + 1000).toISOString(),
        actor: "root",
        action: "token_revoke",
        token_id: tok.id,
        request_id: expect.any(String),
      },
      {
        id: expect.stringMatching(/^evt_/),
        at: new Date(t0).toISOString(),
        actor: "root",
        action: "token_create",
        token_id: tok.id,
        request_id: expect.any(String),
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(tok.token);
  });
});

describe("GET /_keygate/tokens and DELETE /_keygate/tokens/:id", () => {
  it("pages with the cursor scheme; 400 for unknown parameters", async () => {
    for (let i = 0; i < 3; i++) await mintToken({ orgs: [uniqueOrg()], role: "read" });
    const first = await api("GET", "/_keygate/tokens?limit=2");
    expect(first.res.status).toBe(200);
    expect(first.json.tokens).toHaveLength(2);
    expect(first.json.cursor).toEqual(expect.any(String));
    const next = await api("GET", `/_keygate/tokens?limit=2&cursor=${encodeURIComponent(first.json.cursor)}`);
    expect(next.json.tokens.length).toBeGreaterThan(0);
    expect(next.json.tokens.map((t: any) => t.id)).not.toContain(first.json.tokens[0].id);
    const bad = await api("GET", "/_keygate/tokens?org=a");
    expect(bad.res.status).toBe(400);
    expect(fields(bad.json)).toEqual(["org"]);
  });

  it("revoke: 200, idempotent, 404 for an unknown id; 405 with Allow for other methods", async () => {
    const tok = await mintToken({ orgs: [uniqueOrg()], role: "read" });
    const first = await api("DELETE", `/_keygate/tokens/${tok.id}`);
    expect(first.res.status).toBe(200);
    expect(first.json).toMatchObject({ id: tok.id, status: "revoked", revoked_at: expect.any(String) });
    const again = await api("DELETE", `/_keygate/tokens/${tok.id}`);
    expect(again.json.revoked_at).toBe(first.json.revoked_at);
    for (const id of ["tok_00000000000000000000", "nope"]) {
      const missing = await api("DELETE", `/_keygate/tokens/${id}`);
      expect(missing.res.status).toBe(404);
      expect(missing.json.code).toBe("not_found");
    }
    const put = await api("PUT", "/_keygate/tokens", { body: {} });
    expect(put.res.status).toBe(405);
    expect(put.res.headers.get("allow")).toBe("GET, HEAD, POST");
    const get = await api("GET", `/_keygate/tokens/${tok.id}`);
    expect(get.res.status).toBe(405);
    expect(get.res.headers.get("allow")).toBe("DELETE");
  });
});

describe("authenticating with a scoped token", () => {
  it("works on the admin API; audit events name it token:<id>", async () => {
    const org = uniqueOrg();
    const tok = await mintToken({ orgs: [org], role: "write" });
    const created = await api("POST", "/_keygate/keys", { token: tok.token, body: { orgs: [org], name: "by token" } });
    expect(created.res.status).toBe(201);
    const events = (await api("GET", `/_keygate/audit?key_id=${created.json.id}`, { token: tok.token })).json.events;
    expect(events).toEqual([
      expect.objectContaining({ actor: `token:${tok.id}`, action: "create", key_id: created.json.id, orgs: [org] }),
    ]);
  });

  it("revoked: 401 at once in this isolate, even right after a cached use", async () => {
    const org = uniqueOrg();
    const tok = await mintToken({ orgs: [org], role: "read" });
    expect((await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token })).res.status).toBe(200); // now cached
    expect((await api("DELETE", `/_keygate/tokens/${tok.id}`)).res.status).toBe(200);
    const after = await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token });
    expect(after.res.status).toBe(401);
    expect(after.res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
    expect(after.json).toEqual(PROBLEM_401);
  });

  it("expired: 401 from its expires_at on, cached or not", async () => {
    const org = uniqueOrg();
    const t0 = Date.now();
    const tok = await mintToken({ orgs: [org], role: "read", expires_at: new Date(t0 + 60_000).toISOString() });
    vi.spyOn(clock, "now").mockReturnValue(t0 + 59_000);
    expect((await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token })).res.status).toBe(200);
    vi.spyOn(clock, "now").mockReturnValue(t0 + 60_000);
    const expired = await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token });
    expect(expired.res.status).toBe(401);
    expect(expired.json).toEqual(PROBLEM_401);
    const listed = (await api("GET", "/_keygate/tokens?limit=1000")).json.tokens.find((t: any) => t.id === tok.id);
    expect(listed.status).toBe("expired");
  });

  it("a forged token (bad checksum) is refused without a KV read; a well-formed unknown one costs one read, then is cached", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv });
    const real = (await mintToken({ orgs: [uniqueOrg()], role: "read" })).token;
    const forged = real.slice(0, -1) + (real.endsWith("A") ? "B" : "A");
    expect((await api("GET", "/_keygate/audit", { token: forged, env: e })).res.status).toBe(401);
    expect(kv.gets.filter((g) => g.startsWith("admin-token"))).toEqual([]);
    const { mintKey } = await import("../../../../src/keys/format");
    const unknown = mintKey("kgt_");
    expect((await api("GET", "/_keygate/audit", { token: unknown, env: e })).res.status).toBe(401);
    expect((await api("GET", "/_keygate/audit", { token: unknown, env: e })).res.status).toBe(401);
    expect(kv.gets.filter((g) => g.startsWith("admin-token"))).toEqual([kvKey.token(await hashKey(unknown))]);
    // A valid token: one read, then served from the isolate's cache.
    const before = kv.gets.length;
    expect((await api("GET", "/_keygate/audit", { token: real, env: e })).res.status).toBe(200);
    expect((await api("GET", "/_keygate/audit", { token: real, env: e })).res.status).toBe(200);
    expect(kv.gets.slice(before).filter((g) => g.startsWith("admin-token"))).toEqual([
      kvKey.token(await hashKey(real)),
    ]);
  });

  it("tokens and keys are not interchangeable: a key is no admin token, a token no API key", async () => {
    const org = uniqueOrg();
    const key = await createViaApi({ orgs: [org] });
    expect((await api("GET", `/_keygate/keys?org=${org}`, { token: key.key })).res.status).toBe(401);
    const tok = await mintToken({ orgs: [org], role: "write" });
    expect((await send("/things", { headers: { "x-api-key": tok.token } }, adminEnv())).status).toBe(401);
    expect((await send("/things", { headers: { authorization: `Bearer ${tok.token}` } }, adminEnv())).status).toBe(401);
  });

  it("uses KEY_PEPPER like keys: the stored hash is an HMAC", async () => {
    const e = adminEnv({ KEY_PEPPER: "pepper-pepper-pepper" });
    const tok = await mintToken({ orgs: [uniqueOrg()], role: "read" }, e);
    expect(await env.KEYS.get(kvKey.token(await hashKey(tok.token, "pepper-pepper-pepper")))).not.toBeNull();
    expect(await env.KEYS.get(kvKey.token(await hashKey(tok.token)))).toBeNull();
    expect((await api("GET", "/_keygate/audit", { token: tok.token, env: e })).res.status).toBe(200);
  });

  it("a KV failure while looking a token up is a 503, never a pass", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const failing = {
      ...env.KEYS,
      get: () => Promise.reject(new Error("simulated outage")),
      list: env.KEYS.list.bind(env.KEYS),
    } as unknown as KVNamespace;
    const { mintKey } = await import("../../../../src/keys/format");
    const fresh = mintKey("kgt_"); // not cached
    const res = await api("GET", "/_keygate/audit", { token: fresh, env: adminEnv({ KEYS: failing }) });
    expect(res.res.status).toBe(503);
    expect(res.json.code).toBe("store_unavailable");
  });

  it("a token never appears in a log line, whether it works, is refused or is revoked", async () => {
    const org = uniqueOrg();
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(String(l)));
    vi.spyOn(console, "error").mockImplementation((l: string) => void lines.push(String(l)));
    vi.spyOn(console, "warn").mockImplementation((l: string) => void lines.push(String(l)));
    const tok = await mintToken({ orgs: [org], role: "read" });
    await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token });
    await api("POST", "/_keygate/keys", { token: tok.token, body: { orgs: [org] } });
    await api("GET", "/_keygate/keys", { token: tok.token + "x" });
    await api("DELETE", `/_keygate/tokens/${tok.id}`);
    await api("GET", `/_keygate/keys?org=${org}`, { token: tok.token });
    vi.restoreAllMocks();
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const line of lines) expect(line).not.toContain(tok.token.slice(8));
  });

  it("the root token still works beside scoped ones, and a near miss of it is 401", async () => {
    expect((await api("GET", "/_keygate/tokens")).res.status).toBe(200);
    expect((await api("GET", "/_keygate/tokens", { token: TOKEN + "x" })).res.status).toBe(401);
  });
});

describe("role read: GET only", () => {
  it("reads its org; every write is 403 (before any lookup), nothing changes", async () => {
    const org = uniqueOrg();
    const key = await createViaApi({ orgs: [org] });
    const tok = await mintToken({ orgs: [org], role: "read" });
    const t = { token: tok.token };
    expect((await api("GET", `/_keygate/keys?org=${org}`, t)).json.keys.map((k: any) => k.id)).toEqual([key.id]);
    expect((await api("GET", `/_keygate/keys/${key.id}`, t)).res.status).toBe(200);
    expect((await api("GET", `/_keygate/audit?key_id=${key.id}`, t)).json.events).toHaveLength(1);
    const writes: [string, string, unknown][] = [
      ["POST", "/_keygate/keys", { orgs: [org] }],
      ["POST", "/_keygate/keys/import", { key: crypto.randomUUID(), orgs: [org] }],
      ["PATCH", `/_keygate/keys/${key.id}`, { name: "x" }],
      ["DELETE", `/_keygate/keys/${key.id}`, undefined],
      ["POST", `/_keygate/keys/${key.id}/rotate`, undefined],
      ["DELETE", "/_keygate/keys/key_00000000000000000000", undefined],
    ];
    for (const [method, path, body] of writes) {
      const { res, json } = await api(method, path, { ...t, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(json).toMatchObject({ status: 403, code: "forbidden", detail: expect.stringContaining("read-only") });
    }
    expect((await api("GET", `/_keygate/keys/${key.id}`)).json).toMatchObject({ name: "", status: "active" });
    expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys).toHaveLength(1);
  });

  it("role write may do every key operation in its org", async () => {
    const org = uniqueOrg();
    const tok = await mintToken({ orgs: [org], role: "write" });
    const t = { token: tok.token };
    const created = await api("POST", "/_keygate/keys", { ...t, body: { orgs: [org] } });
    expect(created.res.status).toBe(201);
    const id = created.json.id;
    expect((await api("PATCH", `/_keygate/keys/${id}`, { ...t, body: { name: "renamed" } })).res.status).toBe(200);
    const rotated = await api("POST", `/_keygate/keys/${id}/rotate`, { ...t, body: { grace_seconds: 60 } });
    expect(rotated.res.status).toBe(201);
    expect((await api("DELETE", `/_keygate/keys/${rotated.json.id}`, t)).res.status).toBe(200);
    expect(
      (await api("POST", "/_keygate/keys/import", { ...t, body: { key: crypto.randomUUID(), orgs: [org] } })).res
        .status,
    ).toBe(201);
    const actors = (await api("GET", `/_keygate/audit?org=${org}`, t)).json.events.map((e: any) => e.actor);
    expect(actors).toHaveLength(5); // create, update, rotate, revoke, import
    expect(new Set(actors)).toEqual(new Set([`token:${tok.id}`]));
  });
});

describe("GET /_keygate/keys without org (root): every key, paged and filtered", () => {
  it("lists keys of every org once each (a key in two orgs once), across pages", async () => {
    const tag = `xorg-${crypto.randomUUID().slice(0, 8)}`;
    const [a, b] = [uniqueOrg(), uniqueOrg()];
    const made = [
      await createViaApi({ orgs: [a], name: `${tag} one` }),
      await createViaApi({ orgs: [b], name: `${tag} two` }),
      await createViaApi({ orgs: [a, b], name: `${tag} both` }),
    ];
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { res, json }: { res: Response; json: any } = await api(
        "GET",
        `/_keygate/keys?name=${encodeURIComponent(tag)}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(res.status).toBe(200);
      expect(json.keys.length).toBeLessThanOrEqual(2);
      seen.push(...json.keys);
      cursor = json.cursor;
      pages++;
    } while (cursor !== null && pages < 500);
    expect(seen.map((k) => k.id).sort()).toEqual(made.map((k) => k.id).sort());
    expect(pages).toBeGreaterThan(1);
    expect(JSON.stringify(seen)).not.toMatch(/kg_[0-9A-Za-z]{38}/);
  });

  it("filters by name (case-insensitive substring), key prefix and status; last_used_at is read", async () => {
    const tag = `flt-${crypto.randomUUID().slice(0, 8)}`;
    const active = await createViaApi({ name: `${tag} Active` });
    const revoked = await createViaApi({ name: `${tag} revoked` });
    await api("DELETE", `/_keygate/keys/${revoked.id}`);
    await send("/things", { headers: { "x-api-key": active.key } }, adminEnv()); // a last use (waitUntil)
    const all = async (q: string) => {
      const out: any[] = [];
      let cursor: string | null = null;
      do {
        const { json }: { json: any } = await api(
          "GET",
          `/_keygate/keys?limit=250&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        );
        out.push(...json.keys);
        cursor = json.cursor;
      } while (cursor !== null);
      return out;
    };
    expect((await all(`name=${tag.toUpperCase()}`)).map((k) => k.id).sort()).toEqual([active.id, revoked.id].sort());
    expect((await all(`name=${tag}&status=revoked`)).map((k) => k.id)).toEqual([revoked.id]);
    expect((await all(`name=${tag}&status=active`)).map((k) => k.id)).toEqual([active.id]);
    const byPrefix = await all(`prefix=${encodeURIComponent(active.key_prefix)}`);
    expect(byPrefix.map((k) => k.id)).toContain(active.id);
    expect(byPrefix.every((k) => k.key_prefix.startsWith(active.key_prefix))).toBe(true);
    expect((await all(`name=${tag}&prefix=${encodeURIComponent(active.key_prefix)}`)).map((k) => k.id)).toEqual([
      active.id,
    ]);
    // The same filters on one org's listing.
    const inOrg = (await api("GET", `/_keygate/keys?org=${revoked.orgs[0]}&status=active`)).json.keys;
    expect(inOrg).toEqual([]);
    await vi.waitFor(async () => expect((await all(`name=${tag}&status=active`))[0].last_used_at).not.toBeNull());
  });

  it("keys stored before the id pointer carried a summary are listed from their record", async () => {
    const tag = `legacy-${crypto.randomUUID().slice(0, 8)}`;
    const k = await createViaApi({ name: tag });
    const hash = await hashKey(k.key);
    await env.KEYS.put(kvKey.idPointer(k.id), JSON.stringify({ hash })); // as an older version wrote it
    const out: any[] = [];
    let cursor: string | null = null;
    do {
      const { json }: { json: any } = await api(
        "GET",
        `/_keygate/keys?limit=250&name=${tag}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      out.push(...json.keys);
      cursor = json.cursor;
    } while (cursor !== null);
    expect(out).toEqual([expect.objectContaining({ id: k.id, name: tag, status: "active" })]);
  });
});
