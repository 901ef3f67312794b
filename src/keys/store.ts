/**
 * The only module that names KV keys. Layout (docs/storage.md is the contract):
 *
 *   key:<hash>            KeyRecord JSON             hot path: one get per request
 *   id:<key id>           {"hash": "<hash>"}         admin: find a record by its id
 *   org:<org>:<key id>    "" + metadata KeySummary   admin: list an org without reading records
 */
import type { KeyRecord, RateLimit } from "./record";
import { isKeyRecord } from "./record";

/** The subset of Workers KV we use; the CLI passes wrangler's local-state binding. */
export interface KvLike {
  get(key: string, options: { type: "json"; cacheTtl?: number }): Promise<unknown>;
  put(key: string, value: string, options?: { metadata?: unknown; expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export const kvKey = {
  record: (hash: string) => `key:${hash}`,
  idPointer: (id: string) => `id:${id}`,
  orgIndex: (org: string, id: string) => `org:${org}:${id}`,
} as const;

/** What a listing shows of a key, stored as KV metadata (≤ 1 KiB) on the org index. */
export interface KeySummary {
  id: string;
  name: string;
  start: string;
  orgs: string[];
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  disabled: boolean;
  revoked_at: string | null;
  rate_limit?: RateLimit;
}

export function summarize(r: KeyRecord): KeySummary {
  return {
    id: r.id,
    name: r.name,
    start: r.start,
    orgs: r.orgs,
    scopes: r.scopes,
    created_at: r.created_at,
    expires_at: r.expires_at,
    disabled: r.disabled,
    revoked_at: r.revoked_at,
    ...(r.rate_limit ? { rate_limit: r.rate_limit } : {}),
  };
}

export class StoreFault extends Error {
  override name = "StoreFault";
}

export class KeyConflict extends Error {
  override name = "KeyConflict";
}

/**
 * Read the record stored under `hash`. Returns null when there is none; throws StoreFault
 * when KV fails or holds something that is not a record (fail closed: never "unknown").
 */
export async function readRecord(kv: KvLike, hash: string, cacheTtlSeconds?: number): Promise<KeyRecord | null> {
  let value: unknown;
  try {
    value = await kv.get(kvKey.record(hash), cacheTtlSeconds ? { type: "json", cacheTtl: cacheTtlSeconds } : { type: "json" });
  } catch (err) {
    throw new StoreFault(`KV get failed: ${(err as Error).message}`);
  }
  if (value === null) return null;
  if (!isKeyRecord(value)) throw new StoreFault("KV value under a key hash is not a valid key record");
  return value;
}

/**
 * Store a new record. Refuses (KeyConflict) when a record already exists for this hash,
 * so importing the same key twice can never overwrite another key's settings.
 */
export async function createRecord(kv: KvLike, hash: string, record: KeyRecord): Promise<void> {
  if ((await kv.get(kvKey.record(hash), { type: "json" })) !== null) {
    throw new KeyConflict("a key with the same value already exists");
  }
  await kv.put(kvKey.record(hash), JSON.stringify(record));
  await kv.put(kvKey.idPointer(record.id), JSON.stringify({ hash }));
  const summary = summarize(record);
  await Promise.all(record.orgs.map((org) => kv.put(kvKey.orgIndex(org, record.id), "", { metadata: summary })));
}
