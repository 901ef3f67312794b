/**
 * verifyKey() on its own: format check, hash, in-isolate cache, KV read (timeout,
 * failure), record state against the injected clock, stale-if-error. KV is a small
 * in-memory stand-in here (reads counted, faults switched on) so the same file runs in
 * workerd (npm test) and in Node (npm run test:mutation); the real KV binding is
 * exercised through the gateway in test/worker/edge/auth/cache.test.ts and
 * test/worker/edge/gateway/faults.test.ts.
 */
import { describe, expect, it, vi } from "vitest";
import type { Config } from "../../../../src/config/config";
import { parseConfig } from "../../../../src/config/config";
import { cachedValidVerdict, verifyKey } from "../../../../src/edge/auth/verify";
import type { KeyCache } from "../../../../src/edge/gateway/isolate";
import { isolateOf } from "../../../../src/edge/gateway/isolate";
import type { Env } from "../../../../src/env";
import { mintKey } from "../../../../src/keys/format";
import { hashKey } from "../../../../src/keys/hash";
import type { KeyRecord } from "../../../../src/keys/record";
import type { KvLike } from "../../../../src/keys/store/kv";
import { kvKey } from "../../../../src/keys/store/kv";
import { LruCache } from "../../../../src/lib/lru";

const T0 = Date.parse("2031-05-01T00:00:00Z");

function memoryKv() {
  const data = new Map<string, unknown>();
  const state = { gets: 0, options: [] as unknown[], fault: null as null | "throw" | "hang" };
  const kv = {
    async get(name: string, options: unknown) {
      state.gets++;
      state.options.push(options);
      if (state.fault === "throw") throw new Error("KV down (injected)");
      if (state.fault === "hang") return new Promise(() => {});
      return data.has(name) ? structuredClone(data.get(name)) : null;
    },
    async put() {},
    async delete() {},
    async list() {
      return { keys: [], list_complete: true, cursor: "" };
    },
  } as unknown as KvLike;
  return { kv, data, state };
}

function config(vars: Record<string, unknown> = {}): Config {
  const KEYS = { get: async () => null } as unknown as KVNamespace;
  return parseConfig({ KEYS, ORIGIN_URL: "https://api.example.com", ...vars } as Env);
}

function record(patch: Partial<KeyRecord> = {}): KeyRecord {
  return {
    v: 1,
    id: "key_AAAAAAAAAAAAAAAAAAAA",
    name: "t",
    orgs: ["acme"],
    scopes: ["read"],
    start: "kg_AAAA",
    created_at: "2031-01-01T00:00:00.000Z",
    expires_at: null,
    disabled: false,
    revoked_at: null,
    ...patch,
  };
}

async function setup(vars: Record<string, unknown> = {}, patch: Partial<KeyRecord> = {}, pepper?: string) {
  const cfg = config(pepper ? { ...vars, KEY_PEPPER: pepper } : vars);
  const mem = memoryKv();
  const key = mintKey("kg_");
  const rec = record(patch);
  mem.data.set(kvKey.record(await hashKey(key, pepper)), rec);
  const cache: KeyCache = new LruCache(100);
  const at = (now: number) => verifyKey(key, { kv: mem.kv, cache, config: cfg, now });
  return { cfg, mem, key, rec, cache, at };
}

describe("verifyKey", () => {
  it("a valid key: read from KV once, then served from the cache until CACHE_TTL_MS", async () => {
    const { at, mem, rec, key } = await setup();
    expect(await at(T0)).toEqual({ kind: "valid", record: rec, hash: await hashKey(key), tier: "kv" });
    expect(await at(T0 + 29_999)).toMatchObject({ kind: "valid", tier: "memory" });
    expect(mem.state.gets).toBe(1);
    expect(await at(T0 + 30_000)).toMatchObject({ kind: "valid", tier: "kv" });
    expect(mem.state.gets).toBe(2);
  });

  it("reads with KV_CACHE_TTL_SECONDS as cacheTtl", async () => {
    const { at, mem } = await setup({ KV_CACHE_TTL_SECONDS: "120" });
    await at(T0);
    expect(mem.state.options).toEqual([{ type: "json", cacheTtl: 120 }]);
  });

  it("a key with our prefix and a bad checksum: unknown (checksum) with no KV read", async () => {
    const { mem, key, cfg } = await setup();
    const forged = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    expect(await verifyKey(forged, { kv: mem.kv, cache: new LruCache(10), config: cfg, now: T0 })).toEqual({
      kind: "unknown",
      reason: "checksum",
      tier: "format",
    });
    expect(mem.state.gets).toBe(0);
  });

  it("an unknown key: not_found from KV, then from the negative cache until NEGATIVE_CACHE_TTL_MS", async () => {
    const { mem, cfg } = await setup();
    const cache = new LruCache<KeyRecord | null>(10);
    const unknown = (now: number) => verifyKey("legacy-unknown-key-1", { kv: mem.kv, cache, config: cfg, now });
    expect(await unknown(T0)).toEqual({ kind: "unknown", reason: "not_found", tier: "kv" });
    expect(await unknown(T0 + 9_999)).toEqual({ kind: "unknown", reason: "not_found", tier: "memory" });
    expect(mem.state.gets).toBe(1);
    expect(await unknown(T0 + 10_000)).toEqual({ kind: "unknown", reason: "not_found", tier: "kv" });
    expect(mem.state.gets).toBe(2);
  });

  it("revoked, disabled and expired records are denied with their reason", async () => {
    for (const [patch, reason] of [
      [{ revoked_at: "2031-02-01T00:00:00.000Z" }, "revoked"],
      [{ disabled: true }, "disabled"],
      [{ expires_at: new Date(T0).toISOString() }, "expired"],
    ] as const) {
      const { at, rec } = await setup({}, patch);
      expect(await at(T0)).toEqual({ kind: "denied", reason, record: rec, tier: "kv" });
    }
  });

  it("expiry is checked on a cache hit: valid 1 ms before, denied at the instant, no new read", async () => {
    const expires = T0 + 10_000;
    const { at, mem } = await setup({}, { expires_at: new Date(expires).toISOString() });
    expect(await at(T0)).toMatchObject({ kind: "valid", tier: "kv" });
    expect(await at(expires - 1)).toMatchObject({ kind: "valid", tier: "memory" });
    expect(await at(expires)).toMatchObject({ kind: "denied", reason: "expired", tier: "memory" });
    expect(mem.state.gets).toBe(1);
  });

  it("KEY_PEPPER: the record is found under the HMAC, not under the plain hash", async () => {
    const pepper = "pepper-for-unit-tests-0123";
    const { at, key } = await setup({}, {}, pepper);
    expect(await at(T0)).toMatchObject({ kind: "valid", hash: await hashKey(key, pepper) });
    const { mem, cfg } = await setup();
    mem.data.clear();
    mem.data.set(kvKey.record(await hashKey(key)), record());
    const peppered = config({ KEY_PEPPER: pepper });
    expect(await verifyKey(key, { kv: mem.kv, cache: new LruCache(10), config: peppered, now: T0 })).toMatchObject({
      kind: "unknown",
      reason: "not_found",
    });
    expect(await verifyKey(key, { kv: mem.kv, cache: new LruCache(10), config: cfg, now: T0 })).toMatchObject({
      kind: "valid",
    });
  });

  it("KV throws: an error verdict naming the failure, never unknown or valid", async () => {
    const { at, mem } = await setup();
    mem.state.fault = "throw";
    const verdict = await at(T0);
    expect(verdict).toEqual({ kind: "error", cause: "KV get failed: KV down (injected)" });
  });

  it("KV never answers: an error verdict once KV_TIMEOUT_MS is over", async () => {
    const { at, mem } = await setup({ KV_TIMEOUT_MS: "20" });
    mem.state.fault = "hang";
    expect(await at(T0)).toEqual({ kind: "error", cause: "KV did not answer within 20 ms" });
  });

  it("leaves no KV timeout timer behind once KV has answered", async () => {
    vi.useFakeTimers();
    try {
      const { at } = await setup();
      expect(await at(T0)).toMatchObject({ kind: "valid", tier: "kv" });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stale-if-error: a cached record serves past its TTL only while KV fails, up to STALE_IF_ERROR_MS", async () => {
    const { at, mem, rec } = await setup({ CACHE_TTL_MS: "1000", STALE_IF_ERROR_MS: "5000" });
    await at(T0);
    mem.state.fault = "throw";
    expect(await at(T0 + 999)).toMatchObject({ kind: "valid", tier: "memory" });
    expect(await at(T0 + 1_000)).toEqual({ kind: "valid", record: rec, hash: expect.any(String), tier: "stale" });
    expect(await at(T0 + 5_999)).toMatchObject({ kind: "valid", tier: "stale" });
    expect(await at(T0 + 6_000)).toMatchObject({ kind: "error" });
    mem.state.fault = null;
    expect(await at(T0 + 6_001)).toMatchObject({ kind: "valid", tier: "kv" });
  });

  it("a stale record that is expired is denied, not served", async () => {
    const { at, mem } = await setup(
      { CACHE_TTL_MS: "1000", STALE_IF_ERROR_MS: "5000" },
      { expires_at: new Date(T0 + 2_000).toISOString() },
    );
    await at(T0);
    mem.state.fault = "throw";
    expect(await at(T0 + 2_000)).toMatchObject({ kind: "denied", reason: "expired", tier: "stale" });
  });

  it("a cached miss is never served stale: KV failing after the negative TTL is an error", async () => {
    const { mem, cfg } = await setup({ STALE_IF_ERROR_MS: "60000" });
    const cache = new LruCache<KeyRecord | null>(10);
    const unknown = (now: number) => verifyKey("legacy-unknown-key-2", { kv: mem.kv, cache, config: cfg, now });
    await unknown(T0);
    mem.state.fault = "throw";
    expect(await unknown(T0 + 10_000)).toMatchObject({ kind: "error" });
  });

  it("isolateOf: one key cache per isolate, replaced when CACHE_MAX_ENTRIES changes", () => {
    const a = isolateOf({}, 123).cache;
    expect(isolateOf({}, 123).cache).toBe(a);
    expect(a.maxEntries).toBe(123);
    const b = isolateOf({}, 124).cache;
    expect(b).not.toBe(a);
    expect(b.maxEntries).toBe(124);
    expect(isolateOf({}, 124).cache).toBe(b);
  });
});

describe("the revocation feed's records (overrides)", () => {
  const stamped = (iso: string, patch: Partial<KeyRecord> = {}) =>
    record({ updated_at: iso, ...patch } as Partial<KeyRecord>);

  it("a published record newer than KV's copy wins (tier feed); an older or equal one does not (tier kv); an expired one is ignored", async () => {
    const { key, mem, cfg } = await setup();
    const hash = await hashKey(key);
    mem.data.set(kvKey.record(hash), stamped("2031-01-02T00:00:00.000Z"));
    const verify = (override: { record: KeyRecord; stamp: number; until: number }) =>
      verifyKey(key, {
        kv: mem.kv,
        cache: new LruCache(10),
        config: cfg,
        now: T0,
        overrides: new Map([[hash, override]]),
      });
    const revoked = stamped("2031-01-03T00:00:00.000Z", { revoked_at: "2031-01-03T00:00:00.000Z" });
    expect(
      await verify({ record: revoked, stamp: Date.parse("2031-01-03T00:00:00.000Z"), until: T0 + 1 }),
    ).toMatchObject({ kind: "denied", reason: "revoked", tier: "feed" });
    expect(
      await verify({ record: revoked, stamp: Date.parse("2031-01-02T00:00:00.000Z"), until: T0 + 1 }),
    ).toMatchObject({ kind: "valid", tier: "kv" });
    expect(await verify({ record: revoked, stamp: Date.parse("2031-01-03T00:00:00.000Z"), until: T0 })).toMatchObject({
      kind: "valid",
      tier: "kv",
    });
  });

  it("while KV fails, a published record still answers (tier feed) — over a stale cached copy too; without one, the error stands", async () => {
    const { key, mem, cfg, at } = await setup();
    const hash = await hashKey(key);
    expect(await at(T0)).toMatchObject({ kind: "valid", tier: "kv" });
    mem.state.fault = "throw";
    const revoked = stamped("2032-01-01T00:00:00.000Z", { revoked_at: "2032-01-01T00:00:00.000Z" });
    const override = { record: revoked, stamp: Date.parse("2032-01-01T00:00:00.000Z"), until: T0 + 120_000 };
    // Past the cache TTL: the entry is stale, KV fails, the feed's record decides.
    const cache: KeyCache = new LruCache(10);
    cache.set(hash, record(), T0, cfg.cache.ttlMs, cfg.cache.staleIfErrorMs);
    const later = T0 + cfg.cache.ttlMs + 1;
    expect(
      await verifyKey(key, { kv: mem.kv, cache, config: cfg, now: later, overrides: new Map([[hash, override]]) }),
    ).toMatchObject({ kind: "denied", reason: "revoked", tier: "feed" });
    // No cached copy at all: the published record alone.
    expect(
      await verifyKey(key, {
        kv: mem.kv,
        cache: new LruCache(10),
        config: cfg,
        now: later,
        overrides: new Map([[hash, override]]),
      }),
    ).toMatchObject({ kind: "denied", tier: "feed" });
    // The override has expired: a stale copy is served as stale, none is an error.
    const expired = { ...override, until: later };
    expect(
      await verifyKey(key, { kv: mem.kv, cache, config: cfg, now: later, overrides: new Map([[hash, expired]]) }),
    ).toMatchObject({ kind: "valid", tier: "stale" });
    expect(
      await verifyKey(key, {
        kv: mem.kv,
        cache: new LruCache(10),
        config: cfg,
        now: later,
        overrides: new Map([[hash, expired]]),
      }),
    ).toMatchObject({ kind: "error" });
  });
});

describe("cachedValidVerdict (a client over its failure budget)", () => {
  it("a key this isolate's cache holds fresh and usable: valid from memory, no KV read", async () => {
    const { key, mem, cfg, cache, at, rec } = await setup();
    await at(T0);
    const reads = mem.state.gets;
    expect(await cachedValidVerdict(key, { cache, config: cfg, now: T0 + 1 })).toEqual({
      kind: "valid",
      record: rec,
      hash: await hashKey(key),
      tier: "memory",
    });
    expect(mem.state.gets).toBe(reads);
  });

  it("anything else is null: a bad checksum, a key not cached, a stale entry, a cached miss, a record revoked or expired by now", async () => {
    const { key, cfg, cache, at } = await setup();
    expect(
      await cachedValidVerdict(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"), { cache, config: cfg, now: T0 }),
    ).toBeNull();
    expect(await cachedValidVerdict(key, { cache, config: cfg, now: T0 })).toBeNull(); // not cached yet
    await at(T0);
    expect(await cachedValidVerdict(key, { cache, config: cfg, now: T0 + cfg.cache.ttlMs })).toBeNull(); // stale
    const unknown = mintKey("kg_");
    const c2: KeyCache = new LruCache(10);
    c2.set(await hashKey(unknown), null, T0, 10_000, 0);
    expect(await cachedValidVerdict(unknown, { cache: c2, config: cfg, now: T0 })).toBeNull();
    const c3: KeyCache = new LruCache(10);
    c3.set(await hashKey(key), record({ revoked_at: "2031-01-01T00:00:00.000Z" }), T0, 30_000, 0);
    expect(await cachedValidVerdict(key, { cache: c3, config: cfg, now: T0 })).toBeNull();
    c3.set(await hashKey(key), record({ expires_at: new Date(T0).toISOString() }), T0, 30_000, 0);
    expect(await cachedValidVerdict(key, { cache: c3, config: cfg, now: T0 })).toBeNull();
  });
});
