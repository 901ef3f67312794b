/**
 * Usage per key and org (docs/usage.md): counted in the isolate, flushed into the org's
 * UsageStore object (real Durable Object, SQLite), read with GET /_keygate/usage.
 */

import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VARIABLES } from "../../../../src/config/variables";
import { flushUsage, usageCounter } from "../../../../src/edge/usage/counter";
import { FLUSH_TIMEOUT_MS, WAIT_UNTIL_MS } from "../../../../src/edge/usage/flush";
import { clock } from "../../../../src/lib/clock";
import type { UsageStore } from "../../../../src/objects/usage-store";
import { deliverUsage, makeEnv, send, sendAndWaitAll, unknownKey } from "../../../support/worker-helpers";
import { api, createViaApi, TOKEN, uniqueOrg } from "../../manage/admin/support";

afterEach(() => vi.restoreAllMocks());

const gw = () => makeEnv({ ADMIN_TOKEN: TOKEN });
/** Flush this isolate's pending counts now and have its location's aggregator forward them (what the isolate's flush and the aggregator's forward do, together within USAGE_FLUSH_MS). */
const flush = () => deliverUsage();
const hit = (key: string, headers: Record<string, string> = {}) =>
  send("/v1/x", { headers: { "x-api-key": key, ...headers } }, gw());
const usage = async (q: string) => api("GET", `/_keygate/usage?${q}`);
/**
 * GET /usage's totals for `org` once they count `n` requests, or once the end-to-end bound
 * (docs/usage.md: USAGE_FLUSH_MS — a fifth for the isolate's deferred flush, the rest for
 * its location's aggregator — and two round trips, each cut at FLUSH_TIMEOUT_MS) has passed
 * since `since`; nothing but reads meanwhile.
 */
async function totalsWithin(org: string, n: number, flushMs: number, since: number) {
  let totals = (await usage(`org=${org}`)).json.totals;
  while (totals.requests < n && Date.now() - since < flushMs + 2 * FLUSH_TIMEOUT_MS) {
    await new Promise((r) => setTimeout(r, 50));
    totals = (await usage(`org=${org}`)).json.totals;
  }
  return totals;
}

describe("a burst's tail (no later traffic)", () => {
  it("is counted in full: a request that leaves counts pending arms one deferred flush, sent within USAGE_FLUSH_MS", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await usageCounter().armed; // one armed by an earlier request of this isolate, if any
    await flush(); // a flush just happened: none is due during the burst
    const e = makeEnv({ ADMIN_TOKEN: TOKEN, USAGE_FLUSH_MS: "1000" });
    const since = Date.now();
    // 25 requests, then nothing: each waits for its background work as waitUntil keeps it.
    const burst = await Promise.all(
      Array.from({ length: 25 }, () => sendAndWaitAll("/v1/x", { headers: { "x-api-key": k.key } }, e)),
    );
    expect(burst.map((r) => r.status)).toEqual(Array(25).fill(200));
    expect(usageCounter().armed).toBeNull();
    // At the location's aggregator now; it forwards at the end of its interval (its alarm).
    expect(await totalsWithin(org, 25, 1_000, since)).toMatchObject({ requests: 25, forwarded: 25 });
  });

  it("at most one deferred flush per isolate at a time", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await usageCounter().armed;
    await flush();
    // The isolate's share: 1 s, for three requests in a row on a loaded machine.
    const e = makeEnv({ ADMIN_TOKEN: TOKEN, USAGE_FLUSH_MS: "5000" });
    const since = Date.now();
    await send("/v1/x", { headers: { "x-api-key": k.key } }, e);
    const first = usageCounter().armed;
    expect(first).not.toBeNull();
    await send("/v1/x", { headers: { "x-api-key": k.key } }, e);
    await send("/v1/x", { headers: { "x-api-key": k.key } }, e);
    expect(usageCounter().armed).toBe(first); // the same one: the later requests armed none
    await first;
    expect((await totalsWithin(org, 3, 5_000, since)).requests).toBe(3);
  });

  it("USAGE_FLUSH_MS is capped at what waitUntil can keep alive (a sleep and two flushes' round trips)", () => {
    expect(VARIABLES.USAGE_FLUSH_MS.max + 2 * FLUSH_TIMEOUT_MS).toBeLessThanOrEqual(WAIT_UNTIL_MS);
  });
});

describe("counting", () => {
  it("forwarded and rejected (by status) per key and org; nothing is visible before a flush; all of it after", async () => {
    const org = uniqueOrg();
    const a = await createViaApi({ orgs: [org], credits: { remaining: 3 } });
    const b = await createViaApi({ orgs: [org], allowed_ips: ["192.0.2.0/24"] });
    await flush();
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await hit(a.key)).status);
    statuses.push(
      (await hit(b.key, { "cf-connecting-ip": "192.0.2.1" })).status,
      (await hit(b.key, { "cf-connecting-ip": "10.0.0.1" })).status,
    );
    statuses.push((await hit(unknownKey())).status); // no known key: not counted
    expect(statuses).toEqual([200, 200, 200, 429, 429, 200, 403, 401]);
    await flush();
    const all = await usage(`org=${org}`);
    expect(all.res.status).toBe(200);
    expect(all.json.totals).toEqual({
      requests: 7,
      forwarded: 4,
      rejected: 3,
      rejected_by_status: { "403": 1, "429": 2 },
    });
    const onlyA = await usage(`org=${org}&key=${a.id}`);
    expect(onlyA.json.totals).toEqual({ requests: 5, forwarded: 3, rejected: 2, rejected_by_status: { "429": 2 } });
    expect(all.json.series.reduce((n: number, s: { requests: number }) => n + s.requests, 0)).toBe(7);
  });

  it("exact under concurrency: 50 requests at once with 20 credits → 20 forwarded, 30 rejected", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org], credits: { remaining: 20 } });
    const res = await Promise.all(Array.from({ length: 50 }, () => hit(k.key)));
    expect(res.filter((r) => r.status === 200)).toHaveLength(20);
    await flush();
    expect((await usage(`org=${org}&key=${k.id}`)).json.totals).toEqual({
      requests: 50,
      forwarded: 20,
      rejected: 30,
      rejected_by_status: { "429": 30 },
    });
  });

  it("a revoked key's refusals are counted; the request's org is the one it acted for", async () => {
    const org1 = uniqueOrg();
    const org2 = uniqueOrg();
    const k = await createViaApi({ orgs: [org1, org2] });
    await api("DELETE", `/_keygate/keys/${k.id}`);
    expect((await hit(k.key)).status).toBe(401);
    await flush();
    expect((await usage(`org=${org1}`)).json.totals).toMatchObject({
      requests: 1,
      rejected: 1,
      rejected_by_status: { "401": 1 },
    });
    expect((await usage(`org=${org2}`)).json.totals.requests).toBe(0);
  });

  it("flushes by itself once due, from a request, in the background (the isolate's interval and the aggregator's over)", async () => {
    let now = Date.now();
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await flush(); // starts the interval now
    await hit(k.key);
    await hit(k.key);
    expect((await usage(`org=${org}`)).json.totals.requests).toBe(0); // pending in the isolate
    now += 10_000;
    await hit(k.key); // due: this request's waitUntil flushes all three
    expect((await usage(`org=${org}`)).json.totals.requests).toBe(3);
  });

  it("a flush that fails is kept and delivered with the next one, exactly once", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await flush();
    await hit(k.key);
    const real = env.USAGE_STORE!;
    let calls = 0;
    // The flush goes to the location's aggregator (which forwards to the org's store).
    const flaky = {
      idFromName: (n: string) => real.idFromName(n),
      get: (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
        const stub = real.get(id, options);
        // The first delivery reaches the object but its answer is lost.
        return {
          collect: async (b: unknown, timing: never, where: never) => {
            await stub.collect(b as never, timing, where);
            if (calls++ === 0) throw new Error("answer lost");
          },
        };
      },
    } as unknown as DurableObjectNamespace<UsageStore>;
    vi.spyOn(console, "log").mockImplementation(() => {});
    await flushUsage(flaky, usageCounter(), clock.now(), () => {});
    await flushUsage(flaky, usageCounter(), clock.now(), () => {});
    await deliverUsage(); // the location's aggregator forwards what it took
    expect((await usage(`org=${org}`)).json.totals.requests).toBe(1);
  });

  it("the object adds a batch id once", async () => {
    const stub = env.USAGE_STORE!.get(env.USAGE_STORE!.idFromName(uniqueOrg()));
    await runInDurableObject(stub, (store: UsageStore) => {
      const batch = {
        id: "b1",
        rows: [{ minute: 100, key_id: "key_aaaaaaaaaaaaaaaaaaaa", status: 200, forwarded: true, count: 2 }],
      };
      expect(store.add(batch)).toBe(true);
      expect(store.add(batch)).toBe(false);
      expect(store.query(null, 0, 200, 1)).toEqual([{ start: 100 * 60_000, requests: 2, forwarded: 2, rejected: 0 }]);
    });
  });
});

describe("GET /_keygate/usage", () => {
  it("series per minute, hour or day over from/to, aligned, dense (zeros included)", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    const t0 = Date.UTC(2026, 5, 1, 10, 30, 15);
    let now = t0;
    vi.spyOn(clock, "now").mockImplementation(() => now);
    await hit(k.key);
    now = t0 + 2 * 60_000;
    await hit(k.key);
    await hit(k.key);
    await flush();
    const minutes = await usage(`org=${org}&from=2026-06-01T10:30:00Z&to=2026-06-01T10:34:00Z&granularity=minute`);
    expect(minutes.json.series.map((s: { start: string; requests: number }) => [s.start, s.requests])).toEqual([
      ["2026-06-01T10:30:00.000Z", 1],
      ["2026-06-01T10:31:00.000Z", 0],
      ["2026-06-01T10:32:00.000Z", 2],
      ["2026-06-01T10:33:00.000Z", 0],
    ]);
    const hours = await usage(`org=${org}&from=2026-06-01T09:15:00Z&to=2026-06-01T11:00:00Z&granularity=hour`);
    expect(hours.json).toMatchObject({
      from: "2026-06-01T09:00:00.000Z",
      to: "2026-06-01T11:00:00.000Z",
      granularity: "hour",
    });
    expect(hours.json.series).toEqual([
      { start: "2026-06-01T09:00:00.000Z", requests: 0, forwarded: 0, rejected: 0 },
      { start: "2026-06-01T10:00:00.000Z", requests: 3, forwarded: 3, rejected: 0 },
    ]);
    const days = await usage(`org=${org}&granularity=day`); // default range: the last 30 days
    expect(days.json.series).toHaveLength(31); // 30 days back from 10:32, rounded out to whole days
    expect(days.json.totals.requests).toBe(3);
    expect(days.res.headers.get("cache-control")).toBe("no-store");
  });

  it("bad input: 400 naming the parameter; 401 without the token; 405 for other methods", async () => {
    for (const [q, field] of [
      ["", "org"],
      ["org=-x", "org"],
      ["org=acme&key=nope", "key"],
      ["org=acme&granularity=week", "granularity"],
      ["org=acme&from=yesterday", "from"],
      ["org=acme&to=2026-13-45T00:00:00Z", "to"],
      ["org=acme&from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "from"],
      ["org=acme&from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z&granularity=minute", "granularity"],
      ["org=acme&limit=5", "limit"],
      ["org=acme&org=globex", "org"],
    ] as const) {
      const { res, json } = await usage(q);
      expect(res.status, q).toBe(400);
      expect(
        json.errors.map((e: { field: string }) => e.field),
        q,
      ).toContain(field);
    }
    expect((await api("GET", "/_keygate/usage?org=acme", { token: null })).res.status).toBe(401);
    const post = await api("POST", "/_keygate/usage?org=acme", { body: {} });
    expect(post.res.status).toBe(405);
    expect(post.res.headers.get("allow")).toBe("GET, HEAD");
  });
});
