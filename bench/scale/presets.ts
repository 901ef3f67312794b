/**
 * The scale model's presets: the three deployments of docs/scale.md and the two designs —
 * "before" (before issue 25: one RevocationFeed object polled by every isolate, exact limits and
 * credits through one object per key or org, one UsageStore per org flushed by every
 * isolate) and "after" (issue 25: a feed replica per region polled once per location through
 * the Cache API, regional limits, credits leased to regions, usage aggregated per location).
 * The "after" columns are the target the implementation must meet. And the local inputs,
 * read from a `npm run bench` results file.
 */
import type { Region } from "./data";
import {
  CACHE_API_READ_MS,
  DEFAULT_SHARES,
  DO_SOFT_LIMIT_RPS,
  KV_BACKEND_P99_MS,
  KV_HOT_READ_MS,
  KV_WRITES_PER_KEY_PER_SECOND,
  PRIMARY_REGION,
} from "./data";
import type { Deployment, Features, LocalInputs, Platform } from "./model";

export type DeploymentName = "small" | "busy" | "large";
export type DesignName = "before" | "after";

export interface DeploymentPreset {
  label: string;
  colos: number;
  isolatesPerColo: number;
  totalRps: number;
  activeKeys: number;
  orgs: number;
  changesPerDay: number;
}

/**
 * The three deployments. Locations and total rates are the issue's; isolates per
 * location, keys, orgs and changes per day are assumptions (printed as inputs).
 */
export const DEPLOYMENTS: Record<DeploymentName, DeploymentPreset> = {
  small: {
    label: "small API: 10 req/s",
    colos: 20,
    isolatesPerColo: 1,
    totalRps: 10,
    activeKeys: 10,
    orgs: 3,
    changesPerDay: 10,
  },
  busy: {
    label: "busy API: 10k req/s from 50 locations",
    colos: 50,
    isolatesPerColo: 4,
    totalRps: 10_000,
    activeKeys: 500,
    orgs: 100,
    changesPerDay: 1_000,
  },
  large: {
    label: "large API: 1M req/s from 300 locations",
    colos: 300,
    isolatesPerColo: 20,
    totalRps: 1_000_000,
    activeKeys: 5_000,
    orgs: 1_000,
    changesPerDay: 10_000,
  },
};

export function deployment(
  name: DeploymentName,
  shares: Record<Region, number> = DEFAULT_SHARES.value,
  primaryRegion: Region = PRIMARY_REGION.value,
): Deployment {
  const p = DEPLOYMENTS[name];
  return {
    name: p.label,
    colos: p.colos,
    isolatesPerColo: p.isolatesPerColo,
    rpsPerIsolate: p.totalRps / (p.colos * p.isolatesPerColo),
    shares,
    primaryRegion,
    activeKeys: p.activeKeys,
    orgs: p.orgs,
  };
}

/**
 * Which requests use which feature: assumptions of an API product, the same for every
 * deployment (printed as inputs; change them with flags).
 */
export const FEATURE_MIX = { keyLimitShare: 0.5, orgLimitShare: 0.25, creditShare: 0.1 };

/** keygate's defaults (src/config/variables.ts) for the settings the model uses. */
export const KEYGATE_DEFAULTS = {
  REVOCATION_POLL_MS: 1_000,
  REVOCATION_MAX_STALENESS_MS: 4_000,
  USAGE_FLUSH_MS: 10_000,
  LAST_USED_INTERVAL_MS: 60_000,
  LAST_USED_MAX_WRITES_PER_SECOND: 10,
  CACHE_TTL_MS: 30_000,
  KV_CACHE_TTL_SECONDS: 60,
};

export function design(name: DesignName, changesPerDay: number): Features {
  const common = {
    cache: { ttlMs: KEYGATE_DEFAULTS.CACHE_TTL_MS, kvCacheTtlSeconds: KEYGATE_DEFAULTS.KV_CACHE_TTL_SECONDS },
    lastUsed: {
      mode: "isolate" as const,
      intervalMs: KEYGATE_DEFAULTS.LAST_USED_INTERVAL_MS,
      maxWritesPerSecond: KEYGATE_DEFAULTS.LAST_USED_MAX_WRITES_PER_SECOND,
    },
  };
  const feed = {
    pollMs: KEYGATE_DEFAULTS.REVOCATION_POLL_MS,
    maxStalenessMs: KEYGATE_DEFAULTS.REVOCATION_MAX_STALENESS_MS,
    changesPerDay,
  };
  if (name === "before") {
    return {
      ...common,
      feed: { ...feed, mode: "isolate", replicas: "primary" },
      limits: {
        mode: "exact",
        keyShare: FEATURE_MIX.keyLimitShare,
        orgShare: FEATURE_MIX.orgLimitShare,
        rebalanceMs: 10_000,
        persist: "check",
      },
      credits: { share: FEATURE_MIX.creditShare, lease: "none", leaseBlock: 100, persist: "spend" },
      usage: { mode: "isolate", flushMs: KEYGATE_DEFAULTS.USAGE_FLUSH_MS },
    };
  }
  return {
    ...common,
    feed: { ...feed, mode: "location", replicas: "regional" },
    // Buckets keep their counts in memory and store them when they rebalance (10 s).
    limits: {
      mode: "regional",
      keyShare: FEATURE_MIX.keyLimitShare,
      orgShare: FEATURE_MIX.orgLimitShare,
      rebalanceMs: 10_000,
      persist: "rebalance",
    },
    // Credits are money: a regional lease holder still stores every spend.
    credits: { share: FEATURE_MIX.creditShare, lease: "region", leaseBlock: 100, persist: "spend" },
    usage: { mode: "location", flushMs: KEYGATE_DEFAULTS.USAGE_FLUSH_MS },
  };
}

export const PLATFORM: Platform = {
  kvHotReadMs: KV_HOT_READ_MS.value,
  kvBackendP99Ms: KV_BACKEND_P99_MS.value,
  cacheApiReadMs: CACHE_API_READ_MS.value,
  doSoftLimitRps: DO_SOFT_LIMIT_RPS.value,
  kvWritesPerKeyPerSecond: KV_WRITES_PER_KEY_PER_SECOND.value,
  // A replica's since(): its head (MAX, and the head it was copied to), MIN, the range.
  feedRowsReadPerPoll: 4,
  kvPropagationS: 60,
};

// ------------------------------------------------------------------ local inputs

/** The micro-benchmark cases (bench/micro/cases.ts) the model reads, by input. */
export const MICRO_CASES = {
  gatewayCpuUs: "gateway request, valid key → 200 (origin stubbed, console.log off)",
  logCpuUs: "access log line (logLine → console.log)",
  passCpuUs: "pass-through worker request → 200 (origin stubbed)",
  objectCallUs: "Durable Object round trip: rate-limit hit (KeyRateLimiter.hit, local)",
} as const;

/**
 * Used only when the results file has no such case (an older run): each says where it
 * comes from. Run `npm run bench` to replace them.
 */
export const LOCAL_FALLBACKS: Record<keyof typeof MICRO_CASES, { value: number; why: string }> = {
  gatewayCpuUs: { value: 100, why: "fallback 100 µs: no such case in the results file" },
  logCpuUs: { value: 5, why: "fallback 5 µs: no such case in the results file" },
  passCpuUs: { value: 30, why: "fallback 30 µs: no such case in the results file" },
  objectCallUs: {
    value: 1_000,
    why: "fallback 1,000 µs (issue 25: locally 'a Durable Object answers in about a millisecond'): this results file predates the round-trip case",
  },
};

interface ResultsFile {
  startedAt?: string;
  command?: string;
  micro?: { workerd?: { name: string; us: number; cpuUs?: number }[] };
}

/** The local inputs from a `npm run bench` results file (bench/RESULTS.json by default). */
export function localInputs(results: ResultsFile, file: string): LocalInputs {
  const cases = results.micro?.workerd ?? [];
  const out = { sources: {} } as LocalInputs;
  for (const [input, name] of Object.entries(MICRO_CASES) as [keyof typeof MICRO_CASES, string][]) {
    const c = cases.find((x) => x.name === name);
    // CPU inputs: workerd's CPU time per iteration; the object round trip: wall time (it is mostly waiting).
    const value = c === undefined ? undefined : input === "objectCallUs" ? c.us : c.cpuUs;
    if (value === undefined || !Number.isFinite(value)) {
      out[input] = LOCAL_FALLBACKS[input].value;
      out.sources[input] = LOCAL_FALLBACKS[input].why;
    } else {
      out[input] = value;
      out.sources[input] =
        `${file} (${results.startedAt?.slice(0, 10) ?? "undated"}): micro.workerd["${name}"].${input === "objectCallUs" ? "us" : "cpuUs"}`;
    }
  }
  return out;
}
