/**
 * Bundle and serve the micro-benchmark worker on workerd (wrangler's Miniflare), with a
 * real KEYS namespace in memory and the gateway's [vars].
 */
import { build } from "esbuild";
import path from "node:path";
import { gatewayToml, gatewayVars, Miniflare, ROOT } from "../lib/miniflare";

export async function startMicroWorker(opts: { inspectorPort?: number } = {}) {
  const out = await build({
    entryPoints: [path.join(ROOT, "bench/micro/worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    logLevel: "error",
  });
  const { compatibilityDate, kvNamespaceId } = gatewayToml();
  const mf = new Miniflare({
    modules: true,
    script: out.outputFiles[0]!.text,
    scriptPath: path.join(ROOT, "bench/micro/worker.js"),
    compatibilityDate,
    kvNamespaces: { KEYS: kvNamespaceId },
    bindings: { ...gatewayVars(), ORIGIN_URL: "http://127.0.0.1:9" },
    handleStructuredLogs: () => {},
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
  });
  await mf.ready;
  return mf;
}
