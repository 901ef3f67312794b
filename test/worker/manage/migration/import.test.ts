/**
 * Importing keys by the hash the old system kept (docs/migrating.md): the formats, the lazy
 * re-hash at first use (issue 22's second "done when": SHA-256 hashes imported, the plaintext
 * authenticates, the key migrated, pending falls), what a legacy lookup costs and when it
 * stops, re-imports, revocation of a pending key, batches and their budget, and another
 * isolate learning of pending keys from the revocation feed.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ISOLATE_STATE, newIsolateState } from "../../../../src/edge/gateway/isolate";
import { hashKey } from "../../../../src/keys/hash";
import { legacyIdentity } from "../../../../src/keys/legacy";
import { kvKey } from "../../../../src/keys/store/kv";
import { makeEnv, probeKv, through } from "../../../support/worker-helpers";
import { api, TOKEN, uniqueOrg } from "../admin/support";

afterEach(() => vi.restoreAllMocks());

const PEPPER = "keygate-pepper-0123456789";
const LEGACY_PEPPER = "old-system-pepper";
const sha = async (alg: "SHA-256" | "SHA-512", s: string) => {
  const d = new Uint8Array(await crypto.subtle.digest(alg, new TextEncoder().encode(s)));
  return { hex: [...d].map((b) => b.toString(16).padStart(2, "0")).join(""), b64: btoa(String.fromCharCode(...d)) };
};
/** A key of the old system, and its SHA-256 as the old system stored it. */
async function legacyKey(prefix = "argus_") {
  const key = prefix + crypto.randomUUID().replace(/-/g, "") + "AbCdEfGhIjK";
  return { key, sha256: await sha("SHA-256", key) };
}

const gw = (vars: Record<string, unknown> = {}) =>
  makeEnv({ ADMIN_TOKEN: TOKEN, KEY_PEPPER: PEPPER, LEGACY_HASH_PEPPER: LEGACY_PEPPER, ...vars });
const importOne = (body: Record<string, unknown>, e = gw()) => api("POST", "/_keygate/keys/import", { body, env: e });
const migration = async (org: string, e = gw()) =>
  (await api("GET", `/_keygate/migration?org=${org}`, { env: e })).json;

describe("import by hash, re-hash at first use", () => {
  it("SHA-256 hashes imported; the plaintext authenticates; the key is migrated and pending falls", async () => {
    const org = uniqueOrg();
    const a = await legacyKey();
    const b = await legacyKey();
    for (const k of [a, b]) {
      const { res, json } = await importOne({
        hash: `sha256:${k.sha256.hex}`,
        key_prefix: k.key.slice(0, 8),
        orgs: [org],
        scopes: ["read"],
        name: "legacy",
      });
      expect(res.status, JSON.stringify(json)).toBe(201);
      expect(json).toMatchObject({ key_prefix: k.key.slice(0, 8), orgs: [org], legacy: "sha256", status: "active" });
      expect(json).not.toHaveProperty("key");
    }
    expect(await migration(org)).toMatchObject({
      totals: { imported: 2, migrated: 0, pending: 2, retired: 0 },
      orgs: [{ org, imported: 2, pending: 2 }],
      legacy_lookups: ["sha256"],
    });

    const id = (await api("GET", `/_keygate/keys?org=${org}`, { env: gw() })).json.keys.find(
      (k: { key_prefix: string }) => k.key_prefix === a.key.slice(0, 8),
    ).id;
    const listed = (await env.KEYS.getWithMetadata(kvKey.idPointer(id), { type: "json" })).metadata;
    expect(listed).toMatchObject({ id, orgs: [org] });
    const first = await through("/v1/things", { headers: { "x-api-key": a.key } }, gw());
    expect(first.res.status).toBe(200);
    expect(first.calls[0]!.headers).toMatchObject({
      "x-org-slug": org,
      "x-api-key-id": id,
      "x-api-key-scopes": "read",
    });

    // Re-indexed under keygate's own hash of the key; the legacy entry gone, remembered as done.
    const identity = await legacyIdentity("sha256", a.sha256.hex, PEPPER);
    expect(await env.KEYS.get(kvKey.record(identity))).toBeNull();
    expect(await env.KEYS.get(kvKey.legacyDone(identity), { type: "json" })).toEqual({ id });
    const own = (await env.KEYS.get(kvKey.record(await hashKey(a.key, PEPPER)), { type: "json" })) as Record<
      string,
      unknown
    >;
    expect(own).toMatchObject({ id, orgs: [org] });
    expect(own).not.toHaveProperty("legacy");
    // The id pointer leads to the new hash and keeps the listing summary it had.
    const pointer = await env.KEYS.getWithMetadata(kvKey.idPointer(id), { type: "json" });
    expect(pointer.value).toEqual({ hash: await hashKey(a.key, PEPPER) });
    expect(pointer.metadata).toEqual(listed);
    const shown = (await api("GET", `/_keygate/keys/${id}`, { env: gw() })).json;
    expect(shown.migrated_at).toEqual(expect.any(String));
    expect(shown).not.toHaveProperty("legacy");
    expect(await migration(org)).toMatchObject({ totals: { imported: 2, migrated: 1, pending: 1 } });
    const audit = (await api("GET", `/_keygate/audit?key_id=${id}`, { env: gw() })).json.events;
    expect(audit.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`)).toEqual([
      "migrate:gateway",
      "import:root",
    ]);

    // From now on a plain lookup; the other key still pending.
    expect((await through("/v1/things", { headers: { authorization: `Bearer ${a.key}` } }, gw())).res.status).toBe(200);
    expect((await through("/v1/things", { headers: { "x-api-key": b.key } }, gw())).res.status).toBe(200);
    expect(await migration(org)).toMatchObject({ totals: { imported: 2, migrated: 2, pending: 0 } });
    // A wrong key is still refused, whatever its shape.
    expect((await through("/v1/things", { headers: { "x-api-key": a.key + "x" } }, gw())).res.status).toBe(401);
  });

  it("every accepted form: sha256 hex or base64, sha512, hmac-sha256 with LEGACY_HASH_PEPPER", async () => {
    const org = uniqueOrg();
    const k256 = await legacyKey("u_");
    const k512 = await legacyKey("v_");
    const kmac = await legacyKey("w_");
    const mac = await hashKey(kmac.key, LEGACY_PEPPER);
    const forms = [
      { key: k256.key, hash: `SHA256:${k256.sha256.b64}` },
      { key: k512.key, hash: `sha512:${(await sha("SHA-512", k512.key)).hex.toUpperCase()}` },
      { key: kmac.key, hash: `hmac-sha256:${mac}` },
    ];
    for (const f of forms) expect((await importOne({ hash: f.hash, orgs: [org] })).res.status, f.hash).toBe(201);
    for (const f of forms)
      expect((await through("/v1/things", { headers: { "x-api-key": f.key } }, gw())).res.status, f.hash).toBe(200);
    expect(await migration(org)).toMatchObject({ totals: { imported: 3, migrated: 3, pending: 0 } });
  });

  it("bad input is a 400 naming the field", async () => {
    const org = uniqueOrg();
    const k = await legacyKey();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ hash: "md5:abc" }, "hash", /algorithm sha256, sha512, hmac-sha256/],
      [{ hash: "sha256:abcd" }, "hash", /32 bytes/],
      [{ hash: `sha256:${k.sha256.hex}`, key: k.key }, "hash", /not both/],
      [{}, "key", /or give its hash/],
      [{ hash: `sha256:${k.sha256.hex}`, key_prefix: "kg_Ab" }, "key_prefix", /KEY_PREFIX/],
      [{ key: k.key, key_prefix: "other" }, "key_prefix", /start of the key/],
      [{ hash: `sha256:${k.sha256.hex}`, key_prefix: "has space" }, "key_prefix", /printable/],
    ];
    for (const [body, field, message] of cases) {
      const { res, json } = await importOne({ orgs: [org], ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const e = json.errors.find((x: { field: string }) => x.field === field);
      expect(e?.message, JSON.stringify(json.errors)).toMatch(message);
    }
    const noPepper = await importOne(
      { hash: `hmac-sha256:${k.sha256.hex}`, orgs: [org] },
      gw({ LEGACY_HASH_PEPPER: undefined }),
    );
    expect(noPepper.res.status).toBe(400);
    expect(noPepper.json.errors[0].message).toMatch(/LEGACY_HASH_PEPPER/);
  });

  it("a hash in keygate's own scheme (SHA-256 without KEY_PEPPER) is stored under it: nothing pending", async () => {
    const org = uniqueOrg();
    const k = await legacyKey();
    const e = gw({ KEY_PEPPER: undefined });
    const { json } = await importOne({ hash: `sha256:${k.sha256.hex}`, orgs: [org] }, e);
    expect(json).not.toHaveProperty("legacy");
    expect(await env.KEYS.get(kvKey.record(k.sha256.hex))).not.toBeNull();
    expect((await migration(org, e)).totals).toMatchObject({ imported: 1, migrated: 1, pending: 0 });
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(200);
  });

  it("an import never repeats: pending or already re-indexed, the same hash is a 409 (skipped in a batch)", async () => {
    const org = uniqueOrg();
    const k = await legacyKey();
    const body = { hash: `sha256:${k.sha256.hex}`, orgs: [org] };
    expect((await importOne(body)).res.status).toBe(201);
    expect((await importOne(body)).res.status).toBe(409);
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, gw())).res.status).toBe(200);
    expect((await importOne(body)).res.status).toBe(409);
    const batch = await api("POST", "/_keygate/keys/import", { body: [body], env: gw() });
    expect(batch.json).toMatchObject({ imported: 0, skipped: 1, results: [{ index: 0, status: "skipped" }] });
    expect((await migration(org)).totals).toMatchObject({ imported: 1, migrated: 1 });
  });

  it("a pending key revoked is refused, leaves the pending count (retired), and once nothing is pending the lookups stop", async () => {
    const org = uniqueOrg();
    const k = await legacyKey();
    const made = await importOne({ hash: `sha512:${(await sha("SHA-512", k.key)).hex}`, orgs: [org] });
    expect((await migration(org)).legacy_lookups).toContain("sha512");
    expect((await api("DELETE", `/_keygate/keys/${made.json.id}`, { env: gw() })).res.status).toBe(200);
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, gw())).res.status).toBe(401);
    const m = await migration(org);
    expect(m.totals).toMatchObject({ imported: 1, migrated: 0, pending: 0, retired: 1 });
    expect(m.legacy_lookups).not.toContain("sha512");
  });
});

describe("one key, one record: an import never gives a key already stored a second one", () => {
  const tokenFor = async (org: string) =>
    (await api("POST", "/_keygate/tokens", { body: { name: "w", orgs: [org], role: "write" }, env: gw() })).json
      .token as string;

  it("a plaintext whose key waits under its hash is a 409, for any org: the client stays its org's", async () => {
    const owner = uniqueOrg();
    const other = uniqueOrg();
    const k = await legacyKey();
    const made = await importOne({ hash: `sha512:${(await sha("SHA-512", k.key)).hex}`, orgs: [owner] });
    expect(made.res.status).toBe(201);
    // Another org's operator holding the plaintext: before, its record in keygate's own
    // index answered first, and the owner's client was served as the other org.
    const taken = await api("POST", "/_keygate/keys/import", {
      body: { key: k.key, orgs: [other], name: "mine now" },
      env: gw(),
      token: await tokenFor(other),
    });
    expect(taken.res.status).toBe(409);
    expect(taken.json.detail).toMatch(/already stored, imported by its sha512 hash/);
    const used = await through("/v1/things", { headers: { "x-api-key": k.key } }, gw());
    expect(used.res.status).toBe(200);
    expect(used.calls[0]!.headers).toMatchObject({ "x-org-slug": owner, "x-api-key-id": made.json.id });
    expect((await api("GET", `/_keygate/keys?org=${other}`, { env: gw() })).json.keys).toEqual([]);
  });

  it("a key revoked while pending stays revoked: its plaintext, imported again, is a 409 (in a batch: skipped)", async () => {
    const org = uniqueOrg();
    for (const alg of ["sha256", "hmac-sha256"] as const) {
      const k = await legacyKey();
      const hex =
        alg === "sha256"
          ? k.sha256.hex
          : [
              ...new Uint8Array(
                await crypto.subtle.sign(
                  "HMAC",
                  await crypto.subtle.importKey(
                    "raw",
                    new TextEncoder().encode(LEGACY_PEPPER),
                    { name: "HMAC", hash: "SHA-256" },
                    false,
                    ["sign"],
                  ),
                  new TextEncoder().encode(k.key),
                ),
              ),
            ]
              .map((b) => b.toString(16).padStart(2, "0"))
              .join("");
      const made = await importOne({ hash: `${alg}:${hex}`, orgs: [org] });
      expect(made.res.status, JSON.stringify(made.json)).toBe(201);
      expect((await api("DELETE", `/_keygate/keys/${made.json.id}`, { env: gw() })).res.status).toBe(200);
      expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, gw())).res.status).toBe(401);
      expect((await importOne({ key: k.key, orgs: [org] })).res.status).toBe(409);
      const batch = await api("POST", "/_keygate/keys/import", { body: [{ key: k.key, orgs: [org] }], env: gw() });
      expect(batch.json).toMatchObject({ imported: 0, skipped: 1 });
      expect(batch.json.results[0].message).toMatch(new RegExp(`imported by its ${alg} hash`));
      expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, gw())).res.status).toBe(401);
    }
  });

  it("a key imported by two hashes: a revoked one wins (another org's hash never brings it back); two live ones are refused as ambiguous", async () => {
    const owner = uniqueOrg();
    const other = uniqueOrg();
    const tok = (
      await api("POST", "/_keygate/tokens", { body: { name: "w", orgs: [other], role: "write" }, env: gw() })
    ).json.token as string;
    // Revoked while pending (sha512), then its sha256 imported by another org's operator:
    // before, the sha256 identity was looked up first and the revoked key worked again, as the other org.
    const r = await legacyKey();
    const revoked = await importOne({ hash: `sha512:${(await sha("SHA-512", r.key)).hex}`, orgs: [owner] });
    expect((await api("DELETE", `/_keygate/keys/${revoked.json.id}`, { env: gw() })).res.status).toBe(200);
    const again = await api("POST", "/_keygate/keys/import", {
      body: { hash: `sha256:${r.sha256.hex}`, orgs: [other] },
      env: gw(),
      token: tok,
    });
    expect(again.res.status).toBe(201);
    const used = await through("/v1/things", { headers: { "x-api-key": r.key } }, gw());
    expect(used.res.status).toBe(401);
    expect(used.calls).toHaveLength(0);
    // Two live imports of one key in two orgs: which org the client is served as must not
    // depend on the algorithms' order (before: the sha256 one, another org's, answered).
    const k = await legacyKey();
    const first = await importOne({ hash: `sha512:${(await sha("SHA-512", k.key)).hex}`, orgs: [owner] });
    const second = await api("POST", "/_keygate/keys/import", {
      body: { hash: `sha256:${k.sha256.hex}`, orgs: [other] },
      env: gw(),
      token: tok,
    });
    expect([first.res.status, second.res.status]).toEqual([201, 201]);
    const ambiguous = await through("/v1/things", { headers: { "x-api-key": k.key } }, gw());
    expect(ambiguous.res.status).toBe(401);
    expect(ambiguous.calls).toHaveLength(0);
    // The other org's import revoked: the key stays refused (a revoked one wins).
    expect((await api("DELETE", `/_keygate/keys/${second.json.id}`, { env: gw() })).res.status).toBe(200);
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, gw())).res.status).toBe(401);
    // (Every import of this test revoked: nothing stays pending for the lookups' test, which counts every org.)
    for (const id of [again.json.id, first.json.id])
      expect((await api("DELETE", `/_keygate/keys/${id}`, { env: gw() })).res.status).toBe(200);
  });

  it("the same key twice in one batch (as given, or as its plaintext and its hash) is stored once; the second is refused by index", async () => {
    const org = uniqueOrg();
    const a = "plain-" + crypto.randomUUID();
    const b = await legacyKey();
    const body = [
      { key: a, orgs: [org], name: "first" },
      { hash: `sha256:${b.sha256.hex}`, orgs: [org], name: "by hash" },
      { key: a, orgs: [org], name: "again" },
      { key: b.key, orgs: [org], name: "its plaintext" },
      { hash: `sha256:${b.sha256.b64}`, orgs: [org], name: "base64" },
    ];
    const { res, json } = await api("POST", "/_keygate/keys/import", { body, env: gw() });
    expect(res.status).toBe(200);
    expect(json).toMatchObject({ imported: 2, skipped: 0, failed: 3 });
    expect(json.results.slice(2)).toMatchObject([
      { index: 2, status: "refused", duplicate_of: 0, message: expect.stringMatching(/same key as item 0/) },
      { index: 3, status: "refused", duplicate_of: 1 },
      { index: 4, status: "refused", duplicate_of: 1 },
    ]);
    // Before, both were stored, one record over the other: the first key's id answered 503.
    for (const i of [0, 1]) {
      const shown = await api("GET", `/_keygate/keys/${json.results[i].id}`, { env: gw() });
      expect(shown.res.status).toBe(200);
      expect(shown.json.name).toBe(body[i]!.name);
    }
    expect((await api("GET", `/_keygate/keys?org=${org}`, { env: gw() })).json.keys).toHaveLength(2);
    const used = await through("/v1/things", { headers: { "x-api-key": a } }, gw());
    expect(used.calls[0]!.headers).toMatchObject({ "x-api-key-id": json.results[0].id });
    // Used: re-indexed, so nothing of this test stays pending (the lookups' test counts every org).
    const byHash = await through("/v1/things", { headers: { "x-api-key": b.key } }, gw());
    expect(byHash.calls[0]!.headers).toMatchObject({ "x-api-key-id": json.results[1].id });
  });
});

describe("what a legacy lookup costs", () => {
  it("only while keys are pending, only for foreign keys that miss: one more KV read, its miss cached too", async () => {
    const org = uniqueOrg();
    const k = await legacyKey("cost_");
    const unknown = "foreign-" + crypto.randomUUID();
    // A fresh isolate, following the feed: it learns what is pending with its first poll.
    const kv = probeKv();
    const e = Object.assign(gw({ KEYS: kv.binding }), { [ISOLATE_STATE]: newIsolateState(1000) });
    await api("GET", "/_keygate/migration", { env: gw() }); // settle: whatever earlier tests left pending
    await importOne({ hash: `sha256:${k.sha256.hex}`, orgs: [org] });
    expect((await api("GET", "/_keygate/migration", { env: gw() })).json.legacy_lookups).toEqual(["sha256"]);
    kv.gets = 0;
    expect((await through("/v1/things", { headers: { "x-api-key": unknown } }, e)).res.status).toBe(401);
    expect(kv.gets).toBe(2); // keygate's index, then the legacy identity
    expect((await through("/v1/things", { headers: { "x-api-key": unknown } }, e)).res.status).toBe(401);
    expect(kv.gets).toBe(2); // both misses cached
    // A key of keygate's format never pays it.
    const { json: minted } = await api("POST", "/_keygate/keys", { body: { orgs: [org] }, env: gw() });
    kv.gets = 0;
    expect((await through("/v1/things", { headers: { "x-api-key": minted.key } }, e)).res.status).toBe(200);
    expect(kv.gets).toBe(1);
    // Once nothing is pending (the key used, then the status read), a foreign miss costs one read again.
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, e)).res.status).toBe(200);
    expect((await api("GET", "/_keygate/migration", { env: gw() })).json.legacy_lookups).toEqual([]);
    const later = Object.assign(gw({ KEYS: kv.binding }), { [ISOLATE_STATE]: newIsolateState(1000) });
    kv.gets = 0;
    expect(
      (await through("/v1/things", { headers: { "x-api-key": "other-" + crypto.randomUUID() } }, later)).res.status,
    ).toBe(401);
    expect(kv.gets).toBe(1);
  });
});

describe("bulk import", () => {
  it("an array: each key on its own, bad ones answered by index, the rest imported", async () => {
    const org = uniqueOrg();
    const good = await legacyKey();
    const body = [
      { hash: `sha256:${good.sha256.hex}`, orgs: [org], name: "ok" },
      { hash: "sha256:nope", orgs: [org] },
      { key: "plain-" + crypto.randomUUID(), orgs: [org], key_prefix: "plain-" },
      { key: "x", orgs: ["Not An Org!"] },
    ];
    const { res, json } = await api("POST", "/_keygate/keys/import", { body, env: gw() });
    expect(res.status).toBe(200);
    expect(json).toMatchObject({ imported: 2, skipped: 0, failed: 2, deferred: 0 });
    expect(json.results[0]).toMatchObject({ index: 0, status: "imported", state: "pending", id: expect.any(String) });
    expect(json.results[1]).toMatchObject({ index: 1, status: "invalid", errors: [{ field: "hash" }] });
    expect(json.results[2]).toMatchObject({ index: 2, status: "imported", state: "migrated" });
    expect(json.results[3]).toMatchObject({ index: 3, status: "invalid" });
    expect((await migration(org)).totals).toMatchObject({ imported: 2, migrated: 1, pending: 1 });
  });

  it("at most 1,000 keys per call, at least one", async () => {
    for (const body of [[], Array.from({ length: 1001 }, () => ({ key: "k", orgs: ["o"] }))]) {
      const { res, json } = await api("POST", "/_keygate/keys/import", { body, env: gw() });
      expect(res.status).toBe(400);
      expect(json.errors[0]).toMatchObject({ field: "(body)", message: expect.stringMatching(/1–1000 keys/) });
    }
  });

  it("within a Worker's budget of KV operations: what does not fit is answered deferred, in order", async () => {
    const org = uniqueOrg();
    const body = await Promise.all(
      Array.from({ length: 200 }, async () => ({ hash: `sha256:${(await legacyKey()).sha256.hex}`, orgs: [org] })),
    );
    const { json } = await api("POST", "/_keygate/keys/import", { body, env: gw() });
    // 6 operations each (4 + one org + the re-indexed check), and the batch's audit event (1 + its one org),
    // within 900: 149 stored.
    expect(json).toMatchObject({ imported: 149, deferred: 51 });
    expect(json.results.slice(149).every((r: { status: string }) => r.status === "deferred")).toBe(true);
    // One audit event for the batch, naming its keys.
    const events = (await api("GET", `/_keygate/audit?org=${org}`, { env: gw() })).json.events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "import", actor: "root", orgs: [org] });
    expect(events[0].key_ids).toHaveLength(149);
  });

  it("an org-scoped write token imports for its orgs only; a read token not at all", async () => {
    const mine = uniqueOrg();
    const { json: writer } = await api("POST", "/_keygate/tokens", {
      body: { name: "w", orgs: [mine], role: "write" },
      env: gw(),
    });
    const { json: reader } = await api("POST", "/_keygate/tokens", {
      body: { name: "r", orgs: [mine], role: "read" },
      env: gw(),
    });
    const body = [
      { hash: `sha256:${(await legacyKey()).sha256.hex}`, orgs: [mine] },
      { hash: `sha256:${(await legacyKey()).sha256.hex}`, orgs: ["someone-else"] },
    ];
    const w = await api("POST", "/_keygate/keys/import", { body, env: gw(), token: writer.token });
    expect(w.json).toMatchObject({ imported: 1, failed: 1, results: [{ status: "imported" }, { status: "refused" }] });
    const r = await api("POST", "/_keygate/keys/import", { body, env: gw(), token: reader.token });
    expect(r.res.status).toBe(403);
  });
});

describe("every isolate learns of pending keys from the revocation feed", () => {
  it("an isolate that polled before the import looks keys up under the new algorithm after its next poll", async () => {
    const org = uniqueOrg();
    const k = await legacyKey("feed_");
    // No SHA-512 key pending (the earlier one here was retired): the feed's list lacks it.
    expect((await api("GET", "/_keygate/migration", { env: gw() })).json.legacy_lookups).not.toContain("sha512");
    const other = Object.assign(gw(), { [ISOLATE_STATE]: newIsolateState(1000) });
    // It polls, knows the feed's list, refuses the key not imported yet.
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, other)).res.status).toBe(401);
    await importOne({ hash: `sha512:${(await sha("SHA-512", k.key)).b64}`, orgs: [org] });
    // Its cached miss and its next poll: within the negative TTL and the poll interval.
    const t = Date.now() + 11_000;
    vi.spyOn(Date, "now").mockReturnValue(t);
    const { clock } = await import("../../../../src/lib/clock");
    vi.spyOn(clock, "now").mockReturnValue(t);
    expect((await through("/v1/things", { headers: { "x-api-key": k.key } }, other)).res.status).toBe(200);
  });
});
