/**
 * What the in-isolate key cache costs in memory: the V8 heap taken by N cached records
 * (as KV returns them: parsed JSON), keyed by their 64-character hashes, in this
 * process's V8. Bounded by CACHE_MAX_ENTRIES whatever the working set.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { hashKey } from "../../src/keys/hash";
import { issueKey } from "../../src/keys/issue";
import type { KeyRecord } from "../../src/keys/record";
import type { KvLike } from "../../src/keys/store/kv";
import { LruCache } from "../../src/lib/lru";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

export async function cacheBytesPerEntry(
  entries: number,
  maxEntries: number,
): Promise<{ entries: number; cached: number; bytesPerEntry: number; totalMiB: number }> {
  let last: string | undefined;
  const kv: KvLike = {
    get: async () => null,
    put: async (_k, v) => void (last ??= v),
    delete: async () => {},
    list: async () => ({ keys: [], list_complete: true }),
  };
  const items: [string, KeyRecord][] = [];
  for (let i = 0; i < entries; i++) {
    last = undefined;
    const { key } = await issueKey(
      kv,
      { prefix: "kg_" },
      { name: `bench ${i}`, orgs: ["bench"], scopes: ["read"], expires_at: null },
      Date.now(),
    );
    items.push([await hashKey(key), JSON.parse(last!) as KeyRecord]);
  }
  // Only the cache should hold them once measured: re-create strings and records.
  const json = items.map(([h, r]) => [h, JSON.stringify(r)] as const);
  items.length = 0;
  const cache = new LruCache<KeyRecord | null>(maxEntries);
  const now = Date.now();
  for (const [h, r] of json) cache.set(h.slice(0, 32) + h.slice(32), JSON.parse(r) as KeyRecord, now, 30_000, 300_000);
  const cached = cache.size;
  // Heap with the cache full, then with it emptied: the difference is the cache alone.
  gc();
  gc();
  const full = process.memoryUsage().heapUsed;
  cache.clear();
  gc();
  gc();
  const used = full - process.memoryUsage().heapUsed;
  if (json.length < cached) throw new Error("unreachable"); // keeps the sources alive until here
  return {
    entries,
    cached,
    bytesPerEntry: Math.round(used / cached),
    totalMiB: Math.round((used / 1048576) * 10) / 10,
  };
}
