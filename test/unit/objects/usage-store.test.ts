/**
 * A location's usage aggregator (src/objects/usage-store.ts, issue 25) on its own: the real
 * objects in workerd. It takes a flush once however often it is sent, forwards everything it
 * holds at most once per interval as one batch per org — earlier when a flush it holds
 * reaches its deadline (its oldest request + USAGE_FLUSH_MS − the round-trip allowance) —
 * and a forward an org's store did not take is resent — same batch id — by its alarm, so
 * every count arrives once. Its answer names the interval the isolate flushes at next.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { usageDeadlineMs, usageForwardMs, usageRecentMs, usageTiming } from "../../../src/config/usage-flush";
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
const flush = (org: string, count: number, oldest?: number): UsageCollect => ({
  id: crypto.randomUUID(),
  ...(oldest === undefined ? {} : { oldest }),
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
/** USAGE_FLUSH_MS = 10 s: forward every 8 s at most, a flush by its oldest request + 9.5 s. */
const F = 10_000;
const TIMING = usageTiming(F);
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
    await a.collect([f], TIMING, w); // forwarded at once: the location never forwarded
    await a.collect([f], TIMING, w); // resent after a lost answer
    expect(await total(org)).toBe(3);
    const g = flush(org, 2);
    await a.collect([g], TIMING, w); // within the interval: held
    await a.collect([g], TIMING, w);
    expect(await total(org)).toBe(3);
    now += usageForwardMs(F);
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
    await a.collect([flush(ok, 4), flush(flaky, 6)], TIMING, w);
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

describe("the deadline: a flush is forwarded by its oldest request + USAGE_FLUSH_MS − the round-trip allowance", () => {
  it("a flush near its deadline makes the aggregator forward before its interval is over; one past it, at once", async () => {
    const t0 = Date.UTC(2030, 0, 3);
    let now = t0;
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const w = where();
    const org = `org-${crypto.randomUUID()}`;
    const a = aggregatorAt(w);
    await a.collect([flush(org, 1, now)], TIMING, w); // the location's first forward: at once
    expect(await total(org)).toBe(1);
    // 1 s later, a flush from an isolate on the long interval: its oldest request came 6 s
    // before, so its deadline (t0 − 5 s + 9.5 s = t0 + 4.5 s) is before the interval's end (t0 + 8 s).
    now = t0 + 1_000;
    await a.collect([flush(org, 2, now - 6_000)], TIMING, w);
    expect(await total(org)).toBe(1); // held: neither the interval nor the deadline is over
    const deadline = t0 + 1_000 - 6_000 + usageDeadlineMs(F);
    expect(deadline).toBeLessThan(t0 + usageForwardMs(F));
    now = deadline - 100;
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await total(org)).toBe(1); // not yet
    now = deadline;
    expect(await runDurableObjectAlarm(a)).toBe(true);
    expect(await total(org)).toBe(3); // forwarded at its deadline, 3.5 s before the interval's end
    // A flush that arrives past its deadline (its isolate waited, or resends it) goes at once,
    // although the last forward was just now.
    await a.collect([flush(org, 4, now - usageDeadlineMs(F) - 1)], TIMING, w);
    expect(await total(org)).toBe(7);
  });
});

describe("the answer: which interval the isolate flushes at next", () => {
  it("long while the isolate is alone in its location, short while another flushed there recently", async () => {
    let now = Date.UTC(2030, 0, 4);
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const w = where();
    const org = `org-${crypto.randomUUID()}`;
    const a = aggregatorAt(w);
    expect(await a.collect([flush(org, 1, now)], TIMING, w, "isolate-a")).toEqual({ interval: "long" });
    now += 1_000;
    expect(await a.collect([flush(org, 1, now)], TIMING, w, "isolate-a")).toEqual({ interval: "long" });
    expect(await a.collect([flush(org, 1, now)], TIMING, w, "isolate-b")).toEqual({ interval: "short" });
    now += 1_000;
    expect(await a.collect([flush(org, 1, now)], TIMING, w, "isolate-a")).toEqual({ interval: "short" });
    // B quiet for longer than "recently": A is alone again.
    now += usageRecentMs(F) + 1;
    expect(await a.collect([flush(org, 1, now)], TIMING, w, "isolate-a")).toEqual({ interval: "long" });
    // An isolate that gives no id (another version) is told the short interval, its start.
    expect(await a.collect([flush(org, 1, now)], TIMING, w)).toEqual({ interval: "short" });
  });
});
