/**
 * The key record under its hash, and a key's last use: what the edge reads (one `get` per
 * cache miss) and writes (the last use, in waitUntil). Nothing here imports the management
 * side's field table: the record's guard is record.ts's.
 */
import type { KeyRecord } from "../record";
import { isKeyRecord } from "../record";
import type { KvLike } from "./kv";
import { kvCall, kvGetMany, kvKey, StoreFault } from "./kv";

/**
 * Read the record stored under `hash`. Returns null when there is none; throws StoreFault
 * when KV fails or holds something that is not a record (fail closed: never "unknown").
 */
export async function readRecord(kv: KvLike, hash: string, cacheTtlSeconds?: number): Promise<KeyRecord | null> {
  let value: unknown;
  try {
    value = await kv.get(
      kvKey.record(hash),
      cacheTtlSeconds ? { type: "json", cacheTtl: cacheTtlSeconds } : { type: "json" },
    );
  } catch (err) {
    throw new StoreFault(`KV get failed: ${(err as Error).message}`);
  }
  if (value === null) return null;
  if (!isKeyRecord(value)) throw new StoreFault("KV value under a key hash is not a valid key record");
  return value;
}

/**
 * The records stored under `hashes`, by hash (null: none), in bulk reads (kv.ts kvGetMany):
 * a hundred hashes cost one operation. Throws StoreFault as readRecord does.
 */
export async function readRecords(kv: KvLike, hashes: readonly string[]): Promise<Map<string, KeyRecord | null>> {
  const values = await kvGetMany(
    kv,
    hashes.map((h) => kvKey.record(h)),
  );
  const out = new Map<string, KeyRecord | null>();
  for (const hash of hashes) {
    const value = values.get(kvKey.record(hash)) ?? null;
    if (value !== null && !isKeyRecord(value))
      throw new StoreFault("KV value under a key hash is not a valid key record");
    out.set(hash, value);
  }
  return out;
}

/** A last-use entry under `org`: value and metadata carry the same instant. */
export function putLastUsed(kv: KvLike, org: string, id: string, at: string): Promise<void> {
  // Value and metadata carry the same instant: list() reads the metadata, get() the value.
  return kv.put(kvKey.lastUsed(org, id), JSON.stringify({ last_used_at: at }), { metadata: { last_used_at: at } });
}

/** The instant a last-use entry (its value or its metadata) holds, or null. */
export function lastUsedOf(v: unknown): string | null {
  const at = (v as { last_used_at?: unknown } | null | undefined)?.last_used_at;
  return typeof at === "string" && !Number.isNaN(Date.parse(at)) ? at : null;
}

/**
 * Record a key's use at `at` (ISO 8601) under each of its orgs. Called from the hot path
 * in waitUntil, throttled by the caller. It writes only the `:used` entries, never the
 * record or the summaries, so it cannot undo a concurrent admin change.
 */
export async function recordLastUsed(kv: KvLike, record: Pick<KeyRecord, "id" | "orgs">, at: string): Promise<void> {
  await kvCall("put", () => Promise.all(record.orgs.map((org) => putLastUsed(kv, org, record.id, at))));
}

/** The latest last use recorded under any of `orgs` (one read per org), or null. */
export async function readLastUsed(kv: KvLike, orgs: string[], id: string): Promise<string | null> {
  const values = await kvCall("get", () =>
    Promise.all(orgs.map((org) => kv.get(kvKey.lastUsed(org, id), { type: "json" }))),
  );
  let latest: string | null = null;
  for (const v of values) {
    const at = lastUsedOf(v);
    if (at !== null && (latest === null || Date.parse(at) > Date.parse(latest))) latest = at;
  }
  return latest;
}
