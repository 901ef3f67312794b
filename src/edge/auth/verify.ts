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
 * Stateless: the key cache is the isolate's (edge/gateway/isolate.ts), passed in.
 */
import type { Config } from "../../config/config";
import { classifyKey } from "../../keys/format";
import { hashKey } from "../../keys/hash";
import type { KeyDenial, KeyRecord } from "../../keys/record";
import { denialOf } from "../../keys/record";
import type { KvLike } from "../../keys/store/kv";
import { StoreFault } from "../../keys/store/kv";
import { readRecord } from "../../keys/store/records";
import type { KeyCache } from "../gateway/isolate";
import type { Override } from "../revocation/follower";
import { newerOf } from "../revocation/follower";

/** Where a verdict came from, for the access log and benchmarks. */
export type Tier = "format" | "memory" | "kv" | "stale" | "feed";

export type Verdict =
  | { kind: "valid"; record: KeyRecord; hash: string; tier: Tier }
  | { kind: "unknown"; reason: "checksum" | "not_found"; tier: Tier }
  | { kind: "denied"; reason: KeyDenial; record: KeyRecord; tier: Tier }
  | { kind: "error"; cause: string };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreFault(`KV did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export interface VerifyDeps {
  kv: KvLike;
  cache: KeyCache;
  config: Config;
  /** Milliseconds since epoch; injected so tests control time. */
  now: number;
  /** Records published on the revocation feed: newer than what KV may still serve. */
  overrides?: Map<string, Override>;
}

export async function verifyKey(key: string, deps: VerifyDeps): Promise<Verdict> {
  const { config, cache, now } = deps;
  if (classifyKey(key, config.keyPrefix) === "corrupt") return { kind: "unknown", reason: "checksum", tier: "format" };

  const hash = await hashKey(key, config.pepper);
  const hit = cache.lookup(hash, now);
  let record: KeyRecord | null;
  let tier: Tier;
  if (hit.state === "fresh") {
    record = hit.value;
    tier = "memory";
  } else {
    try {
      const stored = await withTimeout(
        readRecord(deps.kv, hash, config.cache.kvCacheTtlSeconds),
        config.cache.kvTimeoutMs,
      );
      record = deps.overrides ? newerOf(stored, deps.overrides.get(hash), now) : stored;
      tier = record === stored ? "kv" : "feed";
      if (record) cache.set(hash, record, now, config.cache.ttlMs, config.cache.staleIfErrorMs);
      else cache.set(hash, null, now, config.cache.negativeTtlMs, 0);
    } catch (err) {
      const published = deps.overrides?.get(hash);
      if (published !== undefined && now < published.until) {
        record = newerOf(hit.state === "stale" ? hit.value : null, published, now);
        tier = "feed";
      } else if (hit.state === "stale" && hit.value !== null) {
        record = hit.value;
        tier = "stale";
      } else {
        return { kind: "error", cause: err instanceof Error ? err.message : String(err) };
      }
    }
  }
  if (record === null) return { kind: "unknown", reason: "not_found", tier };
  const denial = denialOf(record, now);
  if (denial) return { kind: "denied", reason: denial, record, tier };
  return { kind: "valid", record, hash, tier };
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
