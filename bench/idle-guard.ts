/**
 * `npx tsx bench/idle-guard.ts`: what the response-body idle guard (UPSTREAM_IDLE_TIMEOUT_MS,
 * src/edge/proxy/forward.ts idleGuard) costs on the hot path. Two `wrangler dev` gateways in
 * front of the same local origin, identical but for UPSTREAM_IDLE_TIMEOUT_MS (0 = the body
 * is handed to the runtime untouched; 60000 = streamed through the JS guard), measured in
 * alternation with autocannon: a 13-byte body and a 1 MiB body, BENCH_RUNS runs of
 * BENCH_SECONDS each, medians and the ratio guard/no-guard. Figures are for wrangler dev
 * on this machine (its local proxy caps throughput), with the load average printed.
 */
import { loadavg } from "node:os";
import autocannon from "autocannon";
import { startOrigin } from "../scripts/origin";
import { keysCli, startWrangler } from "../test/support/node-wrangler";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const origin = await startOrigin();
const persistTo = (await import("../test/support/node-wrangler")).tempStateDir();
const off = await startWrangler({
  persistTo,
  logLevel: "error",
  vars: { ORIGIN_URL: origin.url, UPSTREAM_IDLE_TIMEOUT_MS: "0" },
});
const on = await startWrangler({
  persistTo,
  logLevel: "error",
  vars: { ORIGIN_URL: origin.url, UPSTREAM_IDLE_TIMEOUT_MS: "60000" },
});
try {
  const created = await keysCli(["create", "--org", "bench", "--json", "--persist-to", persistTo]);
  const key = (JSON.parse(created.stdout) as { key: string }).key;
  const loadStart = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const results: Record<string, { rps: number[]; p50: number[]; mibps: number[] }> = {};
  for (const path of ["/bench", "/large?bytes=1048576"]) {
    for (let run = 0; run < RUNS; run++) {
      for (const [name, gw] of [
        ["no guard", off],
        ["guard", on],
      ] as const) {
        const r = await autocannon({
          url: gw.url + path,
          connections: 4,
          duration: SECONDS,
          headers: { "x-api-key": key },
        });
        const k = `${path} ${name}`;
        results[k] ??= { rps: [], p50: [], mibps: [] };
        results[k].rps.push(r.requests.average);
        results[k].p50.push(r.latency.p50);
        results[k].mibps.push(r.throughput.average / 1048576);
        if (r.non2xx || r.errors) throw new Error(`${k}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      }
    }
  }
  console.log(
    `idle guard cost, wrangler dev, ${RUNS} × ${SECONDS} s per cell, 4 connections; load average start ${loadStart}, end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  for (const path of ["/bench", "/large?bytes=1048576"]) {
    const a = results[`${path} no guard`]!;
    const b = results[`${path} guard`]!;
    console.log(
      `  ${path.padEnd(22)} no guard ${median(a.rps).toFixed(0)} req/s (p50 ${median(a.p50)} ms, ${median(a.mibps).toFixed(1)} MiB/s) | ` +
        `guard ${median(b.rps).toFixed(0)} req/s (p50 ${median(b.p50)} ms, ${median(b.mibps).toFixed(1)} MiB/s) | ratio ${(median(b.rps) / median(a.rps)).toFixed(3)}`,
    );
  }
} finally {
  await on.stop();
  await off.stop();
  await origin.close();
}
