/**
 * What one isolate keeps between requests, as ONE object: the key cache (records and
 * misses by key hash, never by key), its view of the revocation feed, the last-used
 * throttle, the clients over their failed-authentication budgets (the gateway's and the
 * management side's), the org-settings cache and the scoped admin tokens' cache. The
 * gateway, the self-service API, the admin API and the console reach it through
 * `isolateOf` and pass it down as a dependency; nothing below keeps state of its own
 * (edge/auth/verify.ts, edge/auth/last-used.ts, edge/abuse/auth-failures.ts, edge/abuse/org-limit.ts,
 * manage/admin/tokens.ts take it as an argument).
 *
 * The admin API, console and self-service purge a changed key through `KeyCache.delete`;
 * the revocation feed's follower (edge/revocation/follower.ts) through the same interface.
 */

import type { LegacyAlgorithm } from "../../keys/legacy";
import type { KeyRecord, TokenRecord } from "../../keys/record";
import type { OrgSettings } from "../../keys/store/org-settings";
import type { Lookup } from "../../lib/lru";
import { LruCache } from "../../lib/lru";
import type { Block, BlockedClients } from "../abuse/auth-failures";
import { LastUsedThrottle } from "../auth/last-used";
import { FeedFollower } from "../revocation/follower";

/** The key cache as its users see it: look up, fill, purge (one key or all). */
export interface KeyCache {
  readonly maxEntries: number;
  lookup(hash: string, now: number): Lookup<KeyRecord | null>;
  set(hash: string, value: KeyRecord | null, now: number, ttlMs: number, staleMs: number): void;
  delete(hash: string): void;
  clear(): void;
}

/** Org settings by org, misses included (edge/abuse/org-limit.ts). */
export type OrgCache = LruCache<OrgSettings | null>;
/** Scoped admin tokens by hash, misses included (manage/admin/tokens.ts). */
export type TokenCache = LruCache<TokenRecord | null>;

/** What an isolate knows of the `legacy-algorithms` record when there is no feed to tell it (edge/auth/legacy.ts). */
export interface LegacyFlag {
  algorithms: readonly LegacyAlgorithm[];
  freshUntil: number;
}

/** Bound on cached admin tokens per isolate: a flood of distinct well-formed tokens cannot grow memory. */
export const MAX_CACHED_TOKENS = 1000;

/** Bound on remembered blocked clients per isolate and budget. */
export const MAX_BLOCKED_CLIENTS = 10_000;

export interface IsolateState {
  cache: KeyCache;
  feed: FeedFollower;
  lastUsed: LastUsedThrottle;
  /** Over the gateway's budget (API keys and sessions). */
  blocked: BlockedClients;
  /** Over the management side's budget (admin tokens, portal links). */
  managementBlocked: BlockedClients;
  orgs: OrgCache;
  tokens: TokenCache;
  /** Without a revocation feed: the legacy algorithms with pending imported keys, as last read (edge/auth/legacy.ts). */
  legacyFlag: LegacyFlag;
  /** Legacy identities being re-indexed by this isolate (edge/auth/legacy.ts). */
  migrating: Set<string>;
}

/** A fresh isolate's state (tests build two of them to stand for two isolates). */
export function newIsolateState(maxEntries: number): IsolateState {
  return {
    cache: new LruCache<KeyRecord | null>(maxEntries),
    feed: new FeedFollower(),
    lastUsed: new LastUsedThrottle(),
    blocked: new LruCache<Block>(MAX_BLOCKED_CLIENTS),
    managementBlocked: new LruCache<Block>(MAX_BLOCKED_CLIENTS),
    orgs: new LruCache<OrgSettings | null>(maxEntries),
    tokens: new LruCache<TokenRecord | null>(MAX_CACHED_TOKENS),
    legacyFlag: { algorithms: [], freshUntil: -Infinity },
    migrating: new Set(),
  };
}

/**
 * Tests that need two gateway isolates in one workerd give each env object its own state
 * under this symbol (no wrangler variable or binding can set a symbol property).
 */
export const ISOLATE_STATE = Symbol("keygate.isolate");

let shared: IsolateState | undefined;

/**
 * The isolate's state for this env: the shared one, unless a test gave the env its own.
 * A change of CACHE_MAX_ENTRIES replaces the two caches it sizes; the feed view, the
 * last-used throttle and the blocked clients carry over.
 */
export function isolateOf(env: object, maxEntries: number): IsolateState {
  const own = (env as { [ISOLATE_STATE]?: IsolateState })[ISOLATE_STATE];
  if (own !== undefined) return own;
  if (shared === undefined) shared = newIsolateState(maxEntries);
  else if (shared.cache.maxEntries !== maxEntries) {
    shared = {
      ...shared,
      cache: new LruCache<KeyRecord | null>(maxEntries),
      orgs: new LruCache<OrgSettings | null>(maxEntries),
    };
  }
  return shared;
}
