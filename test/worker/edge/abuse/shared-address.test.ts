/**
 * A shared address is not a lockout (issue 8, class 9; issue 20, class 4). Once a client
 * IP is over its failed-authentication budget:
 * - a key this isolate's cache knows to be valid passes with no KV read;
 * - a verified session passes (verified locally, no lookup);
 * - any other key is looked up within the slow lane — at most SLOW_LOOKUPS_PER_MINUTE (30)
 *   per minute per address per isolate, guessing no faster than the budget — so a valid
 *   key behind a busy NAT that this isolate has not seen is served at once; guesses get
 *   429, and past the lane's room no lookup at all;
 * - an IPv6 address counts per /64, an IPv4-mapped one (any spelling) as its IPv4 address;
 * - the management side (admin API, console) has its own budget: an operator sharing the
 *   address is not locked out by the gateway's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clientKey, SLOW_LOOKUPS_PER_MINUTE } from "../../../../src/edge/abuse/auth-failures";
import { isolateOf } from "../../../../src/edge/gateway/isolate";
import { mintKey } from "../../../../src/keys/format";
import { hashKey } from "../../../../src/keys/hash";
import { clock } from "../../../../src/lib/clock";
import { makeEnv, mint, probeKv, send, through, unknownKey } from "../../../support/worker-helpers";
import { adminEnv, api, TOKEN } from "../../manage/admin/support";
import { claims, hs256, SECRET } from "../sessions/support";

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

/** Over the budget: 30 failures (401), then the 31st is 429. */
async function exhaust(ip: string, env = makeEnv()): Promise<void> {
  for (let i = 0; i < FAILURE_BUDGET; i++) {
    const { res } = await through("/things", X(unknownKey(), ip), env);
    expect(res.status, `failure ${i + 1}`).toBe(401);
  }
  expect((await through("/things", X(unknownKey(), ip), env)).res.status).toBe(429);
}

describe("a shared address is not a lockout (issue 8, class 9; issue 20, class 4)", () => {
  beforeEach(awayFromWindowEdge);

  it("over the budget: a key this isolate already knows to be valid still passes, with no KV read", async () => {
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
    expect(kv.gets).toBe(0);
  });

  it("over the budget: a valid key this isolate has not seen is served at once (one lookup in the slow lane), then from the cache", async () => {
    const shared = freshIp();
    await exhaust(shared);
    const { key, record } = await mint({ orgs: ["acme"] });
    const kv = probeKv();
    const env = makeEnv({ KEYS: kv.binding });
    const first = await through("/things", X(key, shared), env);
    expect(first.res.status).toBe(200);
    expect(first.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
    expect(kv.gets).toBe(1);
    expect((await through("/things", X(key, shared), env)).res.status).toBe(200);
    expect(kv.gets).toBe(1);
  });

  it("guesses are 429 (never a 401 that would tell them apart), looked up at most 30 times per minute per address, then not at all; the lane refills after a minute", async () => {
    const shared = freshIp();
    // A block longer than the minute, so the lane (not the block's end) is what lets lookups through again.
    const env0 = makeEnv({ AUTH_FAILURE_BLOCK_SECONDS: "600" });
    await exhaust(shared, env0);
    const kv = probeKv();
    const env = makeEnv({ KEYS: kv.binding, AUTH_FAILURE_BLOCK_SECONDS: "600" });
    const t0 = Date.now();
    vi.spyOn(clock, "now").mockReturnValue(t0);
    for (let i = 0; i < SLOW_LOOKUPS_PER_MINUTE + 10; i++) {
      const r = await through("/things", X(unknownKey(), shared), env);
      expect(r.res.status, `guess ${i + 1}`).toBe(429);
      expect(r.res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(r.calls).toHaveLength(0);
    }
    expect(kv.gets).toBe(SLOW_LOOKUPS_PER_MINUTE);
    // The lane is full: even a valid key waits (it is not told apart from a guess without a lookup).
    const { key } = await mint({ orgs: ["acme"] });
    expect((await through("/things", X(key, shared), env)).res.status).toBe(429);
    // Keys with our prefix and a bad checksum, and malformed credentials, never take a lookup.
    const corrupt = mintKey("kg_").slice(0, -1) + "!";
    for (const guess of [`kg_${"A".repeat(38)}`, corrupt, "not a key,x"])
      expect((await through("/things", X(guess, shared), env)).res.status, guess).toBe(429);
    expect(kv.gets).toBe(SLOW_LOOKUPS_PER_MINUTE);
    // Still within the minute: no room.
    vi.spyOn(clock, "now").mockReturnValue(t0 + 59_000);
    expect((await through("/things", X(key, shared), env)).res.status).toBe(429);
    expect(kv.gets).toBe(SLOW_LOOKUPS_PER_MINUTE);
    // A minute later the lane has room again: the valid key is served.
    vi.spyOn(clock, "now").mockReturnValue(t0 + 60_001);
    expect((await through("/things", X(key, shared), env)).res.status).toBe(200);
    expect(kv.gets).toBe(SLOW_LOOKUPS_PER_MINUTE + 1);
  });

  it("valid keys found in the lane do not use it up: 40 colleagues' keys behind one blocked address are all served", async () => {
    const shared = freshIp();
    await exhaust(shared);
    const keys = await Promise.all(
      Array.from({ length: SLOW_LOOKUPS_PER_MINUTE + 10 }, () => mint({ orgs: ["acme"] })),
    );
    for (const { key } of keys) expect((await through("/things", X(key, shared))).res.status).toBe(200);
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
    if (hit.state === "fresh" && hit.value)
      cache.set(hash, { ...hit.value, revoked_at: new Date().toISOString() }, Date.now(), 30_000, 0);
    await exhaust(shared);
    const r = await through("/things", X(key, shared));
    expect(r.res.status).toBe(429);
    expect(r.calls).toHaveLength(0);
  });

  it("over the budget: a verified session passes; a bad one is 429", async () => {
    const shared = freshIp();
    const env = makeEnv({ SESSION_JWT_SECRET: SECRET });
    await exhaust(shared, env);
    const good = await hs256(claims());
    const ok = await through(
      "/things",
      { headers: { authorization: `Bearer ${good}`, "cf-connecting-ip": shared } },
      env,
    );
    expect(ok.res.status).toBe(200);
    expect(ok.calls[0]!.headers["x-user-id"]).toBe("user_1");
    const forged = await hs256(claims(), "another-secret-".padEnd(48, "x"));
    const bad = await through(
      "/things",
      { headers: { authorization: `Bearer ${forged}`, "cf-connecting-ip": shared } },
      env,
    );
    expect(bad.res.status).toBe(429);
    expect(bad.calls).toHaveLength(0);
  });

  it("the self-service API, authenticated the same way, serves a valid key from a blocked address", async () => {
    const shared = freshIp();
    const env = makeEnv({ SELF_SERVICE_PATH: "/api/keys" });
    await exhaust(shared, env);
    const { key } = await mint({ orgs: ["acme"] });
    const res = await send("/api/keys", { headers: { "x-api-key": key, "cf-connecting-ip": shared } }, env);
    expect(res.status).toBe(200);
  });
});

describe("who counts as one address (issue 20, class 4)", () => {
  beforeEach(awayFromWindowEdge);

  it("clientKey: an IPv6 /64 is one client; an IPv4-mapped address in any spelling is its IPv4 address", () => {
    for (const ip of [
      "198.51.100.7",
      "::ffff:198.51.100.7",
      "::FFFF:198.51.100.7",
      "0:0:0:0:0:ffff:198.51.100.7",
      "::ffff:c633:6407",
      "0000:0000:0000:0000:0000:ffff:c633:6407",
      "[::ffff:198.51.100.7]",
      " 198.51.100.7 ",
    ]) {
      expect(clientKey(ip), ip).toBe("v4:198.51.100.7");
    }
    for (const ip of [
      "2001:db8:a:b::1",
      "2001:db8:a:b:ffff:ffff:ffff:ffff",
      "2001:0DB8:000A:000B::9",
      "2001:db8:a:b:1:2:3.4.5.6",
      "2001:db8:a:b::1%eth0",
    ]) {
      expect(clientKey(ip), ip).toBe("v6:2001:db8:a:b::/64");
    }
    expect(clientKey("2001:db8:a:c::1")).toBe("v6:2001:db8:a:c::/64");
    // Not mapped: the IPv4-compatible form and other /96s stay IPv6.
    expect(clientKey("::198.51.100.7")).toBe("v6:0:0:0:0::/64");
    expect(clientKey("64:ff9b::198.51.100.7")).toBe("v6:64:ff9b:0:0::/64");
    for (const bad of ["::ffff:198.51.100.256", "1::2::3", "2001:db8:::1", "not an ip"])
      expect(clientKey(bad), bad).toMatch(/^raw:/);
    expect(clientKey(null)).toBeNull();
  });

  it("through the gateway: failures from one /64 block the whole /64 and no other; failures as IPv4 block its mapped form", async () => {
    const n = Math.floor(Math.random() * 0xffff).toString(16);
    await exhaust(`2001:db8:${n}:1::1`);
    expect((await through("/things", X(unknownKey(), `2001:db8:${n}:1:ffff::2`))).res.status).toBe(429);
    expect((await through("/things", X(unknownKey(), `2001:db8:${n}:2::1`))).res.status).toBe(401);

    const v4 = freshIp();
    await exhaust(v4);
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    for (const mapped of [`::ffff:${v4}`, hex, `0:0:0:0:0:ffff:${v4}`]) {
      expect((await through("/things", X(unknownKey(), mapped))).res.status, mapped).toBe(429);
    }
  });
});

describe("the management side has its own budget (issue 20, class 4)", () => {
  beforeEach(awayFromWindowEdge);

  it("an address over the gateway's budget still reaches the admin API and signs in to the console", async () => {
    const shared = freshIp();
    const env = adminEnv();
    await exhaust(shared, env);
    expect((await api("GET", "/_keygate/audit", { headers: { "cf-connecting-ip": shared }, env })).res.status).toBe(
      200,
    );
    const login = await send(
      "/_keygate/ui/login",
      {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://gateway.test",
          "cf-connecting-ip": shared,
        },
        body: new URLSearchParams({ token: TOKEN }).toString(),
      },
      env,
    );
    expect(login.status).toBe(303);
  });
});
