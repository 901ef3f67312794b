/**
 * A bounded in-isolate LRU with per-entry deadlines.
 *
 * Each entry is fresh until `freshUntil` and may still be served as a fallback until
 * `staleUntil` (used only when the backing store fails: see edge/auth/verify.ts). A Map keeps
 * insertion order, so re-inserting on a hit makes the first key the least recently used.
 * Memory is bounded by `maxEntries` whatever the working set: the 100k-key benchmark
 * relies on that.
 */
export interface CacheEntry<V> {
  value: V;
  freshUntil: number;
  staleUntil: number;
}

export type Lookup<V> = { state: "fresh"; value: V } | { state: "stale"; value: V } | { state: "miss" };

export class LruCache<V> {
  readonly #entries = new Map<string, CacheEntry<V>>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  lookup(key: string, now: number): Lookup<V> {
    const entry = this.#entries.get(key);
    if (!entry) return { state: "miss" };
    if (now < entry.freshUntil) {
      // Refresh recency.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return { state: "fresh", value: entry.value };
    }
    if (now < entry.staleUntil) return { state: "stale", value: entry.value };
    this.#entries.delete(key);
    return { state: "miss" };
  }

  set(key: string, value: V, now: number, ttlMs: number, staleMs: number): void {
    if (this.maxEntries <= 0 || ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, freshUntil: now + ttlMs, staleUntil: now + ttlMs + staleMs });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
