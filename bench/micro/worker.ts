/**
 * The micro-benchmark inside workerd: GET /?only=<part of a case name> runs
 * bench/micro/cases.ts and answers JSON.
 * Bundled by bench/run.ts (esbuild) and served by Miniflare with a real KEYS namespace.
 */
import type { KvLike } from "../../src/keys/store";
import { runMicro } from "./cases";

/** workerd's clocks advance only across I/O: a timer is the boundary. */
async function ioClock(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return Date.now();
}

export default {
  async fetch(request: Request, env: { KEYS: KvLike } & Record<string, unknown>): Promise<Response> {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === "string") vars[k] = v;
    // Is the clock frozen during computation here? Record it with the results.
    const t0 = performance.now();
    let x = 0;
    for (let i = 0; i < 5_000_000; i++) x = (x + i) % 7919;
    const frozen = performance.now() === t0;
    const params = new URL(request.url).searchParams;
    const only = params.get("only") ?? undefined;
    // Under the inspector (bench/profile.ts) every console.log is also reported to it,
    // which inflates its cost: the profiler can silence it.
    if (params.has("silence-console")) console.log = () => {};
    const cases = await runMicro(ioClock, { KEYS: env.KEYS, vars }, only);
    return Response.json({ runtime: "workerd", clockFrozenDuringCompute: frozen, checksum: x, cases });
  },
};
