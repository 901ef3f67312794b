/**
 * The published figures the scale model (bench/scale/model.ts) starts from, each with its
 * source and the date it was read. Nothing here is measured on this machine (that comes
 * from bench/RESULTS.json) and nothing is invented: a figure no source gives is marked
 * `assumption` and printed as one.
 */

export interface Cited<T> {
  value: T;
  /** Where it comes from (a URL, or a file and commit). */
  source: string;
  /** When it was read, or the date the source gives for its data. */
  read: string;
  note?: string;
}

export interface Assumed<T> {
  value: T;
  assumption: string;
}

export const READ_ON = "2026-12-07";

// ------------------------------------------------------------------ prices (USD)

const WORKERS_PRICING =
  "https://developers.cloudflare.com/workers/platform/pricing/ (source: cloudflare/cloudflare-docs src/content/docs/workers/platform/pricing.mdx)";
const DO_PRICING =
  "https://developers.cloudflare.com/durable-objects/platform/pricing/ (source: cloudflare/cloudflare-docs src/content/partials/durable-objects/durable-objects-pricing.mdx)";
const KV_PRICING =
  "https://developers.cloudflare.com/kv/platform/pricing/ (source: cloudflare/cloudflare-docs src/content/partials/workers/kv_pricing.mdx)";

export interface Prices {
  /** Workers Paid: the monthly minimum. */
  workersBase: number;
  workersRequestsIncluded: number;
  workersPerMillionRequests: number;
  workersCpuMsIncluded: number;
  workersPerMillionCpuMs: number;
  doRequestsIncluded: number;
  doPerMillionRequests: number;
  doGbSecondsIncluded: number;
  doPerMillionGbSeconds: number;
  /** Duration is billed for 128 MB per object, whatever it uses. */
  doMemoryGb: number;
  doRowsReadIncluded: number;
  doPerMillionRowsRead: number;
  doRowsWrittenIncluded: number;
  doPerMillionRowsWritten: number;
  kvReadsIncluded: number;
  kvPerMillionReads: number;
  kvWritesIncluded: number;
  kvPerMillionWrites: number;
  /** Days in a billing month, as Cloudflare's own pricing examples count them. */
  daysPerMonth: number;
}

/** Every price, with its source (printed by the model and listed in docs/scale.md). */
export const PRICE_SOURCES: Record<keyof Prices, Cited<number>> = {
  workersBase: {
    value: 5,
    source: WORKERS_PRICING,
    read: READ_ON,
    note: "Workers Paid: minimum charge of $5 per month per account",
  },
  workersRequestsIncluded: {
    value: 10_000_000,
    source: WORKERS_PRICING,
    read: READ_ON,
    note: "Standard: 10 million requests included per month",
  },
  workersPerMillionRequests: {
    value: 0.3,
    source: WORKERS_PRICING,
    read: READ_ON,
    note: "+$0.30 per additional million; subrequests are not billed",
  },
  workersCpuMsIncluded: {
    value: 30_000_000,
    source: WORKERS_PRICING,
    read: READ_ON,
    note: "30 million CPU milliseconds included per month",
  },
  workersPerMillionCpuMs: {
    value: 0.02,
    source: WORKERS_PRICING,
    read: READ_ON,
    note: "+$0.02 per additional million CPU milliseconds",
  },
  doRequestsIncluded: {
    value: 1_000_000,
    source: DO_PRICING,
    read: READ_ON,
    note: "Paid: 1 million requests included; every RPC method call is one request",
  },
  doPerMillionRequests: { value: 0.15, source: DO_PRICING, read: READ_ON, note: "+$0.15 per million requests" },
  doGbSecondsIncluded: { value: 400_000, source: DO_PRICING, read: READ_ON, note: "400,000 GB-s included" },
  doPerMillionGbSeconds: {
    value: 12.5,
    source: DO_PRICING,
    read: READ_ON,
    note: "+$12.50 per million GB-s; billed while active, not while idle and eligible for hibernation",
  },
  doMemoryGb: {
    value: 0.128,
    source: DO_PRICING,
    read: READ_ON,
    note: "duration is billed for the 128 MB an object is allocated (Cloudflare's examples: 128 MB / 1 GB)",
  },
  doRowsReadIncluded: {
    value: 25_000_000_000,
    source: DO_PRICING,
    read: READ_ON,
    note: "SQLite storage: first 25 billion rows read per month included",
  },
  doPerMillionRowsRead: { value: 0.001, source: DO_PRICING, read: READ_ON, note: "+$0.001 per million rows read" },
  doRowsWrittenIncluded: {
    value: 50_000_000,
    source: DO_PRICING,
    read: READ_ON,
    note: "first 50 million rows written per month included; key-value put() on SQLite-backed objects is billed as rows written",
  },
  doPerMillionRowsWritten: { value: 1, source: DO_PRICING, read: READ_ON, note: "+$1.00 per million rows written" },
  kvReadsIncluded: {
    value: 10_000_000,
    source: KV_PRICING,
    read: READ_ON,
    note: "10 million reads per month included",
  },
  kvPerMillionReads: { value: 0.5, source: KV_PRICING, read: READ_ON, note: "+$0.50 per million reads" },
  kvWritesIncluded: {
    value: 1_000_000,
    source: KV_PRICING,
    read: READ_ON,
    note: "1 million writes per month included",
  },
  kvPerMillionWrites: { value: 5, source: KV_PRICING, read: READ_ON, note: "+$5.00 per million writes" },
  daysPerMonth: {
    value: 30,
    source: DO_PRICING,
    read: READ_ON,
    note: "Cloudflare's billing examples count a month as 30 days",
  },
};

export function prices(): Prices {
  return Object.fromEntries(Object.entries(PRICE_SOURCES).map(([k, v]) => [k, v.value])) as unknown as Prices;
}

// ------------------------------------------------------------------ platform limits

export const DO_SOFT_LIMIT_RPS: Cited<number> = {
  value: 1000,
  source:
    "https://developers.cloudflare.com/durable-objects/reference/faq/ (cloudflare/cloudflare-docs src/content/partials/durable-objects/do-faq-limits.mdx)",
  read: READ_ON,
  note: "an individual object has a soft limit of 1,000 requests per second; past it, callers get 'overloaded' errors",
};

export const KV_WRITES_PER_KEY_PER_SECOND: Cited<number> = {
  value: 1,
  source: "https://developers.cloudflare.com/kv/platform/limits/",
  read: READ_ON,
  note: "writes to the same key: 1 per second",
};

export const CACHE_API_LOCAL: Cited<string> = {
  value: "per data center",
  source: "https://developers.cloudflare.com/workers/runtime-apis/cache/",
  read: READ_ON,
  note: "the Cache API's contents do not replicate outside the originating data center; it has no price of its own on the Workers pricing page (subrequests are not billed)",
};

// ------------------------------------------------------------------ regions and round trips

/** Durable Object location hints (@cloudflare/workers-types DurableObjectLocationHint). */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type Region = (typeof REGIONS)[number];

/**
 * Each Durable Object region stands for one Azure region of the published table (Cloudflare
 * publishes no inter-region round-trip table; a public cloud's backbone figures between the
 * same metros are the nearest citable stand-in).
 */
export const REGION_CITY: Record<Region, string> = {
  wnam: "West US (California)",
  enam: "East US (Virginia)",
  sam: "Brazil South (São Paulo)",
  weur: "West Europe (Netherlands)",
  eeur: "Poland Central (Warsaw)",
  apac: "Southeast Asia (Singapore)",
  oc: "Australia East (Sydney)",
  afr: "South Africa North (Johannesburg)",
  me: "UAE North (Dubai)",
};

export const RTT_SOURCE: Cited<null> = {
  value: null,
  source:
    "Microsoft Learn, 'Azure network round-trip latency statistics' (https://learn.microsoft.com/azure/networking/azure-network-latency), " +
    "read from the page's source: github.com/mbender-ms/azure-docs articles/networking/azure-network-latency.md, commit 5b3e2055eddead4c24aac48156dad9f006268126 (ms.date 07/30/2026)",
  read: "data: monthly P95 round trip over the 30 days ending 2026-07-30; read " + READ_ON,
  note: "P95 of 1-minute probes between Azure regions, in ms. P95, not P50: the model's round trips are near worst case",
};

/** Round trip in ms, from (row) to (column): the published CSV's rows for the nine stand-in regions. */
export const RTT_MS: Record<Region, Record<Region, number>> = {
  wnam: { wnam: 0, enam: 72, sam: 171, weur: 151, eeur: 167, apac: 172, oc: 142, afr: 279, me: 249 },
  enam: { wnam: 74, enam: 0, sam: 119, weur: 89, eeur: 104, apac: 229, oc: 207, afr: 226, me: 190 },
  sam: { wnam: 170, enam: 121, sam: 0, weur: 191, eeur: 211, apac: 337, oc: 298, afr: 327, me: 293 },
  weur: { wnam: 153, enam: 91, sam: 189, weur: 0, eeur: 28, apac: 182, oc: 282, afr: 171, me: 123 },
  eeur: { wnam: 168, enam: 112, sam: 212, weur: 28, eeur: 0, apac: 201, oc: 300, afr: 199, me: 139 },
  apac: { wnam: 171, enam: 229, sam: 337, weur: 181, eeur: 202, apac: 0, oc: 98, afr: 190, me: 90 },
  oc: { wnam: 141, enam: 206, sam: 298, weur: 282, eeur: 300, apac: 98, oc: 0, afr: 347, me: 179 },
  afr: { wnam: 278, enam: 225, sam: 326, weur: 171, eeur: 198, apac: 211, oc: 348, afr: 0, me: 104 },
  me: { wnam: 257, enam: 191, sam: 288, weur: 124, eeur: 138, apac: 87, oc: 182, afr: 105, me: 0 },
};

/**
 * A round trip inside a region: from the stand-in to a neighbouring Azure region of the
 * same Durable Object region (same table). sam has no neighbour in the table: it takes the
 * median of the others (derived, printed as such).
 */
export const IN_REGION_PAIR: Record<Region, { to: string; ms: number } | null> = {
  wnam: { to: "West US 2 (Washington)", ms: 26 },
  enam: { to: "North Central US (Illinois)", ms: 26 },
  sam: null,
  weur: { to: "France Central (Paris)", ms: 15 },
  eeur: { to: "Austria East (Vienna)", ms: 20 },
  apac: { to: "East Asia (Hong Kong)", ms: 40 },
  oc: { to: "Australia Southeast (Melbourne)", ms: 16 },
  afr: { to: "South Africa West (Cape Town)", ms: 24 },
  me: { to: "Qatar Central (Doha)", ms: 17 },
};

export function inRegionRttMs(region: Region): number {
  const pair = IN_REGION_PAIR[region];
  if (pair) return pair.ms;
  const others = Object.values(IN_REGION_PAIR)
    .filter((p): p is { to: string; ms: number } => p !== null)
    .map((p) => p.ms)
    .sort((a, b) => a - b);
  const mid = Math.floor(others.length / 2);
  return others.length % 2 ? others[mid]! : (others[mid - 1]! + others[mid]!) / 2;
}

// ------------------------------------------------------------------ Workers KV

export const KV_HOT_READ_MS: Cited<number> = {
  value: 1,
  source: "https://blog.cloudflare.com/faster-workers-kv/ (2024-09-26)",
  read: READ_ON,
  note: "the KV Worker's in-memory cache answers the hottest keys, nearly half of all requests, in under a millisecond: 1 ms is an upper bound for a hot read",
};

export const KV_BACKEND_P99_MS: Cited<number> = {
  value: 5,
  source:
    "InfoQ (2025-08-25) on Cloudflare's rearchitecture of Workers KV: p99 read latency of the storage backend from 200 ms to under 5 ms",
  read: READ_ON,
  note: "the storage layer's p99, not an end-to-end figure",
};

// ------------------------------------------------------------------ assumptions

/**
 * Where a deployment's traffic (and its colos) comes from, by region. No source: a round
 * global mix, printed as an assumption; change it with --shares.
 */
export const DEFAULT_SHARES: Assumed<Record<Region, number>> = {
  value: { wnam: 0.12, enam: 0.22, sam: 0.06, weur: 0.25, eeur: 0.08, apac: 0.17, oc: 0.03, afr: 0.03, me: 0.04 },
  assumption: "traffic share by region: a global mix, not from a source",
};

export const CACHE_API_READ_MS: Assumed<number> = {
  value: 1,
  assumption: "a Cache API read in the same data center: no published latency found; 1 ms assumed",
};

export const PRIMARY_REGION: Assumed<Region> = {
  value: "enam",
  assumption:
    "where the single feed object and each key's or org's object live (an object is created near its first request; no hint is given before issue 25)",
};
