/**
 * Verification: a presented key → a verdict, between the store and HTTP.
 *
 * Order: format check (a key with our prefix and a bad checksum is refused with no KV
 * read) → hash → in-isolate cache → KV `get` (with cacheTtl and a timeout) → record state
 * against the clock. Expiry is checked on every request, cached or not.
 *
 * A store failure is its own arm ("error" → 503), never "unknown" (→ 401) and never a
 * pass. While KV fails, a record already cached may be served up to STALE_IF_ERROR_MS
 * past its freshness (tier "stale"); an unknown key is never served from a stale entry.
 *
 * Keys imported by their legacy hash (docs/migrating.md): while some are pending, a key
 * that is not keygate's own format (no KEY_PREFIX) and misses keygate's index is looked
 * up once more under its legacy identity — one legacy digest and keygate's hash of it, at
 * most one KV read per pending algorithm (an old system has one), and the same caches,
 * negative results included. A hit is verified like any record and says where it was
 * found (`legacy`), for the lazy re-hash (authenticate.ts); found under two identities,
 * a revoked one wins, else the key is refused as ambiguous. Keys of keygate's format, and
 * every key once nothing is pending, pay nothing for it.
 *
 * Stateless: the key cache is the isolate's (edge/gateway/isolate.ts), passed in.
 */
import type { Config } from "../../config/config";
import { classifyKey } from "../../keys/format";
import { hashKey } from "../../keys/hash";
import type { LegacyAlgorithm } from "../../keys/legacy";
import { legacyIdentityOf } from "../../keys/legacy";
import type { KeyDenial, KeyRecord } from "../../keys/record";
import { denialOf } from "../../keys/record";
import type { KvLike } from "../../keys/store/kv";
import { StoreFault } from "../../keys/store/kv";
import { readRecord } from "../../keys/store/records";
import { withDeadline } from "../../lib/deadline";
import type { KeyCache } from "../gateway/isolate";
import type { Override } from "../revocation/follower";
import { newerOf } from "../revocation/follower";

/** Where a verdict came from, for the access log and benchmarks. */
export type Tier = "format" | "memory" | "kv" | "stale" | "feed";

export type Verdict =
  | {
      kind: "valid";
      record: KeyRecord;
      hash: string;
      tier: Tier;
      /** Found under its legacy identity (a key imported by its hash, not yet re-indexed under `hash`). */
      legacy?: { identity: string };
    }
  /** ambiguous: the key was found under two legacy identities (imported by two hashes), neither revoked. */
  | { kind: "unknown"; reason: "checksum" | "not_found" | "ambiguous"; tier: Tier }
  | { kind: "denied"; reason: KeyDenial; record: KeyRecord; tier: Tier }
  | { kind: "error"; cause: string };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withDeadline(promise, ms, () => new StoreFault(`KV did not answer within ${ms} ms`));
}

export interface VerifyDeps {
  kv: KvLike;
  cache: KeyCache;
  config: Config;
  /** Milliseconds since epoch; injected so tests control time. */
  now: number;
  /** Records published on the revocation feed: newer than what KV may still serve. */
  overrides?: Map<string, Override>;
  /**
   * The legacy algorithms with pending imported keys (edge/auth/legacy.ts), asked only on a
   * miss of a key not in keygate's format; absent: no legacy lookup.
   */
  legacy?: () => Promise<readonly LegacyAlgorithm[]>;
}

type Looked = { record: KeyRecord | null; tier: Tier } | { kind: "error"; cause: string };

/** The record under `hash`: the in-isolate cache, else KV (with the feed's overrides); misses cached too. */
async function lookup(hash: string, deps: VerifyDeps): Promise<Looked> {
  const { config, cache, now } = deps;
  const hit = cache.lookup(hash, now);
  if (hit.state === "fresh") return { record: hit.value, tier: "memory" };
  try {
    const stored = await withTimeout(
      readRecord(deps.kv, hash, config.cache.kvCacheTtlSeconds),
      config.cache.kvTimeoutMs,
    );
    const record = deps.overrides ? newerOf(stored, deps.overrides.get(hash), now) : stored;
    if (record) cache.set(hash, record, now, config.cache.ttlMs, config.cache.staleIfErrorMs);
    else cache.set(hash, null, now, config.cache.negativeTtlMs, 0);
    return { record, tier: record === stored ? "kv" : "feed" };
  } catch (err) {
    const published = deps.overrides?.get(hash);
    if (published !== undefined && now < published.until)
      return { record: newerOf(hit.state === "stale" ? hit.value : null, published, now), tier: "feed" };
    if (hit.state === "stale" && hit.value !== null) return { record: hit.value, tier: "stale" };
    return { kind: "error", cause: err instanceof Error ? err.message : String(err) };
  }
}

export async function verifyKey(key: string, deps: VerifyDeps): Promise<Verdict> {
  const { config, now } = deps;
  const shape = classifyKey(key, config.keyPrefix);
  if (shape === "corrupt") return { kind: "unknown", reason: "checksum", tier: "format" };

  const hash = await hashKey(key, config.pepper);
  let found = await lookup(hash, deps);
  if ("kind" in found) return found;
  let legacy: { identity: string } | undefined;
  if (found.record === null && shape === "foreign" && deps.legacy) {
    // Imported by its legacy hash and not re-indexed yet? One digest and one lookup per pending algorithm.
    let algorithms: readonly LegacyAlgorithm[];
    try {
      algorithms = await deps.legacy();
    } catch (err) {
      return { kind: "error", cause: err instanceof Error ? err.message : String(err) };
    }
    // Every pending algorithm, as a miss reads them all: the same key imported by two hashes
    // (an import cannot see a key's other digests) has two records, and which one answers
    // must not depend on the algorithms' order. A revoked one wins (another import never
    // brings a revoked key back); two others are ambiguous, refused until the operator
    // revokes one (docs/migrating.md).
    const hits: { record: KeyRecord; tier: Tier; identity: string }[] = [];
    for (const algorithm of algorithms) {
      const identity = await legacyIdentityOf(key, algorithm, config);
      if (identity === null) continue;
      const there = await lookup(identity, deps);
      if ("kind" in there) return there;
      if (there.record !== null) hits.push({ record: there.record, tier: there.tier, identity });
    }
    const revoked = hits.find((h) => h.record.revoked_at !== null);
    if (revoked) return { kind: "denied", reason: "revoked", record: revoked.record, tier: revoked.tier };
    if (hits.length > 1) return { kind: "unknown", reason: "ambiguous", tier: hits[0]!.tier };
    if (hits.length === 1) {
      found = hits[0]!;
      legacy = { identity: hits[0]!.identity };
    }
  }
  const { record, tier } = found;
  if (record === null) return { kind: "unknown", reason: "not_found", tier };
  const denial = denialOf(record, now);
  if (denial) return { kind: "denied", reason: denial, record, tier };
  return { kind: "valid", record, hash, tier, ...(legacy ? { legacy } : {}) };
}

/**
 * For a client over its failed-authentication budget (edge/abuse/auth-failures.ts): the verdict
 * for a key this isolate's cache already knows to be valid — a fresh, positive entry whose
 * record is not revoked, disabled or expired now — or null. Never reads KV, never uses a
 * stale entry: a guess costs a hash and a map lookup, and learns nothing it could not
 * learn by being the key's holder.
 */
export async function cachedValidVerdict(key: string, deps: Omit<VerifyDeps, "kv">): Promise<Verdict | null> {
  const { config, cache, now } = deps;
  if (classifyKey(key, config.keyPrefix) === "corrupt") return null;
  const hash = await hashKey(key, config.pepper);
  const hit = cache.lookup(hash, now);
  if (hit.state !== "fresh" || hit.value === null) return null;
  if (denialOf(hit.value, now) !== null) return null;
  return { kind: "valid", record: hit.value, hash, tier: "memory" };
}
