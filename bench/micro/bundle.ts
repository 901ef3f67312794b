/**
 * Bundle and serve the micro-benchmark worker on workerd (wrangler's Miniflare), with a
 * real KEYS namespace in memory and the gateway's [vars].
 */

import path from "node:path";
import { build } from "esbuild";
import { gatewayToml, gatewayVars, Miniflare, ROOT } from "../lib/miniflare";
import { cpuMs, processTree } from "../lib/procs";
import type { MicroCase } from "./types";

export async function startMicroWorker(opts: { inspectorPort?: number } = {}) {
  const out = await build({
    entryPoints: [path.join(ROOT, "bench/micro/worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    logLevel: "error",
    // Runtime modules (the rate-limiter Durable Object's base class) come from workerd.
    external: ["cloudflare:*"],
  });
  const { compatibilityDate, kvNamespaceId } = gatewayToml();
  const mf = new Miniflare({
    modules: true,
    script: out.outputFiles[0]!.text,
    scriptPath: path.join(ROOT, "bench/micro/worker.js"),
    compatibilityDate,
    kvNamespaces: { KEYS: kvNamespaceId },
    // Real objects for the round-trip cases (exported by bench/micro/worker.ts).
    durableObjects: {
      KEY_RATE_LIMITER: { className: "KeyRateLimiter", useSQLite: true },
      REVOCATION_FEED: { className: "RevocationFeed", useSQLite: true },
    },
    bindings: { ...gatewayVars(), ORIGIN_URL: "http://127.0.0.1:9" },
    handleStructuredLogs: () => {},
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
  });
  await mf.ready;
  return mf;
}

/**
 * Every case, one request each, with workerd's own CPU time per iteration next to the
 * wall-clock figure (CPU time is less disturbed by other processes on a busy machine).
 */
export async function runMicroWorkerd(): Promise<{ cases: MicroCase[]; clockFrozenDuringCompute: boolean }> {
  const mf = await startMicroWorker();
  try {
    const list = (await (await mf.dispatchFetch("http://micro.local/?list")).json()) as {
      cases: MicroCase[];
      clockFrozenDuringCompute: boolean;
    };
    const workerd = () =>
      processTree(process.pid)
        .filter((p) => p.comm === "workerd")
        .map((p) => p.pid);
    const cpu = () => workerd().reduce((a, pid) => a + (cpuMs(pid) ?? 0), 0);
    const cases: MicroCase[] = [];
    for (const { name } of list.cases) {
      const before = cpu();
      const res = (await (await mf.dispatchFetch(`http://micro.local/?case=${encodeURIComponent(name)}`)).json()) as {
        cases: MicroCase[];
      };
      const spent = cpu() - before;
      const c = res.cases[0]!;
      cases.push({ ...c, cpuUs: (spent * 1000) / c.totalIterations });
    }
    return { cases, clockFrozenDuringCompute: list.clockFrozenDuringCompute };
  } finally {
    await mf.dispose();
  }
}
