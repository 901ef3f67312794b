/**
 * last_used_at: written from the hot path in waitUntil, at most once per key per
 * LAST_USED_INTERVAL_MS per isolate (KV writes counted through a wrapper around the real
 * binding), never on the critical path, never touching what admins write.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LastUsedThrottle } from "../../../../src/edge/auth/last-used";
import worker from "../../../../src/index";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import { updateKey } from "../../../../src/manage/keys";
import { backgroundContext, makeEnv, send } from "../../../support/worker-helpers";
import { adminEnv, api, countingKv, createViaApi, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

const usedPuts = (puts: string[]) => puts.filter((p) => p.endsWith(":used"));

describe("throttling", () => {
  it("one write per key per interval, whatever the number of requests", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv, LAST_USED_INTERVAL_MS: "60000" });
    const t0 = Date.parse("2032-01-01T00:00:00Z");
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    const [a, b] = [uniqueOrg(), uniqueOrg()];
    const k = await createViaApi({ orgs: [a, b] }, e);
    kv.puts.length = 0;
    for (let i = 0; i < 20; i++) expect((await send("/x", { headers: { "x-api-key": k.key } }, e)).status).toBe(200);
    // One write per org of the key (each org's listing shows it), once.
    expect(usedPuts(kv.puts).sort()).toEqual([kvKey.lastUsed(a, k.id), kvKey.lastUsed(b, k.id)].sort());
    spy.mockReturnValue(t0 + 59_999);
    for (let i = 0; i < 5; i++) await send("/x", { headers: { "x-api-key": k.key } }, e);
    expect(usedPuts(kv.puts)).toHaveLength(2);
    spy.mockReturnValue(t0 + 60_000);
    for (let i = 0; i < 5; i++) await send("/x", { headers: { "x-api-key": k.key } }, e);
    expect(usedPuts(kv.puts)).toHaveLength(4);
    // Nothing else was written by the hot path: no record, no summary.
    expect(kv.puts.filter((p) => !p.endsWith(":used"))).toEqual([]);

    const shown = (await api("GET", `/_keygate/keys/${k.id}`, { env: e })).json;
    expect(shown.last_used_at).toBe(new Date(t0 + 60_000).toISOString());
    for (const org of [a, b]) {
      const listed = (await api("GET", `/_keygate/keys?org=${org}`, { env: e })).json.keys;
      expect(listed[0].last_used_at).toBe(new Date(t0 + 60_000).toISOString());
    }
  });

  it("each key has its own interval", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv });
    const keys = [await createViaApi({}, e), await createViaApi({}, e), await createViaApi({}, e)];
    kv.puts.length = 0;
    for (let round = 0; round < 3; round++)
      for (const k of keys) await send("/x", { headers: { "x-api-key": k.key } }, e);
    expect(usedPuts(kv.puts).sort()).toEqual(keys.map((k) => kvKey.lastUsed(k.orgs[0], k.id)).sort());
  });

  it("LAST_USED_INTERVAL_MS=0 turns tracking off", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv, LAST_USED_INTERVAL_MS: "0" });
    const k = await createViaApi({}, e);
    await send("/x", { headers: { "x-api-key": k.key } }, e);
    expect(usedPuts(kv.puts)).toEqual([]);
    expect((await api("GET", `/_keygate/keys/${k.id}`, { env: e })).json.last_used_at).toBeNull();
  });

  it("unknown, revoked and malformed keys write nothing", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv });
    const k = await createViaApi({}, e);
    await api("DELETE", `/_keygate/keys/${k.id}`, { env: e });
    kv.puts.length = 0;
    for (const key of [k.key, crypto.randomUUID(), k.key.slice(0, -1) + "0"])
      await send("/x", { headers: { "x-api-key": key } }, e);
    expect(kv.puts).toEqual([]);
  });
});

describe("off the critical path", () => {
  it("the response is sent while the write is still pending; the write completes in waitUntil", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const real = env.KEYS;
    const slow = {
      get: real.get.bind(real),
      list: real.list.bind(real),
      delete: real.delete.bind(real),
      getWithMetadata: real.getWithMetadata.bind(real),
      put: async (name: string, value: string, options?: KVNamespacePutOptions) => {
        if (name.endsWith(":used")) await gate;
        return real.put(name, value, options);
      },
    } as unknown as KVNamespace;
    const e = makeEnv({ KEYS: slow });
    const k = await createViaApi({}, adminEnv());
    const { ctx, wait } = backgroundContext();
    const res = await worker.fetch(new Request("https://gateway.test/x", { headers: { "x-api-key": k.key } }), e, ctx);
    expect(res.status).toBe(200);
    await res.text();
    expect(await real.get(kvKey.lastUsed(k.orgs[0], k.id))).toBeNull(); // not written yet
    release();
    await wait();
    expect(await real.get(kvKey.lastUsed(k.orgs[0], k.id), "json")).toEqual({ last_used_at: expect.any(String) });
  });

  it("a failed write is logged and changes nothing for the request", async () => {
    const real = env.KEYS;
    const failing = {
      get: real.get.bind(real),
      list: real.list.bind(real),
      delete: real.delete.bind(real),
      put: async (name: string, value: string, options?: KVNamespacePutOptions) => {
        if (name.endsWith(":used")) throw new Error("KV PUT failed: 429 Too Many Requests");
        return real.put(name, value, options);
      },
    } as unknown as KVNamespace;
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(String(l)));
    const k = await createViaApi({}, adminEnv());
    const res = await send("/x", { headers: { "x-api-key": k.key } }, makeEnv({ KEYS: failing }));
    vi.restoreAllMocks();
    expect(res.status).toBe(200);
    expect(lines.map((l) => JSON.parse(l)).find((l) => l.msg === "last-used write failed")).toMatchObject({
      level: "warn",
      key_id: k.id,
    });
  });
});

describe("the last-used write never undoes an admin change", () => {
  it("a stale cached record (renamed and moved elsewhere) rewrites no summary", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv, CACHE_TTL_MS: "3600000" });
    const t0 = Date.now();
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    const [a, b] = [uniqueOrg(), uniqueOrg()];
    const k = await createViaApi({ name: "before", orgs: [a] }, e);
    await send("/x", { headers: { "x-api-key": k.key } }, e); // cached here (name "before", orgs [a])
    // Another isolate's admin renames the key and moves it to org b: the same management
    // operation, without a purge of this isolate's cache.
    const moved = await updateKey(
      { kv: env.KEYS, settings: { prefix: "kg_" }, actor: "test", now: t0 },
      { kind: "root" },
      k.id,
      { name: "after", orgs: [b] },
    );
    expect(moved.ok).toBe(true);
    spy.mockReturnValue(t0 + 120_000); // past the last-used interval, within the cache TTL
    kv.puts.length = 0;
    const res = await send("/x", { headers: { "x-api-key": k.key } }, e);
    expect(res.status).toBe(200); // served from the stale cached record, as documented
    expect(kv.puts).toEqual([kvKey.lastUsed(a, k.id)]); // only a last-use entry, from the stale orgs
    const listed = (await api("GET", `/_keygate/keys?org=${b}`, { env: e })).json.keys;
    expect(listed).toMatchObject([{ id: k.id, name: "after", orgs: [b] }]);
    expect((await api("GET", `/_keygate/keys?org=${a}`, { env: e })).json.keys).toEqual([]);
  });

  it("an orphan last-use entry (written from a stale record for an org the key left) is not listed", async () => {
    const org = uniqueOrg();
    await env.KEYS.put(
      kvKey.lastUsed(org, "key_orphanorphanorphan00"),
      JSON.stringify({ last_used_at: new Date().toISOString() }),
      {
        metadata: { last_used_at: new Date().toISOString() },
      },
    );
    expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys).toEqual([]);
  });
});

describe("a listing page that ends between a key's summary and its last use", () => {
  it("reads that one entry, and only that one", async () => {
    const org = uniqueOrg();
    const e = adminEnv();
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push(await createViaApi({ orgs: [org] }, e));
    for (const k of keys) await send("/x", { headers: { "x-api-key": k.key } }, e);
    const kv = countingKv();
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (
        await api("GET", `/_keygate/keys?org=${org}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
          env: adminEnv({ KEYS: kv }),
        })
      ).json;
      seen.push(...page.keys);
      cursor = page.cursor;
    } while (cursor);
    expect(seen.map((k) => k.id).sort()).toEqual(keys.map((k) => k.id).sort());
    for (const k of seen) expect(k.last_used_at).not.toBeNull();
    // 6 entries in pages of 3: the first page ends on a summary whose :used entry is on page 2.
    expect(kv.gets).toHaveLength(1);
    expect(kv.gets[0]).toMatch(/:used$/);
  });
});

describe("LastUsedThrottle", () => {
  it("claims once per interval per key", () => {
    const t = new LastUsedThrottle(10);
    expect(t.claim("a", 0, 1000)).toBe(true);
    expect(t.claim("a", 999, 1000)).toBe(false);
    expect(t.claim("b", 999, 1000)).toBe(true);
    expect(t.claim("a", 1000, 1000)).toBe(true);
    expect(t.claim("a", 500, 1000)).toBe(false); // a clock going backwards never allows a second write
  });

  it("bounded: when full of keys written within the interval, it skips new keys rather than write twice", () => {
    const t = new LastUsedThrottle(3);
    for (const id of ["a", "b", "c"]) expect(t.claim(id, 0, 1000)).toBe(true);
    expect(t.claim("d", 10, 1000)).toBe(false);
    expect(t.size).toBe(3);
    expect(t.claim("a", 20, 1000)).toBe(false);
    // Once their interval is over, old entries make room.
    expect(t.claim("d", 1000, 1000)).toBe(true);
    expect(t.size).toBeLessThanOrEqual(3);
    expect(t.claim("d", 1500, 1000)).toBe(false);
  });

  it("a write budget per second: many distinct keys at once get at most that many writes; a refused key claims again later", () => {
    const t = new LastUsedThrottle(100_000);
    const first = Array.from({ length: 50 }, (_, i) => t.claim(`k${i}`, 10_000, 60_000, 10));
    expect(first.filter(Boolean)).toHaveLength(10);
    // Half a second refills half the budget: 5 more, whatever the keys.
    const later = Array.from({ length: 50 }, (_, i) => t.claim(`k${i}`, 10_500, 60_000, 10));
    expect(later.filter(Boolean)).toHaveLength(5);
    // The keys written then are the ones refused the first time (the written ones are inside their interval).
    expect(later.findIndex(Boolean)).toBeGreaterThanOrEqual(10);
    // The budget never exceeds one second's worth, however long the pause.
    const afterPause = Array.from({ length: 50 }, (_, i) => t.claim(`m${i}`, 3_600_000, 60_000, 10));
    expect(afterPause.filter(Boolean)).toHaveLength(10);
    // A clock going backwards refills nothing.
    expect(t.claim("n", 1_000, 60_000, 10)).toBe(false);
  });
});

describe("the write budget on the hot path", () => {
  it("LAST_USED_MAX_WRITES_PER_SECOND bounds the writes of many distinct keys used at one instant", async () => {
    const kv = countingKv();
    const e = adminEnv({ KEYS: kv, LAST_USED_INTERVAL_MS: "60000", LAST_USED_MAX_WRITES_PER_SECOND: "3" });
    const org = uniqueOrg();
    const keys = [];
    for (let i = 0; i < 8; i++) keys.push(await createViaApi({ orgs: [org] }, e));
    const t0 = Date.parse("2033-03-01T00:00:00Z");
    const spy = vi.spyOn(clock, "now").mockReturnValue(t0);
    kv.puts.length = 0;
    for (const k of keys) expect((await send("/x", { headers: { "x-api-key": k.key } }, e)).status).toBe(200);
    expect(usedPuts(kv.puts)).toHaveLength(3);
    // A second later: three more, for keys not written yet.
    spy.mockReturnValue(t0 + 1_000);
    kv.puts.length = 0;
    for (const k of keys) expect((await send("/x", { headers: { "x-api-key": k.key } }, e)).status).toBe(200);
    expect(usedPuts(kv.puts)).toHaveLength(3);
  });
});
