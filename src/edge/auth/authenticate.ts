/**
 * Who presented what: credential extraction → the client's failed-authentication budget →
 * verification (or, without a key, a session when sessions are on) — the steps every path
 * that authenticates a caller with a gateway credential shares: the gateway
 * (gateway/admit.ts) and the self-service API (manage/self-service/caller.ts).
 *
 * A client over its budget (abuse/auth-failures.ts) is not a lockout for the others behind
 * its address (a NAT, an IPv6 /64): a session is still verified (locally, no lookup) and
 * passes when valid; a key this isolate's cache knows to be valid passes with no KV read;
 * any other key is looked up only within the slow lane (SLOW_LOOKUPS_PER_MINUTE per client
 * per isolate). Everything else is 429. Keys are verified (verify.ts) on a cache the
 * revocation feed keeps current (`follow`: docs/revocation.md).
 */

import type { ErrorCode } from "../../errors/codes";
import { classifyKey } from "../../keys/format";
import type { KeyRecord } from "../../keys/record";
import { recordLastUsed } from "../../keys/store/records";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import { blockedFor, clientKey, recordFailure, takeSlowLookup } from "../abuse/auth-failures";
import type { AdmitDeps, Facts, Refusal } from "../admission";
import { refusal } from "../admission";
import { followFeed } from "../revocation/follower";
import { extractCredential } from "./credentials";
import { migrateLater, pendingAlgorithms } from "./legacy";
import { JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "./session";
import type { Verdict, VerifyDeps } from "./verify";
import { cachedValidVerdict, verifyKey } from "./verify";

/** Who presented what: nothing, a usable key (its record), a verified session, or the refusal. */
export type Authenticated =
  | { kind: "none" }
  | { kind: "key"; record: KeyRecord; now: number }
  | { kind: "session"; sub: string; org: string; scopes: string[] }
  | Refusal;

/**
 * Credential → failure budget → verify (or session). Fills `facts` (auth, cache, key_id,
 * user_id; with `countUsage`, whom usage counts the request for). A key that passes has its
 * use accounted (the last-used write).
 */
export async function authenticate(
  headers: Headers,
  deps: AdmitDeps,
  facts: Facts,
  opts: { countUsage: boolean },
): Promise<Authenticated> {
  const { config, isolate } = deps;
  const credential = extractCredential(headers, config.sources, config.session !== null);
  const sessionToken =
    credential.kind === "missing" && config.session !== null ? sessionTokenOf(headers, config.session) : null;
  if (credential.kind === "missing" && sessionToken === null) return { kind: "none" };
  // The client's identity is parsed only when needed: some client is blocked in this
  // isolate, or this request fails.
  let parsedClient: string | null | undefined;
  const clientOf = (): string | null =>
    parsedClient === undefined ? (parsedClient = clientKey(headers.get("cf-connecting-ip"))) : parsedClient;
  const blockedNow = (at: number): number => {
    if (isolate.blocked.size === 0) return 0;
    const client = clientOf();
    return client === null ? 0 : blockedFor(isolate.blocked, client, at);
  };
  // No key here means a session token (checked above): verified locally.
  if (credential.kind === "missing") {
    facts.auth = "session";
    const session = await verifySession(sessionToken!, config.session!, clock.now());
    if (session.kind === "invalid") {
      if (session.reason === JWKS_UNAVAILABLE)
        return refusal(facts, "store_unavailable", { reason: `session_${JWKS_UNAVAILABLE}` });
      return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: `session_${session.reason}` });
    }
    facts.user_id = session.sub;
    // Usage counts a session's requests for its org, like a key's (usage/counter.ts).
    if (opts.countUsage) facts.usage = { org: session.org, keyId: null };
    return { kind: "session", sub: session.sub, org: session.org, scopes: session.scopes };
  }
  facts.auth = "key";
  const now = clock.now();
  const wait = blockedNow(now);
  if (credential.kind === "malformed") {
    if (wait > 0) return tooManyFailures(facts, wait);
    return refuseCredential(deps, facts, clientOf(), "malformed_credential", {
      detail: `Malformed credential: ${credential.reason}`,
    });
  }
  // Cheap rejection, lookup, record checks — on a cache the revocation feed keeps current.
  await follow(deps, now);
  let verdict: Verdict;
  if (wait > 0) {
    const known = await cachedValidVerdict(credential.key, { cache: isolate.cache, config, now });
    if (known !== null) verdict = known;
    else {
      // A key with our prefix and a bad checksum needs no lookup to be refused.
      const lookup =
        classifyKey(credential.key, config.keyPrefix) === "corrupt"
          ? null
          : takeSlowLookup(isolate.blocked, clientOf()!, now);
      if (lookup === null) return tooManyFailures(facts, wait);
      verdict = await verifyKey(credential.key, verifyDeps(deps, now));
      // A valid key, or a store failure, was no guess: the lane keeps its room.
      if (verdict.kind === "valid" || verdict.kind === "error") lookup.giveBack();
    }
  } else {
    verdict = await verifyKey(credential.key, verifyDeps(deps, now));
  }
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: deps.requestId, cause: verdict.cause });
    return refusal(facts, "store_unavailable");
  }
  facts.cache = verdict.tier;
  if (verdict.kind === "unknown")
    return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: verdict.reason });
  const record = verdict.record;
  facts.key_id = record.id;
  // Usage counts a known key's requests, refused or not, for its default org until the
  // request's org is decided.
  if (opts.countUsage) facts.usage = { org: record.orgs[0]!, keyId: record.id };
  if (verdict.kind === "denied")
    return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: verdict.reason });
  accountUse(deps, record, now);
  // Imported by its legacy hash: re-indexed under keygate's own after this response (edge/auth/legacy.ts).
  if (verdict.legacy) migrateLater(deps, record, verdict.legacy.identity, verdict.hash, now);
  return { kind: "key", record, now };
}

/** What verification runs with: this isolate's cache and view of the feed, and the legacy algorithms pending. */
function verifyDeps(deps: AdmitDeps, now: number): VerifyDeps {
  return {
    kv: deps.env.KEYS,
    cache: deps.isolate.cache,
    config: deps.config,
    now,
    overrides: deps.isolate.feed.overrides,
    legacy: () => pendingAlgorithms(deps, now),
  };
}

/**
 * This isolate's key cache (and its view of scoped admin tokens: the admin API calls this
 * too) brought up to date with the revocation feed first when there is one: a background
 * poll at most every REVOCATION_POLL_MS, awaited only when the last one is older than
 * REVOCATION_MAX_STALENESS_MS (docs/revocation.md).
 */
export async function follow(deps: AdmitDeps, now: number): Promise<void> {
  const { env, isolate, config } = deps;
  if (!env.REVOCATION_FEED) return;
  const wait = followFeed(
    env.REVOCATION_FEED,
    isolate.feed,
    isolate.cache,
    config.revocation,
    now,
    deps.waitUntil,
    (cause) =>
      logLine("error", "revocation feed unreachable: cached keys are trusted up to CACHE_TTL_MS", {
        request_id: deps.requestId,
        cause,
      }),
    deps.where,
  );
  if (wait !== null) await wait;
}

/**
 * A failed authentication: counted against the client's IP (the gateway's budget);
 * refused with `code`, or 429 when that failure puts the IP over its budget or it was
 * already over (the block is extended).
 */
async function refuseCredential(
  deps: AdmitDeps,
  facts: Facts,
  client: string | null,
  code: ErrorCode,
  opts: { reason?: string; detail?: string },
): Promise<Refusal> {
  if (client !== null) {
    const wait = await recordFailure(
      deps.isolate.blocked,
      deps.env.AUTH_FAILURE_LIMITER,
      client,
      clock.now(),
      deps.config.authFailureBlockSeconds,
      (message) => logLine("error", "auth failure limiter unavailable", { request_id: deps.requestId, cause: message }),
    );
    if (wait > 0) return tooManyFailures(facts, wait);
  }
  return refusal(facts, code, opts);
}

function tooManyFailures(facts: Facts, retryAfterSeconds: number): Refusal {
  return refusal(facts, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
    reason: "auth_failures",
  });
}

/**
 * Account, off the critical path: the key's last use, at most once per key per
 * LAST_USED_INTERVAL_MS and within LAST_USED_MAX_WRITES_PER_SECOND in this isolate,
 * written in waitUntil after the response.
 */
function accountUse(deps: AdmitDeps, record: KeyRecord, now: number): void {
  const interval = deps.config.lastUsedIntervalMs;
  if (interval === 0 || !deps.isolate.lastUsed.claim(record.id, now, interval, deps.config.lastUsedMaxWritesPerSecond))
    return;
  deps.waitUntil(
    recordLastUsed(deps.env.KEYS, record, new Date(now).toISOString()).catch((err: unknown) => {
      logLine("warn", "last-used write failed", {
        request_id: deps.requestId,
        key_id: record.id,
        cause: (err as Error).message,
      });
    }),
  );
}
