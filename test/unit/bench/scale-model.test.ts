/**
 * The scale model (bench/scale/model.ts, bench/scale-model.ts) on hand-computed cases: its
 * helpers (distinct keys, poll rates, quantiles, round trips), two small deployments worked
 * out by hand — today's design in one region, issue 25's in two — the CLI's arguments and
 * local inputs, and docs/scale.md's generated table against the model's output.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Region } from "../../../bench/scale/data";
import { inRegionRttMs, prices, REGIONS, RTT_MS } from "../../../bench/scale/data";
import type { Deployment, Features, LocalInputs, ModelInput } from "../../../bench/scale/model";
import {
  activeSecondsPerDay,
  convolve,
  DAY_S,
  deferredRate,
  distinct,
  pollRate,
  quantile,
  rtt,
  runModel,
} from "../../../bench/scale/model";
import { LOCAL_FALLBACKS, localInputs, MICRO_CASES, PLATFORM } from "../../../bench/scale/presets";
import {
  buildInput,
  DOC_BEGIN,
  DOC_END,
  DOC_ROWS,
  parseArgs,
  renderDeploymentsMarkdown,
  replaceGenerated,
  UsageError,
} from "../../../bench/scale-model";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const readJson = (file: string): unknown => JSON.parse(readFileSync(path.resolve(ROOT, file), "utf8"));

const only = (entries: Partial<Record<Region, number>>): Record<Region, number> =>
  Object.fromEntries(REGIONS.map((g) => [g, entries[g] ?? 0])) as Record<Region, number>;

const LOCAL: LocalInputs = {
  gatewayCpuUs: 100,
  logCpuUs: 0,
  passCpuUs: 40,
  objectCallUs: 1000,
  sources: { gatewayCpuUs: "test", logCpuUs: "test", passCpuUs: "test", objectCallUs: "test" },
};

function input(d: Partial<Deployment>, f: Features): ModelInput {
  return {
    deployment: {
      name: "test",
      colos: 2,
      isolatesPerColo: 3,
      rpsPerIsolate: 1,
      shares: only({ enam: 1 }),
      primaryRegion: "enam",
      activeKeys: 1,
      orgs: 1,
      ...d,
    },
    features: f,
    local: LOCAL,
    prices: prices(),
    platform: PLATFORM,
  };
}

const TODAY: Features = {
  feed: { mode: "isolate", replicas: "primary", pollMs: 1000, maxStalenessMs: 4000, changesPerDay: 0 },
  limits: { mode: "exact", keyShare: 1, orgShare: 0, rebalanceMs: 10_000, persist: "check" },
  credits: { share: 0, lease: "none", leaseBlock: 10, persist: "spend" },
  usage: { mode: "isolate", flushMs: 10_000 },
  lastUsed: { mode: "isolate", intervalMs: 60_000, maxWritesPerSecond: 10 },
  cache: { ttlMs: 30_000, kvCacheTtlSeconds: 60 },
};

describe("helpers", () => {
  it("distinct: K·(1 − (1 − 1/K)^n)", () => {
    expect(distinct(0, 10)).toBe(0);
    expect(distinct(1, 10)).toBeCloseTo(1, 12);
    expect(distinct(2, 2)).toBeCloseTo(1.5, 12); // 2 · (1 − 1/4)
    expect(distinct(1000, 1)).toBe(1);
    expect(distinct(5, 0)).toBe(0);
  });

  it("pollRate: 1 / (interval + 1/λ)", () => {
    expect(pollRate(1000, 1)).toBeCloseTo(0.5, 12);
    expect(pollRate(10_000, 0.5)).toBeCloseTo(1 / 12, 12);
    expect(pollRate(1000, 0)).toBe(0);
  });

  it("deferredRate (the deferred usage flush, the aggregator's alarm): 1 / (T + e^(−λT)/λ)", () => {
    // Busy: every interval. Quiet: the interval, plus the wait for an arrival after an empty one.
    expect(deferredRate(10_000, 1)).toBeCloseTo(1 / (10 + Math.exp(-10)), 12);
    expect(deferredRate(10_000, 0.1)).toBeCloseTo(1 / (10 + Math.exp(-1) * 10), 12);
    expect(deferredRate(10_000, 100)).toBeCloseTo(0.1, 6);
    expect(deferredRate(1000, 0)).toBe(0);
  });

  it("quantile: the smallest value whose cumulative probability reaches q", () => {
    const d = [
      { ms: 10, p: 0.5 },
      { ms: 0, p: 0.5 },
    ];
    expect(quantile(d, 0.5)).toBe(0);
    expect(quantile(d, 0.51)).toBe(10);
    expect(
      quantile(
        [
          { ms: 1, p: 0.98 },
          { ms: 5, p: 0.01 },
          { ms: 9, p: 0.01 },
        ],
        0.99,
      ),
    ).toBe(5);
  });

  it("convolve: sums of independent atoms", () => {
    const sum = convolve(
      [
        { ms: 1, p: 0.5 },
        { ms: 2, p: 0.5 },
      ],
      [
        { ms: 0, p: 0.5 },
        { ms: 1, p: 0.5 },
      ],
    );
    const byMs = Object.fromEntries(sum.map((a) => [a.ms, a.p]));
    expect(byMs).toEqual({ 1: 0.25, 2: 0.5, 3: 0.25 });
  });

  it("round trips: the published table between regions, a neighbour's inside one", () => {
    expect(rtt("weur", "enam")).toBe(91);
    expect(rtt("enam", "weur")).toBe(89);
    expect(rtt("enam", "enam")).toBe(26); // East US → North Central US
    expect(RTT_MS.apac.oc).toBe(98);
    // sam has no neighbour in the table: the median of [15, 16, 17, 20, 24, 26, 26, 40]
    expect(inRegionRttMs("sam")).toBe(22);
  });

  it("active seconds: objects · min(1, rps per object · service) · D", () => {
    expect(activeSecondsPerDay(1, 3, 0.001)).toBeCloseTo(0.003 * DAY_S, 9);
    expect(activeSecondsPerDay(2, 4000, 0.001)).toBe(2 * DAY_S); // saturated
    expect(activeSecondsPerDay(0, 5, 0.001)).toBe(0);
  });
});

/** An isolate's usage flushes per second at 1 req/s and USAGE_FLUSH_MS = 10 s (the deferred flush): 1 / (10 + e^−10). */
const D = 1 / (10 + Math.exp(-10));

describe("today's design, one region, worked by hand", () => {
  // 2 locations × 3 isolates × 1 req/s, one key, one org, every request rate-limited.
  const { ledger: l, latency, warnings } = runModel(input({}, TODAY));

  it("deployment and feed: 6 isolates polling at 1 / (1 s + 1 s)", () => {
    expect(l.get("isolates")).toBe(6);
    expect(l.get("requestsPerSecond")).toBe(6);
    expect(l.get("workers.requestsPerDay")).toBe(518_400);
    expect(l.get("feed.pollsPerSecond")).toBeCloseTo(3, 12);
    expect(l.get("feed.doRequestsPerDay")).toBeCloseTo(259_200, 6);
    expect(l.get("feed.pIsolateStale")).toBeCloseTo(Math.exp(-4), 12);
    expect(l.get("feed.pWaitForObject")).toBeCloseTo(Math.exp(-4), 12);
  });

  it("limits, usage, KV: one call and one row per check; 6 · 1/(10 + e^−10) flushes a second; one read per key per TTL", () => {
    expect(l.get("limits.doRequestsPerDay")).toBeCloseTo(518_400, 6);
    expect(l.get("limits.rowsWrittenPerDay")).toBeCloseTo(518_400, 6);
    expect(l.get("usage.boundMs")).toBe(10_000); // one hop: the isolate's flush to the org's store
    expect(l.has("usage.forwardMs")).toBe(false);
    expect(l.get("usage.doRequestsPerSecond")).toBeCloseTo(6 * D, 12); // 6 · D · 1 org
    expect(l.get("usage.rowsWrittenPerDay")).toBeCloseTo(6 * D * 3 * DAY_S, 6); // (1 row + 2) per flush
    expect(l.get("do.requestsPerDay")).toBeCloseTo(259_200 + 518_400 + 6 * D * DAY_S, 4);
    expect(l.get("kv.readsPerSecond")).toBeCloseTo(6 / 30, 12);
    expect(l.get("kv.missShare")).toBeCloseTo(1 / 30, 12);
    expect(l.get("kv.writesPerSecond")).toBeCloseTo(6 / 60, 12);
    expect(l.get("kv.writesPerDay")).toBeCloseTo(8_640, 6);
  });

  it("the bill: requests over the 10M included, object requests over the 1M; the rest within what is included", () => {
    expect(l.get("cost.workersRequests")).toBeCloseTo(((15_552_000 - 10_000_000) / 1e6) * 0.3, 9);
    expect(l.get("cost.workersCpu")).toBe(0);
    const doMonth = (259_200 + 518_400 + 6 * D * DAY_S) * 30;
    expect(l.get("cost.doRequests")).toBeCloseTo(((doMonth - 1_000_000) / 1e6) * 0.15, 9);
    expect(l.get("cost.doDuration")).toBe(0);
    expect(l.get("cost.doRowsWritten")).toBe(0);
    expect(l.get("cost.kvReads")).toBe(0);
    expect(l.get("cost.total")).toBeCloseTo(5 + 1.6656 + ((doMonth - 1_000_000) / 1e6) * 0.15, 9);
  });

  it("latency: 0.06 ms of CPU; a limit check is an in-region round trip plus the object; p99 of all requests by hand", () => {
    expect(latency.cachedKey).toEqual({ share: 1, p50: 0.06, p99: 0.06 });
    expect(latency.limitCheck).toEqual({ share: 1, p50: 27, p99: 27 });
    expect(latency.freshnessWait.share).toBeCloseTo(Math.exp(-4), 12);
    expect(latency.freshnessWait.p50).toBe(27);
    expect(latency.kvRead).toEqual({ share: 1 / 30, p50: 1, p99: 31 }); // half hot (1 ms), half in-region 26 + 5
    expect(latency.allRequests.p50).toBeCloseTo(27.06, 9);
    // Above 27.06: +1 (hot read) 1.64%, +31 (cold read) 1.64%, +27 (freshness) 1.77%, and the
    // combinations; from the top, 85.06 (0.03%) then 58.06 (1.64%) cross the 1%.
    expect(latency.allRequests.p99).toBeCloseTo(58.06, 9);
  });

  it("revocation: the bound is the staleness; typically the next poll plus a round trip", () => {
    expect(l.get("revocation.boundMs")).toBe(4000);
    expect(l.get("revocation.typicalMs")).toBeCloseTo(1027, 9);
    expect(l.get("revocation.publishMs")).toBeCloseTo(27, 9);
    expect(l.get("revocation.feedDownBoundS")).toBe(150);
    expect(warnings).toEqual([]);
  });

  it("every figure has a unit and a formula", () => {
    for (const f of l.figures) {
      expect(f.unit, f.id).not.toBe("");
      expect(f.formula, f.id).not.toBe("");
    }
  });
});

describe("issue 25's design, two regions, worked by hand", () => {
  const AFTER: Features = {
    ...TODAY,
    feed: { ...TODAY.feed, mode: "location", replicas: "regional", changesPerDay: DAY_S },
    limits: { ...TODAY.limits, mode: "regional", persist: "rebalance" },
    credits: { share: 1, lease: "region", leaseBlock: 10, persist: "spend" },
    usage: { mode: "location", flushMs: 10_000 },
  };
  const { ledger: l, latency } = runModel(input({ shares: only({ enam: 0.5, weur: 0.5 }) }, AFTER));

  it("feed: one poll per location (λ = 3/s) to its region's replica; a publish reaches both replicas", () => {
    expect(l.get("feed.pollers")).toBe(2);
    expect(l.get("feed.pollsPerSecond")).toBeCloseTo(2 * (1 / (1 + 1 / 3)), 12);
    expect(l.get("feed.objects")).toBe(2);
    expect(l.get("feed.publishRequestsPerSecond")).toBeCloseTo(2, 12);
    expect(l.get("feed.peakObjectRps")).toBeCloseTo(0.75, 12);
    expect(l.get("feed.pWaitForObject")).toBeCloseTo(Math.exp(-12), 15);
    expect(l.get("feed.pWaitForCacheOnly")).toBeCloseTo(Math.exp(-4) - Math.exp(-12), 12);
    // The farthest replica from enam is weur (89 ms): publish = 26 + 1 + 89 + 1.
    expect(l.get("revocation.publishMs")).toBeCloseTo(117, 9);
  });

  it("limits: the region's bucket per check, rebalanced every 10 s, stored at rebalance", () => {
    expect(l.get("limits.rebalanceRequestsPerSecond")).toBeCloseTo(0.2, 12); // 1 key · 2 regions / 10 s
    expect(l.get("limits.doRequestsPerSecond")).toBeCloseTo(6.2, 12);
    expect(l.get("limits.rowsWrittenPerDay")).toBeCloseTo(0.2 * DAY_S, 6);
    expect(latency.limitCheck).toEqual({ share: 1, p50: 16, p99: 27 }); // weur 15 + 1, enam 26 + 1
  });

  it("credits leased to regions in blocks of 10: one spend in ten also waits for the key's object", () => {
    expect(l.get("credits.doRequestsPerSecond")).toBeCloseTo(6 * 1.2, 12);
    // enam 27 (45%), 27 + 26 + 1 (5%); weur 16 (45%), 16 + 91 + 1 (5%)
    expect(latency.credits).toEqual({ share: 1, p50: 27, p99: 108 });
  });

  it("usage: every isolate hands its counts to its location's aggregator; its alarm sends one batch per org per location and interval to the org", () => {
    // USAGE_FLUSH_MS = 10 s shared out (src/config/usage-flush.ts): with company in its
    // location an isolate flushes every 2 s, 1 / (2 + e^−2) times a second at 1 req/s; alone
    // (no other isolate's request in the last 10 s: e^(−2 · 1 · 10) = e^−20 of its flushes)
    // every 6 s, 1 / (6 + e^−6), each such flush forwarded by itself. Each aggregator's other
    // arrivals are its 3 isolates' short flushes, μ = 3 · (1 − e^−20) · 1 / (2 + e^−2), and
    // it forwards them every 8 s: 1 / (8 + e^(−8μ)/μ).
    const D2 = 1 / (2 + Math.exp(-2));
    const D6 = 1 / (6 + Math.exp(-6));
    const alone = Math.exp(-20);
    const perIsolate = alone * D6 + (1 - alone) * D2;
    const mu = 3 * (1 - alone) * D2;
    const forwards = 2 * (3 * alone * D6 + 1 / (8 + Math.exp(-8 * mu) / mu));
    expect(l.get("usage.isolateFlushMs")).toBe(2_000);
    expect(l.get("usage.isolateLongFlushMs")).toBe(6_000);
    expect(l.get("usage.forwardMs")).toBe(8_000);
    expect(l.get("usage.boundMs")).toBe(10_000);
    expect(l.get("usage.pAlone")).toBeCloseTo(alone, 15);
    expect(l.get("usage.flushers")).toBe(6);
    expect(l.get("usage.collectsPerSecond")).toBeCloseTo(6 * perIsolate, 12);
    expect(l.get("usage.forwarders")).toBe(2);
    expect(l.get("usage.forwardsPerSecond")).toBeCloseTo(forwards, 12);
    expect(l.get("usage.doRequestsPerSecond")).toBeCloseTo(6 * perIsolate + forwards, 12);
    expect(l.get("usage.perOrgObjectRps")).toBeCloseTo(forwards, 12);
    // Aggregators: 2 rows per isolate flush, 3 per location forward; the org's store: 1 row + 2 per batch.
    expect(l.get("usage.rowsWrittenPerDay")).toBeCloseTo((6 * perIsolate * 2 + forwards * 3 + forwards * 3) * DAY_S, 6);
  });

  it("usage, one isolate per location: it flushes at the long interval, and each of its flushes is forwarded by itself", () => {
    // 2 locations × 1 isolate × 0.5 req/s: alone, so every 6 s: 1 / (6 + e^(−3)/0.5) =
    // 1 / 6.0996 ≈ 0.16395 flushes a second per isolate. Its flush's deadline (oldest + 9.5 s,
    // 3.5 s after it arrives) comes before its next flush: one forward per flush.
    const r = runModel(
      input({ shares: only({ enam: 0.5, weur: 0.5 }), isolatesPerColo: 1, rpsPerIsolate: 0.5 }, AFTER),
    );
    const D6 = 1 / (6 + Math.exp(-3) / 0.5);
    expect(D6).toBeCloseTo(0.163946, 6);
    expect(r.ledger.get("usage.pAlone")).toBe(1);
    expect(r.ledger.get("usage.collectsPerSecond")).toBeCloseTo(2 * D6, 12);
    expect(r.ledger.get("usage.forwardsPerSecond")).toBeCloseTo(2 * D6, 12); // 1 org
    // 2 + 3 rows at the aggregator, 1 + 2 at the org's store (one key): 8 per flush.
    expect(r.ledger.get("usage.rowsWrittenPerDay")).toBeCloseTo(2 * D6 * 8 * DAY_S, 6);
    // Before the interval adapted (every 2 s, forwards every 8 s at most): more calls and more rows.
    const D2 = 1 / (2 + Math.exp(-1) / 0.5);
    const forwards2 = 2 / (8 + Math.exp(-8 * D2) / D2);
    expect(r.ledger.get("usage.rowsWrittenPerDay")).toBeLessThan((2 * D2 * 2 + forwards2 * 6) * DAY_S);
  });

  it("usage per-region shards: every isolate flushes, the busiest shard gets its region's share", () => {
    const r = runModel(
      input({ shares: only({ enam: 0.5, weur: 0.5 }) }, { ...AFTER, usage: { mode: "region", flushMs: 10_000 } }),
    );
    expect(r.ledger.get("usage.flushers")).toBe(6);
    expect(r.ledger.get("usage.doRequestsPerSecond")).toBeCloseTo(6 * D, 12);
    expect(r.ledger.get("usage.perOrgObjectRps")).toBeCloseTo(3 * D, 12);
  });

  it("isolate leases: two object calls per block, and the credits an evicted isolate may hold", () => {
    const r = runModel(
      input({}, { ...AFTER, credits: { share: 1, lease: "isolate", leaseBlock: 10, persist: "lease" } }),
    );
    expect(r.ledger.get("credits.doRequestsPerSecond")).toBeCloseTo(1.2, 12);
    expect(r.ledger.get("credits.strandedBound")).toBe(60);
    expect(r.latency.credits.p50).toBe(0);
  });

  it("capacity: an object over 1,000 requests a second and a KV key written more than once a second are reported", () => {
    const r = runModel(input({ colos: 300, isolatesPerColo: 10, rpsPerIsolate: 10, activeKeys: 10 }, TODAY));
    expect(r.warnings.some((w) => w.startsWith("feed:"))).toBe(true);
    expect(r.warnings.some((w) => w.startsWith("limits:"))).toBe(true);
    expect(r.warnings.some((w) => w.startsWith("last-used:"))).toBe(true);
  });
});

describe("the CLI's inputs", () => {
  const results = {
    startedAt: "2026-12-01T00:00:00Z",
    micro: {
      workerd: [
        { name: MICRO_CASES.gatewayCpuUs, us: 50, cpuUs: 60 },
        { name: MICRO_CASES.objectCallUs, us: 250, cpuUs: 90 },
      ],
    },
  };

  it("local inputs: CPU cases by cpuUs, the object round trip by wall time; missing cases fall back, saying so", () => {
    const local = localInputs(results, "r.json");
    expect(local.gatewayCpuUs).toBe(60);
    expect(local.objectCallUs).toBe(250);
    expect(local.sources.objectCallUs).toContain('micro.workerd["Durable Object round trip');
    expect(local.logCpuUs).toBe(LOCAL_FALLBACKS.logCpuUs.value);
    expect(local.sources.logCpuUs).toBe(LOCAL_FALLBACKS.logCpuUs.why);
  });

  it("a total rate is divided evenly; flags override the preset", () => {
    const i = buildInput(
      parseArgs(["--preset=small", "--colos=5", "--isolates-per-colo=2", "--total-rps=40", "--limits=binding"]),
      () => results,
    );
    expect(i.deployment.rpsPerIsolate).toBe(4);
    expect(i.features.limits.mode).toBe("binding");
    const r = runModel(i);
    expect(r.ledger.get("limits.doRequestsPerDay")).toBe(0);
    expect(r.latency.limitCheck.p99).toBe(0);
  });

  it("bad arguments are usage errors naming the flag", () => {
    expect(() => parseArgs(["--bogus=1"])).toThrow(UsageError);
    expect(() => buildInput(parseArgs(["--shares=enam:0.5"]), () => results)).toThrow(/sum to 1/);
    expect(() => buildInput(parseArgs(["--key-limit-share=2"]), () => results)).toThrow(/--key-limit-share/);
    expect(() => buildInput(parseArgs(["--total-rps=1", "--rps-per-isolate=1"]), () => results)).toThrow(/not both/);
    expect(() => parseArgs(["--json=1"])).toThrow(/takes no value/);
  });
});

describe("docs/scale.md", () => {
  it("its generated table is the model's output for bench/RESULTS.json (regenerate: npm run scale-model -- --write-doc)", () => {
    const doc = readFileSync(path.join(ROOT, "docs/scale.md"), "utf8");
    const generated = renderDeploymentsMarkdown(readJson);
    expect(doc.includes(DOC_BEGIN) && doc.includes(DOC_END)).toBe(true);
    expect(replaceGenerated(doc, generated)).toBe(doc);
  });

  it("every row of the table names figures of the ledger", () => {
    const r = runModel(buildInput(parseArgs([]), readJson));
    for (const row of DOC_ROWS) {
      for (const id of row.id.split(", ")) {
        if (id.endsWith("*"))
          expect(
            r.ledger.figures.some((f) => f.id.startsWith(id.slice(0, -1))),
            id,
          ).toBe(true);
        else if (!id.startsWith("latency.")) expect(r.ledger.has(id), id).toBe(true);
        else expect(r.ledger.has(`${id}.p50`), id).toBe(true);
      }
    }
  });
});
