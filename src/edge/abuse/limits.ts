/**
 * A key's own restrictions and its org's, after it authenticated (docs/limits.md): its IP
 * allowlist, the org's rate limit, its own rate limit and its credits — each paid for only
 * when set. The gateway (gateway/admit.ts) applies them all; the self-service API
 * (manage/self-service/caller.ts) the allowlist, the key's rate limit and (without spending
 * one) its credits, with the same answers.
 */
import type { KeyRecord } from "../../keys/record";
import type { Cidr } from "../../lib/cidr";
import { ipAllowed, parseCidr } from "../../lib/cidr";
import { logLine } from "../../lib/log";
import type { KeyRateOutcome } from "../../objects/protocol";
import { periodStart, refillPeriod } from "../../objects/protocol";
import type { AdmitDeps, Facts, Refusal } from "../admission";
import { refusal } from "../admission";
import { checkKeyRateLimit, rateLimitHeaders } from "./key-rate-limiter";
import { orgLimiterName, orgLimitFor } from "./org-limit";

/**
 * The key's IP allowlist, wherever the key authenticates: the refusal when the client's
 * address is not in it. Only keys that have one pay for it.
 */
export function ipRefusal(record: KeyRecord, headers: Headers, facts: Facts): Refusal | null {
  if (record.allowed_ips && !ipAllowed(headers.get("cf-connecting-ip"), rangesOf(record.allowed_ips))) {
    return refusal(facts, "forbidden", {
      detail: "This API key may not be used from this address.",
      reason: "ip_not_allowed",
    });
  }
  return null;
}

/** A metered key at zero credits: the profile's 429, with Retry-After until the refill. */
export function noCredits(
  facts: Facts,
  record: KeyRecord,
  now: number,
  headers: Record<string, string> | undefined,
): Refusal {
  const refill = record.credits?.refill;
  const retry = refill
    ? Math.max(1, Math.ceil((periodStart(refill.interval, refillPeriod(refill.interval, now) + 1) - now) / 1000))
    : null;
  return refusal(facts, "rate_limited", {
    detail: "This API key has no credits left.",
    headers: { ...headers, "x-credits-remaining": "0", ...(retry !== null ? { "retry-after": String(retry) } : {}) },
    reason: "credits",
  });
}

/**
 * The key's own rate limit (its record's `rate_limit`, which the caller checked is set):
 * the limiter's outcome, or null when it cannot be asked (logged; rate limits fail open).
 */
export async function keyRateLimit(deps: AdmitDeps, record: KeyRecord): Promise<KeyRateOutcome | null> {
  const checked = await checkKeyRateLimit(deps.env.KEY_RATE_LIMITER, record.id, record.rate_limit!, deps.where);
  if (!checked.ok) {
    logLine("error", "key rate limiter unavailable: request let through", {
      request_id: deps.requestId,
      key_id: record.id,
      cause: checked.error,
    });
    return null;
  }
  return checked.value;
}

export function keyRateLimited(facts: Facts, outcome: KeyRateOutcome, headers: Record<string, string>): Refusal {
  return refusal(facts, "rate_limited", {
    detail: `This API key's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`,
    headers: { ...headers, "retry-after": String(outcome.resetSeconds) },
    reason: "key_rate_limit",
  });
}

/**
 * The org's limit (counted as its `mode` says), for keys and sessions alike: orgs without
 * one cost a cached lookup and no round trip. The RateLimit headers to add, or the 429.
 */
export async function orgLimit(
  deps: AdmitDeps,
  org: string,
  now: number,
  facts: Facts,
): Promise<{ kind: "headers"; headers: Record<string, string> } | Refusal | undefined> {
  const { config, env, isolate } = deps;
  const pending = orgLimitFor(
    isolate.orgs,
    env.REVOCATION_FEED ? isolate.feed : null,
    env.KEYS,
    org,
    config,
    now,
    (cause) =>
      logLine("error", "org settings unreadable: no org limit applied", { request_id: deps.requestId, org, cause }),
  );
  const limit = pending instanceof Promise ? await pending : pending;
  if (!limit) return undefined;
  const checked = await checkKeyRateLimit(env.KEY_RATE_LIMITER, orgLimiterName(org), limit, deps.where);
  if (!checked.ok) {
    logLine("error", "org rate limiter unavailable: request let through", {
      request_id: deps.requestId,
      org,
      cause: checked.error,
    });
    return undefined;
  }
  const outcome = checked.value;
  const headers = rateLimitHeaders(outcome, "org");
  if (!outcome.allowed) {
    return refusal(facts, "rate_limited", {
      detail: `This organization's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`,
      headers: { ...headers, "retry-after": String(outcome.resetSeconds) },
      reason: "org_rate_limit",
    });
  }
  return { kind: "headers", headers };
}

/** An allowlist's ranges, parsed once per record object (cached records are the same object). */
const compiledRanges = new WeakMap<string[], Cidr[]>();
function rangesOf(list: string[]): Cidr[] {
  let ranges = compiledRanges.get(list);
  if (ranges === undefined) {
    // Stored lists were validated; an entry that no longer parses matches nothing (fail closed).
    ranges = list.map(parseCidr).filter((r): r is Cidr => r !== null);
    compiledRanges.set(list, ranges);
  }
  return ranges;
}
