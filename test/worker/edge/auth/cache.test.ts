/**
 * The cache tiers and the store's failure modes, with time injected (clock.now) and KV
 * reads counted on the real local KV binding.
 */

import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import { makeEnv, mint, patchRecord, probeKv, through, unknownKey } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

let now = Date.now();
function freezeClock(): (ms: number) => void {
  now = Date.now();
  vi.spyOn(clock, "now").mockImplementation(() => now);
  return (ms) => {
    now += ms;
  };
}

const headers = (key: string) => ({ "x-api-key": key });

describe("in-isolate cache", () => {
  it("a repeated unknown key costs one KV read per negative window", async () => {
    const advance = freezeClock();
    const kv = probeKv();
    const gw = makeEnv({ KEYS: kv.binding });
    const key = unknownKey();
    for (let i = 0; i < 5; i++) expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(401);
    expect(kv.gets).toBe(1);
    advance(10_000); // NEGATIVE_CACHE_TTL_MS default
    await through("/x", { headers: headers(key) }, gw);
    expect(kv.gets).toBe(2);
  });

  it("a key with our prefix and a bad checksum never reaches KV", async () => {
    const kv = probeKv();
    const { key } = await mint();
    const forged = key.slice(0, -2) + (key.endsWith("AA") ? "BB" : "AA");
    const { res } = await through("/x", { headers: headers(forged) }, makeEnv({ KEYS: kv.binding }));
    expect(res.status).toBe(401);
    expect(kv.gets).toBe(0);
  });

  it("a valid key is read once per CACHE_TTL_MS; a revocation in KV shows after it (the documented bound)", async () => {
    const advance = freezeClock();
    const kv = probeKv();
    const gw = makeEnv({ KEYS: kv.binding });
    const { key } = await mint();
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(200);
    await patchRecord(key, { revoked_at: new Date(now).toISOString() });
    advance(29_999);
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(200);
    expect(kv.gets).toBe(1);
    advance(1);
    const after = await through("/x", { headers: headers(key) }, gw);
    expect(after.res.status).toBe(401);
    expect(after.calls).toHaveLength(0);
    expect(kv.gets).toBe(2);
  });

  it("CACHE_MAX_ENTRIES=0 turns the cache off: every request reads KV", async () => {
    const kv = probeKv();
    const gw = makeEnv({ KEYS: kv.binding, CACHE_MAX_ENTRIES: "0" });
    const { key } = await mint();
    for (let i = 0; i < 3; i++) await through("/x", { headers: headers(key) }, gw);
    expect(kv.gets).toBe(3);
  });
});

describe("KV failures fail closed", () => {
  it("KV throwing: 503 in the profile's shape, never forwarded", async () => {
    const kv = probeKv();
    kv.fault = "throw";
    const { res, body, calls } = await through(
      "/x",
      { headers: headers(unknownKey()) },
      makeEnv({ KEYS: kv.binding, AUTH_PROFILE: "operate" }),
    );
    expect(res.status).toBe(503);
    expect(JSON.parse(body)).toEqual({
      success: false,
      error: { type: "api_error", message: "The key store is unavailable; retry later." },
    });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(calls).toHaveLength(0);
  });

  it("KV hanging: 503 after KV_TIMEOUT_MS, never forwarded", async () => {
    const kv = probeKv();
    kv.fault = "hang";
    // The read never settles: an answer at all can only come from KV_TIMEOUT_MS.
    const { res, calls } = await through(
      "/x",
      { headers: headers(unknownKey()) },
      makeEnv({ KEYS: kv.binding, KV_TIMEOUT_MS: "200" }),
    );
    expect(res.status).toBe(503);
    expect(kv.gets).toBe(1);
    expect(calls).toHaveLength(0);
  });

  it("a record already cached keeps serving for STALE_IF_ERROR_MS while KV fails, then 503", async () => {
    const advance = freezeClock();
    const kv = probeKv();
    const gw = makeEnv({ KEYS: kv.binding, STALE_IF_ERROR_MS: "60000" });
    const { key } = await mint();
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(200);
    kv.fault = "throw";
    advance(30_000 + 59_000); // past the TTL, inside the stale window
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(200);
    advance(1_000);
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(503);
  });

  it("a cached miss is never turned into a pass while KV fails", async () => {
    const advance = freezeClock();
    const kv = probeKv();
    const gw = makeEnv({ KEYS: kv.binding });
    const key = unknownKey();
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(401);
    kv.fault = "throw";
    advance(10_000);
    expect((await through("/x", { headers: headers(key) }, gw)).res.status).toBe(503);
  });

  it("a value under a key hash that is not a valid record is a store fault (503), not a key", async () => {
    const key = unknownKey();
    await env.KEYS.put(kvKey.record(await hashKey(key)), JSON.stringify({ id: "key_x", orgs: [] }));
    const { res, calls } = await through("/x", { headers: headers(key) });
    expect(res.status).toBe(503);
    expect(calls).toHaveLength(0);
  });
});

describe("KEY_PEPPER", () => {
  it("keys are looked up by HMAC with the pepper; a key stored without it does not resolve", async () => {
    const pepper = "pepper-for-tests-0123456789";
    const peppered = await mint({ pepper });
    const plain = await mint();
    const gw = makeEnv({ KEY_PEPPER: pepper });
    expect((await through("/x", { headers: headers(peppered.key) }, gw)).res.status).toBe(200);
    expect((await through("/x", { headers: headers(plain.key) }, gw)).res.status).toBe(401);
    expect((await through("/x", { headers: headers(peppered.key) })).res.status).toBe(401);
  });
});
