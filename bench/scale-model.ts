/**
 * `npm run scale-model`: what keygate costs and how long its requests wait at a given
 * scale, before and after issue 25's design (docs/scale.md). No network: the local inputs
 * come from a `npm run bench` results file, the prices and round trips from the published
 * figures in bench/scale/data.ts (each printed with its source and date).
 *
 *   npm run scale-model                               busy API, the design before issue 25
 *   npm run scale-model -- --preset=large --design=after
 *   npm run scale-model -- --colos=80 --isolates-per-colo=2 --rps-per-isolate=5 --limits=regional
 *   npm run scale-model -- --deployments              the docs/scale.md table (markdown)
 *   npm run scale-model -- --write-doc                rewrite that table in docs/scale.md
 *   npm run scale-model -- --json                     everything, machine-readable
 *
 * Deployment: --preset=small|busy|large (default busy), then any of --colos=L
 *   --isolates-per-colo=I --rps-per-isolate=r (or --total-rps=R, divided evenly)
 *   --active-keys=K --orgs=O --primary=REGION --shares=wnam:0.2,enam:0.3,… (must sum to 1)
 * Design: --design=before|after (default before), then any of
 *   --feed=isolate|location --replicas=primary|regional --poll-ms=N --max-staleness-ms=N --changes-per-day=N
 *   --limits=exact|regional|binding --key-limit-share=F --org-limit-share=F --rebalance-ms=N --limit-persist=check|rebalance
 *   --credit-share=F --lease=none|region|isolate --lease-block=N --credit-persist=spend|lease
 *   --usage=isolate|location|region --flush-ms=N
 *   --last-used=isolate|location --last-used-interval-ms=N --last-used-max-writes=N --cache-ttl-ms=N
 * Local inputs: --results=FILE (default bench/RESULTS.json)
 *
 * Every number printed is a figure of the model's ledger: its id, value, unit and formula
 * (bench/scale/model.ts); inputs are printed with where each came from.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { usageForwardMs, usageIsolateFlushMs } from "../src/config/usage-flush";
import type { Region } from "./scale/data";
import {
  CACHE_API_LOCAL,
  CACHE_API_READ_MS,
  DEFAULT_SHARES,
  DO_SOFT_LIMIT_RPS,
  IN_REGION_PAIR,
  inRegionRttMs,
  KV_BACKEND_P99_MS,
  KV_HOT_READ_MS,
  KV_WRITES_PER_KEY_PER_SECOND,
  PRICE_SOURCES,
  PRIMARY_REGION,
  prices,
  REGION_CITY,
  REGIONS,
  RTT_MS,
  RTT_SOURCE,
} from "./scale/data";
import type { Deployment, Features, ModelInput, ModelResult } from "./scale/model";
import { runModel } from "./scale/model";
import type { DeploymentName, DesignName } from "./scale/presets";
import { DEPLOYMENTS, deployment, design, FEATURE_MIX, localInputs, PLATFORM } from "./scale/presets";

const ROOT = path.resolve(import.meta.dirname, "..");

// ---------------------------------------------------------------- arguments

export class UsageError extends Error {}

const FLAGS = new Set([
  "preset",
  "design",
  "colos",
  "isolates-per-colo",
  "rps-per-isolate",
  "total-rps",
  "active-keys",
  "orgs",
  "primary",
  "shares",
  "feed",
  "replicas",
  "poll-ms",
  "max-staleness-ms",
  "changes-per-day",
  "limits",
  "key-limit-share",
  "org-limit-share",
  "rebalance-ms",
  "limit-persist",
  "credit-share",
  "lease",
  "lease-block",
  "credit-persist",
  "usage",
  "flush-ms",
  "last-used",
  "last-used-interval-ms",
  "last-used-max-writes",
  "cache-ttl-ms",
  "results",
]);
const SWITCHES = new Set(["json", "deployments", "write-doc", "help"]);

export interface Args {
  values: Map<string, string>;
  switches: Set<string>;
}

export function parseArgs(argv: string[]): Args {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new UsageError(`unknown argument "${a}"`);
    const [, name, value] = m as unknown as [string, string, string | undefined];
    if (value === undefined && (SWITCHES.has(name) || name === "h")) switches.add(name === "h" ? "help" : name);
    else if (value !== undefined && FLAGS.has(name)) values.set(name, value);
    else
      throw new UsageError(
        SWITCHES.has(name)
          ? `--${name} takes no value`
          : FLAGS.has(name)
            ? `--${name} needs a value (--${name}=…)`
            : `unknown argument "${a}"`,
      );
  }
  return { values, switches };
}

function num(args: Args, name: string, check: (n: number) => boolean, what: string): number | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${name} must be ${what}, got "${v}"`);
  return n;
}
const positive = (n: number) => n > 0;
const share = (n: number) => n >= 0 && n <= 1;

function choice<T extends string>(args: Args, name: string, values: readonly T[]): T | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${values.join(", ")}, got "${v}"`);
  return v as T;
}

function parseShares(text: string): Record<Region, number> {
  const shares = Object.fromEntries(REGIONS.map((g) => [g, 0])) as Record<Region, number>;
  for (const part of text.split(",")) {
    const [g, v] = part.split(":");
    if (!REGIONS.includes(g as Region))
      throw new UsageError(`--shares: unknown region "${g}" (one of ${REGIONS.join(", ")})`);
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--shares: "${part}" is not region:share`);
    shares[g as Region] = n;
  }
  const sum = REGIONS.reduce((a, g) => a + shares[g], 0);
  if (Math.abs(sum - 1) > 1e-6) throw new UsageError(`--shares must sum to 1 (they sum to ${sum})`);
  return shares;
}

/** The model's input for a preset and design, with the flags applied. */
export function buildInput(
  args: Args,
  readResults: (file: string) => unknown,
): ModelInput & { preset: DeploymentName; design: DesignName; resultsFile: string } {
  const preset = choice(args, "preset", ["small", "busy", "large"] as const) ?? "busy";
  const designName = choice(args, "design", ["before", "after"] as const) ?? "before";
  const primary = choice(args, "primary", REGIONS) ?? PRIMARY_REGION.value;
  const sharesText = args.values.get("shares");
  const d: Deployment = deployment(preset, sharesText ? parseShares(sharesText) : DEFAULT_SHARES.value, primary);
  d.colos = num(args, "colos", (n) => Number.isInteger(n) && n > 0, "a whole number > 0") ?? d.colos;
  d.isolatesPerColo =
    num(args, "isolates-per-colo", (n) => Number.isInteger(n) && n > 0, "a whole number > 0") ?? d.isolatesPerColo;
  const total = num(args, "total-rps", positive, "> 0");
  const perIsolate = num(args, "rps-per-isolate", positive, "> 0");
  if (total !== undefined && perIsolate !== undefined)
    throw new UsageError("give --total-rps or --rps-per-isolate, not both");
  if (perIsolate !== undefined) d.rpsPerIsolate = perIsolate;
  else d.rpsPerIsolate = (total ?? DEPLOYMENTS[preset].totalRps) / (d.colos * d.isolatesPerColo);
  d.activeKeys = num(args, "active-keys", (n) => Number.isInteger(n) && n > 0, "a whole number > 0") ?? d.activeKeys;
  d.orgs = num(args, "orgs", (n) => Number.isInteger(n) && n > 0, "a whole number > 0") ?? d.orgs;

  const f: Features = design(
    designName,
    num(args, "changes-per-day", (n) => n >= 0, "≥ 0") ?? DEPLOYMENTS[preset].changesPerDay,
  );
  f.feed.mode = choice(args, "feed", ["isolate", "location"] as const) ?? f.feed.mode;
  f.feed.replicas = choice(args, "replicas", ["primary", "regional"] as const) ?? f.feed.replicas;
  f.feed.pollMs = num(args, "poll-ms", positive, "> 0") ?? f.feed.pollMs;
  f.feed.maxStalenessMs = num(args, "max-staleness-ms", positive, "> 0") ?? f.feed.maxStalenessMs;
  f.limits.mode = choice(args, "limits", ["exact", "regional", "binding"] as const) ?? f.limits.mode;
  f.limits.keyShare = num(args, "key-limit-share", share, "between 0 and 1") ?? f.limits.keyShare;
  f.limits.orgShare = num(args, "org-limit-share", share, "between 0 and 1") ?? f.limits.orgShare;
  f.limits.rebalanceMs = num(args, "rebalance-ms", positive, "> 0") ?? f.limits.rebalanceMs;
  f.limits.persist = choice(args, "limit-persist", ["check", "rebalance"] as const) ?? f.limits.persist;
  f.credits.share = num(args, "credit-share", share, "between 0 and 1") ?? f.credits.share;
  f.credits.lease = choice(args, "lease", ["none", "region", "isolate"] as const) ?? f.credits.lease;
  f.credits.leaseBlock =
    num(args, "lease-block", (n) => Number.isInteger(n) && n > 0, "a whole number > 0") ?? f.credits.leaseBlock;
  f.credits.persist = choice(args, "credit-persist", ["spend", "lease"] as const) ?? f.credits.persist;
  f.usage.mode = choice(args, "usage", ["isolate", "location", "region"] as const) ?? f.usage.mode;
  f.usage.flushMs = num(args, "flush-ms", positive, "> 0") ?? f.usage.flushMs;
  f.lastUsed.mode = choice(args, "last-used", ["isolate", "location"] as const) ?? f.lastUsed.mode;
  f.lastUsed.intervalMs = num(args, "last-used-interval-ms", (n) => n >= 0, "≥ 0") ?? f.lastUsed.intervalMs;
  f.lastUsed.maxWritesPerSecond = num(args, "last-used-max-writes", positive, "> 0") ?? f.lastUsed.maxWritesPerSecond;
  f.cache.ttlMs = num(args, "cache-ttl-ms", (n) => n >= 0, "≥ 0") ?? f.cache.ttlMs;

  const resultsFile = args.values.get("results") ?? "bench/RESULTS.json";
  const local = localInputs(readResults(resultsFile) as Parameters<typeof localInputs>[0], resultsFile);
  return {
    preset,
    design: designName,
    resultsFile,
    deployment: d,
    features: f,
    local,
    prices: prices(),
    platform: PLATFORM,
  };
}

// ---------------------------------------------------------------- formatting

/** A number as the docs show it: thousands separated, ≈ 3 significant digits below 1,000. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a === 0) return "0";
  if (a >= 1000) return Math.round(n).toLocaleString("en-US");
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1).replace(/\.0$/, "");
  if (a >= 0.01) return n.toFixed(2).replace(/\.?0+$/, "");
  return n.toPrecision(2);
}

export function money(n: number): string {
  return n >= 100 ? `$${Math.round(n).toLocaleString("en-US")}` : `$${n.toFixed(2)}`;
}

function pct(n: number): string {
  return n === 0
    ? "0%"
    : n < 1e-6
      ? "≈0%"
      : n >= 0.1
        ? `${(n * 100).toFixed(0)}%`
        : n >= 0.001
          ? `${(n * 100).toFixed(1)}%`
          : `${(n * 100).toPrecision(2)}%`;
}

function describeFeatures(f: Features): string[] {
  return [
    `feed: ${f.feed.mode === "isolate" ? "every isolate polls" : "one poll per location (Cache API)"}, ${f.feed.replicas === "primary" ? "one object" : "a replica per region"}; poll ${f.feed.pollMs} ms, max staleness ${f.feed.maxStalenessMs} ms, ${fmt(f.feed.changesPerDay)} changes/day`,
    `limits: ${f.limits.mode}${f.limits.mode === "regional" ? ` (rebalance ${f.limits.rebalanceMs} ms, stored per ${f.limits.persist})` : ""}; key limits on ${pct(f.limits.keyShare)} of requests, org limits on ${pct(f.limits.orgShare)}`,
    `credits: on ${pct(f.credits.share)} of requests; ${f.credits.lease === "none" ? "no lease (every spend asks the key's object)" : `leased to each ${f.credits.lease === "region" ? "region" : "isolate"} in blocks of ${f.credits.leaseBlock}, stored per ${f.credits.persist}`}`,
    f.usage.mode === "location"
      ? `usage: flushed by every isolate to its location's aggregator every ${usageIsolateFlushMs(f.usage.flushMs)} ms (${usageIsolateFlushMs(f.usage.flushMs, "long")} ms while alone in its location), forwarded once per org and location every ${usageForwardMs(f.usage.flushMs)} ms at most and by each flush's deadline (USAGE_FLUSH_MS ${f.usage.flushMs} ms shared out)`
      : `usage: flushed ${f.usage.mode === "isolate" ? "by every isolate" : "by every isolate to its region's shard of the org"} every ${f.usage.flushMs} ms`,
    `last-used: ${f.lastUsed.intervalMs === 0 ? "off" : `written per ${f.lastUsed.mode}, once per key per ${f.lastUsed.intervalMs} ms, at most ${f.lastUsed.maxWritesPerSecond}/s per ${f.lastUsed.mode}`}; key cache TTL ${f.cache.ttlMs} ms`,
  ];
}

function sourcesText(): string[] {
  const out: string[] = [];
  out.push(`prices (USD, read ${PRICE_SOURCES.workersBase.read}):`);
  const bySource = new Map<string, string[]>();
  for (const [k, v] of Object.entries(PRICE_SOURCES))
    bySource.set(v.source, [...(bySource.get(v.source) ?? []), `${k} ${v.value} (${v.note ?? ""})`]);
  for (const [source, items] of bySource) {
    out.push(`  ${source}:`);
    for (const item of items) out.push(`    ${item}`);
  }
  out.push(`round trips (ms): ${RTT_SOURCE.source}; ${RTT_SOURCE.read}. ${RTT_SOURCE.note}`);
  out.push(`  ${"from \\ to".padEnd(10)}${REGIONS.map((g) => g.padStart(6)).join("")}   in-region`);
  for (const g of REGIONS) {
    const pair = IN_REGION_PAIR[g];
    out.push(
      `  ${g.padEnd(10)}${REGIONS.map((h) => String(RTT_MS[g][h]).padStart(6)).join("")}   ${fmt(inRegionRttMs(g))} (${pair ? `${REGION_CITY[g]} → ${pair.to}` : "no neighbour in the table: median of the other regions' in-region round trips"})`,
    );
  }
  out.push(
    `platform: KV hot read ≤ ${KV_HOT_READ_MS.value} ms (${KV_HOT_READ_MS.source}: ${KV_HOT_READ_MS.note}); KV backend p99 ${KV_BACKEND_P99_MS.value} ms (${KV_BACKEND_P99_MS.source}); a KV read that misses KV's memory is modelled as in-region round trip + backend p99 (assumption: no end-to-end p99 is published in text)`,
  );
  out.push(
    `  object soft limit ${DO_SOFT_LIMIT_RPS.value} req/s (${DO_SOFT_LIMIT_RPS.source}); KV writes per key ${KV_WRITES_PER_KEY_PER_SECOND.value}/s (${KV_WRITES_PER_KEY_PER_SECOND.source}); Cache API ${CACHE_API_LOCAL.value} (${CACHE_API_LOCAL.source})`,
  );
  out.push(
    `assumptions: ${CACHE_API_READ_MS.assumption}; ${PRIMARY_REGION.assumption}; ${DEFAULT_SHARES.assumption}; feed poll reads ${PLATFORM.feedRowsReadPerPoll} rows (src/objects/revocation-feed.ts since()); KV propagation 60 s (docs/revocation.md)`,
  );
  return out;
}

export function renderText(input: ReturnType<typeof buildInput>, result: ModelResult): string {
  const { deployment: d, features: f, local } = input;
  const out: string[] = [];
  out.push(`keygate scale model — ${d.name} (preset ${input.preset}), design "${input.design}"`);
  out.push("");
  out.push("INPUTS");
  out.push(
    `deployment: ${d.colos} locations × ${d.isolatesPerColo} isolates × ${fmt(d.rpsPerIsolate)} req/s per isolate; ${fmt(d.activeKeys)} active keys, ${fmt(d.orgs)} orgs (equally popular); single objects in ${d.primaryRegion}`,
  );
  out.push(`traffic by region: ${REGIONS.map((g) => `${g} ${pct(d.shares[g])}`).join(", ")}`);
  for (const line of describeFeatures(f)) out.push(line);
  out.push(`local (${input.resultsFile}):`);
  for (const k of ["gatewayCpuUs", "logCpuUs", "passCpuUs", "objectCallUs"] as const)
    out.push(`  ${k.padEnd(14)} ${fmt(local[k]).padStart(8)} µs  ${local.sources[k]}`);
  for (const line of sourcesText()) out.push(line);
  out.push("");
  out.push("FIGURES (id = value unit — formula)");
  for (const fig of result.ledger.figures)
    out.push(`${fig.id.padEnd(40)} ${fmt(fig.value).padStart(16)} ${fig.unit.padEnd(13)} ${fig.formula}`);
  out.push("");
  out.push("LATENCY ADDED PER PATH (ms; p50/p99 of what the path adds when taken)");
  out.push(`${"path".padEnd(16)} ${"share".padStart(9)} ${"p50".padStart(9)} ${"p99".padStart(9)}`);
  for (const [p, v] of Object.entries(result.latency))
    out.push(`${p.padEnd(16)} ${pct(v.share).padStart(9)} ${fmt(v.p50).padStart(9)} ${fmt(v.p99).padStart(9)}`);
  out.push("");
  const l = result.ledger;
  out.push(
    `MONTHLY COST ${money(l.get("cost.total"))}: Workers ${money(l.get("cost.workersBase") + l.get("cost.workersRequests") + l.get("cost.workersCpu"))}, Durable Objects requests ${money(l.get("cost.doRequests"))}, duration ${money(l.get("cost.doDuration"))}, rows ${money(l.get("cost.doRowsRead") + l.get("cost.doRowsWritten"))}, KV ${money(l.get("cost.kvReads") + l.get("cost.kvWrites"))}`,
  );
  out.push(
    `REVOCATION bound ${fmt(l.get("revocation.boundMs"))} ms while the feed answers (typically ${fmt(l.get("revocation.typicalMs"))} ms; a publish takes ${fmt(l.get("revocation.publishMs"))} ms; feed down: ${fmt(l.get("revocation.feedDownBoundS"))} s)`,
  );
  out.push(result.warnings.length ? `WARNINGS\n${result.warnings.map((w) => `  ${w}`).join("\n")}` : "WARNINGS none");
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------- the docs/scale.md table

interface Row {
  label: string;
  id: string;
  show: (r: ModelResult) => string;
}

const fig =
  (id: string, f: (n: number) => string = fmt): Row["show"] =>
  (r) =>
    f(r.ledger.get(id));
const lat =
  (path: keyof ModelResult["latency"]): Row["show"] =>
  (r) => {
    const v = r.latency[path];
    return v.share === 0 ? "–" : `${fmt(v.p50)} / ${fmt(v.p99)}${v.share < 1 ? ` (${pct(v.share)})` : ""}`;
  };

export const DOC_ROWS: Row[] = [
  { label: "isolates (N)", id: "isolates", show: fig("isolates") },
  {
    label: "requests/s per isolate",
    id: "requestsPerSecond",
    show: (r) => fmt(r.ledger.get("requestsPerSecond") / r.ledger.get("isolates")),
  },
  { label: "Workers requests/day", id: "workers.requestsPerDay", show: fig("workers.requestsPerDay") },
  { label: "object requests/day: feed", id: "feed.doRequestsPerDay", show: fig("feed.doRequestsPerDay") },
  { label: "object requests/day: limits", id: "limits.doRequestsPerDay", show: fig("limits.doRequestsPerDay") },
  { label: "object requests/day: credits", id: "credits.doRequestsPerDay", show: fig("credits.doRequestsPerDay") },
  { label: "object requests/day: usage", id: "usage.doRequestsPerDay", show: fig("usage.doRequestsPerDay") },
  { label: "object requests/day: total", id: "do.requestsPerDay", show: fig("do.requestsPerDay") },
  { label: "busiest feed object, req/s", id: "feed.peakObjectRps", show: fig("feed.peakObjectRps") },
  { label: "one org's usage object, req/s", id: "usage.perOrgObjectRps", show: fig("usage.perOrgObjectRps") },
  {
    label: "usage in GET /usage within, ms (+ round trips)",
    id: "usage.boundMs",
    show: (r) => `${fmt(r.ledger.get("usage.boundMs"))} (+${r.ledger.has("usage.forwardMs") ? 2 : 1})`,
  },
  { label: "KV reads/day", id: "kv.readsPerDay", show: fig("kv.readsPerDay") },
  { label: "KV writes/day", id: "kv.writesPerDay", show: fig("kv.writesPerDay") },
  {
    label: "cost: Workers (base, requests, CPU)",
    id: "cost.workers*",
    show: (r) =>
      money(r.ledger.get("cost.workersBase") + r.ledger.get("cost.workersRequests") + r.ledger.get("cost.workersCpu")),
  },
  { label: "cost: object requests", id: "cost.doRequests", show: fig("cost.doRequests", money) },
  { label: "cost: object duration", id: "cost.doDuration", show: fig("cost.doDuration", money) },
  {
    label: "cost: object storage rows",
    id: "cost.doRows*",
    show: (r) => money(r.ledger.get("cost.doRowsRead") + r.ledger.get("cost.doRowsWritten")),
  },
  {
    label: "cost: KV reads + writes",
    id: "cost.kv*",
    show: (r) => money(r.ledger.get("cost.kvReads") + r.ledger.get("cost.kvWrites")),
  },
  { label: "**cost per month**", id: "cost.total", show: (r) => `**${money(r.ledger.get("cost.total"))}**` },
  { label: "added ms, cached key", id: "latency.cachedKey", show: lat("cachedKey") },
  { label: "added ms, KV read (share)", id: "latency.kvRead", show: lat("kvRead") },
  { label: "added ms, limit check (share)", id: "latency.limitCheck", show: lat("limitCheck") },
  { label: "added ms, credits (share)", id: "latency.credits", show: lat("credits") },
  { label: "added ms, freshness wait (share)", id: "latency.freshnessWait", show: lat("freshnessWait") },
  {
    label: "**added ms, all requests**",
    id: "latency.allRequests",
    show: (r) => `**${fmt(r.latency.allRequests.p50)} / ${fmt(r.latency.allRequests.p99)}**`,
  },
  {
    label: "revocation bound / typical, ms",
    id: "revocation.boundMs, revocation.typicalMs",
    show: (r) => `${fmt(r.ledger.get("revocation.boundMs"))} / ${fmt(r.ledger.get("revocation.typicalMs"))}`,
  },
  { label: "publish (admin answer waits), ms", id: "revocation.publishMs", show: fig("revocation.publishMs") },
];

export function renderDeploymentsMarkdown(
  readResults: (file: string) => unknown,
  resultsFile = "bench/RESULTS.json",
): string {
  const names: DeploymentName[] = ["small", "busy", "large"];
  const cols: {
    name: DeploymentName;
    design: DesignName;
    result: ModelResult;
    input: ReturnType<typeof buildInput>;
  }[] = [];
  for (const name of names) {
    for (const des of ["before", "after"] as DesignName[]) {
      const input = buildInput(
        parseArgs([`--preset=${name}`, `--design=${des}`, `--results=${resultsFile}`]),
        readResults,
      );
      cols.push({ name, design: des, input, result: runModel(input) });
    }
  }
  const out: string[] = [];
  out.push(`| figure (ledger id) | ${cols.map((c) => `${c.name} ${c.design}`).join(" | ")} |`);
  out.push(`|---|${cols.map(() => "--:").join("|")}|`);
  for (const row of DOC_ROWS)
    out.push(`| ${row.label} (\`${row.id}\`) | ${cols.map((c) => row.show(c.result)).join(" | ")} |`);
  out.push("");
  out.push("Deployments (inputs):");
  out.push("");
  for (const name of names) {
    const d = cols.find((c) => c.name === name)!.input.deployment;
    out.push(
      `- **${name}** — ${d.name}: ${d.colos} locations × ${d.isolatesPerColo} isolates × ${fmt(d.rpsPerIsolate)} req/s; ${fmt(d.activeKeys)} active keys, ${fmt(d.orgs)} orgs, ${fmt(DEPLOYMENTS[name].changesPerDay)} key changes/day.`,
    );
  }
  out.push(
    `- Every deployment: key limits on ${pct(FEATURE_MIX.keyLimitShare)} of requests, org limits on ${pct(FEATURE_MIX.orgLimitShare)}, credits on ${pct(FEATURE_MIX.creditShare)}; traffic ${REGIONS.map((g) => `${g} ${pct(DEFAULT_SHARES.value[g])}`).join(", ")}; single objects in ${PRIMARY_REGION.value}.`,
  );
  const local = cols[0]!.input.local;
  out.push(
    `- Local inputs (${resultsFile}): ${(["gatewayCpuUs", "logCpuUs", "passCpuUs", "objectCallUs"] as const).map((k) => `${k} ${fmt(local[k])} µs — ${local.sources[k]}`).join("; ")}.`,
  );
  out.push("");
  // Other configurations: what the model says about changes beyond issue 25's design.
  out.push("Other configurations (`npm run scale-model -- <flags>`):");
  out.push("");
  out.push(
    "| flags | object requests/day | KV reads/day | KV writes/day | cost per month | added ms, all requests (p50 / p99) | capacity warnings |",
  );
  out.push("|---|--:|--:|--:|--:|--:|---|");
  for (const flags of ALTERNATIVES) {
    const input = buildInput(parseArgs([...flags, `--results=${resultsFile}`]), readResults);
    const r = runModel(input);
    const l = r.ledger;
    out.push(
      `| \`${flags.join(" ")}\` | ${fmt(l.get("do.requestsPerDay"))} | ${fmt(l.get("kv.readsPerDay"))} | ${fmt(l.get("kv.writesPerDay"))} | ${money(l.get("cost.total"))} | ${fmt(r.latency.allRequests.p50)} / ${fmt(r.latency.allRequests.p99)} | ${r.warnings.length ? r.warnings.map((w) => w.split(":")[0]).join(", ") : "none"} |`,
    );
  }
  out.push("");
  const warned = cols.filter((c) => c.result.warnings.length);
  out.push(warned.length ? "Capacity warnings:" : "Capacity warnings: none.");
  if (warned.length) {
    out.push("");
    for (const c of warned) for (const w of c.result.warnings) out.push(`- ${c.name} ${c.design}: ${w}`);
  }
  return out.join("\n") + "\n";
}

/** Configurations beyond the before/after pair that docs/scale.md discusses (generated with the table). */
export const ALTERNATIVES: string[][] = [
  ["--preset=busy", "--design=after", "--last-used=location"],
  ["--preset=large", "--design=after", "--limits=binding"],
  ["--preset=large", "--design=after", "--last-used=location"],
  ["--preset=large", "--design=after", "--limits=binding", "--last-used=location", "--cache-ttl-ms=300000"],
  ["--preset=small", "--design=after", "--limits=exact", "--limit-persist=check"],
];

export const DOC_BEGIN =
  "<!-- scale-model:begin — generated by `npm run scale-model -- --write-doc`; do not edit by hand -->";
export const DOC_END = "<!-- scale-model:end -->";

/** docs/scale.md with its generated section replaced by `generated`. */
export function replaceGenerated(doc: string, generated: string): string {
  const a = doc.indexOf(DOC_BEGIN);
  const b = doc.indexOf(DOC_END);
  if (a < 0 || b < a) throw new Error("docs/scale.md: generated-section markers not found");
  return doc.slice(0, a + DOC_BEGIN.length) + "\n" + generated + doc.slice(b);
}

// ---------------------------------------------------------------- main

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(path.resolve(ROOT, file), "utf8"));
}

function main(argv: string[]): number {
  let args: Args;
  try {
    args = parseArgs(argv);
    if (args.switches.has("help")) {
      const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
      process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
      return 0;
    }
    if (args.switches.has("deployments") || args.switches.has("write-doc")) {
      const md = renderDeploymentsMarkdown(readJson, args.values.get("results") ?? "bench/RESULTS.json");
      if (args.switches.has("write-doc")) {
        const file = path.join(ROOT, "docs/scale.md");
        writeFileSync(file, replaceGenerated(readFileSync(file, "utf8"), md));
        process.stderr.write("docs/scale.md: generated section rewritten\n");
      } else process.stdout.write(md);
      return 0;
    }
    const input = buildInput(args, readJson);
    const result = runModel(input);
    if (args.switches.has("json")) {
      process.stdout.write(
        JSON.stringify(
          {
            preset: input.preset,
            design: input.design,
            input: {
              deployment: input.deployment,
              features: input.features,
              local: input.local,
              platform: input.platform,
              prices: PRICE_SOURCES,
            },
            sources: {
              roundTrips: RTT_SOURCE,
              roundTripMs: RTT_MS,
              inRegion: IN_REGION_PAIR,
              kvHotRead: KV_HOT_READ_MS,
              kvBackendP99: KV_BACKEND_P99_MS,
              doSoftLimit: DO_SOFT_LIMIT_RPS,
              kvWritesPerKey: KV_WRITES_PER_KEY_PER_SECOND,
              assumptions: [CACHE_API_READ_MS, PRIMARY_REGION, DEFAULT_SHARES],
            },
            figures: result.ledger.figures,
            latency: result.latency,
            warnings: result.warnings,
          },
          null,
          2,
        ) + "\n",
      );
    } else process.stdout.write(renderText(input, result));
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\nsee \`npm run scale-model -- --help\`\n`);
      return 2;
    }
    throw err;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename))
  process.exit(main(process.argv.slice(2)));
