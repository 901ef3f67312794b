/**
 * The org-wide rate limit on the hot path (see settings.ts for the policy and its cost).
 */
import type { Config } from "../../config/config";
import type { RateLimit } from "../../keys/record";
import type { KvLike } from "../../keys/store/kv";
import { readOrgSettings } from "../../keys/store/org-settings";
import { withDeadline } from "../../lib/deadline";
import type { OrgCache } from "../gateway/isolate";
import type { FeedFollower } from "../revocation/follower";

/** The KeyRateLimiter object counting an org's requests (key ids start "key_": no clash). */
export function orgLimiterName(org: string): string {
  return "@org/" + org;
}

/**
 * The org's settings for a request: from the isolate's cache when fresh (no await), else
 * a promise of a KV read (`c`: the isolate's org cache, edge/gateway/isolate.ts). A KV failure yields null (no org
 * limit: limits fail open, like
 * the per-key one) and is reported through `onError`.
 */
export function orgLimitFor(
  c: OrgCache,
  feed: FeedFollower | null,
  kv: KvLike,
  org: string,
  config: Config,
  now: number,
  onError: (cause: string) => void,
): RateLimit | null | Promise<RateLimit | null> {
  if (feed?.orgsKnown) return feed.orgLimits.get(org) ?? null;
  const hit = c.lookup(org, now);
  if (hit.state === "fresh") return hit.value?.rate_limit ?? null;
  const ms = config.cache.kvTimeoutMs;
  return withDeadline(
    readOrgSettings(kv, org, config.cache.kvCacheTtlSeconds),
    ms,
    () => new Error(`KV did not answer within ${ms} ms`),
  ).then(
    (s) => {
      c.set(org, s, now, config.cache.ttlMs, config.cache.staleIfErrorMs);
      return s?.rate_limit ?? null;
    },
    (err: unknown) => {
      onError(err instanceof Error ? err.message : String(err));
      return hit.state === "stale" ? (hit.value?.rate_limit ?? null) : null;
    },
  );
}
