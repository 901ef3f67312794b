/**
 * Revocation everywhere within seconds: the isolate side of the revocation feed
 * (objects/revocation-feed.ts holds the feed; docs/revocation.md states the bound and its
 * cost). Publishing is the management side's (manage/publish.ts): every lifecycle change
 * (admin API, console, self-service, CLI local mode) appends the key's hash and its new
 * record to the one feed object before the change is reported done.
 *
 * Follow: an isolate that serves requests polls the feed in the background (waitUntil) at
 * most once per `pollMs`. For each entry it drops the hash from its key cache and keeps
 * the published record as an override for `windowMs` (KV's edge cacheTtl plus an
 * allowance for KV's propagation): a KV read of that hash that returns an older record
 * (or none) is superseded by the override, so neither this isolate's cache nor KV's edge
 * cache can carry a revoked key past the poll.
 *
 * Freshness: a request is decided on cached state only while the last successful poll
 * started at most `maxStalenessMs` ago; otherwise it waits for a poll (at most
 * `timeoutMs`), which is what happens to the first request of a new or idle isolate. While
 * the feed is unreachable (a poll failed) requests do not wait: cache entries still expire
 * after CACHE_TTL_MS and KV reads after KV_CACHE_TTL_SECONDS, the bound without the feed
 * (revocationBoundSeconds in config/config.ts), and every failed poll is logged.
 *
 * Nothing here imports runtime-only modules: it runs on the hot path.
 */
import type { FeedSettings } from "../../config/config";
import type { LegacyAlgorithm } from "../../keys/legacy";
import { isLegacyAlgorithm } from "../../keys/legacy";
import type { KeyRecord, RateLimit, TokenRecord } from "../../keys/record";
import { isKeyRecord, isRateLimit, isTokenRecord } from "../../keys/record";
import type { FeedPage } from "../../objects/protocol";
import { FEED_OBJECT_NAME } from "../../objects/protocol";
import type { RevocationFeed } from "../../objects/revocation-feed";

/** Pages a poll reads at most (FEED_PAGE_SIZE entries each); a longer backlog waits for the next poll. */
const FEED_MAX_PAGES = 20;
/** Overrides kept per isolate (oldest dropped first): one per key changed in the window. */
export const MAX_OVERRIDES = 20_000;

export interface Override {
  record: KeyRecord;
  /** The record's own change instant (updated_at, else created_at), to compare with KV's copy. */
  stamp: number;
  until: number;
}

/** A scoped admin token's record as published: it wins over an older KV copy (manage/admin/tokens.ts). */
export interface TokenOverride {
  record: TokenRecord;
  until: number;
}

/**
 * The token record to use after a lookup returned `found` (cache or KV): a published
 * revocation always wins (it is final), a published token wins over "no such token" (a
 * new token works at once), anything else stands.
 */
export function newerToken(
  found: TokenRecord | null,
  override: TokenOverride | undefined,
  now: number,
): TokenRecord | null {
  if (override === undefined || now >= override.until) return found;
  if (override.record.revoked_at !== null || found === null) return override.record;
  return found;
}

/** What an isolate knows of the feed. */
export class FeedFollower {
  cursor: number | null = null;
  /** Start of the last successful poll: every change published before it is applied. */
  syncedAt = -Infinity;
  lastPollAt = -Infinity;
  /** The last poll failed: requests do not wait for the next one. */
  failed = false;
  inflight: Promise<void> | null = null;
  readonly overrides = new Map<string, Override>();
  /** Scoped admin tokens changed within the window, by hash. */
  readonly tokens = new Map<string, TokenOverride>();
  /** Orgs with a rate limit (docs/limits.md), complete once `orgsKnown`. */
  readonly orgLimits = new Map<string, RateLimit>();
  orgsKnown = false;
  /** The legacy algorithms with pending imported keys (docs/migrating.md), known once `legacyKnown`. */
  legacy: LegacyAlgorithm[] = [];
  legacyKnown = false;
}

/**
 * The cache operations the follower needs (the isolate's KeyCache, edge/gateway/isolate.ts; the follower itself is
 * part of that state).
 */
export interface PurgeableCache {
  delete(key: string): void;
  clear(): void;
}

export function stampOf(r: KeyRecord): number {
  return Date.parse(r.updated_at ?? r.created_at) || 0;
}

/**
 * The record to use for `hash` after a KV read returned `fromKv`: the published one when it
 * is newer (KV's edge cache or propagation still shows an older copy, or no copy yet).
 */
export function newerOf(fromKv: KeyRecord | null, override: Override | undefined, now: number): KeyRecord | null {
  if (override === undefined || now >= override.until) return fromKv;
  // An older copy (or none) is what an edge cache still holds: the published record wins.
  // The same stamp is the same version (or an edit made directly in KV): KV's copy stands.
  if (fromKv === null || stampOf(fromKv) < override.stamp) return override.record;
  return fromKv;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export function feedStub(ns: DurableObjectNamespace<RevocationFeed>): DurableObjectStub<RevocationFeed> {
  return ns.get(ns.idFromName(FEED_OBJECT_NAME));
}

function apply(page: FeedPage, follower: FeedFollower, cache: PurgeableCache, settings: FeedSettings): void {
  if (page.reset) {
    cache.clear();
    follower.overrides.clear();
    follower.tokens.clear();
  }
  if (page.orgs) {
    follower.orgLimits.clear();
    for (const o of page.orgs) if (isRateLimit(o.rate_limit)) follower.orgLimits.set(o.org, o.rate_limit);
    follower.orgsKnown = true;
  }
  if (page.legacy) {
    follower.legacy = page.legacy.filter(isLegacyAlgorithm);
    follower.legacyKnown = true;
  }
  for (const e of page.entries) {
    if (e.kind === "legacy") {
      if (Array.isArray(e.record)) follower.legacy = e.record.filter(isLegacyAlgorithm);
      continue;
    }
    if (e.kind === "org") {
      if (isRateLimit(e.record)) follower.orgLimits.set(e.hash, e.record);
      else follower.orgLimits.delete(e.hash);
      continue;
    }
    if (e.kind === "token") {
      // The admin API's token cache consults these on every lookup: nothing to purge.
      follower.tokens.delete(e.hash);
      if (isTokenRecord(e.record)) follower.tokens.set(e.hash, { record: e.record, until: e.at + settings.windowMs });
      continue;
    }
    cache.delete(e.hash);
    follower.overrides.delete(e.hash);
    if (isKeyRecord(e.record))
      follower.overrides.set(e.hash, { record: e.record, stamp: stampOf(e.record), until: e.at + settings.windowMs });
  }
  while (follower.overrides.size > MAX_OVERRIDES)
    follower.overrides.delete(follower.overrides.keys().next().value as string);
  while (follower.tokens.size > MAX_OVERRIDES) follower.tokens.delete(follower.tokens.keys().next().value as string);
  follower.cursor = page.version;
}

async function poll(
  ns: DurableObjectNamespace<RevocationFeed>,
  follower: FeedFollower,
  cache: PurgeableCache,
  settings: FeedSettings,
  startedAt: number,
  onError: (message: string) => void,
): Promise<void> {
  try {
    const stub = feedStub(ns);
    for (let pages = 0; pages < FEED_MAX_PAGES; pages++) {
      const page = (await withTimeout(
        Promise.resolve(stub.since(follower.cursor, settings.windowMs)),
        settings.timeoutMs,
        "the revocation feed",
      )) as FeedPage;
      apply(page, follower, cache, settings);
      if (!page.more) {
        follower.syncedAt = startedAt;
        follower.failed = false;
        return;
      }
    }
    // A backlog longer than one poll reads: the next poll continues from the cursor.
  } catch (err) {
    follower.failed = true;
    onError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Called on each request before the key is verified. Starts a background poll when one
 * is due; returns a poll of this request's own to wait for when the isolate's view of the
 * feed is older than `maxStalenessMs` (and the feed is not known to be failing), else null.
 */
export function followFeed(
  ns: DurableObjectNamespace<RevocationFeed>,
  follower: FeedFollower,
  cache: PurgeableCache,
  settings: FeedSettings,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
  onError: (message: string) => void,
): Promise<void> | null {
  if (follower.inflight === null && now - follower.lastPollAt >= settings.pollMs) {
    follower.lastPollAt = now;
    const p = poll(ns, follower, cache, settings, now, onError).finally(() => {
      follower.inflight = null;
    });
    follower.inflight = p;
    waitUntil(p);
  }
  if (follower.failed || now - follower.syncedAt <= settings.maxStalenessMs) return null;
  // Stale (a new or idle isolate): this request waits for a poll of its own. It never
  // awaits another request's in-flight poll: in Workers a request must not wait on a
  // promise settled by another request's I/O (it can hang, or end with that request).
  return poll(ns, follower, cache, settings, now, onError);
}
