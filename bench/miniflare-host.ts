/**
 * Runs one Worker straight on workerd through the Miniflare API (no wrangler dev proxy in
 * front), in its own process so its CPU is accounted apart from the load generator's.
 *
 *   node --import tsx bench/miniflare-host.ts '<json HostConfig>'
 *
 * Prints `READY {"url": …}` once it answers; stops on SIGTERM. A line "stats" on stdin
 * answers `STATS {…}`: the access log lines seen since the last time, by cache tier.
 */
import path from "node:path";
import { gatewayToml, Miniflare } from "./lib/miniflare";

export interface HostConfig {
  /** A bundled ES module Worker (wrangler deploy --dry-run --outdir …). */
  scriptPath: string;
  port: number;
  vars: Record<string, string>;
  /** Bind the KEYS namespace, persisted under this root (as wrangler dev --persist-to DIR/v3). */
  persistRoot?: string;
  /** Durable Object bindings (name → class exported by the script) and rate-limit bindings, as the wrangler config declares them. */
  durableObjects?: Record<string, { className: string; useSQLite: boolean }>;
  ratelimits?: Record<string, { simple: { limit: number; period: number } }>;
}

const config = JSON.parse(process.argv[2] ?? "{}") as HostConfig;
const { compatibilityDate, kvNamespaceId } = gatewayToml();

const CACHE_TIER_RE = /"cache":(null|"\w+")/;
let tiers: Record<string, number> = {};

const mf = new Miniflare({
  host: "127.0.0.1",
  port: config.port,
  modules: true,
  scriptPath: config.scriptPath,
  // Module names are relative to this root (workerd refuses names with "..").
  modulesRoot: path.dirname(config.scriptPath),
  compatibilityDate,
  bindings: config.vars,
  ...(config.durableObjects && Object.keys(config.durableObjects).length
    ? { durableObjects: config.durableObjects }
    : {}),
  ...(config.ratelimits && Object.keys(config.ratelimits).length ? { ratelimits: config.ratelimits } : {}),
  ...(config.persistRoot ? { kvNamespaces: { KEYS: kvNamespaceId }, defaultPersistRoot: config.persistRoot } : {}),
  logRequests: false,
  // As wrangler dev does: workerd emits each console line as structured output on its
  // stdout and the Node side handles it (wrangler source-maps it, then drops it below
  // --log-level warn); here info lines are dropped at once, warnings and errors shown.
  handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
    if (level === "warn" || level === "error") process.stderr.write(`${message}\n`);
    // Tally the access log's cache tiers, so the benchmark can check what it measured
    // (a warm cache must answer from memory, CACHE_TTL_MS=0 from KV…).
    const tier = CACHE_TIER_RE.exec(message)?.[1];
    if (tier) tiers[tier.replace(/"/g, "")] = (tiers[tier.replace(/"/g, "")] ?? 0) + 1;
  },
});

const url = await mf.ready;
process.stdout.write(`READY ${JSON.stringify({ url: url.href.replace(/\/$/, "") })}\n`);

const stop = async () => {
  await mf.dispose().catch(() => {});
  process.exit(0);
};
// A line "stats" on stdin: print the tiers counted since the last one.
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  if (chunk.includes("stats")) {
    process.stdout.write(`STATS ${JSON.stringify(tiers)}\n`);
    tiers = {};
  }
});
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
