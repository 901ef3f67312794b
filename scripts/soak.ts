/**
 * `npm run soak`: a bounded soak test of keygate on a real `wrangler dev` in front of the
 * real local origin, over loopback only. autocannon sends a fixed mix of requests for
 * SOAK_SECONDS (default 60) on SOAK_CONNECTIONS (default 8) connections:
 *
 *   valid        a valid key (signing on)                         expect 200
 *   limited      a key with rate_limit 100/10s (Durable Object)   expect 200, then 429
 *   public       a public route, no key                           expect 200
 *   missing      a protected route, no key                        expect 401
 *   unknown      a fresh unknown key each time, from 256 IPs      expect 401 or 429 (failure budget)
 *   malformed    a key with a space, from 64 other IPs            expect 400 or 429
 *   attacker     unknown keys, all from one IP                    expect 401, then 429 past the budget
 *   origin-503   a public route whose origin answers 503          expect 503 (the origin's choice)
 *
 * Pass: zero unexpected statuses, zero 5xx other than the origin's 503, zero socket
 * errors or timeouts, and memory stable. `wrangler dev`'s local runtime itself grows with
 * traffic (a trivial Worker grows by hundreds of MiB over 20k requests, seen here), so
 * workerd's RSS is compared with a baseline in the same run: the bare pass-through Worker
 * in scripts/soak-baseline-worker.js, same wrangler dev, same requests and count. keygate
 * passes when its growth is at most 1.5 × the baseline's + 32 MiB (SOAK_BASELINE=0 skips
 * the baseline and reports the raw figures only). Prints a summary and one JSON line;
 * exits 1 on failure. Not part of `npm test` (it is long by design).
 * SOAK_VARS='{"NAME":"value"}' adds gateway variables (e.g. UPSTREAM_IDLE_TIMEOUT_MS).
 * SOAK_ONLY="public,valid" keeps only those classes (to find what a figure comes from).
 *
 * Progress goes to stderr every 5 s. Ctrl-C (SIGINT) or SIGTERM stops every wrangler dev
 * it started, with their workerd (whole process groups), and the origin.
 * `npm run soak -- --help` prints this.
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { keysCli, startWrangler, stopAllWranglers } from "../test/support/node-wrangler";
import { startOrigin } from "./origin";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  const doc = (await import("node:fs")).readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
  process.exit(0);
}
if (args.length) {
  process.stderr.write(
    `error: unknown argument "${args[0]}": settings are environment variables (SOAK_SECONDS=…)\nsee \`npm run soak -- --help\`\n`,
  );
  process.exit(2);
}
const progress = (msg: string) => process.stderr.write(`[soak] ${msg}\n`);

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    progress(`${sig}: stopping wrangler dev (with its workerd) and the origin`);
    void stopAllWranglers().finally(() => process.exit(130));
  });
}

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 8);
const SAMPLE_EVERY_MS = 5_000;
/** keygate's RSS growth may be at most this × the baseline's, plus the slack below. */
const MAX_GROWTH_RATIO = 1.5;
const GROWTH_SLACK_MIB = 32;
const BASELINE = process.env.SOAK_BASELINE !== "0";

const SECRET = "soak:" + "s".repeat(48);

/** Resident memory (KiB) of every workerd process below `root`. */
function workerdRssKiB(root: number): number {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,rss=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, rss, comm]) => ({ pid: Number(pid), ppid: Number(ppid), rss: Number(rss), comm: comm ?? "" }));
  const below = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) {
      if (below.has(r.ppid) && !below.has(r.pid)) {
        below.add(r.pid);
        grew = true;
      }
    }
  }
  return rows.filter((r) => below.has(r.pid) && r.comm.startsWith("workerd")).reduce((sum, r) => sum + r.rss, 0);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const loadAtStart = load();

progress("starting the origin and wrangler dev (keygate)");
const origin = await startOrigin(0, "127.0.0.1", { signingSecret: SECRET });
const gw = await startWrangler({
  logLevel: "error",
  vars: {
    ORIGIN_URL: origin.url,
    ORIGIN_SIGNING_SECRET: SECRET,
    ROUTES: JSON.stringify([
      { path: "/public/*", auth: "public" },
      { path: "/status/*", auth: "public" },
    ]),
    ...(JSON.parse(process.env.SOAK_VARS ?? "{}") as Record<string, string>),
  },
});

let failed = false;
try {
  const create = async (...extra: string[]) => {
    const r = await keysCli([
      "create",
      "--org",
      "acme",
      "--scopes",
      "read",
      "--json",
      "--persist-to",
      gw.persistTo,
      ...extra,
    ]);
    if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { key: string }).key;
  };
  progress("creating two keys with the keys CLI");
  const valid = await create();
  const limited = await create("--rate-limit", "100/10s");

  type Class = "valid" | "limited" | "public" | "missing" | "unknown" | "malformed" | "attacker" | "origin-503";
  const EXPECTED: Record<Class, number[]> = {
    valid: [200],
    limited: [200, 429],
    public: [200],
    missing: [401],
    unknown: [401, 429],
    malformed: [400, 429],
    attacker: [401, 429],
    "origin-503": [503],
  };
  const tally = new Map<Class, Map<number, number>>();
  const count = (cls: Class) => (status: number) => {
    const m = tally.get(cls) ?? new Map<number, number>();
    m.set(status, (m.get(status) ?? 0) + 1);
    tally.set(cls, m);
  };
  let n = 0;
  const ip = (base: string, pool: number) => `${base}.${(n++ % pool) + 1}`;
  const requests: autocannon.Request[] = [
    {
      method: "GET",
      path: "/v1/things?x=1",
      headers: { "x-api-key": valid, "cf-connecting-ip": "198.51.100.1" },
      onResponse: count("valid"),
    },
    {
      method: "GET",
      path: "/v1/limited",
      headers: { "x-api-key": limited, "cf-connecting-ip": "198.51.100.2" },
      onResponse: count("limited"),
    },
    {
      method: "GET",
      path: "/public/schema",
      headers: { "cf-connecting-ip": "198.51.100.3" },
      onResponse: count("public"),
    },
    {
      method: "GET",
      path: "/v1/things",
      headers: { "cf-connecting-ip": "198.51.100.4" },
      onResponse: count("missing"),
    },
    {
      method: "GET",
      path: "/v1/things",
      setupRequest: (req) => ({
        ...req,
        headers: {
          ...req.headers,
          "x-api-key": `unknown-${crypto.randomUUID()}`,
          "cf-connecting-ip": ip("203.0.113", 256),
        },
      }),
      onResponse: count("unknown"),
    },
    {
      method: "GET",
      path: "/v1/things",
      setupRequest: (req) => ({
        ...req,
        headers: { ...req.headers, "x-api-key": "not a key", "cf-connecting-ip": ip("192.0.2", 64) },
      }),
      onResponse: count("malformed"),
    },
    {
      method: "GET",
      path: "/v1/things",
      setupRequest: (req) => ({
        ...req,
        headers: { ...req.headers, "x-api-key": `guess-${crypto.randomUUID()}`, "cf-connecting-ip": "203.0.114.1" },
      }),
      onResponse: count("attacker"),
    },
    {
      method: "GET",
      path: "/status/503",
      headers: { "cf-connecting-ip": "198.51.100.5" },
      onResponse: count("origin-503"),
    },
  ];

  const only = process.env.SOAK_ONLY?.split(",");
  if (only) {
    const names = ["valid", "limited", "public", "missing", "unknown", "malformed", "attacker", "origin-503"];
    for (let i = requests.length - 1; i >= 0; i--) if (!only.includes(names[i]!)) requests.splice(i, 1);
  }
  const samples: { at_s: number; rss_mib: number }[] = [];
  const started = Date.now();
  const sample = () =>
    samples.push({
      at_s: Math.round((Date.now() - started) / 1000),
      rss_mib: Math.round(workerdRssKiB(gw.pid) / 1024),
    });
  sample();
  const sampler = setInterval(() => {
    sample();
    const s = samples[samples.length - 1]!;
    progress(`${s.at_s}/${SECONDS} s, workerd RSS ${s.rss_mib} MiB`);
  }, SAMPLE_EVERY_MS);
  progress(`load: ${SECONDS} s on ${CONNECTIONS} connections`);
  const result = await autocannon({ url: gw.url, connections: CONNECTIONS, duration: SECONDS, requests, timeout: 30 });
  clearInterval(sampler);
  sample();

  const unexpected: string[] = [];
  const fiveXx: string[] = [];
  for (const [cls, statuses] of tally) {
    for (const [status, k] of statuses) {
      if (!EXPECTED[cls].includes(status)) unexpected.push(`${cls}: ${k} × ${status}`);
      if (status >= 500 && cls !== "origin-503") fiveXx.push(`${cls}: ${k} × ${status}`);
    }
  }
  const last = samples[samples.length - 1]!;
  const growthMib = last.rss_mib - samples[0]!.rss_mib;
  let baseline: { requests: number; rss_mib: { start: number; end: number }; growth_mib: number } | undefined;
  if (BASELINE) {
    progress(`baseline: a bare pass-through Worker, the same ${result.requests.total} requests`);
    const base = await startWrangler({
      logLevel: "error",
      config: path.join(import.meta.dirname, "soak-baseline.toml"),
      vars: { ORIGIN_URL: origin.url },
    });
    try {
      const start = Math.round(workerdRssKiB(base.pid) / 1024);
      const r = await autocannon({
        url: base.url,
        connections: CONNECTIONS,
        amount: result.requests.total,
        requests: requests.map(({ onResponse: _, ...rest }) => rest),
        timeout: 30,
      });
      const end = Math.round(workerdRssKiB(base.pid) / 1024);
      baseline = { requests: r.requests.total, rss_mib: { start, end }, growth_mib: end - start };
    } finally {
      await base.stop();
    }
  }
  const memoryOk = baseline === undefined || growthMib <= baseline.growth_mib * MAX_GROWTH_RATIO + GROWTH_SLACK_MIB;
  const summary = {
    seconds: SECONDS,
    connections: CONNECTIONS,
    requests: result.requests.total,
    rps_mean: Math.round(result.requests.average),
    latency_ms: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    statuses: Object.fromEntries([...tally].map(([cls, m]) => [cls, Object.fromEntries(m)])),
    unexpected,
    five_xx_not_chosen_by_origin: fiveXx,
    workerd_rss_mib: {
      start: samples[0]!.rss_mib,
      end: last.rss_mib,
      max: Math.max(...samples.map((s) => s.rss_mib)),
      growth: growthMib,
    },
    baseline_pass_through_worker: baseline ?? null,
    loadavg: { start: loadAtStart, end: load() },
  };
  failed = unexpected.length > 0 || fiveXx.length > 0 || result.errors > 0 || result.timeouts > 0 || !memoryOk;
  console.log(`keygate soak: ${SECONDS} s, ${CONNECTIONS} connections, wrangler dev on loopback`);
  console.log(
    `  requests ${summary.requests} (${summary.rps_mean} req/s), latency p50 ${summary.latency_ms.p50} ms, p99 ${summary.latency_ms.p99} ms`,
  );
  for (const [cls, m] of Object.entries(summary.statuses)) console.log(`  ${cls.padEnd(11)} ${JSON.stringify(m)}`);
  console.log(
    `  unexpected statuses: ${unexpected.length ? unexpected.join("; ") : "none"}; 5xx not chosen by the origin: ${fiveXx.length ? fiveXx.join("; ") : "none"}`,
  );
  console.log(`  socket errors ${result.errors}, timeouts ${result.timeouts}`);
  console.log(
    `  workerd RSS MiB: ${samples.map((s) => `${s.at_s}s:${s.rss_mib}`).join(" ")} (growth ${growthMib} MiB)`,
  );
  if (baseline) {
    console.log(
      `  baseline (bare pass-through Worker, same wrangler dev, ${baseline.requests} requests): ${baseline.rss_mib.start} → ${baseline.rss_mib.end} MiB (growth ${baseline.growth_mib} MiB); ` +
        `keygate allowed ≤ ${Math.round(baseline.growth_mib * MAX_GROWTH_RATIO + GROWTH_SLACK_MIB)} MiB: ${memoryOk ? "ok" : "EXCEEDED"}`,
    );
  }
  console.log(`  load average (1/5/15 min): start ${summary.loadavg.start}, end ${summary.loadavg.end}`);
  console.log(failed ? "FAIL" : "PASS");
  console.log(JSON.stringify(summary));
} finally {
  await gw.stop();
  await origin.close();
}
process.exitCode = failed ? 1 : 0;
