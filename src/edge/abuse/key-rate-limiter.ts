/**
 * Per-key (and per-org) rate limits, counted the way the limit's `mode` says
 * (docs/limits.md):
 * - `exact`: one Durable Object per key id (or org) counts that key's requests, so the count
 *   is exact and global — every Cloudflare location asks the same object, wherever it is;
 * - `regional` (the default): the object of the request's region (a bucket near the
 *   client) counts, exchanging counts with the key's object in the background; a burst
 *   spread over several regions at once can go over the limit by a bounded amount.
 * Only keys that have a rate_limit pay for the round trip.
 *
 * Fixed windows aligned on the epoch (window = floor(now / period)): at most `limit`
 * requests are let through in each window (exact mode); a refused request does not count.
 * As with any fixed window, a client may send up to 2 × limit across a window boundary. The
 * objects themselves are objects/key-rate-limiter.ts (kept apart so this module, used on the
 * hot path, has no runtime-only import).
 */
import type { RateLimit } from "../../keys/record";
import { modeOf } from "../../keys/record";
import { withDeadline } from "../../lib/deadline";
import type { Result } from "../../lib/result";
import { failed, ok } from "../../lib/result";
import type { KeyRateLimiter } from "../../objects/key-rate-limiter";
import { link } from "../../objects/link";
import type { KeyRateOutcome } from "../../objects/protocol";
import { regionalName } from "../../objects/protocol";
import type { Location } from "../location";

/** Bound on the gateway's wait for the limiter; past it the request is let through (logged). */
export const RATE_LIMIT_TIMEOUT_MS = 1_000;

/**
 * Ask the limit's object (`name`: a key id, or orgLimiterName) — the region's bucket for a
 * regional limit. Returns a failure when the limit cannot be checked (no binding, the
 * object failed or was too slow): rate limits fail open — they meter authenticated
 * clients; authentication itself never fails open.
 */
export async function checkKeyRateLimit(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  name: string,
  rateLimit: RateLimit,
  where: () => Location,
): Promise<Result<KeyRateOutcome>> {
  if (!ns) return failed("no KEY_RATE_LIMITER Durable Object binding: per-key rate limits are not enforced");
  try {
    let asked: Promise<KeyRateOutcome>;
    if (modeOf(rateLimit) === "exact")
      asked = Promise.resolve(link.to(ns, name).hit(rateLimit.limit, rateLimit.period_seconds));
    else {
      const region = where().region;
      asked = Promise.resolve(
        link.to(ns, regionalName(name, region)).hitRegional(name, region, rateLimit.limit, rateLimit.period_seconds),
      );
    }
    return ok(
      await withDeadline(
        asked,
        RATE_LIMIT_TIMEOUT_MS,
        () => new Error(`rate limiter did not answer within ${RATE_LIMIT_TIMEOUT_MS} ms`),
      ),
    );
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
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
