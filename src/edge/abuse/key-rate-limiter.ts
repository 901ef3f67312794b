/**
 * Per-key rate limits (the record's `rate_limit`): one Durable Object per key id counts
 * that key's requests, so the count is exact and global — every Cloudflare location asks
 * the same object. Only keys that have a rate_limit pay for the round trip.
 *
 * Fixed windows aligned on the epoch (window = floor(now / period)): at most `limit`
 * requests are let through in each window; a refused request does not count. As with any
 * fixed window, a client may send up to 2 × limit across a window boundary. The count is
 * persisted (unconfirmed writes: the answer does not wait for the disk), so it survives
 * the object being evicted while idle. The object itself is objects/key-rate-limiter.ts
 * (kept apart so this module, used on the hot path, has no runtime-only import).
 */
import type { RateLimit } from "../../keys/record";
import type { Result } from "../../lib/result";
import { failed, ok } from "../../lib/result";
import type { KeyRateLimiter } from "../../objects/key-rate-limiter";
import type { KeyRateOutcome } from "../../objects/protocol";

/** Bound on the gateway's wait for the limiter; past it the request is let through (logged). */
export const RATE_LIMIT_TIMEOUT_MS = 1_000;

/**
 * Ask the key's limiter. Returns null when the limit cannot be checked (no binding, the
 * object failed or was too slow): rate limits fail open — they meter authenticated
 * clients; authentication itself never fails open.
 */
export async function checkKeyRateLimit(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  keyId: string,
  rateLimit: RateLimit,
): Promise<Result<KeyRateOutcome>> {
  if (!ns) return failed("no KEY_RATE_LIMITER Durable Object binding: per-key rate limits are not enforced");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const stub = ns.get(ns.idFromName(keyId));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`rate limiter did not answer within ${RATE_LIMIT_TIMEOUT_MS} ms`)),
        RATE_LIMIT_TIMEOUT_MS,
      );
    });
    return ok(await Promise.race([stub.hit(rateLimit.limit, rateLimit.period_seconds), timeout]));
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10 §3, §4):
 * one policy named "key", quota q per window w seconds; r left, t seconds to reset.
 */
export function rateLimitHeaders(o: KeyRateOutcome, policy: "key" | "org" = "key"): Record<string, string> {
  return {
    "ratelimit-policy": `"${policy}";q=${o.limit};w=${o.periodSeconds}`,
    ratelimit: `"${policy}";r=${o.remaining};t=${o.resetSeconds}`,
  };
}

/** Both policies' fields in one response (the draft's fields are lists). */
export function mergeLimitHeaders(
  a: Record<string, string> | undefined,
  b: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!a) return b;
  if (!b) return a;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] ? `${out[k]}, ${v}` : v;
  return out;
}
