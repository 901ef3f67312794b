/**
 * The ablation worker of `npm run bench -- --targets=ablations` (docs/performance.md, "The
 * floor"): one Worker serving every variant of bench/floor/variants.ts — the floor with
 * one of keygate's pieces, or keygate with one feature off — chosen per request by the
 * x-bench-variant header, so all variants share one isolate and one process and their
 * rounds interleave. Bound like the gateway (KEYS, the Durable Objects, the failure
 * limiter): its wrangler configuration is the gateway's with `main` pointing here.
 * Measurement only.
 */

import type { AblationEnv } from "./variants";
import { variantDescriptions, variantHandler } from "./variants";

export { KeyRateLimiter, RevocationFeed, UsageStore } from "../../src/index";

export default {
  fetch(request: Request, env: AblationEnv, ctx: ExecutionContext): Promise<Response> {
    const variant = request.headers.get("x-bench-variant") ?? "floor";
    // "list": every variant and what it measures (the benchmark asks once).
    if (variant === "list") return Promise.resolve(Response.json(variantDescriptions()));
    const handler = variantHandler(variant);
    if (handler === null) return Promise.resolve(new Response("unknown x-bench-variant\n", { status: 400 }));
    return handler(request, env, ctx);
  },
};
