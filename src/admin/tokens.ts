/**
 * Who calls the admin API: the root ADMIN_TOKEN, or a scoped admin token (`kgt_…`, minted
 * by root through POST /tokens; see keys/token.ts and docs/admin-tokens.md).
 *
 * A scoped token is looked up by its hash, like a key: the presented value is hashed and
 * `admin-token:<hash>` read, so nothing secret is compared in variable time. Values without
 * a token's shape (prefix + checksum) are refused without a read. Lookups are cached per
 * isolate for CACHE_TTL_MS (misses for NEGATIVE_CACHE_TTL_MS), never served stale: a KV
 * failure is a 503. Expiry is checked on every request; a revocation through this isolate
 * drops the token from the cache (forgetToken), so it stops here at once and elsewhere
 * within the cache TTL (plus KV's propagation).
 */
import { LruCache } from "../cache/lru";
import type { Config } from "../config";
import { hashKey } from "../keys/hash";
import type { OrgScope } from "../keys/lifecycle";
import type { TokenRecord, TokenRole } from "../keys/record";
import type { KvLike } from "../keys/store";
import { actor, readToken } from "../keys/store";
import { isTokenShaped, usableToken } from "../keys/token";

export type Caller = { kind: "root" } | { kind: "token"; id: string; orgs: string[]; role: TokenRole };

export const ROOT: Caller = { kind: "root" };

/** How audit events name the caller. */
export function callerActor(caller: Caller): string {
  return caller.kind === "root" ? actor.root : actor.token(caller.id);
}

/** The orgs the caller may act for (lifecycle.ts's OrgScope): root is unscoped. */
export function callerScope(caller: Caller): OrgScope {
  return caller.kind === "root" ? undefined : caller.orgs;
}

/** Bounded: a flood of distinct well-formed tokens cannot grow the isolate's memory. */
const MAX_CACHED_TOKENS = 1000;
const cache = new LruCache<TokenRecord | null>(MAX_CACHED_TOKENS);

/** Forget a token hash in this isolate, so a revocation (or a creation) applies here at once. */
export function forgetToken(hash: string): void {
  cache.delete(hash);
}

/**
 * The caller a presented bearer value names, when it is a usable scoped token; null when
 * it is not (unknown, revoked, expired, or not token-shaped). Throws StoreFault when KV
 * fails (the admin API answers 503).
 */
export async function resolveToken(presented: string, deps: { kv: KvLike; config: Config; now: number }): Promise<Caller | null> {
  if (!isTokenShaped(presented)) return null;
  const hash = await hashKey(presented, deps.config.pepper);
  const hit = cache.lookup(hash, deps.now);
  let record: TokenRecord | null;
  if (hit.state === "fresh") record = hit.value;
  else {
    record = await readToken(deps.kv, hash);
    const { ttlMs, negativeTtlMs } = deps.config.cache;
    cache.set(hash, record, deps.now, record === null ? negativeTtlMs : ttlMs, 0);
  }
  const usable = usableToken(record, deps.now);
  return usable === null ? null : { kind: "token", id: usable.id, orgs: usable.orgs, role: usable.role };
}

/** The bearer value of an Authorization header, or null. */
export function bearerOf(authorization: string | null): string | null {
  const m = authorization === null ? null : /^Bearer +(\S+) *$/i.exec(authorization);
  return m ? m[1]! : null;
}
