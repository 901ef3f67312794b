/**
 * Micro-benchmark of the per-request work of the gateway, without the network: the same
 * module runs inside workerd (bench/micro/worker.ts, through Miniflare) and under Node's
 * V8 (bench/micro/node.ts), so each figure can be checked against the other.
 *
 * Timing inside workerd: the runtime's clocks do not advance during pure computation
 * (a Spectre mitigation: Date.now() and performance.now() move only across I/O). So each
 * sample times many iterations between two I/O boundaries (a timer), and the caller
 * passes that clock in. Samples are calibrated to last ≥ SAMPLE_MS, medians reported.
 */
import app from "../../src/index";
import { extractCredential } from "../../src/auth/credentials";
import { keyCache, verifyKey } from "../../src/auth/verify";
import type { Env } from "../../src/config";
import { configFor, ConfigError } from "../../src/config";
import { classifyKey, mintKey } from "../../src/keys/format";
import { hashKey } from "../../src/keys/hash";
import { issueKey } from "../../src/keys/issue";
import type { KvLike } from "../../src/keys/store";
import { logLine } from "../../src/log";
import type { MicroCase } from "./types";
// @ts-expect-error: plain JS module without types
import passthrough from "../passthrough/worker.js";

/** A clock that is exact at the moment it resolves (crossing an I/O boundary if needed). */
export type Clock = () => Promise<number>;

const SAMPLE_MS = 150;
const SAMPLES = 7;


async function timeCase(name: string, clock: Clock, fn: () => unknown): Promise<MicroCase> {
  // Warm up (JIT) and calibrate: double the batch until one batch lasts ≥ SAMPLE_MS.
  let n = 64;
  for (;;) {
    const t0 = await clock();
    for (let i = 0; i < n; i++) await fn();
    const ms = (await clock()) - t0;
    if (ms >= SAMPLE_MS) break;
    n = ms < SAMPLE_MS / 8 ? n * 8 : n * 2;
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = await clock();
    for (let i = 0; i < n; i++) await fn();
    samples.push((((await clock()) - t0) * 1000) / n);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { name, us: sorted[Math.floor(sorted.length / 2)]!, samples, iterations: n };
}

/** A canned origin answer, so the full request path can be timed without a network. */
function cannedOrigin(): Response {
  return new Response("hello, world\n", { headers: { "content-type": "text/plain", "content-length": "13" } });
}

export interface MicroEnv {
  /** The real KEYS binding (workerd) or any KvLike (Node). */
  KEYS: KvLike;
  vars: Record<string, string>;
}

/** Run every case, or only those whose name contains `only`. */
export async function runMicro(clock: Clock, menv: MicroEnv, only?: string): Promise<MicroCase[]> {
  const env = { ...menv.vars, KEYS: menv.KEYS } as unknown as Env;
  const config = configFor(env);
  if (config instanceof ConfigError) throw config;
  const { key } = await issueKey(menv.KEYS, { prefix: config.keyPrefix }, { name: "micro", orgs: ["acme"], scopes: ["read"], expires_at: null }, Date.now());
  const hash = await hashKey(key, config.pepper);
  const cache = keyCache(config.cache.maxEntries);
  const deps = () => ({ kv: menv.KEYS, cache, config, now: Date.now() });
  // One verification reads KV and fills the cache: every case below is a cache hit.
  const first = await verifyKey(key, deps());
  if (first.kind !== "valid") throw new Error(`micro-benchmark key did not verify: ${first.kind}`);
  const good = mintKey(config.keyPrefix);
  const corrupt = good.slice(0, -1) + (good.endsWith("A") ? "B" : "A");
  const headers = new Headers({
    host: "gateway.test",
    "user-agent": "bench",
    accept: "*/*",
    "x-api-key": key,
  });
  const url = "http://gateway.test/bench";
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

  const cases: MicroCase[] = [];
  const measure = (name: string, clk: Clock, fn: () => unknown) =>
    only === undefined || name.includes(only) ? timeCase(name, clk, fn) : Promise.resolve(null);
  const push = (c: MicroCase | null) => c && cases.push(c);
  push(await measure("extract credential", clock, () => extractCredential(headers, config.sources)));
  push(await measure("checksum (classifyKey)", clock, () => classifyKey(key, config.keyPrefix)));
  push(await measure("hash (SHA-256)", clock, () => hashKey(key, config.pepper)));
  push(await measure("cache hit (LRU lookup)", clock, () => cache.lookup(hash, Date.now())));
  push(
    await measure("auth work: extract + checksum + hash + cache hit", clock, async () => {
      const c = extractCredential(headers, config.sources);
      if (c.kind !== "present") throw new Error("no credential");
      const v = await verifyKey(c.key, deps());
      if (v.kind !== "valid" || v.tier !== "memory") throw new Error(`not a cache hit: ${v.kind}`);
    }),
  );
  push(
    await measure("access log line (logLine → console.log)", clock, () =>
      logLine("info", "request", {
        request_id: "0b7c6f1e-6a57-4d6b-9a53-2f0c8f1e6a57",
        method: "GET",
        path: "/bench",
        route: "(default)",
        status: 200,
        latency_ms: 1,
        key_id: "key_0123456789abcdefABCD",
        org: "acme",
        cache: "memory",
        outcome: "forwarded",
        reason: null,
      }),
    ),
  );
  push(
    await measure("gateway request, bad checksum → 401 (no I/O)", clock, async () => {
      const res = await app.fetch(new Request(url, { headers: { "x-api-key": corrupt } }), env, ctx);
      if (res.status !== 401) throw new Error(`bad checksum answered ${res.status}`);
      await res.arrayBuffer();
    }),
  );
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async () => cannedOrigin()) as typeof fetch;
  try {
    push(
      await measure("gateway request, valid key → 200 (origin stubbed)", clock, async () => {
        const res = await app.fetch(new Request(url, { headers }), env, ctx);
        if (res.status !== 200) throw new Error(`valid key answered ${res.status}`);
        await res.arrayBuffer();
      }),
    );
    push(
      await measure("pass-through worker request → 200 (origin stubbed)", clock, async () => {
        const res: Response = await passthrough.fetch(new Request(url, { headers }), { ORIGIN_URL: "http://origin.invalid" });
        if (res.status !== 200) throw new Error(`pass-through answered ${res.status}`);
        await res.arrayBuffer();
      }),
    );
  } finally {
    globalThis.fetch = realFetch;
  }
  return cases;
}
