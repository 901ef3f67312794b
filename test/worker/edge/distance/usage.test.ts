/**
 * Simulated distance, usage (issue 25, docs/usage.md): every isolate flushes to its own
 * location's aggregator (in its region), and an org's store receives at most one batch per
 * location per forward interval (four fifths of USAGE_FLUSH_MS) — 20 isolates or 1 — while
 * the counts read back stay exact. A burst's tail needs no later traffic: the isolate's
 * deferred flush goes to the aggregator, whose alarm forwards it, all within USAGE_FLUSH_MS
 * and two round trips (issue 21's bound) — not within one interval per hop.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { usageForwardMs, usageIsolateFlushMs } from "../../../../src/config/usage-flush";
import { flushUsage, UsageCounter, usageCounter } from "../../../../src/edge/usage/counter";
import worker from "../../../../src/index";
import { clock } from "../../../../src/lib/clock";
import type { Region } from "../../../../src/objects/protocol";
import { usageLocationName } from "../../../../src/objects/protocol";
import type { UsageStore } from "../../../../src/objects/usage-store";
import { backgroundContext, deliverUsage } from "../../../support/worker-helpers";
import { api, createViaApi, uniqueOrg } from "../../manage/admin/support";
import { freezeClock } from "../revocation/support";
import { isolateIn, Network, PLACES, requestFrom } from "./support";

afterEach(() => vi.restoreAllMocks());

/** The aggregator's interval at USAGE_FLUSH_MS's default (10 s): 8 s. */
const FORWARD_MS = usageForwardMs(10_000);

/** `isolates` isolates of `region`'s location, each counting `each` requests of `org`, then flushing. */
async function isolatesFlush(net: Network, region: Region, org: string, isolates: number, each: number) {
  const where = { colo: PLACES[region].colo, region };
  const usage = net.bindings(region).USAGE_STORE! as DurableObjectNamespace<UsageStore>;
  await Promise.all(
    Array.from({ length: isolates }, async () => {
      const counter = new UsageCounter();
      for (let i = 0; i < each; i++) counter.count({ org, keyId: "key_usageusageusage01" }, 200, true, clock.now());
      await flushUsage(
        usage,
        counter,
        clock.now(),
        (o, cause) => {
          throw new Error(`${o}: ${cause}`);
        },
        { where, flushMs: 10_000 },
      );
    }),
  );
}

const failed = (org: string, cause: string) => {
  throw new Error(`${org}: ${cause}`);
};
const total = async (org: string) => (await api("GET", `/_keygate/usage?org=${org}`)).json.totals.requests as number;
const aggregator = (region: Region) => {
  const ns = env.USAGE_STORE! as DurableObjectNamespace<UsageStore>;
  return ns.get(ns.idFromName(usageLocationName(PLACES[region].colo, region)));
};

describe("usage from many isolates", () => {
  it("an org's store receives one batch per location per interval, whatever the number of isolates; the counts are exact", async () => {
    const advance = freezeClock();
    const org = uniqueOrg();
    const net = new Network();
    net.linkObjects();
    await isolatesFlush(net, "weur", org, 20, 3);
    await isolatesFlush(net, "apac", org, 20, 2);
    const toStore = () => net.calls.filter((c) => c.method === "add" && c.name === org);
    // Each isolate went to its own location's aggregator, in its region.
    const collects = net.calls.filter((c) => c.method === "collect");
    expect(collects).toHaveLength(40);
    expect(collects.every((c) => c.from === c.to)).toBe(true);
    // The org's store: one batch from each location in this interval (the first isolate's
    // counts went at once; the other 19's wait at the aggregator for the next interval).
    expect(toStore().map((c) => c.from)).toEqual(["weur", "apac"]);
    advance(FORWARD_MS);
    for (const r of ["weur", "apac"] as const) expect(await runDurableObjectAlarm(aggregator(r))).toBe(true);
    expect(toStore().map((c) => c.from)).toEqual(["weur", "apac", "weur", "apac"]);
    expect(await total(org)).toBe(20 * 3 + 20 * 2); // every request, once

    // 20 more flushes in the next interval: nothing more to the store until it is over…
    await isolatesFlush(net, "weur", org, 20, 1);
    expect(toStore()).toHaveLength(4);
    expect(await total(org)).toBe(100);
    // …then one batch for all of them.
    advance(FORWARD_MS);
    expect(await runDurableObjectAlarm(aggregator("weur"))).toBe(true);
    expect(toStore()).toHaveLength(5);
    expect(await total(org)).toBe(120);
  });
});

describe("a burst's tail, no later traffic, through the location's aggregator", () => {
  it("GET /usage counts all 25 within USAGE_FLUSH_MS and two round trips: the isolate's deferred flush (a fifth), then the aggregator's alarm (the rest) — not an interval per hop", async () => {
    const FLUSH = 2_000;
    // Above the two round trips (5 ms to the aggregator, 40 ms to the org's store) and this
    // machine's scheduling; below what one full USAGE_FLUSH_MS per hop would take (2 × FLUSH).
    const SLACK = FLUSH / 2;
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await usageCounter().armed; // one armed by an earlier test, if any
    await deliverUsage(); // a flush just happened: none is due during the burst
    // (A location no other test here uses: the first one moved its aggregators' clock ahead.)
    const net = new Network();
    net.linkObjects();
    const waw = isolateIn(net, "eeur", { USAGE_FLUSH_MS: String(FLUSH) });
    // The worst case: the aggregator forwards another isolate's counts just before the
    // burst's flush reaches it, so the burst waits there for a whole interval. The burst's
    // flush is held on the way until that forward is done.
    net.hold = true;
    net.holdIf = (c) => c.by === "gateway" && c.method === "collect";
    const started = Date.now();
    // 25 requests, answered; their waitUntil runs on (the deferred flush sleeps until due).
    const statuses = await Promise.all(
      Array.from({ length: 25 }, async () => {
        const { ctx, wait } = backgroundContext();
        const res = await worker.fetch(requestFrom("eeur", "/v1/x", { headers: { "x-api-key": k.key } }), waw, ctx);
        await res.arrayBuffer();
        await wait();
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(25).fill(200));
    const armed = usageCounter().armed;
    expect(armed).not.toBeNull();
    // The deferred flush wakes at the isolate's interval after the last flush (a fifth of
    // USAGE_FLUSH_MS, three fifths when its aggregator last found it alone), and is held.
    while (!net.calls.some((c) => c.held && c.method === "collect")) {
      expect(Date.now() - started).toBeLessThan(FLUSH);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(usageIsolateFlushMs(FLUSH) - 50);
    // Another isolate of the location flushes: the aggregator forwards it at once.
    const other = new UsageCounter();
    other.count({ org: uniqueOrg(), keyId: "key_usageusageusage02" }, 200, true, clock.now());
    const where = { colo: PLACES.eeur.colo, region: "eeur" as const };
    await flushUsage(env.USAGE_STORE!, other, clock.now(), failed, { where, flushMs: FLUSH });
    net.release();
    await armed; // the burst's deferred flush, as waitUntil keeps it: at the aggregator now
    expect(await total(org)).toBe(0); // held there until its interval ends (its alarm)
    // Every usage call the gateway made went to its location's aggregator, never to an org's store.
    const fromGateway = net.calls.filter((c) => c.by === "gateway" && (c.method === "collect" || c.method === "add"));
    expect(fromGateway.length).toBeGreaterThan(0);
    expect(fromGateway.every((c) => c.method === "collect" && c.name === usageLocationName("WAW", "eeur"))).toBe(true);
    // No further request: only reads, until the bound.
    let totals = (await api("GET", `/_keygate/usage?org=${org}`)).json.totals;
    while (totals.requests < 25 && Date.now() - started < FLUSH + SLACK) {
      await new Promise((r) => setTimeout(r, 50));
      totals = (await api("GET", `/_keygate/usage?org=${org}`)).json.totals;
    }
    expect(totals).toMatchObject({ requests: 25, forwarded: 25, rejected: 0 });
    expect(Date.now() - started).toBeLessThan(FLUSH + SLACK);
    // The org's store got them from the aggregator (one forward), not from the isolate.
    expect(net.calls.filter((c) => c.method === "add" && c.name === org).map((c) => c.by)).toEqual(["object"]);
  });
});
