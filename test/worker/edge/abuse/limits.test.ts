/**
 * Credits, org-wide rate limits and IP allowlists (docs/limits.md), through the real worker
 * on Miniflare's real KV and the real KeyRateLimiter Durable Objects, in front of the real
 * origin. Exactness under concurrency: the requests go out at once.
 */

import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ISOLATE_STATE, newIsolateState } from "../../../../src/edge/gateway/isolate";
import type { Env } from "../../../../src/env";
import { clock } from "../../../../src/lib/clock";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, originCalls, probe, send, through } from "../../../support/worker-helpers";
import { api, createViaApi, TOKEN, uniqueOrg } from "../../manage/admin/support";

afterEach(() => vi.restoreAllMocks());

const gw = (vars: Vars = {}) => makeEnv({ ADMIN_TOKEN: TOKEN, ...vars });

/** The KEY_RATE_LIMITER binding, counting the objects the gateway asks for. */
function countingLimiter(): { binding: DurableObjectNamespace; names: string[] } {
  const real = env.KEY_RATE_LIMITER!;
  const names: string[] = [];
  const binding = {
    idFromName: (n: string) => {
      names.push(n);
      return real.idFromName(n);
    },
    get: (id: DurableObjectId) => real.get(id),
  } as unknown as DurableObjectNamespace;
  return { binding, names };
}

async function burst(n: number, key: string, e = gw(), headers: Record<string, string> = {}) {
  const id = probe();
  const responses = await Promise.all(
    Array.from({ length: n }, () => send("/v1/x", { headers: { "x-api-key": key, "x-probe": id, ...headers } }, e)),
  );
  await Promise.all(responses.map((r) => r.text()));
  return { statuses: responses.map((r) => r.status), responses, origin: (await originCalls(id)).length };
}

describe("credits", () => {
  it("each forwarded request spends one; x-credits-remaining counts down; at zero the profile's 429, not forwarded", async () => {
    const k = await createViaApi({ credits: { remaining: 2 } });
    const e = gw({ AUTH_PROFILE: "argos" });
    const first = await through("/v1/x", { headers: { "x-api-key": k.key } }, e);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("x-credits-remaining")).toBe("1");
    expect(
      (await through("/v1/x", { headers: { "x-api-key": k.key } }, e)).res.headers.get("x-credits-remaining"),
    ).toBe("0");
    const out = await through("/v1/x", { headers: { "x-api-key": k.key } }, e);
    expect(out.res.status).toBe(429);
    expect(out.res.headers.get("x-credits-remaining")).toBe("0");
    expect(out.res.headers.get("retry-after")).toBeNull(); // no refill: no time to wait for
    expect(out.calls).toHaveLength(0);
    const argos429 = await send("/v1/x", { headers: { "x-api-key": k.key } }, e);
    expect(argos429.headers.get("content-type")).toContain("json");
  });

  it("exact across concurrent requests: 50 at once with 20 credits → exactly 20 forwarded, 30 × 429", async () => {
    const k = await createViaApi({ credits: { remaining: 20 } });
    const { statuses, origin, responses } = await burst(50, k.key);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    expect(origin).toBe(20);
    const left = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("x-credits-remaining")));
    expect(left.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("refill: at the start of the next UTC day the balance is refilled to the amount; Retry-After says when", async () => {
    const day = 86_400_000;
    const t0 = Math.floor(Date.now() / day) * day + 3_600_000; // 01:00 UTC today
    let now = t0;
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const k = await createViaApi({ credits: { remaining: 1, refill: { amount: 2, interval: "day" } } });
    expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, gw())).status).toBe(200);
    const out = await send("/v1/x", { headers: { "x-api-key": k.key } }, gw());
    expect(out.status).toBe(429);
    expect(out.headers.get("retry-after")).toBe(String(23 * 3600));
    now = t0 + 23 * 3_600_000; // 00:00 the next day
    expect((await burst(3, k.key)).statuses.sort()).toEqual([200, 200, 429]);
  });

  it("a new setting (update) restarts the balance; null makes the key unmetered; rotating keeps the balance unless given credits", async () => {
    const k = await createViaApi({ credits: { remaining: 1 } });
    expect((await burst(2, k.key)).statuses.sort()).toEqual([200, 429]);
    const upd = await api("PATCH", `/_keygate/keys/${k.id}`, { body: { credits: { remaining: 2 } } });
    expect(upd.res.status).toBe(200);
    expect(upd.json.credits).toMatchObject({ remaining: 2 });
    expect((await burst(3, k.key)).statuses.sort()).toEqual([200, 200, 429]);

    const k2 = await createViaApi({ credits: { remaining: 3 } });
    expect((await burst(1, k2.key)).statuses).toEqual([200]);
    const rotated = await api("POST", `/_keygate/keys/${k2.id}/rotate`, { body: { grace_seconds: 60 } });
    expect(rotated.res.status).toBe(201);
    // Old and new key spend the same balance: 2 left between them.
    expect((await burst(2, rotated.json.key)).statuses.concat((await burst(1, k2.key)).statuses).sort()).toEqual([
      200, 200, 429,
    ]);
    const fresh = await api("POST", `/_keygate/keys/${rotated.json.id}/rotate`, {
      body: { credits: { remaining: 5 } },
    });
    expect(fresh.json.credits).toMatchObject({ remaining: 5 });
    expect((await burst(6, fresh.json.key)).statuses.filter((s) => s === 200)).toHaveLength(5);

    await api("PATCH", `/_keygate/keys/${fresh.json.id}`, { body: { credits: null } });
    const free = await send("/v1/x", { headers: { "x-api-key": fresh.json.key } }, gw());
    expect(free.status).toBe(200);
    expect(free.headers.has("x-credits-remaining")).toBe(false);
  });

  it("GET /keys/:id shows the live balance (credits.remaining, as the key's object holds it) and credits.refills_at", async () => {
    let now = Date.UTC(2031, 4, 17, 13, 0, 0);
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const k = await createViaApi({ credits: { remaining: 5, refill: { amount: 7, interval: "day" } } });
    for (let i = 0; i < 2; i++)
      expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, gw())).status).toBe(200);
    const shown = await api("GET", `/_keygate/keys/${k.id}`);
    expect(shown.json.credits).toEqual({
      remaining: 3,
      refill: { amount: 7, interval: "day" },
      set_at: "2031-05-17T13:00:00.000Z",
      refills_at: "2031-05-18T00:00:00.000Z",
    });
    // Other answers about the key say the same; a key rotated without credits spends the same balance.
    expect((await api("PATCH", `/_keygate/keys/${k.id}`, { body: { name: "renamed" } })).json.credits.remaining).toBe(
      3,
    );
    const rotated = await api("POST", `/_keygate/keys/${k.id}/rotate`, { body: { grace_seconds: 60 } });
    expect(rotated.json.credits.remaining).toBe(3);
    expect(rotated.json.previous.credits.remaining).toBe(3);
    // After the refill instant the balance is the refill's amount.
    now = Date.UTC(2031, 4, 18, 0, 0, 1);
    const refilled = await api("GET", `/_keygate/keys/${rotated.json.id}`);
    expect(refilled.json.credits).toMatchObject({ remaining: 7, refills_at: "2031-05-19T00:00:00.000Z" });
    // Monthly: the first instant of next month; without a refill: null.
    const monthly = await createViaApi({ credits: { remaining: 1, refill: { amount: 1, interval: "month" } } });
    expect((await api("GET", `/_keygate/keys/${monthly.id}`)).json.credits.refills_at).toBe("2031-06-01T00:00:00.000Z");
    const once = await createViaApi({ credits: { remaining: 4 } });
    expect((await api("GET", `/_keygate/keys/${once.id}`)).json.credits).toMatchObject({
      remaining: 4,
      refills_at: null,
    });
  });

  it("a balance that cannot be read is shown as null, never as the setting", async () => {
    const k = await createViaApi({ credits: { remaining: 5 } });
    expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, gw())).status).toBe(200);
    vi.spyOn(console, "log").mockImplementation(() => {});
    const noLimiter = await api("GET", `/_keygate/keys/${k.id}`, { env: gw({ KEY_RATE_LIMITER: undefined }) });
    expect(noLimiter.res.status).toBe(200);
    expect(noLimiter.json.credits.remaining).toBeNull();
  });

  it("shown on the key; refused with 400 naming the field when malformed", async () => {
    const k = await createViaApi({ credits: { remaining: 10, refill: { amount: 10, interval: "month" } } });
    const shown = await api("GET", `/_keygate/keys/${k.id}`);
    expect(shown.json.credits).toMatchObject({ remaining: 10, refill: { amount: 10, interval: "month" } });
    expect(typeof shown.json.credits.set_at).toBe("string");
    for (const credits of [
      -1,
      "5",
      { remaining: 1.5 },
      { remaining: 1, refill: { amount: 0, interval: "day" } },
      { remaining: 1, refill: { amount: 1, interval: "week" } },
      { remaining: 1, extra: 1 },
      {},
    ]) {
      const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: ["acme"], credits } });
      expect(res.status, JSON.stringify(credits)).toBe(400);
      expect(json.errors.map((x: { field: string }) => x.field)).toEqual(["credits"]);
    }
    const patch = await api("PATCH", `/_keygate/keys/${k.id}`, { body: { credits: { remaining: -5 } } });
    expect(patch.res.status).toBe(400);
    const rot = await api("POST", `/_keygate/keys/${k.id}/rotate`, { body: { credits: "lots" } });
    expect(rot.res.status).toBe(400);
    expect(rot.json.errors[0].field).toBe("credits");
  });

  it("a key without credits never asks for a balance", async () => {
    const k = await createViaApi();
    const limiter = countingLimiter();
    const res = await send("/v1/x", { headers: { "x-api-key": k.key } }, gw({ KEY_RATE_LIMITER: limiter.binding }));
    expect(res.status).toBe(200);
    expect(res.headers.has("x-credits-remaining")).toBe(false);
    expect(limiter.names).toEqual([]);
  });

  it("when the balance cannot be asked, the request is refused (503), never forwarded unmetered", async () => {
    const k = await createViaApi({ credits: { remaining: 5 } });
    vi.spyOn(console, "log").mockImplementation(() => {});
    const broken = {
      idFromName: () => ({}),
      get: () => ({ spend: () => Promise.reject(new Error("down")) }),
    } as unknown as DurableObjectNamespace;
    const out = await through("/v1/x", { headers: { "x-api-key": k.key } }, gw({ KEY_RATE_LIMITER: broken }));
    expect(out.res.status).toBe(503);
    expect(out.calls).toHaveLength(0);
  });
});

describe("org-wide rate limits", () => {
  it("GET an org never set: nulls; PUT sets it; GET shows it; null removes it", async () => {
    const org = uniqueOrg();
    expect((await api("GET", `/_keygate/orgs/${org}`)).json).toEqual({ org, rate_limit: null, updated_at: null });
    const put = await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: { limit: 5, period_seconds: 60 } } });
    expect(put.res.status).toBe(200);
    expect(put.json).toMatchObject({ org, rate_limit: { limit: 5, period_seconds: 60 } });
    expect(put.res.headers.get("cache-control")).toBe("no-store");
    expect((await api("GET", `/_keygate/orgs/${org}`)).json.rate_limit).toEqual({ limit: 5, period_seconds: 60 });
    const removed = await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: null } });
    expect(removed.json).toEqual({ org, rate_limit: null, updated_at: null });
    expect((await api("GET", `/_keygate/orgs/${org}`)).json.rate_limit).toBeNull();
  });

  it("bad input: 400 naming the field; other methods 405; no token 401", async () => {
    const org = uniqueOrg();
    for (const [body, field] of [
      [{}, "rate_limit"],
      [{ rate_limit: { limit: 0, period_seconds: 60 } }, "rate_limit"],
      [{ rate_limit: { limit: 5 } }, "rate_limit"],
      [{ rate_limit: null, burst: 3 }, "burst"],
      [[], "(body)"],
    ] as const) {
      const { res, json } = await api("PUT", `/_keygate/orgs/${org}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(json.errors.map((x: { field: string }) => x.field)).toContain(field);
    }
    expect((await api("PUT", `/_keygate/orgs/-bad`, { body: { rate_limit: null } })).json.errors[0].field).toBe("org");
    expect((await api("GET", `/_keygate/orgs/-bad`)).res.status).toBe(400);
    const post = await api("POST", `/_keygate/orgs/${org}`, { body: {} });
    expect(post.res.status).toBe(405);
    expect(post.res.headers.get("allow")).toBe("GET, HEAD, PUT");
    expect((await api("GET", `/_keygate/orgs/${org}`, { token: null })).res.status).toBe(401);
  });

  it("one limit shared by every key of the org, exact under concurrency, with the org's RateLimit fields", async () => {
    const org = uniqueOrg();
    await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: { limit: 10, period_seconds: 60 } } });
    const keys = await Promise.all([1, 2, 3].map(() => createViaApi({ orgs: [org] })));
    const results = await Promise.all(keys.map((k) => burst(10, k.key)));
    const statuses = results.flatMap((r) => r.statuses);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(results.reduce((n, r) => n + r.origin, 0)).toBe(10);
    const refused = results.flatMap((r) => r.responses).find((r) => r.status === 429)!;
    expect(refused.headers.get("ratelimit-policy")).toBe('"org";q=10;w=60');
    expect(refused.headers.get("ratelimit")).toMatch(/^"org";r=0;t=\d+$/);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("with a per-key limit too, both policies are reported", async () => {
    const org = uniqueOrg();
    await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: { limit: 100, period_seconds: 60 } } });
    const k = await createViaApi({ orgs: [org], rate_limit: { limit: 5, period_seconds: 60 } });
    const res = await send("/v1/x", { headers: { "x-api-key": k.key } }, gw());
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe('"key";q=5;w=60, "org";q=100;w=60');
    expect(res.headers.get("ratelimit")).toMatch(/^"key";r=4;t=\d+, "org";r=99;t=\d+$/);
  });

  it("an org without a limit costs no limiter call and one KV read per CACHE_TTL_MS", async () => {
    const k = await createViaApi();
    const limiter = countingLimiter();
    const e = gw({ KEY_RATE_LIMITER: limiter.binding });
    for (let i = 0; i < 3; i++) expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, e)).status).toBe(200);
    expect(limiter.names).toEqual([]);
  });
});

describe("org limits travel with the revocation feed", () => {
  function isolate(vars: Vars = {}): Env {
    return Object.assign(gw(vars), { [ISOLATE_STATE]: newIsolateState(100) });
  }

  it("a limit set through isolate A applies in isolate B within the revocation bound; a new isolate gets every org's limit", async () => {
    let now = Date.now();
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    const a = isolate();
    const b = isolate();
    expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, b)).headers.has("ratelimit-policy")).toBe(false);
    await api("PUT", `/_keygate/orgs/${org}`, { env: a, body: { rate_limit: { limit: 1, period_seconds: 600 } } });
    now += 4_001;
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await send("/v1/x", { headers: { "x-api-key": k.key } }, b)).status);
    expect(statuses).toEqual([200, 429]);
    const fresh = isolate();
    expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, fresh)).status).toBe(429);
    await api("PUT", `/_keygate/orgs/${org}`, { env: a, body: { rate_limit: null } });
    now += 4_001;
    expect((await send("/v1/x", { headers: { "x-api-key": k.key } }, b)).status).toBe(200);
  });

  it("without a feed binding the org's settings are read from KV (cached) and still enforced", async () => {
    const org = uniqueOrg();
    await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: { limit: 2, period_seconds: 600 } } });
    const k = await createViaApi({ orgs: [org] });
    const { statuses } = await burst(3, k.key, isolate({ REVOCATION_FEED: undefined }));
    expect(statuses.sort()).toEqual([200, 200, 429]);
  });
});

describe("IP allowlists", () => {
  const ips = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"];
  const from = (key: string, ip: string | null, e = gw()) =>
    through("/v1/x", { headers: { "x-api-key": key, ...(ip ? { "cf-connecting-ip": ip } : {}) } }, e);

  it("addresses inside a range pass; any other (or none) gets the profile's 403, not forwarded", async () => {
    const k = await createViaApi({ allowed_ips: ips });
    for (const ip of [
      "203.0.113.1",
      "203.0.113.255",
      "2001:db8::1",
      "2001:DB8:ffff::9",
      "198.51.100.7",
      "::ffff:203.0.113.9",
    ]) {
      expect((await from(k.key, ip)).res.status, ip).toBe(200);
    }
    for (const ip of ["203.0.114.1", "198.51.100.8", "2001:db9::1", "::1", "not-an-ip", null]) {
      const out = await from(k.key, ip);
      expect(out.res.status, String(ip)).toBe(403);
      expect(out.calls).toHaveLength(0);
    }
    const argos = await from(k.key, "192.0.2.1", gw({ AUTH_PROFILE: "argos" }));
    expect(argos.res.status).toBe(403);
    expect((await api("GET", `/_keygate/keys/${k.id}`)).json.allowed_ips).toEqual(ips);
  });

  it("update replaces the list; null allows any address again", async () => {
    const k = await createViaApi({ allowed_ips: ["192.0.2.0/24"] });
    expect((await from(k.key, "10.1.2.3")).res.status).toBe(403);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { allowed_ips: ["10.0.0.0/8"] } });
    expect((await from(k.key, "10.1.2.3")).res.status).toBe(200);
    expect((await from(k.key, "192.0.2.1")).res.status).toBe(403);
    await api("PATCH", `/_keygate/keys/${k.id}`, { body: { allowed_ips: null } });
    expect((await from(k.key, "192.0.2.1")).res.status).toBe(200);
  });

  it("CIDRs are validated strictly: 400 naming allowed_ips and the bad entry", async () => {
    for (const bad of [
      "10.0.0.1/8",
      "300.1.1.1",
      "1.2.3.4/33",
      "01.2.3.4",
      "1.2.3",
      "2001:db8::/129",
      "2001:db8:::1",
      "1:2:3:4:5:6:7:8:9",
      "abc",
      " 1.2.3.4",
      "1.2.3.4/",
      "1.2.3.4/08",
    ]) {
      const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: ["acme"], allowed_ips: [bad] } });
      expect(res.status, bad).toBe(400);
      expect(json.errors[0].field).toBe("allowed_ips");
      expect(json.errors[0].message).toContain(JSON.stringify(bad));
    }
    for (const bad of [[], "10.0.0.0/8", [1], Array.from({ length: 65 }, (_, i) => `10.0.0.${i}`)]) {
      const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: ["acme"], allowed_ips: bad } });
      expect(res.status).toBe(400);
      expect(json.errors[0].field).toBe("allowed_ips");
    }
  });
});
