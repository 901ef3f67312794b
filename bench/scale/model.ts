/**
 * The scale model (issue 25, docs/scale.md): from a deployment (colos, isolates per colo,
 * requests per second per isolate, where the traffic comes from), a configuration (which
 * features are on, and how they reach their Durable Objects), the local measurements of
 * `npm run bench` and the published figures of data.ts, it derives Durable Object requests
 * per day, KV reads and writes, Workers requests, the monthly bill, the latency each path
 * adds and the revocation bound.
 *
 * Every derived number is recorded once, with its unit and its formula, in a Ledger: the
 * CLI (bench/scale-model.ts) prints them, `--json` returns them, and the unit tests
 * (test/unit/bench/) check them on hand-computed cases. Pure arithmetic: no I/O.
 *
 * Conventions: rates are per second; D = 86,400 s per day; a billing month is
 * `daysPerMonth` days. A poller (an isolate, or a location sharing one poll) whose
 * requests arrive at rate λ starts a poll at most every P: the next one starts with the
 * first request after P, on average 1/λ later, so it polls 1 / (P + 1/λ) times a second
 * (Poisson arrivals). Keys and orgs are equally popular (uniform): the number of
 * distinct ones among n requests is K·(1 − (1 − 1/K)^n) — the worst case for caching.
 */
import { usageForwardMs, usageIsolateFlushMs, usageRecentMs } from "../../src/config/usage-flush";
import type { Prices, Region } from "./data";
import { inRegionRttMs, REGIONS, RTT_MS } from "./data";

export const DAY_S = 86_400;

// ------------------------------------------------------------------ inputs

export interface Deployment {
  name: string;
  /** L: Cloudflare locations serving traffic. */
  colos: number;
  /** I: isolates per location. */
  isolatesPerColo: number;
  /** r: requests per second per isolate. */
  rpsPerIsolate: number;
  /** Share of traffic (and of locations) by Durable Object region; sums to 1. */
  shares: Record<Region, number>;
  /** Where the single objects live (before issue 25): the feed, and each key's and org's object. */
  primaryRegion: Region;
  /** K: keys carrying the traffic (equally popular). */
  activeKeys: number;
  /** O: organizations those keys belong to (equally popular). */
  orgs: number;
}

export interface Features {
  feed: {
    /** "isolate": every isolate polls the object (before issue 25); "location": one poll per location, shared through the Cache API. */
    mode: "isolate" | "location";
    /** "primary": one object (before issue 25); "regional": a replica per region, each poller asks its own. */
    replicas: "primary" | "regional";
    /** REVOCATION_POLL_MS */
    pollMs: number;
    /** REVOCATION_MAX_STALENESS_MS */
    maxStalenessMs: number;
    /** Key lifecycle changes published per day. */
    changesPerDay: number;
  };
  limits: {
    /** "exact": one object per key or org (before issue 25); "regional": a bucket object per region, rebalanced; "binding": the Rate Limiting binding (per location). */
    mode: "exact" | "regional" | "binding";
    /** Share of requests whose key has a rate_limit. */
    keyShare: number;
    /** Share of requests whose org has a rate limit. */
    orgShare: number;
    /** Regional mode: each bucket reports to its coordinator this often. */
    rebalanceMs: number;
    /** When a bucket stores its count: at every check (the objects before issue 25), or at each rebalance (regional mode: counts kept in memory in between). */
    persist: "check" | "rebalance";
  };
  credits: {
    /** Share of requests whose key has credits. */
    share: number;
    /** "none": every spend asks the key's object (before issue 25); "region": a lease held by a regional object; "isolate": a lease held in the isolate. */
    lease: "none" | "region" | "isolate";
    /** Credits per lease. */
    leaseBlock: number;
    /** When the balance (or a regional lease) is stored: at every spend (before issue 25), or only when a lease is taken or returned. */
    persist: "spend" | "lease";
  };
  usage: {
    /** "isolate": each isolate flushes to each org's object (before issue 25); "location": flushes aggregated per location first; "region": each isolate flushes to its region's shard of the org (merged on read). */
    mode: "isolate" | "location" | "region";
    /**
     * USAGE_FLUSH_MS. Location mode shares it out as keygate does (src/config/usage-flush.ts):
     * the isolates flush every usageIsolateFlushMs, the aggregators forward every usageForwardMs.
     */
    flushMs: number;
  };
  lastUsed: {
    /** "isolate": each isolate writes a key's last use (before issue 25); "location": once per location. */
    mode: "isolate" | "location";
    /** LAST_USED_INTERVAL_MS (0: off) */
    intervalMs: number;
    /** LAST_USED_MAX_WRITES_PER_SECOND */
    maxWritesPerSecond: number;
  };
  cache: {
    /** CACHE_TTL_MS */
    ttlMs: number;
    /** KV_CACHE_TTL_SECONDS */
    kvCacheTtlSeconds: number;
  };
}

/** What `npm run bench` measured on this machine (bench/RESULTS.json), with where each came from. */
export interface LocalInputs {
  /** keygate's own work for a forwarded request, origin stubbed, log off (µs of workerd CPU). */
  gatewayCpuUs: number;
  /** The access-log line (µs of CPU). */
  logCpuUs: number;
  /** The pass-through worker's request, origin stubbed (µs of CPU). */
  passCpuUs: number;
  /** A local Durable Object round trip (µs, wall): the object's service time. */
  objectCallUs: number;
  /** Where each figure came from (a JSON path in RESULTS.json, or the fallback used). */
  sources: Record<"gatewayCpuUs" | "logCpuUs" | "passCpuUs" | "objectCallUs", string>;
}

/** Published figures the arithmetic needs besides prices (data.ts). */
export interface Platform {
  kvHotReadMs: number;
  kvBackendP99Ms: number;
  cacheApiReadMs: number;
  doSoftLimitRps: number;
  kvWritesPerKeyPerSecond: number;
  /** Rows a feed poll reads (src/objects/revocation-feed.ts since(): a replica's heads, MIN, the range). */
  feedRowsReadPerPoll: number;
  /** KV propagation allowance when the feed is down (docs/revocation.md: about 60 s). */
  kvPropagationS: number;
}

export interface ModelInput {
  deployment: Deployment;
  features: Features;
  local: LocalInputs;
  prices: Prices;
  platform: Platform;
}

// ------------------------------------------------------------------ the ledger

export interface Figure {
  id: string;
  value: number;
  unit: string;
  formula: string;
}

/** Every derived number, once, with its unit and formula. */
export class Ledger {
  readonly figures: Figure[] = [];
  readonly #byId = new Map<string, Figure>();

  set(id: string, value: number, unit: string, formula: string): number {
    if (this.#byId.has(id)) throw new Error(`ledger: ${id} set twice`);
    if (Number.isNaN(value)) throw new Error(`ledger: ${id} is NaN (${formula})`);
    const f = { id, value, unit, formula };
    this.figures.push(f);
    this.#byId.set(id, f);
    return value;
  }

  get(id: string): number {
    const f = this.#byId.get(id);
    if (f === undefined) throw new Error(`ledger: no figure ${id}`);
    return f.value;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }
}

// ------------------------------------------------------------------ helpers

/** Distinct items among n draws from k equally likely ones: k·(1 − (1 − 1/k)^n). */
export function distinct(n: number, k: number): number {
  if (k <= 0 || n <= 0) return 0;
  if (k === 1) return 1;
  return k * (1 - (1 - 1 / k) ** n);
}

/** Polls (or flushes) per second of a poller whose requests arrive at `lambda`/s, at most one per `intervalMs`: 1 / (interval + 1/λ). */
export function pollRate(intervalMs: number, lambda: number): number {
  if (lambda <= 0) return 0;
  return 1 / (intervalMs / 1000 + 1 / lambda);
}

/**
 * Flushes per second of a flusher that, once anything arrived, flushes at the end of the
 * interval (the isolate's deferred usage flush; the aggregator's alarm) and, after an empty
 * interval, at the next arrival (Poisson arrivals at `lambda`/s): 1 / (T + e^(−λT)/λ).
 */
export function deferredRate(intervalMs: number, lambda: number): number {
  if (lambda <= 0) return 0;
  const t = intervalMs / 1000;
  return 1 / (t + Math.exp(-lambda * t) / lambda);
}

/** Round trip from a client in `from` to an object in `to`: the table's, or the in-region one when they are the same region. */
export function rtt(from: Region, to: Region): number {
  return from === to ? inRegionRttMs(from) : RTT_MS[from][to];
}

/** A discrete latency distribution: values with probabilities (summing to 1). */
export type Dist = { ms: number; p: number }[];

/** The q-quantile of a discrete distribution: the smallest value whose cumulative probability reaches q. */
export function quantile(dist: Dist, q: number): number {
  const sorted = [...dist].filter((a) => a.p > 0).sort((a, b) => a.ms - b.ms);
  let acc = 0;
  for (const a of sorted) {
    acc += a.p;
    if (acc >= q - 1e-12) return a.ms;
  }
  return sorted.length ? sorted[sorted.length - 1]!.ms : 0;
}

/** The distribution of the sum of two independent ones (atoms merged by value). */
export function convolve(a: Dist, b: Dist): Dist {
  const out = new Map<number, number>();
  for (const x of a)
    for (const y of b) {
      const ms = Math.round((x.ms + y.ms) * 1e6) / 1e6;
      out.set(ms, (out.get(ms) ?? 0) + x.p * y.p);
    }
  return [...out].map(([ms, p]) => ({ ms, p }));
}

/** With probability p the path adds `dist`, else nothing. */
function maybe(p: number, dist: Dist): Dist {
  if (p <= 0) return [{ ms: 0, p: 1 }];
  return [{ ms: 0, p: 1 - p }, ...dist.map((d) => ({ ms: d.ms, p: d.p * p }))];
}

/** Over regions: each region's value, weighted by its traffic share. */
function byRegion(shares: Record<Region, number>, f: (g: Region) => number): Dist {
  return REGIONS.filter((g) => shares[g] > 0).map((g) => ({ ms: f(g), p: shares[g] }));
}

function mean(dist: Dist): number {
  return dist.reduce((a, d) => a + d.ms * d.p, 0);
}

/** Billed active seconds per day of `objects` objects sharing `rps` evenly, each busy `serviceS` per request: objects · min(1, (rps/objects)·t) · D. */
export function activeSecondsPerDay(objects: number, rps: number, serviceS: number): number {
  if (objects <= 0 || rps <= 0) return 0;
  return objects * Math.min(1, (rps / objects) * serviceS) * DAY_S;
}

// ------------------------------------------------------------------ the model

export interface PathLatency {
  /** Share of requests that take this path. */
  share: number;
  /** What the path adds when taken (ms). */
  p50: number;
  p99: number;
}

export interface ModelResult {
  ledger: Ledger;
  /** Per path: cached key, KV read, limit check, credits, freshness wait; and all requests. */
  latency: Record<"cachedKey" | "kvRead" | "limitCheck" | "credits" | "freshnessWait" | "allRequests", PathLatency>;
  /** Capacity checks that fail (an object over its soft limit, a KV key written more than once a second). */
  warnings: string[];
}

export function runModel(input: ModelInput): ModelResult {
  const { deployment: d, features: f, local, prices: $, platform } = input;
  const l = new Ledger();
  const warnings: string[] = [];
  const G = REGIONS.filter((g) => d.shares[g] > 0);
  const shareSum = REGIONS.reduce((a, g) => a + d.shares[g], 0);
  if (Math.abs(shareSum - 1) > 1e-6) throw new Error(`region shares sum to ${shareSum}, not 1`);

  // Deployment
  const L = d.colos;
  const I = d.isolatesPerColo;
  const r = d.rpsPerIsolate;
  const N = l.set("isolates", L * I, "isolates", "N = colos · isolatesPerColo");
  const R = l.set("requestsPerSecond", N * r, "req/s", "R = N · rpsPerIsolate");
  l.set("regionsWithTraffic", G.length, "regions", "regions whose traffic share > 0");
  const workersPerDay = l.set(
    "workers.requestsPerDay",
    R * DAY_S,
    "requests/day",
    "R · D (each request to the Worker; subrequests and object calls are not Workers requests)",
  );

  // Local inputs
  const serviceMs = l.set(
    "local.objectServiceMs",
    local.objectCallUs / 1000,
    "ms",
    `objectCallUs / 1000 (${local.sources.objectCallUs})`,
  );
  const serviceS = serviceMs / 1000;
  const cpuMs = l.set(
    "local.cpuMsPerRequest",
    (local.gatewayCpuUs + local.logCpuUs) / 1000,
    "ms",
    `(gatewayCpuUs + logCpuUs) / 1000 (${local.sources.gatewayCpuUs}; ${local.sources.logCpuUs})`,
  );
  const cachedKeyMs = l.set(
    "local.cachedKeyAddedMs",
    Math.max(0, local.gatewayCpuUs + local.logCpuUs - local.passCpuUs) / 1000,
    "ms",
    `(gatewayCpuUs + logCpuUs − passCpuUs) / 1000 (${local.sources.passCpuUs})`,
  );

  // ---------------------------------------------------------------- revocation feed
  const feedLocation = f.feed.mode === "location";
  const pollers = l.set(
    "feed.pollers",
    feedLocation ? L : N,
    "pollers",
    feedLocation ? "location mode: one poller per location = colos" : "isolate mode: every isolate polls = N",
  );
  const pollerRps = l.set(
    "feed.pollerRequestRate",
    feedLocation ? I * r : r,
    "req/s",
    feedLocation ? "λ = isolatesPerColo · rpsPerIsolate (a location's traffic)" : "λ = rpsPerIsolate",
  );
  const perPoller = l.set(
    "feed.pollsPerPollerPerSecond",
    pollRate(f.feed.pollMs, pollerRps),
    "polls/s",
    "1 / (pollMs/1000 + 1/λ)",
  );
  const polls = l.set("feed.pollsPerSecond", pollers * perPoller, "polls/s", "pollers · pollsPerPollerPerSecond");
  const replicas = l.set(
    "feed.objects",
    f.feed.replicas === "regional" ? G.length : 1,
    "objects",
    f.feed.replicas === "regional" ? "one replica per region with traffic" : "one RevocationFeed object",
  );
  const publishRps = l.set(
    "feed.publishRequestsPerSecond",
    (f.feed.changesPerDay / DAY_S) * replicas,
    "req/s",
    "changesPerDay / D · feed.objects (a publish stores the change in every replica)",
  );
  const feedPerDay = l.set(
    "feed.doRequestsPerDay",
    (polls + publishRps) * DAY_S,
    "requests/day",
    "(pollsPerSecond + publishRequestsPerSecond) · D",
  );
  const feedPeak = l.set(
    "feed.peakObjectRps",
    f.feed.replicas === "regional" ? Math.max(...G.map((g) => polls * d.shares[g])) : polls + publishRps,
    "req/s",
    f.feed.replicas === "regional"
      ? "max over regions of pollsPerSecond · share(region)"
      : "pollsPerSecond + publishRequestsPerSecond (all on one object)",
  );
  if (feedPeak > platform.doSoftLimitRps)
    warnings.push(
      `feed: ${Math.round(feedPeak)} requests/s on one object, over the soft limit of ${platform.doSoftLimitRps}/s`,
    );
  l.set(
    "feed.activeSecondsPerDay",
    f.feed.replicas === "regional"
      ? G.reduce((a, g) => a + activeSecondsPerDay(1, polls * d.shares[g], serviceS), 0)
      : activeSecondsPerDay(1, polls + publishRps, serviceS),
    "s/day",
    "Σ objects min(1, requests/s · objectServiceMs/1000) · D",
  );
  const feedRowsRead = l.set(
    "feed.rowsReadPerDay",
    polls * platform.feedRowsReadPerPoll * DAY_S,
    "rows/day",
    "pollsPerSecond · feedRowsReadPerPoll · D",
  );
  const feedRowsWritten = l.set(
    "feed.rowsWrittenPerDay",
    f.feed.changesPerDay * replicas * 2 + (f.feed.replicas === "regional" ? f.feed.changesPerDay * replicas * 2 : 0),
    "rows/day",
    f.feed.replicas === "regional"
      ? "changesPerDay · feed.objects · 2 (the insert, and its prune 24 h later) + changesPerDay · feed.objects · 2 (each replica's head, and the primary's note of it)"
      : "changesPerDay · feed.objects · 2 (the insert, and its prune 24 h later)",
  );

  // Freshness wait: a request waits when its isolate has not seen a poll start within maxStaleness.
  const pIsolateStale = l.set(
    "feed.pIsolateStale",
    Math.exp((-r * f.feed.maxStalenessMs) / 1000),
    "probability",
    "exp(−rpsPerIsolate · maxStalenessMs/1000): no request in the isolate for maxStaleness",
  );
  const pObjectWait = l.set(
    "feed.pWaitForObject",
    feedLocation ? Math.exp((-I * r * f.feed.maxStalenessMs) / 1000) : pIsolateStale,
    "probability",
    feedLocation
      ? "exp(−isolatesPerColo · rpsPerIsolate · maxStalenessMs/1000): the whole location was quiet"
      : "= pIsolateStale",
  );
  const pCacheOnly = l.set(
    "feed.pWaitForCacheOnly",
    feedLocation ? Math.max(0, pIsolateStale - pObjectWait) : 0,
    "probability",
    feedLocation
      ? "pIsolateStale − pWaitForObject: the location's shared poll is fresh"
      : "0 (isolate mode has no shared poll)",
  );
  const feedRtt = (g: Region) => (f.feed.replicas === "regional" ? rtt(g, g) : rtt(g, d.primaryRegion));
  const cacheRead = feedLocation ? platform.cacheApiReadMs : 0;
  const freshnessObject: Dist = byRegion(d.shares, (g) => cacheRead + feedRtt(g) + serviceMs);
  const freshness: Dist = [
    ...(pCacheOnly > 0 ? [{ ms: cacheRead, p: pCacheOnly }] : []),
    ...freshnessObject.map((x) => ({ ms: x.ms, p: x.p * pObjectWait })),
    { ms: 0, p: 1 - pCacheOnly - pObjectWait },
  ];

  // ---------------------------------------------------------------- rate limits
  const limitedKeys = l.set("limits.limitedKeys", d.activeKeys * f.limits.keyShare, "keys", "activeKeys · keyShare");
  const limitedOrgs = l.set("limits.limitedOrgs", d.orgs * f.limits.orgShare, "orgs", "orgs · orgShare");
  const keyChecks = l.set("limits.keyChecksPerSecond", R * f.limits.keyShare, "checks/s", "R · keyShare");
  const orgChecks = l.set("limits.orgChecksPerSecond", R * f.limits.orgShare, "checks/s", "R · orgShare");
  const checks = keyChecks + orgChecks;
  const limitObjects = limitedKeys + limitedOrgs;
  let limitRps: number;
  let limitRebalance = 0;
  let limitActive: number;
  let limitPeak: number;
  let limitLatency: Dist;
  if (f.limits.mode === "exact") {
    limitRps = l.set(
      "limits.doRequestsPerSecond",
      checks,
      "req/s",
      "exact: keyChecksPerSecond + orgChecksPerSecond (one object call per check)",
    );
    l.set("limits.objects", limitObjects, "objects", "exact: limitedKeys + limitedOrgs");
    limitActive = activeSecondsPerDay(limitObjects, checks, serviceS);
    limitPeak = Math.max(limitedKeys > 0 ? keyChecks / limitedKeys : 0, limitedOrgs > 0 ? orgChecks / limitedOrgs : 0);
    limitLatency = byRegion(d.shares, (g) => rtt(g, d.primaryRegion) + serviceMs);
  } else if (f.limits.mode === "regional") {
    // A bucket reports at a rebalance only if it saw traffic since the last one.
    const T = f.limits.rebalanceMs / 1000;
    const reporting = (objects: number, rps: number) =>
      objects > 0 ? G.reduce((a, g) => a + objects * (1 - Math.exp(-(rps / objects) * d.shares[g] * T)), 0) : 0;
    const rebalance = (limitRebalance = l.set(
      "limits.rebalanceRequestsPerSecond",
      (reporting(limitedKeys, keyChecks) + reporting(limitedOrgs, orgChecks)) / T,
      "req/s",
      "Σ regions Σ keys and orgs (1 − e^(−checks per object · share · T)) / T, T = rebalanceMs/1000: each bucket that saw traffic reports once per T",
    ));
    limitRps = l.set(
      "limits.doRequestsPerSecond",
      checks + rebalance,
      "req/s",
      "regional: checks (to the region's bucket) + rebalanceRequestsPerSecond",
    );
    l.set(
      "limits.objects",
      limitObjects * (G.length + 1),
      "objects",
      "regional: (limitedKeys + limitedOrgs) · (regionsWithTraffic + 1 coordinator)",
    );
    limitActive =
      G.reduce((a, g) => a + activeSecondsPerDay(limitObjects, checks * d.shares[g], serviceS), 0) +
      activeSecondsPerDay(limitObjects, rebalance, serviceS);
    limitPeak = Math.max(
      ...G.map((g) =>
        Math.max(
          limitedKeys > 0 ? (keyChecks * d.shares[g]) / limitedKeys : 0,
          limitedOrgs > 0 ? (orgChecks * d.shares[g]) / limitedOrgs : 0,
        ),
      ),
    );
    limitLatency = byRegion(d.shares, (g) => rtt(g, g) + serviceMs);
  } else {
    limitRps = l.set(
      "limits.doRequestsPerSecond",
      0,
      "req/s",
      "binding: the Rate Limiting binding, no object call (its price and latency are not published: counted as none)",
    );
    l.set("limits.objects", 0, "objects", "binding: none");
    limitActive = 0;
    limitPeak = 0;
    limitLatency = [{ ms: 0, p: 1 }];
  }
  l.set(
    "limits.peakObjectRps",
    limitPeak,
    "req/s",
    "the busiest object: a key's (or org's) checks ÷ its objects, in the busiest region for regional mode",
  );
  if (limitPeak > platform.doSoftLimitRps)
    warnings.push(
      `limits: ${Math.round(limitPeak)} requests/s on one key's or org's object, over the soft limit of ${platform.doSoftLimitRps}/s`,
    );
  const limitPerDay = l.set(
    "limits.doRequestsPerDay",
    limitRps * DAY_S,
    "requests/day",
    "limits.doRequestsPerSecond · D",
  );
  l.set(
    "limits.activeSecondsPerDay",
    limitActive,
    "s/day",
    "Σ objects min(1, requests/s per object · objectServiceMs/1000) · D",
  );
  const perRebalance = f.limits.mode === "regional" && f.limits.persist === "rebalance";
  const limitRowsWritten = l.set(
    "limits.rowsWrittenPerDay",
    (perRebalance ? limitRebalance : limitRps) * DAY_S,
    "rows/day",
    perRebalance
      ? "a row written per rebalance (counts kept in memory between): rebalanceRequestsPerSecond · D"
      : "a row written (storage put) per object call: doRequestsPerSecond · D",
  );

  // ---------------------------------------------------------------- credits
  const spends = l.set("credits.spendsPerSecond", R * f.credits.share, "spends/s", "R · creditShare");
  const creditKeys = l.set("credits.keys", d.activeKeys * f.credits.share, "keys", "activeKeys · creditShare");
  const B = f.credits.leaseBlock;
  let creditRps: number;
  let creditActive: number;
  let creditLatency: Dist;
  if (f.credits.lease === "none") {
    creditRps = l.set(
      "credits.doRequestsPerSecond",
      spends,
      "req/s",
      "no lease: one call to the key's object per spend",
    );
    creditActive = activeSecondsPerDay(creditKeys, spends, serviceS);
    creditLatency = byRegion(d.shares, (g) => rtt(g, d.primaryRegion) + serviceMs);
  } else if (f.credits.lease === "region") {
    creditRps = l.set(
      "credits.doRequestsPerSecond",
      spends * (1 + 2 / B),
      "req/s",
      "region lease: spendsPerSecond · (1 + 2/leaseBlock) — a call to the region's lease holder per spend, a lease taken and returned per block",
    );
    creditActive =
      G.reduce((a, g) => a + activeSecondsPerDay(creditKeys, spends * d.shares[g], serviceS), 0) +
      activeSecondsPerDay(creditKeys, (spends * 2) / B, serviceS);
    // One spend in leaseBlock finds the lease empty and waits for the next one from the key's object (synchronous refill: the worst case).
    creditLatency = G.flatMap((g) => [
      { ms: rtt(g, g) + serviceMs, p: d.shares[g] * (1 - 1 / B) },
      { ms: rtt(g, g) + serviceMs + rtt(g, d.primaryRegion) + serviceMs, p: d.shares[g] / B },
    ]);
  } else {
    creditRps = l.set(
      "credits.doRequestsPerSecond",
      (spends * 2) / B,
      "req/s",
      "isolate lease: spendsPerSecond · 2/leaseBlock — a lease taken and returned per block, spends are local",
    );
    creditActive = activeSecondsPerDay(creditKeys, (spends * 2) / B, serviceS);
    creditLatency = [
      { ms: 0, p: 1 - 1 / B },
      ...byRegion(d.shares, (g) => rtt(g, d.primaryRegion) + serviceMs).map((x) => ({ ms: x.ms, p: x.p / B })),
    ];
    l.set(
      "credits.strandedBound",
      N * B,
      "credits",
      "isolates · leaseBlock: credits an evicted isolate may take with it (until its lease expires)",
    );
  }
  const creditPerDay = l.set(
    "credits.doRequestsPerDay",
    creditRps * DAY_S,
    "requests/day",
    "credits.doRequestsPerSecond · D",
  );
  l.set(
    "credits.activeSecondsPerDay",
    creditActive,
    "s/day",
    "Σ objects min(1, requests/s per object · objectServiceMs/1000) · D",
  );
  const leaseOnly = f.credits.lease !== "none" && f.credits.persist === "lease";
  const creditRowsWritten = l.set(
    "credits.rowsWrittenPerDay",
    (leaseOnly ? (spends * 2) / B : creditRps) * DAY_S,
    "rows/day",
    leaseOnly
      ? "a row written per lease taken or returned: spendsPerSecond · 2/leaseBlock · D"
      : "a row written (storage put) per object call: doRequestsPerSecond · D",
  );

  // ---------------------------------------------------------------- usage
  // isolate: every isolate flushes one batch per org to the org's store; region: to its
  // region's shard of the org; location: every isolate flushes once (all its orgs) to its
  // location's aggregator, which forwards one batch per org per interval to the org's store.
  const usageLocation = f.usage.mode === "location";
  const usageRegion = f.usage.mode === "region";
  const flushers = l.set(
    "usage.flushers",
    N,
    "flushers",
    usageLocation
      ? "every isolate flushes, to its location's aggregator = N"
      : usageRegion
        ? "region mode: every isolate, to its region's shard = N"
        : "isolate mode: every isolate = N",
  );
  // A request that leaves counts pending arms a deferred flush at the interval's end, so an
  // isolate flushes every interval while it has traffic, and after a quiet one at its next request.
  // Location mode: USAGE_FLUSH_MS shared out between the two hops (src/config/usage-flush.ts),
  // the isolate's interval adaptive: short while other isolates of its location flush to the
  // aggregator, long while it is alone there; each flush forwarded by its deadline.
  const isolateFlushMs = l.set(
    "usage.isolateFlushMs",
    usageLocation ? usageIsolateFlushMs(f.usage.flushMs) : f.usage.flushMs,
    "ms",
    usageLocation
      ? "flushMs / 5 (src/config/usage-flush.ts: the isolate's short interval, while other isolates of its location flush)"
      : "flushMs (the isolate's flush is the only hop)",
  );
  const isolateLongFlushMs = usageLocation
    ? l.set(
        "usage.isolateLongFlushMs",
        usageIsolateFlushMs(f.usage.flushMs, "long"),
        "ms",
        "flushMs · 3/5 (src/config/usage-flush.ts: the isolate's long interval, while it is alone in its location)",
      )
    : 0;
  const forwardMs = usageLocation
    ? l.set(
        "usage.forwardMs",
        usageForwardMs(f.usage.flushMs),
        "ms",
        "flushMs − usage.isolateFlushMs (src/config/usage-flush.ts: the rest of USAGE_FLUSH_MS, four fifths)",
      )
    : 0;
  l.set(
    "usage.boundMs",
    f.usage.flushMs,
    "ms",
    usageLocation
      ? "flushMs: every flush forwarded by its oldest request + flushMs − a round-trip allowance, whatever the isolate's interval; + two round trips (to the aggregator, to the org's store)"
      : "usage.isolateFlushMs: a request is in GET /usage within it + one round trip (to the org's store)",
  );
  // Location mode: the share of flushes made alone (told the long interval): no other isolate
  // of the location flushed within usageRecentMs — taken as none of them had a request then.
  const pAlone = usageLocation
    ? l.set(
        "usage.pAlone",
        I <= 1 ? 1 : Math.exp((-(I - 1) * r * usageRecentMs(f.usage.flushMs)) / 1000),
        "share",
        "1 with one isolate per location, else e^(−(isolatesPerColo − 1) · rpsPerIsolate · recent/1000), recent = flushMs (src/config/usage-flush.ts usageRecentMs)",
      )
    : 0;
  const shortRate = deferredRate(isolateFlushMs, r);
  const longRate = usageLocation ? deferredRate(isolateLongFlushMs, r) : 0;
  const perFlusher = l.set(
    "usage.flushesPerFlusherPerSecond",
    usageLocation ? pAlone * longRate + (1 - pAlone) * shortRate : shortRate,
    "flushes/s",
    usageLocation
      ? "pAlone · D(usage.isolateLongFlushMs) + (1 − pAlone) · D(usage.isolateFlushMs), D(T) = 1 / (T + e^(−λT)/λ), λ = rpsPerIsolate (the deferred flush)"
      : "1 / (T + e^(−λT)/λ), T = usage.isolateFlushMs/1000, λ = rpsPerIsolate (the deferred flush)",
  );
  const isolateWindow = r / perFlusher;
  const orgsPerFlush = l.set(
    "usage.orgsPerFlush",
    distinct(isolateWindow, d.orgs),
    "orgs",
    "distinct(n, orgs), n = λ / flushesPerFlusherPerSecond requests per isolate flush window",
  );
  // The aggregator forwards at the end of an interval in which a flush arrived (its alarm),
  // or at once for the first flush after a quiet one: the same rule, over its isolates'
  // flushes on the short interval. A flush made alone is forwarded by itself: its deadline
  // (3.5 s after it arrives, at the defaults) comes before the isolate's next flush (6 s).
  const forwardsPerLocation = usageLocation
    ? I * pAlone * longRate + deferredRate(forwardMs, I * (1 - pAlone) * shortRate)
    : 0;
  // What reaches each org's store, and how often: from every isolate, or one per location.
  const storeWindow = usageLocation ? (I * r) / forwardsPerLocation : isolateWindow;
  const storeOrgsPerBatch = usageLocation ? distinct(storeWindow, d.orgs) : orgsPerFlush;
  let usageRps: number;
  let storeRps: number;
  let aggregatorRows = 0;
  if (usageLocation) {
    const collects = l.set(
      "usage.collectsPerSecond",
      flushers * perFlusher,
      "req/s",
      "N · flushesPerFlusherPerSecond (one call per isolate flush, all its orgs, to its location's aggregator)",
    );
    l.set("usage.forwarders", L, "aggregators", "one aggregator per location = colos");
    storeRps = l.set(
      "usage.forwardsPerSecond",
      L * forwardsPerLocation * storeOrgsPerBatch,
      "req/s",
      "colos · (isolatesPerColo · pAlone · D(long) + 1 / (T + e^(−μT)/μ)) · distinct(location window, orgs): a flush made alone forwarded by itself; the others at most once per T = usage.forwardMs/1000, μ = isolatesPerColo · (1 − pAlone) · D(short) (the aggregator's alarm); one batch per org per forward",
    );
    usageRps = l.set(
      "usage.doRequestsPerSecond",
      collects + storeRps,
      "req/s",
      "usage.collectsPerSecond + usage.forwardsPerSecond",
    );
    // Aggregator rows: per isolate flush one row (stored, deleted once forwarded: 2 writes);
    // per forward of a location its note (with its time) and the note's end: 3 writes.
    aggregatorRows = l.set(
      "usage.aggregatorRowsPerSecond",
      collects * 2 + L * forwardsPerLocation * 3,
      "rows/s",
      "collectsPerSecond · 2 + colos · forwards per location (as in usage.forwardsPerSecond) · 3",
    );
  } else {
    storeRps = usageRps = l.set(
      "usage.doRequestsPerSecond",
      flushers * perFlusher * orgsPerFlush,
      "req/s",
      "flushers · flushesPerFlusherPerSecond · orgsPerFlush (one call per org per flush)",
    );
  }
  const usagePerOrg = l.set(
    "usage.perOrgObjectRps",
    usageRegion ? Math.max(...G.map((g) => (storeRps * d.shares[g]) / d.orgs)) : storeRps / d.orgs,
    "req/s",
    usageRegion
      ? "the busiest shard: max over regions of usage.doRequestsPerSecond · share / orgs"
      : usageLocation
        ? "usage.forwardsPerSecond / orgs (at most one batch per location per interval)"
        : "usage.doRequestsPerSecond / orgs",
  );
  if (usagePerOrg > platform.doSoftLimitRps)
    warnings.push(
      `usage: ${Math.round(usagePerOrg)} flushes/s on one org's object, over the soft limit of ${platform.doSoftLimitRps}/s`,
    );
  const rowsPerBatch = l.set(
    "usage.rowsPerBatch",
    Math.max(1, distinct(storeWindow, d.activeKeys) / storeOrgsPerBatch),
    "rows",
    usageLocation
      ? "max(1, distinct(location window, activeKeys) / orgs per batch): one row per key of the org in the interval"
      : "max(1, distinct(n, activeKeys) / orgsPerFlush): one row per key of the org in the window",
  );
  const usagePerDay = l.set(
    "usage.doRequestsPerDay",
    usageRps * DAY_S,
    "requests/day",
    "usage.doRequestsPerSecond · D",
  );
  l.set(
    "usage.activeSecondsPerDay",
    usageRegion
      ? G.reduce((a, g) => a + activeSecondsPerDay(d.orgs, storeRps * d.shares[g], serviceS), 0)
      : activeSecondsPerDay(d.orgs, storeRps, serviceS) +
          (usageLocation ? activeSecondsPerDay(L, usageRps - storeRps, serviceS) : 0),
    "s/day",
    usageRegion
      ? "Σ regions orgs · min(1, the shard's requests/s · objectServiceMs/1000) · D"
      : usageLocation
        ? "orgs · min(1, perOrgObjectRps · service) · D + colos · min(1, collects per aggregator · service) · D"
        : "orgs · min(1, perOrgObjectRps · objectServiceMs/1000) · D",
  );
  const usageRowsWritten = l.set(
    "usage.rowsWrittenPerDay",
    (storeRps * (rowsPerBatch + 2) + aggregatorRows) * DAY_S,
    "rows/day",
    usageLocation
      ? "(forwardsPerSecond · (rowsPerBatch + 2: the batch id, and its prune 24 h later) + aggregatorRowsPerSecond) · D"
      : "doRequestsPerSecond · (rowsPerBatch + 2: the batch id, and its prune 24 h later) · D",
  );
  const usageRowsRead = l.set(
    "usage.rowsReadPerDay",
    usageRps * DAY_S,
    "rows/day",
    "one batch-id lookup per call (usage.doRequestsPerSecond · D)",
  );

  // ---------------------------------------------------------------- Durable Objects in total
  const doPerDay = l.set(
    "do.requestsPerDay",
    feedPerDay + limitPerDay + creditPerDay + usagePerDay,
    "requests/day",
    "feed + limits + credits + usage",
  );
  const activePerDay = l.set(
    "do.activeSecondsPerDay",
    l.get("feed.activeSecondsPerDay") +
      l.get("limits.activeSecondsPerDay") +
      l.get("credits.activeSecondsPerDay") +
      l.get("usage.activeSecondsPerDay"),
    "s/day",
    "feed + limits + credits + usage",
  );
  const rowsReadPerDay = l.set(
    "do.rowsReadPerDay",
    feedRowsRead + usageRowsRead,
    "rows/day",
    "feed + usage (limit and credit objects read storage only when they start)",
  );
  const rowsWrittenPerDay = l.set(
    "do.rowsWrittenPerDay",
    feedRowsWritten + limitRowsWritten + creditRowsWritten + usageRowsWritten,
    "rows/day",
    "feed + limits + credits + usage",
  );

  // ---------------------------------------------------------------- Workers KV
  const ttlS = f.cache.ttlMs / 1000;
  const keysPerTtl = l.set(
    "kv.keysPerIsolatePerTtl",
    distinct(r * ttlS, d.activeKeys),
    "keys",
    "distinct(rpsPerIsolate · cacheTtlMs/1000, activeKeys)",
  );
  const readsPerIsolate = l.set(
    "kv.readsPerSecondPerIsolate",
    ttlS > 0 ? keysPerTtl / ttlS : r,
    "reads/s",
    "keysPerIsolatePerTtl / (cacheTtlMs/1000): each key in use read once per TTL",
  );
  const kvReads = l.set("kv.readsPerSecond", N * readsPerIsolate, "reads/s", "N · readsPerSecondPerIsolate");
  const missShare = l.set(
    "kv.missShare",
    r > 0 ? Math.min(1, readsPerIsolate / r) : 0,
    "share",
    "readsPerSecondPerIsolate / rpsPerIsolate",
  );
  const kvReadsPerDay = l.set("kv.readsPerDay", kvReads * DAY_S, "reads/day", "kv.readsPerSecond · D");
  let kvWrites = 0;
  if (f.lastUsed.intervalMs > 0) {
    const intervalS = f.lastUsed.intervalMs / 1000;
    const writers = f.lastUsed.mode === "location" ? L : N;
    const writerRps = f.lastUsed.mode === "location" ? I * r : r;
    const keysPerInterval = l.set(
      "kv.lastUsedKeysPerWriterPerInterval",
      distinct(writerRps * intervalS, d.activeKeys),
      "keys",
      f.lastUsed.mode === "location"
        ? "distinct(isolatesPerColo · rpsPerIsolate · intervalMs/1000, activeKeys)"
        : "distinct(rpsPerIsolate · intervalMs/1000, activeKeys)",
    );
    const perWriter = l.set(
      "kv.lastUsedWritesPerWriterPerSecond",
      Math.min(f.lastUsed.maxWritesPerSecond, keysPerInterval / intervalS),
      "writes/s",
      "min(maxWritesPerSecond, keysPerInterval / (intervalMs/1000))",
    );
    kvWrites = l.set(
      "kv.writesPerSecond",
      writers * perWriter,
      "writes/s",
      f.lastUsed.mode === "location"
        ? "colos · lastUsedWritesPerWriterPerSecond"
        : "N · lastUsedWritesPerWriterPerSecond",
    );
    const perKey = l.set(
      "kv.writesPerKeyPerSecond",
      kvWrites / d.activeKeys,
      "writes/s",
      "kv.writesPerSecond / activeKeys (each key's last-used record)",
    );
    if (perKey > platform.kvWritesPerKeyPerSecond)
      warnings.push(
        `last-used: ${perKey.toFixed(1)} writes/s to each key's last-used record, over KV's ${platform.kvWritesPerKeyPerSecond} write/s per key`,
      );
  } else l.set("kv.writesPerSecond", 0, "writes/s", "last-used tracking off");
  const kvWritesPerDay = l.set(
    "kv.writesPerDay",
    kvWrites * DAY_S + f.feed.changesPerDay,
    "writes/day",
    "kv.writesPerSecond · D + changesPerDay (each change writes its record)",
  );

  // ---------------------------------------------------------------- monthly bill
  const M = $.daysPerMonth;
  const over = (used: number, included: number, perMillion: number) =>
    (Math.max(0, used - included) / 1e6) * perMillion;
  const workersReq = workersPerDay * M;
  const cost = {
    workersBase: l.set("cost.workersBase", $.workersBase, "$/month", "Workers Paid minimum"),
    workersRequests: l.set(
      "cost.workersRequests",
      over(workersReq, $.workersRequestsIncluded, $.workersPerMillionRequests),
      "$/month",
      "max(0, requestsPerDay · daysPerMonth − included) / 1e6 · price",
    ),
    workersCpu: l.set(
      "cost.workersCpu",
      over(workersReq * cpuMs, $.workersCpuMsIncluded, $.workersPerMillionCpuMs),
      "$/month",
      "max(0, requests · cpuMsPerRequest − included) / 1e6 · price",
    ),
    doRequests: l.set(
      "cost.doRequests",
      over(doPerDay * M, $.doRequestsIncluded, $.doPerMillionRequests),
      "$/month",
      "max(0, do.requestsPerDay · daysPerMonth − included) / 1e6 · price",
    ),
    doDuration: l.set(
      "cost.doDuration",
      over(activePerDay * M * $.doMemoryGb, $.doGbSecondsIncluded, $.doPerMillionGbSeconds),
      "$/month",
      "max(0, do.activeSecondsPerDay · daysPerMonth · 0.128 GB − included GB-s) / 1e6 · price",
    ),
    doRowsRead: l.set(
      "cost.doRowsRead",
      over(rowsReadPerDay * M, $.doRowsReadIncluded, $.doPerMillionRowsRead),
      "$/month",
      "max(0, rowsRead · daysPerMonth − included) / 1e6 · price",
    ),
    doRowsWritten: l.set(
      "cost.doRowsWritten",
      over(rowsWrittenPerDay * M, $.doRowsWrittenIncluded, $.doPerMillionRowsWritten),
      "$/month",
      "max(0, rowsWritten · daysPerMonth − included) / 1e6 · price",
    ),
    kvReads: l.set(
      "cost.kvReads",
      over(kvReadsPerDay * M, $.kvReadsIncluded, $.kvPerMillionReads),
      "$/month",
      "max(0, kv.readsPerDay · daysPerMonth − included) / 1e6 · price",
    ),
    kvWrites: l.set(
      "cost.kvWrites",
      over(kvWritesPerDay * M, $.kvWritesIncluded, $.kvPerMillionWrites),
      "$/month",
      "max(0, kv.writesPerDay · daysPerMonth − included) / 1e6 · price",
    ),
  };
  l.set(
    "cost.total",
    Object.values(cost).reduce((a, b) => a + b, 0),
    "$/month",
    "sum of the cost lines (storage of stored data not counted: small)",
  );

  // ---------------------------------------------------------------- latency per path
  // KV read on a miss: half hot (KV's in-memory cache, ≤ kvHotReadMs: "nearly half of all
  // requests"), half from the regional tier (in-region round trip + the backend's p99) —
  // Cloudflare publishes no end-to-end p99 in text.
  const kvRead: Dist = [
    { ms: platform.kvHotReadMs, p: 0.5 },
    ...byRegion(d.shares, (g) => rtt(g, g) + platform.kvBackendP99Ms).map((x) => ({ ms: x.ms, p: x.p * 0.5 })),
  ];
  const pathOf = (share: number, dist: Dist): PathLatency => ({
    share,
    p50: quantile(dist, 0.5),
    p99: quantile(dist, 0.99),
  });
  const pCredit = f.credits.share;
  let all: Dist = [{ ms: cachedKeyMs, p: 1 }];
  all = convolve(all, maybe(missShare, kvRead));
  all = convolve(all, freshness);
  if (f.limits.keyShare > 0) all = convolve(all, maybe(f.limits.keyShare, limitLatency));
  if (f.limits.orgShare > 0) all = convolve(all, maybe(f.limits.orgShare, limitLatency));
  if (pCredit > 0) all = convolve(all, maybe(pCredit, creditLatency));
  const freshnessTaken = freshness.filter((x) => x.ms > 0);
  const freshnessShare = freshnessTaken.reduce((a, x) => a + x.p, 0);
  const latency = {
    cachedKey: pathOf(1, [{ ms: cachedKeyMs, p: 1 }]),
    kvRead: pathOf(missShare, kvRead),
    limitCheck: pathOf(Math.min(1, f.limits.keyShare + f.limits.orgShare), limitLatency),
    credits: pathOf(pCredit, creditLatency),
    freshnessWait: pathOf(
      freshnessShare,
      freshnessShare > 0 ? freshnessTaken.map((x) => ({ ms: x.ms, p: x.p / freshnessShare })) : [{ ms: 0, p: 1 }],
    ),
    allRequests: pathOf(1, all),
  };
  for (const [path, v] of Object.entries(latency)) {
    l.set(`latency.${path}.share`, v.share, "share", `share of requests on the path (${path})`);
    l.set(
      `latency.${path}.p50`,
      v.p50,
      "ms",
      "median of what the path adds, over regions (traffic shares) and sub-cases",
    );
    l.set(`latency.${path}.p99`, v.p99, "ms", "99th percentile of the same");
  }

  // ---------------------------------------------------------------- revocation bound
  l.set(
    "revocation.boundMs",
    f.feed.maxStalenessMs,
    "ms",
    "maxStalenessMs: a request is decided on state from a poll started at most that long before (while the feed answers)",
  );
  l.set(
    "revocation.typicalMs",
    (feedLocation ? 2 * f.feed.pollMs + platform.cacheApiReadMs : f.feed.pollMs) +
      mean(byRegion(d.shares, feedRtt)) +
      serviceMs,
    "ms",
    feedLocation
      ? "2 · pollMs + cacheApiReadMs + mean feed round trip + service (the location's next poll, then the isolate's next read of it)"
      : "pollMs + mean feed round trip + service (the isolate's next poll)",
  );
  l.set(
    "revocation.publishMs",
    rtt(d.primaryRegion, d.primaryRegion) +
      serviceMs +
      (f.feed.replicas === "regional" ? Math.max(...G.map((g) => rtt(d.primaryRegion, g))) + serviceMs : 0),
    "ms",
    f.feed.replicas === "regional"
      ? "admin → primary (in-region) + service + max over replicas of primary → replica + service"
      : "admin → primary (in-region) + service",
  );
  l.set(
    "revocation.feedDownBoundS",
    f.cache.ttlMs / 1000 + f.cache.kvCacheTtlSeconds + platform.kvPropagationS,
    "s",
    "cacheTtlMs/1000 + kvCacheTtlSeconds + KV propagation (docs/revocation.md)",
  );

  return { ledger: l, latency, warnings };
}
