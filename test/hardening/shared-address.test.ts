/**
 * Issue 8, class 9: a shared address is not a lockout. Once a client IP is over its
 * failed-authentication budget, guesses (and any key this isolate does not already know to
 * be valid) are refused with 429 before any lookup — no KV read — but a key whose fresh,
 * positive cache entry this isolate holds, and which is not expired, still passes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isolateOf } from "../../src/gateway/isolate";
import { clock } from "../../src/clock";
import { hashKey } from "../../src/keys/hash";
import { makeEnv, mint, probeKv, through, unknownKey } from "../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

/** wrangler.toml: AUTH_FAILURE_LIMITER simple = { limit = 30, period = 60 }. */
const FAILURE_BUDGET = 30;
let ipCounter = 0;
const freshIp = () => `198.18.${Math.floor(Math.random() * 200)}.${(ipCounter++ % 250) + 1}`;

/** The binding counts in wall-clock windows: start a burst well inside one. */
async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
}

const X = (key: string, ip: string) => ({ headers: { "x-api-key": key, "cf-connecting-ip": ip } });

async function exhaust(ip: string): Promise<void> {
  for (let i = 0; i < FAILURE_BUDGET; i++) {
    const { res } = await through("/things", X(unknownKey(), ip));
    expect(res.status, `failure ${i + 1}`).toBe(401);
  }
  expect((await through("/things", X(unknownKey(), ip))).res.status).toBe(429);
}

describe("a shared address is not a lockout (issue 8, class 9)", () => {
  beforeEach(awayFromWindowEdge);

  it("over the budget: a key this isolate already knows to be valid still passes, with no KV read; guesses stay 429 with no KV read", async () => {
    const shared = freshIp();
    const { key, record } = await mint({ orgs: ["acme"] });
    // A colleague behind the same NAT uses the key: it is now in this isolate's cache.
    expect((await through("/things", X(key, shared))).res.status).toBe(200);
    await exhaust(shared);

    const kv = probeKv();
    const env = makeEnv({ KEYS: kv.binding });
    const ok = await through("/things", X(key, shared), env);
    expect(ok.res.status).toBe(200);
    expect(ok.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
    const guesses = [unknownKey(), `kg_${"A".repeat(38)}`, "not a key,x"];
    for (const guess of guesses) {
      const r = await through("/things", X(guess, shared), env);
      expect(r.res.status, guess).toBe(429);
      expect(r.res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(r.calls).toHaveLength(0);
    }
    expect(kv.gets).toBe(0);
  });

  it("a valid key the isolate has not seen yet is refused like a guess (no lookup)", async () => {
    const shared = freshIp();
    const { key } = await mint();
    await exhaust(shared);
    const kv = probeKv();
    const r = await through("/things", X(key, shared), makeEnv({ KEYS: kv.binding }));
    expect(r.res.status).toBe(429);
    expect(r.calls).toHaveLength(0);
    expect(kv.gets).toBe(0);
  });

  it("a cached key that has expired since is refused (the cache entry is not a pass by itself)", async () => {
    const shared = freshIp();
    const t0 = Date.now();
    const { key } = await mint({ expires_at: new Date(t0 + 20_000).toISOString() });
    expect((await through("/things", X(key, shared))).res.status).toBe(200);
    await exhaust(shared);
    vi.spyOn(clock, "now").mockReturnValue(t0 + 21_000); // expired, cache entry still fresh, IP still blocked
    const r = await through("/things", X(key, shared));
    expect(r.res.status).toBe(429);
    expect(r.calls).toHaveLength(0);
  });

  it("a key cached as revoked (a fresh entry, denied) is refused", async () => {
    const shared = freshIp();
    const { key } = await mint({ orgs: ["acme"] });
    expect((await through("/things", X(key, shared))).res.status).toBe(200);
    const cache = isolateOf({}, 10_000).cache;
    const hash = await hashKey(key);
    const hit = cache.lookup(hash, Date.now());
    expect(hit.state).toBe("fresh");
    if (hit.state === "fresh" && hit.value) cache.set(hash, { ...hit.value, revoked_at: new Date().toISOString() }, Date.now(), 30_000, 0);
    await exhaust(shared);
    const r = await through("/things", X(key, shared));
    expect(r.res.status).toBe(429);
    expect(r.calls).toHaveLength(0);
  });
});
