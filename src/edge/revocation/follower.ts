/**
 * Revocation everywhere within seconds: the isolate side of the revocation feed
 * (objects/revocation-feed.ts holds the feed; docs/revocation.md states the bound and its
 * cost). Publishing is the management side's (manage/publish.ts): every lifecycle change
 * (admin API, console, self-service, CLI local mode) goes to the feed's primary, which
 * copies it to a replica in every region before the change is reported done.
 *
 * Follow: an isolate that serves requests refreshes its view in the background (waitUntil)
 * at most once per `pollMs`. It first reads its location's snapshot of the feed (the Cache
 * API: per location, shared by every isolate there); only when that is not recent enough
 * does it poll its region's replica itself (the primary when the replica cannot answer) and
 * write the snapshot for the others — one poll per location per interval, not per isolate.
 * For each entry it drops the hash from its key cache and keeps the published record as an
 * override for `windowMs` (KV's edge cacheTtl plus an allowance for KV's propagation): a KV
 * read of that hash that returns an older record (or none) is superseded by the override,
 * so neither this isolate's cache nor KV's edge cache can carry a revoked key past the poll.
 *
 * Freshness: a request is decided on cached state only while the poll its state comes from
 * (its own, or the location's snapshot's) started at most `maxStalenessMs` ago; otherwise it
 * waits for a refresh (the snapshot, else one poll of at most `timeoutMs`, twice when the
 * replica fails and the primary is asked), which is what happens to the first request of a
 * new or idle isolate. While the feed is unreachable (a poll failed) requests do not wait:
 * cache entries still expire after CACHE_TTL_MS and KV reads after KV_CACHE_TTL_SECONDS, the
 * bound without the feed (revocationBoundSeconds in config/config.ts), and every failed poll
 * is logged.
 *
 * Nothing here imports runtime-only modules: it runs on the hot path.
 */
import type { FeedSettings } from "../../config/config";
import type { LegacyAlgorithm } from "../../keys/legacy";
import { isLegacyAlgorithm } from "../../keys/legacy";
import type { KeyRecord, RateLimit, TokenRecord } from "../../keys/record";
import { isKeyRecord, isRateLimit, isTokenRecord } from "../../keys/record";
import { withDeadline } from "../../lib/deadline";
import { link } from "../../objects/link";
import type { FeedEntry, FeedPage } from "../../objects/protocol";
import { FEED_OBJECT_NAME, regionalName } from "../../objects/protocol";
import type { RevocationFeed } from "../../objects/revocation-feed";
import type { Location } from "../location";
import { DEFAULT_LOCATION } from "../location";

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
  /** Start of the poll its state comes from: every change published before it is applied. */
  syncedAt = -Infinity;
  /** The location's snapshot this isolate last wrote or read (the base of the next one it writes). */
  snapshot: Snapshot | null = null;
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
  return withDeadline(promise, ms, () => new Error(`${what} did not answer within ${ms} ms`));
}

/** The feed's primary (where changes are published), or the replica of `region`. */
export function feedStub(
  ns: DurableObjectNamespace<RevocationFeed>,
  region?: Location["region"],
): DurableObjectStub<RevocationFeed> {
  return link.to(ns, region ? regionalName(FEED_OBJECT_NAME, region) : FEED_OBJECT_NAME);
}

// ------------------------------------------------------------------ the location's snapshot

/**
 * What one poll of a location left for the others (the Cache API, per location): the feed's
 * version then, when that poll started, and the entries after `base` — those of the last
 * SNAPSHOT_TAIL_MS, so an isolate whose cursor is at least `base` catches up from it alone.
 */
export interface Snapshot {
  version: number;
  polledAt: number;
  base: number;
  entries: FeedEntry[];
}

/** How far back a snapshot's entries reach: an isolate idle longer polls its replica itself. */
export const SNAPSHOT_TAIL_MS = 60_000;
/** A snapshot holds at most this many entries (a burst of changes: older ones are dropped, `base` moves up). */
const SNAPSHOT_MAX_ENTRIES = 1_000;

/** The Cache API key of a location's snapshot (the feed's id keeps two deployments on one zone apart). */
export function snapshotKey(ns: DurableObjectNamespace<RevocationFeed>, where: Location): string {
  return `https://feed.keygate.internal/${ns.idFromName(FEED_OBJECT_NAME).toString()}/${where.region}/${where.colo}`;
}

function isSnapshot(v: unknown): v is Snapshot {
  const s = v as Snapshot;
  return (
    typeof v === "object" &&
    v !== null &&
    Number.isFinite(s.version) &&
    Number.isFinite(s.polledAt) &&
    Number.isFinite(s.base) &&
    Array.isArray(s.entries)
  );
}

/** The location's snapshot, or null (none, the Cache API unavailable — e.g. on workers.dev — or unreadable). */
async function readSnapshot(key: string): Promise<Snapshot | null> {
  try {
    const hit = await caches.default.match(key);
    if (!hit) return null;
    const s = (await hit.json()) as unknown;
    return isSnapshot(s) ? s : null;
  } catch {
    return null;
  }
}

async function writeSnapshot(key: string, s: Snapshot, settings: FeedSettings): Promise<void> {
  try {
    // Kept no longer than it can serve (a request needs a poll at most maxStaleness old).
    const maxAge = Math.max(1, Math.ceil(settings.maxStalenessMs / 1000));
    await caches.default.put(
      key,
      new Response(JSON.stringify(s), {
        headers: { "content-type": "application/json", "cache-control": `max-age=${maxAge}` },
      }),
    );
  } catch {
    // No Cache API here: every isolate polls on its own.
  }
}

/** The next snapshot: `prev`'s entries (when this poll continued it) plus what the poll brought, trimmed. */
export function nextSnapshot(prev: Snapshot | null, from: number, page: FeedPage, polledAt: number): Snapshot {
  const continued = prev !== null && prev.base <= from && from <= prev.version;
  let entries = continued ? [...prev.entries.filter((e) => e.version <= from), ...page.entries] : page.entries;
  let base = continued ? prev.base : from;
  const cut = entries.findIndex((e) => e.at >= polledAt - SNAPSHOT_TAIL_MS);
  const drop = Math.max(cut < 0 ? entries.length : cut, entries.length - SNAPSHOT_MAX_ENTRIES);
  if (drop > 0) {
    base = entries[drop - 1]!.version;
    entries = entries.slice(drop);
  }
  return { version: page.version, polledAt, base, entries };
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

/**
 * Catch up from a snapshot (the location's): whether it brought this isolate's view to the
 * snapshot's poll. An isolate whose cursor is before the snapshot's base cannot use it.
 */
function applySnapshot(snap: Snapshot, follower: FeedFollower, cache: PurgeableCache, settings: FeedSettings): boolean {
  const cursor = follower.cursor;
  if (cursor === null || cursor < snap.base) return false;
  if (cursor < snap.version) {
    const entries = snap.entries.filter((e) => e.version > cursor);
    apply({ version: snap.version, entries, more: false, reset: false }, follower, cache, settings);
  }
  if (snap.polledAt > follower.syncedAt) follower.syncedAt = snap.polledAt;
  follower.snapshot = snap;
  follower.failed = false;
  return true;
}

/** One poll of the feed from the follower's cursor: the region's replica, or the primary when the replica fails. */
async function pollObject(
  ns: DurableObjectNamespace<RevocationFeed>,
  follower: FeedFollower,
  cache: PurgeableCache,
  settings: FeedSettings,
  region: Location["region"],
): Promise<FeedPage[]> {
  let stub = feedStub(ns, region);
  let onPrimary = false;
  const pages: FeedPage[] = [];
  for (let n = 0; n < FEED_MAX_PAGES; n++) {
    const since = () =>
      withTimeout(
        Promise.resolve(stub.since(follower.cursor, settings.windowMs)),
        settings.timeoutMs,
        "the revocation feed",
      ) as Promise<FeedPage>;
    let page: FeedPage | null;
    try {
      page = await since();
    } catch (err) {
      if (pages.length > 0 || onPrimary) throw err;
      page = null;
    }
    if (page === null || page.behind) {
      if (onPrimary) throw new Error("the revocation feed's primary answered as a replica");
      // The replica cannot answer (not yet copied, behind this cursor, unreachable): the primary can.
      stub = feedStub(ns);
      onPrimary = true;
      page = await since();
      if (page.behind) throw new Error("the revocation feed's primary answered as a replica");
    }
    apply(page, follower, cache, settings);
    pages.push(page);
    if (!page.more) return pages;
  }
  // A backlog longer than one poll reads: the next poll continues from the cursor.
  throw new BacklogLeft();
}

class BacklogLeft extends Error {}

/**
 * Bring this isolate's view up to a poll started at most `maxAgeMs` ago: from the
 * location's snapshot when it is that recent and continues this isolate's cursor, else by
 * polling the region's replica (and leaving a snapshot for the location's other isolates).
 */
async function refresh(
  ns: DurableObjectNamespace<RevocationFeed>,
  follower: FeedFollower,
  cache: PurgeableCache,
  settings: FeedSettings,
  startedAt: number,
  maxAgeMs: number,
  where: Location,
  onError: (message: string) => void,
): Promise<void> {
  const key = snapshotKey(ns, where);
  const snap = await readSnapshot(key);
  // A snapshot from a poll started later than ours (or in the future of this clock) is not trusted.
  if (
    snap !== null &&
    snap.polledAt <= startedAt &&
    startedAt - snap.polledAt <= maxAgeMs &&
    snap.polledAt > follower.syncedAt &&
    applySnapshot(snap, follower, cache, settings)
  )
    return;
  const from = follower.cursor;
  try {
    const pages = await pollObject(ns, follower, cache, settings, where.region);
    follower.syncedAt = startedAt;
    follower.failed = false;
    const last = pages[pages.length - 1]!;
    // Only a poll that continued a cursor (no reset, one page) makes a snapshot others can continue from.
    if (from !== null && pages.length === 1 && !last.reset && !last.orgs) {
      const base = snap !== null && snap.polledAt <= startedAt ? snap : follower.snapshot;
      follower.snapshot = nextSnapshot(base, from, last, startedAt);
      await writeSnapshot(key, follower.snapshot, settings);
    }
  } catch (err) {
    if (err instanceof BacklogLeft) return;
    follower.failed = true;
    onError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Called on each request before the key is verified. Starts a background refresh when one
 * is due; returns a refresh of this request's own to wait for when the isolate's view of
 * the feed is older than `maxStalenessMs` (and the feed is not known to be failing), else
 * null. `where`: the request's location (its region's replica, its location's snapshot).
 */
export function followFeed(
  ns: DurableObjectNamespace<RevocationFeed>,
  follower: FeedFollower,
  cache: PurgeableCache,
  settings: FeedSettings,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
  onError: (message: string) => void,
  where: () => Location = () => DEFAULT_LOCATION,
): Promise<void> | null {
  const stale = !follower.failed && now - follower.syncedAt > settings.maxStalenessMs;
  if (follower.inflight === null && now - follower.lastPollAt >= settings.pollMs) {
    follower.lastPollAt = now;
    // Due: one refresh for the isolate — this request's own when it must wait for it.
    const p = refresh(
      ns,
      follower,
      cache,
      settings,
      now,
      stale ? settings.maxStalenessMs : settings.pollMs,
      where(),
      onError,
    ).finally(() => {
      follower.inflight = null;
    });
    follower.inflight = p;
    waitUntil(p);
    return stale ? p : null;
  }
  if (!stale) return null;
  // Stale while another request's refresh is in flight: this request waits for one of its
  // own. It never awaits another request's: in Workers a request must not wait on a
  // promise settled by another request's I/O (it can hang, or end with that request).
  return refresh(ns, follower, cache, settings, now, settings.maxStalenessMs, where(), onError);
}
