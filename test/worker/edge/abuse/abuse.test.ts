/**
 * Abuse limits: failed authentications per client IP (the Workers Rate Limiting binding
 * AUTH_FAILURE_LIMITER, enforced locally by Miniflare: 30 per 60 s in wrangler.toml), and
 * per-key rate limits (the KeyRateLimiter Durable Object).
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clientKey } from "../../../../src/edge/abuse/auth-failures";
import { validateNewKey } from "../../../../src/keys/issue";
import { clock } from "../../../../src/lib/clock";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { makeEnv, mint, patchRecord, through, unknownKey } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

/** wrangler.toml: [[ratelimits]] AUTH_FAILURE_LIMITER simple = { limit = 30, period = 60 }. */
const FAILURE_BUDGET = 30;

let ipCounter = 0;
/** A fresh documentation-range address per test: the binding's counters outlive tests. */
const freshIp = () => `203.0.${Math.floor(Math.random() * 200)}.${(ipCounter++ % 250) + 1}`;

/**
 * The binding counts in fixed windows aligned on the wall clock: start a burst well inside
 * one, so the budget is not reset half-way by a window boundary.
 */
async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
}

const X = (key: string, ip: string, extra: Record<string, string> = {}) => ({
  headers: { "x-api-key": key, "cf-connecting-ip": ip, ...extra },
});

async function exhaust(ip: string, extra: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < FAILURE_BUDGET; i++) {
    const { res } = await through("/things", X(unknownKey(), ip, extra));
    expect(res.status, `failure ${i + 1}`).toBe(401);
  }
}

describe("failed authentications per client IP", () => {
  beforeEach(awayFromWindowEdge);

  // Issue 20 (class 4) changed what a valid key gets from an over-budget address: it used
  // to be refused before any lookup; it is now looked up in the slow lane and served
  // (test/worker/edge/abuse/shared-address.test.ts holds the lane's bounds).
  it("over the budget: 429 with Retry-After for guesses, a valid key still served; other IPs and the key elsewhere unaffected", async () => {
    const attacker = freshIp();
    const { key } = await mint();
    await exhaust(attacker);
    const over = await through("/things", X(unknownKey(), attacker));
    expectRefusal(PROFILE_CASES[0]!, over.res, over.body, 429);
    expect(over.res.headers.get("retry-after")).toBe("60");
    expect(JSON.parse(over.body).detail).toMatch(/failed authentication/);
    // A guess is 429, never forwarded; a valid key from the same address is served.
    const guess = await through("/things", X(unknownKey(), attacker));
    expect(guess.res.status).toBe(429);
    expect(guess.calls).toHaveLength(0);
    const valid = await through("/things", X(key, attacker));
    expect(valid.res.status).toBe(200);
    expect(valid.calls).toHaveLength(1);
    // Another client with the same key, and the attacker without a credential, are unaffected.
    const victim = await through("/things", X(key, freshIp()));
    expect(victim.res.status).toBe(200);
    expect((await through("/things", { headers: { "cf-connecting-ip": attacker } })).res.status).toBe(401);
  });

  it("in every profile's shape", async () => {
    for (const p of PROFILE_CASES) {
      const ip = freshIp();
      for (let i = 0; i < FAILURE_BUDGET; i++) {
        await through("/things", { headers: { ...p.present(unknownKey()), "cf-connecting-ip": ip } }, makeEnv(p.vars));
      }
      const { res, body, calls } = await through(
        "/things",
        { headers: { ...p.present(unknownKey()), "cf-connecting-ip": ip } },
        makeEnv(p.vars),
      );
      expect(calls).toHaveLength(0);
      expectRefusal(p, res, body, 429);
      expect(res.headers.get("retry-after")).toBe("60");
    }
  });

  it("malformed credentials count as failures", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_BUDGET; i++) expect((await through("/things", X("bad key", ip))).res.status).toBe(400);
    expect((await through("/things", X("bad key", ip))).res.status).toBe(429);
  });

  it("only CF-Connecting-IP counts: rotating X-Forwarded-For or X-Real-IP changes nothing", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      await through(
        "/things",
        X(unknownKey(), ip, {
          "x-forwarded-for": `10.0.0.${i}`,
          "x-real-ip": `10.1.0.${i}`,
          "true-client-ip": `10.2.0.${i}`,
        }),
      );
    }
    expect((await through("/things", X(unknownKey(), ip, { "x-forwarded-for": "10.9.9.9" }))).res.status).toBe(429);
  });

  it("IPv6 clients are counted per /64", async () => {
    const net = `2001:db8:${(ipCounter++ % 0xfff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      await through("/things", X(unknownKey(), `${net}:${i.toString(16)}::${(i * 7).toString(16)}`));
    }
    expect((await through("/things", X(unknownKey(), `${net}:ffff:1:2:3`))).res.status).toBe(429);
    // The neighbouring /64 is another subscriber.
    const { key } = await mint();
    expect(
      (await through("/things", X(key, `2001:db8:ffff:${Math.floor(Math.random() * 0xffff).toString(16)}::1`))).res
        .status,
    ).toBe(200);
  });

  it("the block ends after AUTH_FAILURE_BLOCK_SECONDS", async () => {
    const ip = freshIp();
    const { key } = await mint();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    await exhaust(ip);
    expect(
      (await through("/things", X(unknownKey(), ip), makeEnv({ AUTH_FAILURE_BLOCK_SECONDS: 20 }))).res.status,
    ).toBe(429);
    now.mockReturnValue(t0 + 10_000);
    // A malformed credential neither takes a lookup nor extends the block (a valid key
    // would be looked up and served: issue 20).
    const during = await through("/things", X("bad key", ip));
    expect(during.res.status).toBe(429);
    expect(during.res.headers.get("retry-after")).toBe("10");
    now.mockReturnValue(t0 + 20_000);
    expect((await through("/things", X(key, ip))).res.status).toBe(200);
  });

  it("a failing limiter never turns a 401 into a 5xx or a pass", async () => {
    const broken = { limit: () => Promise.reject(new Error("limiter down (injected)")) };
    const { res } = await through("/things", X(unknownKey(), freshIp()), makeEnv({ AUTH_FAILURE_LIMITER: broken }));
    expect(res.status).toBe(401);
  });

  it("client keys: IPv4, IPv4-mapped IPv6, IPv6 /64 in its shortest spellings", () => {
    expect(clientKey("198.51.100.7")).toBe("v4:198.51.100.7");
    expect(clientKey("::ffff:198.51.100.7")).toBe("v4:198.51.100.7");
    expect(clientKey("2001:db8:1:2:3:4:5:6")).toBe("v6:2001:db8:1:2::/64");
    expect(clientKey("2001:0DB8:0001:0002::9")).toBe("v6:2001:db8:1:2::/64");
    expect(clientKey("2001:db8::1")).toBe("v6:2001:db8:0:0::/64");
    expect(clientKey("::1")).toBe("v6:0:0:0:0::/64");
    expect(clientKey(null)).toBeNull();
    expect(clientKey("not an ip")).toBe("raw:not an ip");
  });
});

describe("per-key rate limits (Durable Object)", () => {
  it("limit per period: RateLimit headers on each answer, then 429 with Retry-After, origin not called", async () => {
    const { key } = await mint({ rate_limit: { limit: 3, period_seconds: 60 } });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { res, calls } = await through("/things", { headers: { "x-api-key": key } });
      expect(res.status).toBe(200);
      expect(calls).toHaveLength(1);
      expect(res.headers.get("ratelimit-policy")).toBe('"key";q=3;w=60');
      seen.push(res.headers.get("ratelimit")!);
    }
    expect(seen.map((v) => /r=(\d+)/.exec(v)![1])).toEqual(["2", "1", "0"]);
    const { res, body, calls } = await through("/things", { headers: { "x-api-key": key } });
    expectRefusal(PROFILE_CASES[0]!, res, body, 429);
    expect(calls).toHaveLength(0);
    const t = Number(/;t=(\d+)$/.exec(res.headers.get("ratelimit")!)![1]);
    expect(t).toBeGreaterThanOrEqual(1);
    expect(t).toBeLessThanOrEqual(60);
    expect(res.headers.get("retry-after")).toBe(String(t));
    expect(JSON.parse(body).detail).toContain("3 requests per 60 s");
  });

  it("in every profile's shape", async () => {
    for (const p of PROFILE_CASES) {
      const { key } = await mint({ rate_limit: { limit: 1, period_seconds: 3600 } });
      expect((await through("/things", { headers: p.present(key) }, makeEnv(p.vars))).res.status).toBe(200);
      const { res, body } = await through("/things", { headers: p.present(key) }, makeEnv(p.vars));
      expectRefusal(p, res, body, 429);
    }
  });

  it("the count is exact under concurrency", async () => {
    const { key } = await mint({ rate_limit: { limit: 5, period_seconds: 3600 } });
    const results = await Promise.all(
      Array.from({ length: 12 }, () => through("/things", { headers: { "x-api-key": key } })),
    );
    const statuses = results.map((r) => r.res.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it("a new window starts fresh; other keys are unaffected", async () => {
    const { key } = await mint({ rate_limit: { limit: 1, period_seconds: 10 } });
    const other = await mint();
    const t0 = Math.ceil(Date.now() / 10_000) * 10_000 + 1_000; // 1 s into a window
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    expect((await through("/things", { headers: { "x-api-key": key } })).res.status).toBe(200);
    const refused = await through("/things", { headers: { "x-api-key": key } });
    expect(refused.res.status).toBe(429);
    expect(refused.res.headers.get("retry-after")).toBe("9");
    const free = await through("/things", { headers: { "x-api-key": other.key } });
    expect(free.res.status).toBe(200);
    expect(free.res.headers.get("ratelimit")).toBeNull();
    now.mockReturnValue(t0 + 9_000);
    expect((await through("/things", { headers: { "x-api-key": key } })).res.status).toBe(200);
  });

  it("keys without a rate_limit never touch the Durable Object", async () => {
    const ns = env.KEY_RATE_LIMITER!;
    let gets = 0;
    const counting = {
      idFromName: ns.idFromName.bind(ns),
      get: (...a: Parameters<typeof ns.get>) => {
        gets++;
        return ns.get(...a);
      },
    };
    const plain = await mint();
    for (let i = 0; i < 5; i++)
      await through("/things", { headers: { "x-api-key": plain.key } }, makeEnv({ KEY_RATE_LIMITER: counting }));
    expect(gets).toBe(0);
    const limited = await mint({ rate_limit: { limit: 100, period_seconds: 60 } });
    await through("/things", { headers: { "x-api-key": limited.key } }, makeEnv({ KEY_RATE_LIMITER: counting }));
    expect(gets).toBe(1);
  });

  it("a failing limiter lets the authenticated request through (rate limits fail open)", async () => {
    const broken = {
      idFromName: () => {
        throw new Error("DO down (injected)");
      },
      get: () => {
        throw new Error("unreachable");
      },
    };
    const { key } = await mint({ rate_limit: { limit: 1, period_seconds: 60 } });
    for (let i = 0; i < 3; i++) {
      const { res } = await through(
        "/things",
        { headers: { "x-api-key": key } },
        makeEnv({ KEY_RATE_LIMITER: broken }),
      );
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
  });

  it("a record whose rate_limit is corrupt is a store fault (503), never unlimited", async () => {
    const { key } = await mint();
    await patchRecord(key, { rate_limit: { limit: -1, period_seconds: 60 } });
    expect((await through("/things", { headers: { "x-api-key": key } })).res.status).toBe(503);
  });

  it("validateNewKey: rate_limit is optional and checked", () => {
    const base = { orgs: ["acme"] };
    const now = Date.now();
    expect(validateNewKey({ ...base, rate_limit: { limit: 100, period_seconds: 60 } }, now)).toMatchObject({
      ok: true,
      value: { rate_limit: { limit: 100, period_seconds: 60 } },
    });
    expect(validateNewKey({ ...base, rate_limit: null }, now)).toMatchObject({ ok: true });
    const ok = validateNewKey(base, now);
    // Accepted, and without a rate_limit (the old `ok.ok && …` was also false on a rejection).
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(Object.keys(ok.value)).not.toContain("rate_limit");
    for (const bad of [
      0,
      1.5,
      "100",
      { limit: 0, period_seconds: 60 },
      { limit: 10, period_seconds: 0 },
      { limit: 10, period_seconds: 86_401 },
      { limit: 10 },
      { limit: 10, period_seconds: 60, burst: 5 },
      [10, 60],
    ]) {
      const r = validateNewKey({ ...base, rate_limit: bad }, now);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      if (!r.ok) expect(r.errors[0]!.field).toBe("rate_limit");
    }
  });
});
