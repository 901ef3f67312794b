/**
 * Simulated distance, usage (issue 25, docs/usage.md): every isolate flushes to its own
 * location's aggregator (in its region), and an org's store receives at most one batch per
 * location per USAGE_FLUSH_MS — 20 isolates or 1 — while the counts read back stay exact.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushUsage, UsageCounter } from "../../../../src/edge/usage/counter";
import { clock } from "../../../../src/lib/clock";
import type { Region } from "../../../../src/objects/protocol";
import { usageLocationName } from "../../../../src/objects/protocol";
import type { UsageStore } from "../../../../src/objects/usage-store";
import { api, uniqueOrg } from "../../manage/admin/support";
import { freezeClock } from "../revocation/support";
import { Network, PLACES } from "./support";

afterEach(() => vi.restoreAllMocks());

const FLUSH_MS = 10_000;

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
        { where, flushMs: FLUSH_MS },
      );
    }),
  );
}

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
    advance(FLUSH_MS);
    for (const r of ["weur", "apac"] as const) expect(await runDurableObjectAlarm(aggregator(r))).toBe(true);
    expect(toStore().map((c) => c.from)).toEqual(["weur", "apac", "weur", "apac"]);
    expect(await total(org)).toBe(20 * 3 + 20 * 2); // every request, once

    // 20 more flushes in the next interval: nothing more to the store until it is over…
    await isolatesFlush(net, "weur", org, 20, 1);
    expect(toStore()).toHaveLength(4);
    expect(await total(org)).toBe(100);
    // …then one batch for all of them.
    advance(FLUSH_MS);
    expect(await runDurableObjectAlarm(aggregator("weur"))).toBe(true);
    expect(toStore()).toHaveLength(5);
    expect(await total(org)).toBe(120);
  });
});
