/**
 * A set of public keys fetched from a URL, by key id, cached per isolate — the one way
 * keygate holds keys published by someone else: an identity provider's JWKS
 * (edge/auth/session.ts) and GitHub's secret scanning keys (manage/leak-intake/github.ts).
 *
 * Fetched on first use; refetched when older than `maxAgeMs`, or when an id the cache does
 * not hold is asked for (a key rotation at the publisher) — but never more than once per
 * `minRefreshMs` per isolate, whatever the callers ask, so a flood of made-up ids costs one
 * fetch per interval, not one per request. A failed fetch is retried with a backoff —
 * `retryMinMs` after the first failure, then twice that, and so on up to `retryMaxMs` —
 * while keys already held stay usable up to `staleMs` past their age. Until a first fetch
 * succeeds every lookup answers "unavailable" (an outage at the publisher, not the caller's
 * fault). No redirect is followed; the answer is read up to `maxBytes`.
 */
import { logLine } from "./log";

export interface KeySetPolicy {
  /** Held keys this old are refetched on their next use. */
  maxAgeMs: number;
  /** At most one fetch per this interval per isolate once a fetch has succeeded (unknown ids, age). */
  minRefreshMs: number;
  /** After a failed fetch, the next one waits this long, doubled at each further failure… */
  retryMinMs: number;
  /** …up to this long. */
  retryMaxMs: number;
  /** How long past maxAgeMs held keys stay usable while refetching fails. */
  staleMs: number;
  fetchTimeoutMs: number;
  maxBytes: number;
  /** Names the set in the error log ("session JWKS"). */
  what: string;
  /** The log field naming the URL ("jwks_url"). */
  urlField: string;
}

/** A lookup's answer: the key, an id the (fresh enough) set does not hold, or no set to ask. */
export type KeyLookup<K> = { key: K } | "unknown" | "unavailable";

interface Entry<K> {
  keys: Map<string, K>;
  /** When the held keys were fetched (null: never). */
  fetchedAt: number | null;
  /** When the last fetch started (null: never). */
  attemptedAt: number | null;
  /** When the last fetch failed, cleared by a success. */
  failedAt: number | null;
  /** Failed fetches in a row (the backoff's exponent), cleared by a success. */
  failures: number;
}

/** How long after the last of `failures` failed fetches in a row the next may start. */
export function retryDelay(policy: Pick<KeySetPolicy, "retryMinMs" | "retryMaxMs">, failures: number): number {
  return Math.min(policy.retryMaxMs, policy.retryMinMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/**
 * A cache of key sets by URL under `policy`; `parse` turns a fetched JSON document into the
 * usable keys by id (throwing when the document is not one; an empty map is a failure too).
 * The returned function looks up key `id` of the set at `url`, fetching as the policy allows.
 */
export function keySetCache<K>(
  policy: KeySetPolicy,
  parse: (doc: unknown) => Promise<Map<string, K>>,
): (url: string, id: string, now: number) => Promise<KeyLookup<K>> {
  const cache = new Map<string, Entry<K>>();

  async function refetch(url: string, entry: Entry<K>, now: number): Promise<void> {
    entry.attemptedAt = now;
    try {
      const res = await fetch(url, {
        headers: { accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(policy.fetchTimeoutMs),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`answered ${res.status}`);
      }
      if (Number(res.headers.get("content-length") ?? 0) > policy.maxBytes) {
        await res.body?.cancel();
        throw new Error(`larger than ${policy.maxBytes} bytes`);
      }
      const text = await res.text();
      if (text.length > policy.maxBytes) throw new Error(`larger than ${policy.maxBytes} bytes`);
      const keys = await parse(JSON.parse(text));
      if (keys.size === 0) throw new Error("holds no usable key");
      entry.keys = keys;
      entry.fetchedAt = now;
      entry.failedAt = null;
      entry.failures = 0;
    } catch (err) {
      // Concurrent attempts of one round (cold-start requests) count as one failure.
      if (entry.failedAt === null || now - entry.failedAt >= retryDelay(policy, entry.failures)) {
        entry.failedAt = now;
        entry.failures++;
      }
      logLine("error", `${policy.what} fetch failed`, {
        [policy.urlField]: url,
        cause: err instanceof Error ? err.message : String(err),
      });
    }
  }

  function mayFetch(entry: Entry<K>, now: number): boolean {
    // Failing: retried with the backoff (the publisher may be back soon).
    if (entry.failedAt !== null) return now - entry.failedAt >= retryDelay(policy, entry.failures);
    // Before a first success, concurrent cold-start requests may each try (no fetch is shared
    // across requests); afterwards one fetch per interval.
    if (entry.fetchedAt === null || entry.attemptedAt === null) return true;
    return now - entry.attemptedAt >= policy.minRefreshMs;
  }

  function held(entry: Entry<K>, id: string, now: number): K | undefined {
    if (entry.fetchedAt === null || now - entry.fetchedAt >= policy.maxAgeMs + policy.staleMs) return undefined;
    return entry.keys.get(id);
  }

  return async function lookup(url, id, now) {
    let entry = cache.get(url);
    if (!entry) {
      entry = { keys: new Map(), fetchedAt: null, attemptedAt: null, failedAt: null, failures: 0 };
      cache.set(url, entry);
    }
    let key = held(entry, id, now);
    const fresh = entry.fetchedAt !== null && now - entry.fetchedAt < policy.maxAgeMs;
    if (key !== undefined && fresh) return { key };
    if (mayFetch(entry, now)) {
      await refetch(url, entry, now);
      key = held(entry, id, now);
    }
    if (key !== undefined) return { key };
    const holdsKeys = entry.fetchedAt !== null && now - entry.fetchedAt < policy.maxAgeMs + policy.staleMs;
    return holdsKeys ? "unknown" : "unavailable";
  };
}
