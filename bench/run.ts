/**
 * `npm run bench`: keygate against the pass-through ceiling, in one run, on loopback.
 *
 * One local origin (scripts/origin.ts, path /bench: a fixed 13-byte body) and one load
 * generator (autocannon, in this process) for every target; fixed connections and
 * duration; several rounds, medians. The Workers targets run twice: under `wrangler dev`
 * (what users run) and on workerd driven directly through the Miniflare API (closer to
 * production). Targets:
 *
 *   origin        the origin directly
 *   pass          a pass-through worker, no auth (bench/passthrough): the ceiling
 *   floor         a minimal key gateway (bench/floor): read the key, SHA-256 it, look it up
 *                 in an isolate Map, rebuild the upstream headers, forward, x-request-id on
 *                 a rebuilt response, one JSON log line — keygate ÷ floor is a target (≥ 0.97)
 *   valid         keygate, valid key, warm in-isolate cache
 *   valid-nolog, unknown-nolog, bad-checksum-nolog
 *                 the same with console.log silenced (measures the access log's cost)
 *   no-cache      keygate with CACHE_TTL_MS=0: every request reads KV
 *   unknown       keygate rejecting an unknown key (well-formed, valid checksum)
 *   bad-checksum  keygate rejecting a key with our prefix and a bad checksum
 *   ws-<N>        keygate, N distinct valid keys round-robin (default 10k and 100k)
 *   ab-<variant>  only when asked for (--targets=ablations, or by id): what each piece of
 *                 keygate costs against the floor — the floor with one of keygate's steps
 *                 (normalize, route, families, headers, feed, usage, lastused, admit,
 *                 forward, log) and keygate with one feature off (kg, kg-feed, kg-usage,
 *                 kg-lastused, kg-core), all served by one worker (bench/floor/ablate.ts)
 *
 * Throughput and the latency distribution under load come from runs at BENCH_CONNECTIONS
 * connections; at that concurrency p50 is mostly queueing (≈ connections ÷ throughput),
 * so latency *added* by the gateway comes from separate single-connection runs.
 *
 * Options (environment variables, or flags without the BENCH_ prefix: --duration=4,
 * --rounds=5, --modes=workerd, --targets=pass,valid):
 *   BENCH_DURATION=4          seconds per loaded round
 *   BENCH_ROUNDS=3            rounds per target (medians reported)
 *   BENCH_CONNECTIONS=32      connections of the loaded rounds
 *   BENCH_LATENCY_DURATION=2  seconds per single-connection round
 *   BENCH_WARMUP=2            seconds of warm-up per target
 *   BENCH_WORKING_SETS=10000,100000
 *   BENCH_MODES=wrangler,workerd
 *   BENCH_TARGETS=            comma list of target ids ("ws" = every working set,
 *                             "ablations" = every ab-… target); empty: all but ablations
 *   BENCH_MICRO=1             0 skips the micro-benchmark
 *   BENCH_VARS=               extra variables for the keygate targets, NAME=value,… (e.g.
 *                             --vars=UPSTREAM_IDLE_TIMEOUT_MS=0: what one setting costs)
 *   --quick                   1 round of 2 s, working sets of 1k and 10k (a smoke run)
 *   --fresh-state             seed the key states again (BENCH_FRESH_STATE=1)
 * Results: bench/results/<time>.json and bench/results/latest.json. Seeded key states are
 * kept in bench/results/state/ and reused by later runs (100k keys take minutes to mint).
 * Progress goes to stderr ([bench] lines). Ctrl-C (SIGINT), SIGTERM or a failure stops
 * everything it started: wrangler dev and workerd process groups, the origin.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { mintKey } from "../src/keys/format";
import { cacheBytesPerEntry } from "./lib/cache-memory";
import type { LoadResult } from "./lib/load";
import { load } from "./lib/load";
import { gatewayVars, MINIFLARE_VERSION, ROOT } from "./lib/miniflare";
import { cpuMs, installCleanup, memoryKiB, trackGroup, untrackGroup } from "./lib/procs";
import type { Mode, Runtime, WorkerSpec } from "./lib/runtimes";
import { startRuntime } from "./lib/runtimes";
import { seededState } from "./lib/seed";
import { runMicroWorkerd } from "./micro/bundle";
import type { MicroCase } from "./micro/types";

const execFileP = promisify(execFile);

// ---------------------------------------------------------------- settings

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
function setting(name: string, fallback: string, quickValue?: string): string {
  const flag = argv.find((a) =>
    a.startsWith(
      `--${name
        .toLowerCase()
        .replace(/^bench_/, "")
        .replace(/_/g, "-")}=`,
    ),
  );
  if (flag) return flag.slice(flag.indexOf("=") + 1);
  return process.env[name] ?? (quick && quickValue !== undefined ? quickValue : fallback);
}
function num(name: string, fallback: number, quickValue?: number): number {
  const v = Number(setting(name, String(fallback), quickValue === undefined ? undefined : String(quickValue)));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
}
if (argv.includes("--help") || argv.includes("-h")) {
  const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
  process.exit(0);
}
const FLAG_NAMES = [
  "duration",
  "rounds",
  "connections",
  "latency-duration",
  "warmup",
  "working-sets",
  "modes",
  "targets",
  "micro",
  "vars",
];
for (const a of argv) {
  const known = a === "--quick" || a === "--fresh-state" || FLAG_NAMES.some((f) => a.startsWith(`--${f}=`));
  if (!known) {
    process.stderr.write(`error: unknown argument "${a}"\nsee \`npm run bench -- --help\`\n`);
    process.exit(2);
  }
}
const S = {
  duration: num("BENCH_DURATION", 4, 2),
  rounds: num("BENCH_ROUNDS", 3, 1),
  connections: num("BENCH_CONNECTIONS", 32),
  latencyDuration: num("BENCH_LATENCY_DURATION", 2, 1),
  warmup: num("BENCH_WARMUP", 2, 1),
  workingSets: setting("BENCH_WORKING_SETS", "10000,100000", "1000,10000").split(",").filter(Boolean).map(Number),
  modes: setting("BENCH_MODES", "wrangler,workerd").split(",").filter(Boolean) as Mode[],
  targets: setting("BENCH_TARGETS", "").split(",").filter(Boolean),
  micro: setting("BENCH_MICRO", "1") !== "0",
  freshState: argv.includes("--fresh-state") || process.env.BENCH_FRESH_STATE === "1",
  /** Extra variables for every keygate target ("NAME=value,NAME=value"): to measure what one setting costs. */
  vars: Object.fromEntries(
    setting("BENCH_VARS", "")
      .split(",")
      .filter(Boolean)
      .map((kv) => {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new Error(`BENCH_VARS: "${kv}" is not NAME=value`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
  ) as Record<string, string>,
};
for (const m of S.modes) if (m !== "wrangler" && m !== "workerd") throw new Error(`BENCH_MODES: unknown mode "${m}"`);
const wanted = (id: string) =>
  S.targets.length === 0 || S.targets.some((t) => id === t || (t === "ws" && id.startsWith("ws-")));
/** Ablation targets run only when named (they take as long as the rest of the run). */
const wantedAblation = (id: string) => S.targets.some((t) => id === t || t === "ablations");

installCleanup();
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const work = mkdtempSync(path.join(tmpdir(), "keygate-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- measurement

interface TargetResult {
  id: string;
  mode: Mode | "origin";
  label: string;
  expectStatus: number;
  rounds: LoadResult[];
  single: LoadResult[];
  median: { rps: number; p50: number; p99: number };
  singleMedian: { rps: number; p50: number; p99: number };
  /** CPU per request by process role during the loaded rounds, in µs. */
  cpuUsPerReq: Record<string, number>;
  /** workerd (the one running the Worker): peak RSS and RSS after each loaded round, MiB. */
  memory?: { workerdPeakMiB: number; workerdRssAfterRoundsMiB: number[]; otherWorkerdPeakMiB?: number };
  statusOk: boolean;
  statuses: Record<string, number>;
  /** Access-log lines by cache tier (workerd mode: memory, kv, format, null = none). */
  cacheTiers?: Record<string, number>;
  note?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

interface Target {
  id: string;
  label: string;
  url: string;
  headers?: Record<string, string>;
  rotate?: { header: string; values: string[]; cursor: { next: number } };
  expectStatus: number;
  /** Warm-up: a number of requests instead of BENCH_WARMUP seconds. */
  warmupAmount?: number;
  /** Processes whose CPU is accounted (role → pids), re-read each round. */
  roles: () => Record<string, number[]>;
  workerPids: () => number[];
  otherWorkerdPids: () => number[];
  cacheTiers?: () => Promise<Record<string, number>>;
  note?: string;
}

function newResult(t: Target, mode: Mode | "origin"): TargetResult {
  return {
    id: t.id,
    mode,
    label: t.label,
    expectStatus: t.expectStatus,
    rounds: [],
    single: [],
    median: { rps: NaN, p50: NaN, p99: NaN },
    singleMedian: { rps: NaN, p50: NaN, p99: NaN },
    cpuUsPerReq: {},
    statusOk: true,
    statuses: {},
    ...(t.note ? { note: t.note } : {}),
  };
}

async function measure(
  t: Target,
  r: TargetResult,
  connections: number,
  duration: number,
  into: LoadResult[],
  cpu?: Record<string, number>,
) {
  const roles = t.roles();
  await t.cacheTiers?.(); // reset the tally
  const before = new Map<number, number>();
  for (const pids of Object.values(roles)) for (const pid of pids) before.set(pid, cpuMs(pid) ?? 0);
  const res = await load({
    url: t.url,
    connections,
    duration,
    ...(t.headers ? { headers: t.headers } : {}),
    ...(t.rotate ? { rotate: t.rotate } : {}),
  });
  into.push(res);
  if (t.cacheTiers) {
    r.cacheTiers ??= {};
    for (const [tier, n] of Object.entries(await t.cacheTiers())) r.cacheTiers[tier] = (r.cacheTiers[tier] ?? 0) + n;
  }
  for (const [status, count] of Object.entries(res.statuses)) {
    r.statuses[status] = (r.statuses[status] ?? 0) + count;
    if (status !== String(t.expectStatus)) r.statusOk = false;
  }
  if (res.requests === 0) r.statusOk = false;
  if (cpu) {
    for (const [role, pids] of Object.entries(roles)) {
      let ms = 0;
      for (const pid of pids) ms += (cpuMs(pid) ?? before.get(pid) ?? 0) - (before.get(pid) ?? 0);
      cpu[role] = (cpu[role] ?? 0) + ms * 1000;
    }
    cpu.loadgen = (cpu.loadgen ?? 0) + res.loadgenCpuUsPerReq * res.requests;
  }
}

/**
 * Rounds interleaved across the targets of one group (A B C A B C …), so slow drift on a
 * shared machine hits every target alike; then single-connection rounds the same way.
 */
async function runGroup(mode: Mode | "origin", targets: Target[]): Promise<TargetResult[]> {
  const results = targets.map((t) => newResult(t, mode));
  const cpuTotals = targets.map(() => ({}) as Record<string, number>);
  for (const t of targets) {
    log(`${mode}/${t.id}: warm-up`);
    await load({
      url: t.url,
      connections: S.connections,
      duration: S.warmup,
      ...(t.warmupAmount ? { amount: t.warmupAmount } : {}),
      ...(t.headers ? { headers: t.headers } : {}),
      ...(t.rotate ? { rotate: t.rotate } : {}),
    });
  }
  const rss: number[][] = targets.map(() => []);
  for (let round = 0; round < S.rounds; round++) {
    for (const [i, t] of targets.entries()) {
      log(`${mode}/${t.id}: round ${round + 1}/${S.rounds}, ${S.connections} connections, ${S.duration} s`);
      await measure(t, results[i]!, S.connections, S.duration, results[i]!.rounds, cpuTotals[i]);
      const mem = t.workerPids().map((pid) => memoryKiB(pid)?.rss ?? 0);
      if (mem.length) rss[i]!.push(mib(Math.max(...mem)));
    }
  }
  for (let round = 0; round < S.rounds; round++) {
    for (const [i, t] of targets.entries()) {
      log(`${mode}/${t.id}: single-connection round ${round + 1}/${S.rounds}, ${S.latencyDuration} s`);
      await measure(t, results[i]!, 1, S.latencyDuration, results[i]!.single);
    }
  }
  for (const [i, t] of targets.entries()) {
    const r = results[i]!;
    const requests = r.rounds.reduce((a, x) => a + x.requests, 0);
    for (const [role, us] of Object.entries(cpuTotals[i]!))
      r.cpuUsPerReq[role] = requests ? Math.round((us / requests) * 10) / 10 : NaN;
    r.median = {
      rps: median(r.rounds.map((x) => x.rps)),
      p50: median(r.rounds.map((x) => x.p50)),
      p99: median(r.rounds.map((x) => x.p99)),
    };
    r.singleMedian = {
      rps: median(r.single.map((x) => x.rps)),
      p50: median(r.single.map((x) => x.p50)),
      p99: median(r.single.map((x) => x.p99)),
    };
    const peaks = t.workerPids().map((pid) => memoryKiB(pid)?.peak ?? 0);
    const others = t.otherWorkerdPids().map((pid) => memoryKiB(pid)?.peak ?? 0);
    if (peaks.length) {
      r.memory = {
        workerdPeakMiB: mib(Math.max(...peaks)),
        workerdRssAfterRoundsMiB: rss[i]!,
        ...(others.length ? { otherWorkerdPeakMiB: mib(Math.max(...others)) } : {}),
      };
    }
    if (!r.statusOk) log(`WARNING ${mode}/${t.id}: expected only ${t.expectStatus}, got ${JSON.stringify(r.statuses)}`);
  }
  return results;
}

// ---------------------------------------------------------------- setup

async function bundle(config: string, outdir: string): Promise<string> {
  await execFileP(
    process.execPath,
    [
      path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "deploy",
      "--dry-run",
      "--config",
      config,
      "--outdir",
      outdir,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
    },
  );
  // Named after the config's `main` (index.js, worker.js…).
  const js = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  if (js.length !== 1) throw new Error(`expected one bundled module in ${outdir}, found ${js.join(", ") || "none"}`);
  return path.join(outdir, js[0]!);
}

async function startOriginProcess(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/origin.ts"), "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  trackGroup(child.pid!);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () => {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        /* gone */
      }
      untrackGroup(child.pid!);
    },
  };
}

/** The dominant cache tier of the access-log lines and its share ("memory 100%"). */
function tierSummary(tiers: Record<string, number> | undefined): string {
  if (!tiers) return "–";
  const total = Object.values(tiers).reduce((a, b) => a + b, 0);
  const top = Object.entries(tiers).sort((a, b) => b[1] - a[1])[0];
  if (!top || total === 0) return "–";
  return `${top[0] === "null" ? "none" : top[0]} ${Math.floor((100 * top[1]) / total)}%`;
}

/**
 * The floor's FLOOR_KEYS for one key (bench/floor/floor.ts floorKeyEntry: "sha256hex/id/
 * org/scopes"; that module is type-checked with the Workers types, so not imported here).
 */
function floorKeysVar(key: string): string {
  return `${createHash("sha256").update(key).digest("hex")}/key_floor/bench/read`;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

// ---------------------------------------------------------------- main

async function main() {
  const startedAt = new Date();
  const load0 = loadavg();
  log(`settings: ${JSON.stringify(S)}; load average ${load0.map((x) => x.toFixed(2)).join(" ")}; work dir ${work}`);

  // Bundles: the deployable one (its size is reported), the pass-through, and a variant
  // with console.log silenced (measurement only: the access log's cost).
  const kgBundle = await bundle(path.join(ROOT, "wrangler.toml"), path.join(work, "bundle-keygate"));
  const passBundle = await bundle(path.join(ROOT, "bench/passthrough/wrangler.toml"), path.join(work, "bundle-pass"));
  const floorBundle = wanted("floor")
    ? await bundle(path.join(ROOT, "bench/floor/wrangler.toml"), path.join(work, "bundle-floor"))
    : "";
  // The log variant: the gateway's own wrangler.toml with `main` pointing at a wrapper
  // that silences console.log (called only at request time, after the imports ran).
  const nologWrapper = path.join(work, "nolog.js");
  writeFileSync(
    nologWrapper,
    `export * from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};\nexport { default } from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};\nconsole.log = () => {};\n`,
  );
  // Every bench request comes from 127.0.0.1: with the production budget (30 failed
  // authentications per minute per IP) the rejection targets would block that address and
  // turn every later answer into a 429. The bench config keeps the binding (a rejection
  // still pays for the call) with a budget it never exhausts.
  const benchToml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(path.join(ROOT, "src/index.ts"))}`)
    .replace(/simple = \{ limit = \d+, period = (\d+) \}/, "simple = { limit = 1000000000, period = $1 }");
  if (!benchToml.includes("limit = 1000000000"))
    throw new Error("wrangler.toml: AUTH_FAILURE_LIMITER's simple = { limit, period } not found");
  const kgConfig = path.join(work, "wrangler-keygate.toml");
  writeFileSync(kgConfig, benchToml);
  const nologConfig = path.join(work, "wrangler-nolog.toml");
  writeFileSync(nologConfig, benchToml.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(nologWrapper)}`));
  const nologBundle = await bundle(nologConfig, path.join(work, "bundle-nolog"));
  // The ablation worker: the gateway's configuration (bindings, [vars]) with `main` on
  // bench/floor/ablate.ts, which serves every variant (x-bench-variant).
  const ablateConfig = path.join(work, "wrangler-ablate.toml");
  writeFileSync(
    ablateConfig,
    benchToml.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(path.join(ROOT, "bench/floor/ablate.ts"))}`),
  );
  const ablating = S.targets.some((t) => t === "ablations" || t.startsWith("ab-"));
  const ablateBundle = ablating ? await bundle(ablateConfig, path.join(work, "bundle-ablate")) : "";
  const kgSource = readFileSync(kgBundle);
  const bundleSize = { bytes: kgSource.length, gzipBytes: gzipSync(kgSource).length };
  log(`bundle: ${(bundleSize.bytes / 1024).toFixed(1)} KiB, ${(bundleSize.gzipBytes / 1024).toFixed(1)} KiB gzipped`);

  const origin = await startOriginProcess();
  const originTarget = `${origin.url}/bench`;
  const vars: Record<string, string> = { ...gatewayVars(), ORIGIN_URL: origin.url, ...S.vars };
  const prefix = vars.KEY_PREFIX ?? "kg_";
  // (src/config/config.ts's DEFAULTS.CACHE_MAX_ENTRIES; that module needs the Workers types.)
  const maxEntries = Number(vars.CACHE_MAX_ENTRIES ?? 10_000);

  // Key state: one valid key per live instance (instances never share a state folder).
  const states: Record<string, { dir: string; keys: string[] }> = {};
  const pepper = vars.KEY_PEPPER ? { pepper: vars.KEY_PEPPER } : {};
  const seeded = async (name: string, count: number) => {
    states[name] ??= await seededState(
      path.join(ROOT, "bench/results/state"),
      name,
      count,
      { prefix, ...pepper },
      { fresh: S.freshState, log },
    );
    return states[name]!;
  };
  const unknownKey = mintKey(prefix); // valid checksum, never stored
  const good = mintKey(prefix);
  const badChecksum = good.slice(0, -1) + (good.endsWith("A") ? "B" : "A");

  const results: TargetResult[] = [];

  // 1. The origin alone.
  if (wanted("origin")) {
    const originRoles = () => ({ origin: [origin.pid] });
    results.push(
      ...(await runGroup("origin", [
        {
          id: "origin",
          label: "origin directly",
          url: originTarget,
          expectStatus: 200,
          roles: originRoles,
          workerPids: () => [],
          otherWorkerdPids: () => [],
        },
      ])),
    );
  }

  for (const mode of S.modes) {
    const running: Runtime[] = [];
    const start = async (spec: WorkerSpec) => {
      const rt = await startRuntime(mode, spec);
      running.push(rt);
      return rt;
    };
    const stop = async (rt: Runtime) => {
      await rt.stop();
      running.splice(running.indexOf(rt), 1);
    };
    const target = (rt: Runtime, t: Omit<Target, "url" | "roles" | "workerPids" | "otherWorkerdPids">): Target => ({
      ...t,
      url: `${rt.url}/bench`,
      roles: () => ({ ...rt.roles(), origin: [origin.pid] }),
      workerPids: () => rt.roles().worker ?? [],
      otherWorkerdPids: () => rt.roles()["wrangler-proxy-workerd"] ?? [],
      ...(rt.cacheTiers ? { cacheTiers: () => rt.cacheTiers!() } : {}),
    });
    const kgSpec = (extra: Partial<WorkerSpec> = {}): WorkerSpec => ({
      config: kgConfig,
      bundle: kgBundle,
      vars,
      ...extra,
    });
    try {
      // 2, 3, 5 and the log variant: live together, rounds interleaved.
      const group: Target[] = [];
      if (wanted("pass")) {
        const pass = await start({
          config: path.join(ROOT, "bench/passthrough/wrangler.toml"),
          bundle: passBundle,
          vars: { ORIGIN_URL: origin.url },
        });
        group.push(target(pass, { id: "pass", label: "pass-through worker (ceiling)", expectStatus: 200 }));
      }
      if (wanted("floor")) {
        // The same key as the valid target: the floor knows it by its SHA-256 (no KV).
        const key = (await seeded("kg", 1)).keys[0]!;
        const floor = await start({
          config: path.join(ROOT, "bench/floor/wrangler.toml"),
          bundle: floorBundle,
          vars: { ORIGIN_URL: origin.url, FLOOR_KEYS: floorKeysVar(key) },
        });
        group.push(
          target(floor, {
            id: "floor",
            label: "minimal key gateway (floor)",
            headers: { "x-api-key": key },
            expectStatus: 200,
          }),
        );
      }
      if (wanted("valid") || wanted("unknown") || wanted("bad-checksum")) {
        const state = await seeded("kg", 1);
        const kg = await start(kgSpec({ persistTo: state.dir }));
        if (wanted("valid"))
          group.push(
            target(kg, {
              id: "valid",
              label: "keygate, valid key, warm cache",
              headers: { "x-api-key": state.keys[0]! },
              expectStatus: 200,
            }),
          );
        if (wanted("unknown"))
          group.push(
            target(kg, {
              id: "unknown",
              label: "keygate, unknown key → 401",
              headers: { "x-api-key": unknownKey },
              expectStatus: 401,
            }),
          );
        if (wanted("bad-checksum"))
          group.push(
            target(kg, {
              id: "bad-checksum",
              label: "keygate, bad checksum → 401",
              headers: { "x-api-key": badChecksum },
              expectStatus: 401,
            }),
          );
      }
      if (wanted("valid-nolog") || wanted("unknown-nolog") || wanted("bad-checksum-nolog")) {
        const state = await seeded("kg-nolog", 1);
        const rt = await start(kgSpec({ config: nologConfig, bundle: nologBundle, persistTo: state.dir }));
        const note = "measurement only: the access log's cost";
        if (wanted("valid-nolog"))
          group.push(
            target(rt, {
              id: "valid-nolog",
              label: "keygate, valid key, console.log off",
              headers: { "x-api-key": state.keys[0]! },
              expectStatus: 200,
              note,
            }),
          );
        if (wanted("unknown-nolog"))
          group.push(
            target(rt, {
              id: "unknown-nolog",
              label: "keygate, unknown key → 401, console.log off",
              headers: { "x-api-key": unknownKey },
              expectStatus: 401,
              note,
            }),
          );
        if (wanted("bad-checksum-nolog"))
          group.push(
            target(rt, {
              id: "bad-checksum-nolog",
              label: "keygate, bad checksum → 401, console.log off",
              headers: { "x-api-key": badChecksum },
              expectStatus: 401,
              note,
            }),
          );
      }
      if (group.length) results.push(...(await runGroup(mode, group)));
      for (const rt of [...running]) await stop(rt);

      // Ablations: every variant of bench/floor/variants.ts from one worker, rounds interleaved.
      if (ablating) {
        const state = await seeded("ablate", 1);
        const key = state.keys[0]!;
        const rt = await start({
          config: ablateConfig,
          bundle: ablateBundle,
          vars: { ...vars, FLOOR_KEYS: floorKeysVar(key) },
          persistTo: state.dir,
        });
        const listed = (await (
          await fetch(`${rt.url}/bench`, { headers: { "x-bench-variant": "list" } })
        ).json()) as Record<string, string>;
        const ab: Target[] = [];
        for (const [variant, what] of Object.entries(listed)) {
          if (!wantedAblation(`ab-${variant}`)) continue;
          ab.push(
            target(rt, {
              id: `ab-${variant}`,
              label: `ablation: ${variant}`,
              headers: { "x-api-key": key, "x-bench-variant": variant },
              expectStatus: 200,
              note: what,
            }),
          );
        }
        if (ab.length) results.push(...(await runGroup(mode, ab)));
        await stop(rt);
      }

      // 4. Every request reads KV.
      if (wanted("no-cache")) {
        const state = await seeded("kg", 1);
        const rt = await start(kgSpec({ vars: { ...vars, CACHE_TTL_MS: "0" }, persistTo: state.dir }));
        results.push(
          ...(await runGroup(mode, [
            target(rt, {
              id: "no-cache",
              label: "keygate, in-isolate cache off (CACHE_TTL_MS=0)",
              headers: { "x-api-key": state.keys[0]! },
              expectStatus: 200,
            }),
          ])),
        );
        await stop(rt);
      }

      // 6. Working sets, round-robin, default CACHE_MAX_ENTRIES.
      for (const size of S.workingSets) {
        const id = `ws-${size >= 1000 ? `${size / 1000}k` : size}`;
        if (!wanted(id)) continue;
        const state = await seeded(id, size);
        const rt = await start(kgSpec({ persistTo: state.dir }));
        results.push(
          ...(await runGroup(mode, [
            target(rt, {
              id,
              label: `keygate, ${size} distinct keys round-robin`,
              rotate: { header: "x-api-key", values: state.keys, cursor: { next: 0 } },
              expectStatus: 200,
              // A set the cache can hold gets one full pass first, so it is measured warm;
              // a larger one misses whatever the warm-up (round-robin evicts each key
              // before its turn comes again).
              ...(size <= maxEntries ? { warmupAmount: size } : {}),
            }),
          ])),
        );
        await stop(rt);
      }
    } finally {
      for (const rt of [...running]) await stop(rt);
    }
  }
  origin.stop();

  // Micro-benchmark of the per-request work, in workerd and under Node.
  let micro: { workerd: MicroCase[]; node: MicroCase[]; clockFrozenDuringCompute: boolean } | undefined;
  // A failing case must not cost the load figures measured above: it is reported, and
  // the run ends with an error after writing them.
  let microError: unknown;
  if (S.micro) {
    log("micro-benchmark: workerd");
    try {
      const body = await runMicroWorkerd();
      log("micro-benchmark: node");
      // Loaded at run time: the module is type-checked with the Workers types (tsconfig.json).
      // The worker's entry it loads imports `cloudflare:workers` (the Durable Object base
      // class), which Node has not: a module hook stands in for it.
      register("./micro/cloudflare-loader.mjs", import.meta.url);
      const nodeMicro = "./micro/node.ts";
      const { runMicroNode } = (await import(nodeMicro)) as {
        runMicroNode: (vars: Record<string, string>) => Promise<MicroCase[]>;
      };
      // Node has no FixedLengthStream, which the response-body idle guard uses: the Node
      // comparison runs without the guard (UPSTREAM_IDLE_TIMEOUT_MS=0).
      const nodeVars = { ...gatewayVars(), ORIGIN_URL: "http://127.0.0.1:9", UPSTREAM_IDLE_TIMEOUT_MS: "0" };
      micro = {
        workerd: body.cases,
        node: await runMicroNode(nodeVars),
        clockFrozenDuringCompute: body.clockFrozenDuringCompute,
      };
    } catch (err) {
      microError = err;
      log(
        `micro-benchmark failed (the load figures are still written): ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  // The cache's own memory for the largest working set, with the default bound.
  const cacheMemory = S.micro
    ? await cacheBytesPerEntry(Math.max(maxEntries, ...S.workingSets), maxEntries)
    : undefined;

  // ---------------------------------------------------------------- report
  const find = (mode: string, id: string) => results.find((r) => r.mode === mode && r.id === id);
  const summary: Record<string, unknown> = {};
  for (const mode of S.modes) {
    const pass = find(mode, "pass");
    const valid = find(mode, "valid");
    const s: Record<string, number> = {};
    if (pass && valid) {
      s.throughputRatioValidOverPass = valid.median.rps / pass.median.rps;
      s.addedP50MsSingleConnection = valid.singleMedian.p50 - pass.singleMedian.p50;
      s.addedP99MsSingleConnection = valid.singleMedian.p99 - pass.singleMedian.p99;
      s.addedWorkerCpuUsPerReq = (valid.cpuUsPerReq.worker ?? NaN) - (pass.cpuUsPerReq.worker ?? NaN);
    }
    // The floor (issue 25): keygate ÷ a minimal key gateway, target ≥ 0.97.
    const floor = find(mode, "floor");
    if (floor && valid) {
      s.throughputRatioValidOverFloor = valid.median.rps / floor.median.rps;
      s.addedP50MsOverFloorSingleConnection = valid.singleMedian.p50 - floor.singleMedian.p50;
      s.addedWorkerCpuUsPerReqOverFloor = (valid.cpuUsPerReq.worker ?? NaN) - (floor.cpuUsPerReq.worker ?? NaN);
    }
    if (floor && pass) s.throughputRatioFloorOverPass = floor.median.rps / pass.median.rps;
    for (const id of [
      "unknown",
      "bad-checksum",
      "no-cache",
      "valid-nolog",
      "unknown-nolog",
      "bad-checksum-nolog",
      ...S.workingSets.map((n) => `ws-${n >= 1000 ? `${n / 1000}k` : n}`),
    ]) {
      const r = find(mode, id);
      if (r && pass) s[`throughputRatio ${id}/pass`] = r.median.rps / pass.median.rps;
      if (r && valid && !id.includes("unknown") && !id.includes("bad-checksum"))
        s[`throughputRatio ${id}/valid`] = r.median.rps / valid.median.rps;
    }
    // Ablations: each variant against the ablation worker's own floor (same process,
    // rounds interleaved); keygate's variants also against keygate with everything on.
    const abFloor = find(mode, "ab-floor");
    const abKg = find(mode, "ab-kg");
    const ablations: Record<
      string,
      {
        throughputRatioOverFloor: number;
        addedWorkerCpuUsOverFloor: number;
        throughputRatioOverKeygate?: number;
        addedWorkerCpuUsOverKeygate?: number;
      }
    > = {};
    for (const r of results.filter((x) => x.mode === mode && x.id.startsWith("ab-"))) {
      const cpu = r.cpuUsPerReq.worker ?? NaN;
      ablations[r.id.slice(3)] = {
        throughputRatioOverFloor: abFloor ? r.median.rps / abFloor.median.rps : NaN,
        addedWorkerCpuUsOverFloor: abFloor ? cpu - (abFloor.cpuUsPerReq.worker ?? NaN) : NaN,
        ...(abKg && r.id.startsWith("ab-kg")
          ? {
              throughputRatioOverKeygate: r.median.rps / abKg.median.rps,
              addedWorkerCpuUsOverKeygate: cpu - (abKg.cpuUsPerReq.worker ?? NaN),
            }
          : {}),
      };
    }
    summary[mode] = Object.keys(ablations).length ? { ...s, ablations } : s;
  }
  const load1 = loadavg();
  const out = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadavgBefore: load0,
      loadavgAfter: load1,
      node: process.version,
    },
    versions: {
      wrangler: JSON.parse(readFileSync(path.join(ROOT, "node_modules/wrangler/package.json"), "utf8")).version,
      miniflare: MINIFLARE_VERSION,
      autocannon: JSON.parse(readFileSync(path.join(ROOT, "node_modules/autocannon/package.json"), "utf8")).version,
    },
    settings: S,
    bundle: bundleSize,
    results,
    summary,
    micro,
    cacheMemory,
  };
  const dir = path.join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2));
  writeFileSync(path.join(dir, "latest.json"), JSON.stringify(out, null, 2));

  const lines: string[] = [];
  lines.push("");
  lines.push(
    `keygate benchmark — ${S.connections} connections × ${S.duration} s × ${S.rounds} rounds (medians); single connection × ${S.latencyDuration} s`,
  );
  lines.push(
    `load average before ${load0.map((x) => x.toFixed(2)).join(" ")}, after ${load1.map((x) => x.toFixed(2)).join(" ")}; ${cpus().length} CPUs; latency in ms; CPU in µs per request`,
  );
  lines.push("");
  if (results.length)
    lines.push(
      [
        "mode",
        "target",
        "req/s",
        "p50",
        "p99",
        "1c p50",
        "1c p99",
        "workerd MiB",
        "CPU workerd",
        "CPU other",
        "cache tier",
        "ok",
      ]
        .map((h, i) => (i < 2 ? h.padEnd(i ? 46 : 9) : h.padStart(i === 7 || i === 10 ? 12 : 8)))
        .join(" "),
    );
  for (const r of results) {
    const other = Object.entries(r.cpuUsPerReq)
      .filter(([k]) => k !== "worker" && k !== "loadgen")
      .reduce((a, [, v]) => a + v, 0);
    lines.push(
      [
        r.mode.padEnd(9),
        r.label.padEnd(46),
        fmt(r.median.rps).padStart(8),
        fmt(r.median.p50, 2).padStart(8),
        fmt(r.median.p99, 2).padStart(8),
        fmt(r.singleMedian.p50, 3).padStart(8),
        fmt(r.singleMedian.p99, 3).padStart(8),
        (r.memory ? fmt(r.memory.workerdPeakMiB, 1) : "–").padStart(12),
        fmt(r.cpuUsPerReq.worker ?? NaN).padStart(8),
        fmt(other).padStart(8),
        tierSummary(r.cacheTiers).padStart(12),
        (r.statusOk ? "yes" : "NO").padStart(8),
      ].join(" "),
    );
  }
  lines.push("");
  for (const mode of S.modes) {
    const s = summary[mode] as Record<string, number>;
    if (s.throughputRatioValidOverPass === undefined && s.throughputRatioValidOverFloor === undefined) continue;
    if (s.throughputRatioValidOverPass !== undefined) {
      lines.push(
        `${mode}: keygate ÷ pass-through throughput ${fmt(s.throughputRatioValidOverPass, 3)} (target ≥ 0.9); added latency, single connection: p50 ${fmt(s.addedP50MsSingleConnection!, 3)} ms (target ≤ 0.2), p99 ${fmt(s.addedP99MsSingleConnection!, 3)} ms; added workerd CPU ${fmt(s.addedWorkerCpuUsPerReq!, 1)} µs/request (target ≤ 50)`,
      );
    }
    if (s.throughputRatioValidOverFloor !== undefined) {
      lines.push(
        `${s.throughputRatioValidOverPass !== undefined ? "  " : `${mode}: `}keygate ÷ floor (minimal key gateway) throughput ${fmt(s.throughputRatioValidOverFloor, 3)} (target ≥ 0.97); floor ÷ pass-through ${fmt(s.throughputRatioFloorOverPass ?? NaN, 3)}; keygate over the floor: p50 ${fmt(s.addedP50MsOverFloorSingleConnection!, 3)} ms single connection, workerd CPU ${fmt(s.addedWorkerCpuUsPerReqOverFloor!, 1)} µs/request`,
      );
    }
    const rest = Object.entries(s).filter(([k]) => k.startsWith("throughputRatio "));
    if (rest.length)
      lines.push(`  ${rest.map(([k, v]) => `${k.slice("throughputRatio ".length)} ${fmt(v, 3)}`).join("; ")}`);
  }
  for (const mode of S.modes) {
    const ab = (
      summary[mode] as {
        ablations?: Record<
          string,
          {
            throughputRatioOverFloor: number;
            addedWorkerCpuUsOverFloor: number;
            throughputRatioOverKeygate?: number;
            addedWorkerCpuUsOverKeygate?: number;
          }
        >;
      }
    ).ablations;
    if (!ab) continue;
    lines.push(
      `${mode} ablations (each against the ablation worker's floor; keygate's variants also against keygate, defaults on):`,
    );
    for (const [variant, a] of Object.entries(ab)) {
      const kg =
        a.throughputRatioOverKeygate === undefined
          ? ""
          : `; ÷ keygate ${fmt(a.throughputRatioOverKeygate, 3)}, CPU ${a.addedWorkerCpuUsOverKeygate! >= 0 ? "+" : ""}${fmt(a.addedWorkerCpuUsOverKeygate!, 1)} µs`;
      lines.push(
        `  ${variant.padEnd(12)} ÷ floor ${fmt(a.throughputRatioOverFloor, 3)}, CPU ${a.addedWorkerCpuUsOverFloor >= 0 ? "+" : ""}${fmt(a.addedWorkerCpuUsOverFloor, 1)} µs/request${kg}`,
      );
    }
  }
  lines.push(
    `bundle: ${fmt(bundleSize.bytes / 1024, 1)} KiB, ${fmt(bundleSize.gzipBytes / 1024, 1)} KiB gzipped (target ≤ 30)`,
  );
  if (micro) {
    lines.push("");
    lines.push(
      `micro-benchmark, µs per operation: median of ${"samples"} timed across I/O boundaries; (CPU) = workerd's CPU time ÷ iterations${micro.clockFrozenDuringCompute ? "; workerd's clock is frozen during compute here" : ""}:`,
    );
    lines.push(`${"case".padEnd(56)} ${"workerd".padStart(9)} ${"(CPU)".padStart(9)} ${"node".padStart(9)}`);
    for (const c of micro.workerd) {
      const n = micro.node.find((x) => x.name === c.name);
      lines.push(
        `${c.name.padEnd(56)} ${fmt(c.us, 2).padStart(9)} ${fmt(c.cpuUs ?? NaN, 2).padStart(9)} ${fmt(n?.us ?? NaN, 2).padStart(9)}`,
      );
    }
  }
  if (cacheMemory) {
    lines.push(
      `in-isolate cache (Node's V8 heap): ${cacheMemory.entries} distinct keys → ${cacheMemory.cached} cached (CACHE_MAX_ENTRIES), ${fmt(cacheMemory.totalMiB, 1)} MiB, ~${cacheMemory.bytesPerEntry} B per entry`,
    );
  }
  lines.push("");
  lines.push(`results: ${path.relative(ROOT, file)} (and bench/results/latest.json)`);
  process.stdout.write(lines.join("\n") + "\n");
  if (microError !== undefined) throw microError;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
