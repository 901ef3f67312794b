/**
 * The micro-benchmark inside workerd: GET /?case=<name> times one case of
 * bench/micro/cases.ts (all without it; ?list names them) and answers JSON.
 * Bundled by bench/run.ts (esbuild) and served by Miniflare with a real KEYS namespace.
 */

import type { KvLike } from "../../src/keys/store/kv";
import type { KeyRateLimiter } from "../../src/objects/key-rate-limiter";
import type { RevocationFeed } from "../../src/objects/revocation-feed";
import { runMicro } from "./cases";

// The objects of the round-trip cases (bound by bench/micro/bundle.ts).
export { KeyRateLimiter } from "../../src/objects/key-rate-limiter";
export { RevocationFeed } from "../../src/objects/revocation-feed";

/** workerd's clocks advance only across I/O: a timer is the boundary. */
async function ioClock(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return Date.now();
}

export default {
  async fetch(
    request: Request,
    env: {
      KEYS: KvLike;
      KEY_RATE_LIMITER: DurableObjectNamespace<KeyRateLimiter>;
      REVOCATION_FEED: DurableObjectNamespace<RevocationFeed>;
    } & Record<string, unknown>,
  ): Promise<Response> {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === "string") vars[k] = v;
    const params = new URL(request.url).searchParams;
    // Is the clock frozen during computation here? Checked when listing the cases.
    let frozen: boolean | undefined;
    if (params.has("list")) {
      const t0 = performance.now();
      let x = 0;
      for (let i = 0; i < 5_000_000; i++) x = (x + i) % 7919;
      frozen = performance.now() === t0 && x >= 0;
    }
    const only = params.get("case") ?? undefined;
    // Under the inspector (bench/profile.ts) every console.log is also reported to it,
    // which inflates its cost: the profiler can silence it.
    if (params.has("silence-console")) console.log = () => {};
    const objects = { KEY_RATE_LIMITER: env.KEY_RATE_LIMITER, REVOCATION_FEED: env.REVOCATION_FEED };
    const cases = await runMicro(
      ioClock,
      { KEYS: env.KEYS, vars, objects },
      { ...(only ? { only } : {}), list: params.has("list") },
    );
    return Response.json({ runtime: "workerd", clockFrozenDuringCompute: frozen, cases });
  },
};
