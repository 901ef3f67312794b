/**
 * Who calls the admin API: the root ADMIN_TOKEN, or a scoped admin token (`kgt_…`, minted
 * by root through POST /tokens; see keys/token.ts and docs/admin-tokens.md).
 *
 * A scoped token is looked up by its hash, like a key: the presented value is hashed and
 * `admin-token:<hash>` read, so nothing secret is compared in variable time. Values without
 * a token's shape (prefix + checksum) are refused without a read. Lookups are cached in the
 * isolate's state (edge/gateway/isolate.ts) for CACHE_TTL_MS (misses for NEGATIVE_CACHE_TTL_MS),
 * never served stale: a KV failure is a 503. Expiry is checked on every request.
 *
 * Revocation: every token change is published on the revocation feed (kind "token",
 * edge/revocation/follower.ts), and a record published there wins over the cache and over KV's
 * copy (`newerToken`): a revoked token is refused by every isolate that follows the feed
 * within REVOCATION_MAX_STALENESS_MS (the admin API follows it before looking a token up),
 * at once in the isolate that revoked it, and the console sessions it opened end at once
 * (manage/console/sessions.ts): manage/publish.ts `tokenPublisher` is that publication.
 */
import type { Config } from "../../config/config";
import type { IsolateState } from "../../edge/gateway/isolate";
import { newerToken } from "../../edge/revocation/follower";
import { hashKey } from "../../keys/hash";
import type { TokenRecord } from "../../keys/record";
import type { KvLike } from "../../keys/store/kv";
import { readToken } from "../../keys/store/tokens";
import { isTokenShaped, usableToken } from "../../keys/token";
import type { Operator } from "../principal";

export const ROOT: Operator = { kind: "root" };

/**
 * The record of the usable scoped token a presented bearer value names (neither revoked
 * nor expired), or null (unknown, revoked, expired, or not token-shaped). Throws
 * StoreFault when KV fails (the admin API answers 503).
 */
export async function resolveTokenRecord(
  presented: string,
  deps: { kv: KvLike; config: Config; now: number; isolate: IsolateState },
): Promise<TokenRecord | null> {
  if (!isTokenShaped(presented)) return null;
  const hash = await hashKey(presented, deps.config.pepper);
  const cache = deps.isolate.tokens;
  const hit = cache.lookup(hash, deps.now);
  let record: TokenRecord | null;
  if (hit.state === "fresh") record = hit.value;
  else {
    record = await readToken(deps.kv, hash);
    const { ttlMs, negativeTtlMs } = deps.config.cache;
    cache.set(hash, record, deps.now, record === null ? negativeTtlMs : ttlMs, 0);
  }
  return usableToken(newerToken(record, deps.isolate.feed.tokens.get(hash), deps.now), deps.now);
}

/** The operator a usable token record authenticates. */
export function callerOf(record: TokenRecord): Operator {
  return { kind: "token", id: record.id, orgs: record.orgs, role: record.role, expires_at: record.expires_at };
}

/** The caller a presented bearer value names, when it is a usable scoped token; null when not (resolveTokenRecord). */
export async function resolveToken(
  presented: string,
  deps: { kv: KvLike; config: Config; now: number; isolate: IsolateState },
): Promise<Operator | null> {
  const record = await resolveTokenRecord(presented, deps);
  return record === null ? null : callerOf(record);
}

/** The bearer value of an Authorization header, or null. */
export function bearerOf(authorization: string | null): string | null {
  const m = authorization === null ? null : /^Bearer +(\S+) *$/i.exec(authorization);
  return m ? m[1]! : null;
}
