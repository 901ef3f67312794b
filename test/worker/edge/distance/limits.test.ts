/**
 * Simulated distance, rate limits and credits (issue 25, docs/limits.md): a `regional`
 * limit is decided in the client's region — its requests never wait for another region,
 * and a burst spread over three regions at once admits at most the documented excess
 * (limit × regions that saw traffic in the window) — while an `exact` one asks the key's own
 * object, wherever it is, and never goes over. Credits are spent from the region's lease:
 * exact across regions, one block at a time from the balance, the unspent rest returned.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../../../src/index";
import type { KeyRateLimiter } from "../../../../src/objects/key-rate-limiter";
import { link } from "../../../../src/objects/link";
import type { Region } from "../../../../src/objects/protocol";
import { LEASE_BLOCK, regionalName } from "../../../../src/objects/protocol";
import { backgroundContext, originCalls, probe } from "../../../support/worker-helpers";
import { createViaApi } from "../../manage/admin/support";
import type { Network } from "./support";
import { HOME, isolateIn, Network as Net, replicasCopied, requestFrom } from "./support";

afterEach(() => vi.restoreAllMocks());
beforeEach(replicasCopied);

const THREE: Region[] = ["weur", "apac", "wnam"];

async function answer(e: Parameters<typeof worker.fetch>[1], req: Request) {
  const { ctx, wait } = backgroundContext(); // a deferred usage flush runs on, unawaited
  const res = await worker.fetch(req, e, ctx);
  await res.arrayBuffer();
  return { res, settled: wait };
}

/** `n` requests at once from each region's isolate; the answers (background work settled after `release`). */
async function burst(net: Network, key: string, regions: Region[], n: number) {
  const isolates = new Map(regions.map((r) => [r, isolateIn(net, r)]));
  const sent = await Promise.all(
    regions.flatMap((r) =>
      Array.from({ length: n }, () =>
        answer(isolates.get(r)!, requestFrom(r, "/x", { headers: { "x-api-key": key } })),
      ),
    ),
  );
  return { isolates, sent, statuses: sent.map((s) => s.res.status) };
}

const ns = () => env.KEY_RATE_LIMITER! as DurableObjectNamespace<KeyRateLimiter>;

describe("a regional limit over three regions", () => {
  it("admits at most limit × regions in a window (the documented excess), none of its requests waiting across regions; after the buckets exchange, every region refuses", async () => {
    const k = await createViaApi({ rate_limit: { limit: 10, period_seconds: 3600 } }); // regional: the default
    const net = new Net();
    net.linkObjects();
    net.hold = true; // every cross-region call — the buckets' exchanges with the key's object too
    const { isolates, sent, statuses } = await burst(net, k.key, THREE, 15);
    // Answered while every cross-region call was held: no request waited for one.
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeLessThanOrEqual(10 * THREE.length); // the documented bound
    expect(allowed).toBeGreaterThanOrEqual(10); // never below the limit itself
    for (const r of THREE) {
      const fromR = sent.slice(THREE.indexOf(r) * 15, THREE.indexOf(r) * 15 + 15).map((s) => s.res.status);
      expect(fromR.filter((s) => s === 200)).toHaveLength(10); // each region on its own is exact
    }
    const gatewayCalls = net.calls.filter((c) => c.by === "gateway" && c.name.startsWith(k.id));
    expect(gatewayCalls.every((c) => c.from === c.to)).toBe(true); // only their own region's bucket
    // The exchanges were waiting across regions; let them go.
    net.release();
    await Promise.all(sent.map((s) => s.settled()));
    for (const r of THREE) await link.to(ns(), regionalName(k.id, r)).syncNow();
    for (const r of THREE) {
      const again = await answer(isolates.get(r)!, requestFrom(r, "/x", { headers: { "x-api-key": k.key } }));
      expect(again.res.status).toBe(429);
      expect(again.res.headers.get("ratelimit")).toBe('"key";r=0;t=' + again.res.headers.get("retry-after"));
      await again.settled();
    }
  });

  it("a region that knows the others' counts admits only what is left of the limit", async () => {
    const k = await createViaApi({ rate_limit: { limit: 10, period_seconds: 3600 } });
    const net = new Net();
    net.linkObjects();
    const first = await burst(net, k.key, ["weur"], 6);
    expect(first.statuses.filter((s) => s === 200)).toHaveLength(6);
    await Promise.all(first.sent.map((s) => s.settled()));
    await link.to(ns(), regionalName(k.id, "weur")).syncNow();
    // apac has not heard of weur's 6 yet: its first request admits, and its exchange brings them.
    const probe = await burst(net, k.key, ["apac"], 1);
    await Promise.all(probe.sent.map((s) => s.settled()));
    await link.to(ns(), regionalName(k.id, "apac")).syncNow();
    const second = await burst(net, k.key, ["apac"], 10);
    expect(second.statuses.filter((s) => s === 200)).toHaveLength(3); // 10 − 6 − 1
  });
});

describe("an exact limit over three regions", () => {
  it("never goes over the limit, and each request asks the key's own object — across regions from all three", async () => {
    const k = await createViaApi({ rate_limit: { limit: 10, period_seconds: 3600, mode: "exact" } });
    const net = new Net();
    net.linkObjects();
    const { sent, statuses } = await burst(net, k.key, THREE, 15);
    await Promise.all(sent.map((s) => s.settled()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    const asked = net.calls.filter((c) => c.by === "gateway" && c.name === k.id);
    expect(asked).toHaveLength(45);
    expect(new Set(asked.map((c) => c.to))).toEqual(new Set([HOME]));
    expect(asked.filter((c) => c.from !== c.to)).toHaveLength(45); // weur, apac and wnam are all far from enam
  });
});

describe("credits over three regions", () => {
  it("exact: 50 credits, 3 × 30 requests at once → exactly 50 forwarded; each region spends from its lease", async () => {
    const k = await createViaApi({ credits: { remaining: 50 } });
    const net = new Net();
    net.linkObjects();
    const { sent, statuses } = await burst(net, k.key, THREE, 30);
    await Promise.all(sent.map((s) => s.settled()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    const spends = net.calls.filter((c) => c.by === "gateway" && c.method === "spendLeased");
    expect(spends).toHaveLength(90);
    expect(spends.every((c) => c.from === c.to)).toBe(true);
  });

  it("a region's spends ask the balance once per block, and what a region leased and did not spend goes back", async () => {
    const k = await createViaApi({ credits: { remaining: 100_000 } });
    const net = new Net();
    net.linkObjects();
    const lhr = isolateIn(net, "weur");
    for (let i = 0; i < 2 * LEASE_BLOCK; i++) {
      const out = await answer(lhr, requestFrom("weur", "/x", { headers: { "x-api-key": k.key } }));
      expect(out.res.status).toBe(200);
      await out.settled();
    }
    const leases = net.calls.filter((c) => c.method === "lease");
    expect(leases.every((c) => c.by === "object" && c.from === "weur" && c.to === HOME)).toBe(true);
    // 200 spends: a block of 100 at a time, taken again when a quarter is left.
    expect(leases.length).toBeGreaterThanOrEqual(2);
    expect(leases.length).toBeLessThanOrEqual(3);
    const balance = link.to(ns(), k.id);
    const creditsOf = { remaining: 100_000, set_at: k.credits.set_at, balance_id: k.id };
    // While leased, the balance counts what the lease held at its last exchange as left: it
    // knows what the region spent up to then (never less), over by less than 1¼ blocks…
    const known = (await balance.balance(creditsOf)).remaining;
    expect(known).toBeGreaterThanOrEqual(100_000 - 2 * LEASE_BLOCK);
    expect(known).toBeLessThan(100_000 - 2 * LEASE_BLOCK + 1.25 * LEASE_BLOCK);
    const returned = await link.to(ns(), regionalName(k.id, "weur")).returnLease();
    expect(returned).toBe(leases.length * LEASE_BLOCK - 2 * LEASE_BLOCK);
    // …and once the lease is back, it is exact: 200 spent, the rest in the balance itself.
    expect((await balance.balance(creditsOf)).remaining).toBe(100_000 - 2 * LEASE_BLOCK);
    expect((await balance.spend(creditsOf)).remaining).toBe(100_000 - 2 * LEASE_BLOCK - 1);
  });
});

describe("report mode (issue 22) with regional limits and leased credits", () => {
  it("decides exactly as enforce mode — the region's bucket, the region's lease, nothing across regions — and spends and counts the same", async () => {
    for (const settings of [
      { rate_limit: { limit: 3, period_seconds: 3600 }, credits: { remaining: 5 } }, // the limit refuses first
      { rate_limit: { limit: 5, period_seconds: 3600 }, credits: { remaining: 2 } }, // the credits do
    ]) {
      const enforced = await createViaApi(settings);
      const reported = await createViaApi(settings);
      const net = new Net();
      net.linkObjects();
      const enforcing = isolateIn(net, "apac");
      const reporting = isolateIn(net, "apac", { ENFORCEMENT: "report" });
      const statuses: number[] = [];
      const verdicts: string[] = [];
      for (let i = 0; i < 8; i++) {
        const a = await answer(enforcing, requestFrom("apac", "/x", { headers: { "x-api-key": enforced.key } }));
        statuses.push(a.res.status);
        await a.settled();
        const id = probe();
        const headers = { "x-api-key": reported.key, "x-probe": id };
        const b = await answer(reporting, requestFrom("apac", "/x", { headers }));
        expect(b.res.status).toBe(200); // never refused: the origin answered
        await b.settled();
        verdicts.push(String((await originCalls(id))[0]!.headers["x-keygate-verdict"]));
      }
      const allowed = Math.min(settings.rate_limit.limit, settings.credits.remaining);
      expect(statuses).toEqual([...Array(allowed).fill(200), ...Array(8 - allowed).fill(429)]);
      expect(verdicts).toEqual(statuses.map((s) => (s === 200 ? "allow" : `deny; reason=rate_limited; status=${s}`)));
      // Only the region's own objects were asked, in both modes.
      const asked = net.calls.filter(
        (c) => c.by === "gateway" && (c.name.startsWith(enforced.id) || c.name.startsWith(reported.id)),
      );
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.every((c) => c.from === c.to)).toBe(true);
      // Spent alike: each lease back, each balance exact.
      const left: number[] = [];
      for (const k of [enforced, reported]) {
        await link.to(ns(), regionalName(k.id, "apac")).returnLease();
        const creditsOf = { remaining: settings.credits.remaining, set_at: k.credits.set_at, balance_id: k.id };
        left.push((await link.to(ns(), k.id).balance(creditsOf)).remaining);
      }
      expect(left).toEqual([settings.credits.remaining - allowed, settings.credits.remaining - allowed]);
      vi.restoreAllMocks();
    }
  });
});
