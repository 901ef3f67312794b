/**
 * Keys imported by their legacy hash, on the edge (docs/migrating.md; keys/legacy.ts):
 * which legacy algorithms have pending keys — what verify.ts looks a missed key up under —
 * and the lazy re-hash of a key found that way.
 *
 * Pending algorithms: the revocation feed tells every isolate (a new one with its first
 * poll, a change within the feed's bound), at no cost per request; nothing pending, no
 * legacy lookup at all. Without a feed (or before it answered once), the `legacy-algorithms`
 * KV record is read instead, at most once per NEGATIVE_CACHE_TTL_MS (at least 1 s) per
 * isolate, only when a key not in keygate's format missed the index.
 *
 * Re-hash: after a request a pending key served, its record moves to keygate's own hash of
 * the key (keys/store/migration.ts rehash) in waitUntil; this isolate caches it there at
 * once, and the feed tells the others (which may have cached "no such key" for that hash).
 */
import type { LegacyAlgorithm } from "../../keys/legacy";
import type { KeyRecord } from "../../keys/record";
import { readLegacyAlgorithms, rehash } from "../../keys/store/migration";
import { logLine } from "../../lib/log";
import type { AdmitDeps } from "../admission";
import { feedStub } from "../revocation/follower";

/** A fallback read of the record is trusted this long at least. */
const MIN_FLAG_TTL_MS = 1_000;
/** Re-hashes in flight in this isolate, bounded. */
const MAX_MIGRATING = 1_000;
const PUBLISH_TIMEOUT_MS = 5_000;

/** The legacy algorithms with pending keys: the feed's word when it has spoken, else the KV record (cached). */
export async function pendingAlgorithms(deps: AdmitDeps, now: number): Promise<readonly LegacyAlgorithm[]> {
  const { env, isolate, config } = deps;
  if (env.REVOCATION_FEED && isolate.feed.legacyKnown) return isolate.feed.legacy;
  const flag = isolate.legacyFlag;
  if (now < flag.freshUntil) return flag.algorithms;
  flag.algorithms = await readLegacyAlgorithms(env.KEYS, config.cache.kvCacheTtlSeconds);
  flag.freshUntil = now + Math.max(config.cache.negativeTtlMs, MIN_FLAG_TTL_MS);
  return flag.algorithms;
}

/**
 * Re-index a pending key found under `identity` at `hash` (keygate's own), after the
 * response. At most one re-hash per key in flight per isolate.
 */
export function migrateLater(deps: AdmitDeps, record: KeyRecord, identity: string, hash: string, now: number): void {
  const { isolate, env, config } = deps;
  if (isolate.migrating.has(identity) || isolate.migrating.size >= MAX_MIGRATING) return;
  isolate.migrating.add(identity);
  deps.waitUntil(
    (async () => {
      try {
        const moved = await rehash(env.KEYS, identity, hash, now, deps.requestId);
        if (moved === null) return;
        isolate.cache.delete(identity);
        isolate.cache.set(hash, moved, now, config.cache.ttlMs, config.cache.staleIfErrorMs);
        logLine("info", "imported key re-indexed under keygate's hash", {
          request_id: deps.requestId,
          key_id: record.id,
          from: record.legacy ?? null,
        });
        if (env.REVOCATION_FEED) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            Promise.resolve(feedStub(env.REVOCATION_FEED).publish([{ hash, record: moved }])),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error("the revocation feed did not answer")), PUBLISH_TIMEOUT_MS);
            }),
          ]).finally(() => {
            if (timer !== undefined) clearTimeout(timer);
          });
        }
      } catch (err) {
        logLine("warn", "re-hash of an imported key failed: retried at its next use", {
          request_id: deps.requestId,
          key_id: record.id,
          cause: (err as Error).message,
        });
      } finally {
        isolate.migrating.delete(identity);
      }
    })(),
  );
}
