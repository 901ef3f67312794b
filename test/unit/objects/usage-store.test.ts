/**
 * A location's usage aggregator (src/objects/usage-store.ts, issue 25) on its own: the real
 * objects in workerd. It takes a flush once however often it is sent, forwards everything it
 * holds at most once per interval as one batch per org, and a forward an org's store did not
 * take is resent — same batch id — by its alarm, so every count arrives once.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../src/lib/clock";
import { link } from "../../../src/objects/link";
import type { UsageCollect } from "../../../src/objects/protocol";
import { usageLocationName } from "../../../src/objects/protocol";
import type { UsageStore } from "../../../src/objects/usage-store";

afterEach(() => vi.restoreAllMocks());

const ns = () => env.USAGE_STORE! as DurableObjectNamespace<UsageStore>;
const where = () => ({ colo: `T${crypto.randomUUID().slice(0, 8)}`, region: "weur" as const });
const aggregatorAt = (w: { colo: string; region: "weur" }) =>
  ns().get(ns().idFromName(usageLocationName(w.colo, w.region)));
const storeOf = (org: string) => ns().get(ns().idFromName(org));
const flush = (org: string, count: number): UsageCollect => ({
  id: crypto.randomUUID(),
  batches: [
    {
      org,
      batch: {
        id: crypto.randomUUID(),
        rows: [{ minute: 100, key_id: "key_aggregatoraggreg01", status: 200, forwarded: true, count }],
      },
    },
  ],
});
const total = async (org: string) =>
  (await storeOf(org).query(null, 0, 1_000, 1_000)).reduce((n, b) => n + b.requests, 0);

describe("a location's aggregator", () => {
  it("takes a flush once, before and after forwarding it", async () => {
    let now = Date.UTC(2030, 0, 1);
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const w = where();
    const org = `org-${crypto.randomUUID()}`;
    const a = aggregatorAt(w);
    const f = flush(org, 3);
    await a.collect([f], 10_000, w); // forwarded at once: the location never forwarded
    await a.collect([f], 10_000, w); // resent after a lost answer
    expect(await total(org)).toBe(3);
    const g = flush(org, 2);
    await a.collect([g], 10_000, w); // within the interval: held
    await a.collect([g], 10_000, w);
    expect(await total(org)).toBe(3);
    now += 10_000;
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await total(org)).toBe(5);
  });

  it("a forward an org's store does not take is resent by the alarm with the same batch: each org counts it once", async () => {
    vi.spyOn(clock, "now").mockImplementation(() => Date.UTC(2030, 0, 2));
    const w = where();
    const ok = `org-${crypto.randomUUID()}`;
    const flaky = `org-${crypto.randomUUID()}`;
    type To = (n: DurableObjectNamespace, name: string, from?: string) => unknown;
    const original = link.to.bind(link) as unknown as To;
    let failing = true;
    const added: string[] = [];
    const to: To = (n, name, from) => {
      const stub = original(n, name, from) as UsageStore;
      if (name !== ok && name !== flaky) return stub;
      return {
        add: async (batch: { id: string }) => {
          added.push(`${name} ${batch.id}`);
          if (name === flaky && failing) throw new Error("unreachable (simulated)");
          return stub.add(batch as never);
        },
      };
    };
    (vi.spyOn(link, "to") as unknown as { mockImplementation(f: To): void }).mockImplementation(to);
    const a = aggregatorAt(w);
    await a.collect([flush(ok, 4), flush(flaky, 6)], 10_000, w);
    expect(await total(ok)).toBe(4);
    expect(await total(flaky)).toBe(0);
    failing = false;
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await total(flaky)).toBe(6);
    expect(await total(ok)).toBe(4);
    const flakyIds = added.filter((s) => s.startsWith(flaky)).map((s) => s.split(" ")[1]);
    expect(flakyIds).toHaveLength(2);
    expect(new Set(flakyIds).size).toBe(1); // the same batch, resent
    expect(added.filter((s) => s.startsWith(ok))).toHaveLength(1); // the org that took it is not asked again
  });
});
