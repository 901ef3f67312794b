/**
 * Workers KV as keygate uses it, and the only module that names KV keys (kvKey). The other
 * modules of this folder each store one kind of thing: records.ts the key record and its
 * last use (what the edge reads and writes), listings.ts a key's listing entries and the
 * listings, audit.ts the audit log, tokens.ts scoped admin tokens, org-settings.ts an org's
 * settings. Layout (docs/storage.md is the contract, and a test checks that document
 * against `kvKey`):
 *
 *   key:<hash>                          KeyRecord JSON                 hot path: one get per request
 *   id:<key id>                         {"hash"} + metadata KeySummary admin: find a record by its id; list every key
 *   org:<org>:<key id>                  "" + metadata KeySummary       admin: list an org without reading records
 *   org:<org>:<key id>:used             {"last_used_at"} (+ metadata)  hot path (waitUntil): last use, listed with the
 * org
 *   audit:<inverted ms>:<event id>      AuditEvent JSON (+ metadata)   admin: every change, newest first
 *   audit-key:<key id>:<inverted ms>:<event id>   the same event       admin: one key's history, newest first
 *   audit-org:<org>:<inverted ms>:<event id>      the same event       admin: one org's history, newest first
 *   admin-token:<hash>                  TokenRecord JSON               admin: a scoped admin token, by its hash
 *   admin-token-id:<token id>           {"hash"} + metadata TokenSummary   admin: find / list scoped tokens
 *   org-settings:<org>                  OrgSettings JSON               hot path (cached): the org-wide rate limit
 *   imported:<key id>                   "" + metadata ImportMarker     admin: an imported key's migration state
 *   legacy-done:<legacy identity>       {"id"}                         admin: a hash import already re-indexed
 *   legacy-algorithms                   {"pending": [algorithm…]}      hot path without a feed: legacy lookups on
 *
 * Key ids have a fixed length (newKeyId), so a key's `:used` entry sorts right after its
 * summary and a listing page carries both (see listings.ts listOrg).
 */

/** The subset of Workers KV we use; the CLI passes wrangler's local-state binding. */
export interface KvLike {
  get(key: string, options: { type: "json"; cacheTtl?: number }): Promise<unknown>;
  put(key: string, value: string, options?: { metadata?: unknown; expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: { prefix: string; limit?: number; cursor?: string | null }): Promise<{
    keys: { name: string; metadata?: unknown }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

export const kvKey = {
  record: (hash: string) => `key:${hash}`,
  idPointer: (id: string) => `id:${id}`,
  orgIndex: (org: string, id: string) => `org:${org}:${id}`,
  /** Every org index and last-used entry of one org. */
  orgPrefix: (org: string) => `org:${org}:`,
  lastUsed: (org: string, id: string) => `org:${org}:${id}${LAST_USED_SUFFIX}`,
  audit: (invertedMs: string, eventId: string) => `audit:${invertedMs}:${eventId}`,
  auditPrefix: () => "audit:",
  keyAudit: (keyId: string, invertedMs: string, eventId: string) => `audit-key:${keyId}:${invertedMs}:${eventId}`,
  keyAuditPrefix: (keyId: string) => `audit-key:${keyId}:`,
  orgAudit: (org: string, invertedMs: string, eventId: string) => `audit-org:${org}:${invertedMs}:${eventId}`,
  orgAuditPrefix: (org: string) => `audit-org:${org}:`,
  /** Every id pointer: one entry per key, whatever its orgs (the cross-org listing). */
  idPrefix: () => "id:",
  token: (hash: string) => `admin-token:${hash}`,
  tokenPointer: (id: string) => `admin-token-id:${id}`,
  tokenPointerPrefix: () => "admin-token-id:",
  orgSettings: (org: string) => `org-settings:${org}`,
  /** A key brought in by import: its migration state (keys/store/migration.ts). */
  importMarker: (id: string) => `imported:${id}`,
  importMarkerPrefix: () => "imported:",
  /** A pending key's legacy identity (keys/legacy.ts) once re-indexed: its import is not repeated. */
  legacyDone: (identity: string) => `legacy-done:${identity}`,
  /** The legacy algorithms with pending keys: what the edge looks up on a miss (docs/migrating.md). */
  legacyAlgorithms: () => "legacy-algorithms",
} as const;

/**
 * Who acted, as audit events (audit.ts) and console session openers name it: the root
 * ADMIN_TOKEN, a scoped admin token, an API key or a session (self-service), the local
 * CLI, or a leak reporter. Built here, beside the KV key names they resemble, so that no other module writes a
 * string that could be taken for one, and every writer spells them alike.
 */
export const actor = {
  root: "root",
  cli: "cli",
  token: (id: string) => `token:${id}`,
  key: (id: string) => `key:${id}`,
  session: (sub: string) => `session:${sub}`,
  /** The gateway itself: the lazy re-hash of an imported key at its first use (docs/migrating.md). */
  gateway: "gateway",
  /** A leak reporter (manage/leaks.ts): "github", "gitlab" or "scanner". */
  reporter: (via: string) => `reporter:${via}`,
} as const;

/** Ends a key's last-use entry in its org's index (`org:<org>:<key id>:used`). */
export const LAST_USED_SUFFIX = ":used";

/** KV's limit on a key's metadata (serialized JSON). */
export const KV_METADATA_MAX_BYTES = 1024;
/** KV's largest page for list(). */
export const KV_LIST_MAX = 1000;

export class StoreFault extends Error {
  override name = "StoreFault";
}

export class KeyConflict extends Error {
  override name = "KeyConflict";
}

/** A KV call whose failure is a StoreFault (fail closed: never "unknown"). */
export async function kvCall<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new StoreFault(`KV ${what} failed: ${(err as Error).message}`);
  }
}

/** Most keys one bulk read of KV returns (one operation of the invocation's 1,000). */
export const KV_BULK_GET_MAX = 100;

/**
 * JSON values under `keys`, by key (null: none), in bulk reads of KV_BULK_GET_MAX keys — one
 * operation each against the invocation's limit, where one get per key would be one each.
 * Workers' binding and wrangler's local one read an array of keys; a KvLike that answers an
 * array with anything but a Map (a test double) is read key by key. Any failure is a StoreFault.
 */
export async function kvGetMany(kv: KvLike, keys: readonly string[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  const bulk = kv.get as unknown as (keys: string[], options: { type: "json" }) => Promise<unknown>;
  for (let i = 0; i < keys.length; i += KV_BULK_GET_MAX) {
    const chunk = keys.slice(i, i + KV_BULK_GET_MAX);
    const got = await kvCall("get", () => bulk.call(kv, chunk, { type: "json" }));
    if (got instanceof Map) {
      for (const key of chunk) out.set(key, got.get(key) ?? null);
      continue;
    }
    const values = await kvCall("get", () => Promise.all(chunk.map((key) => kv.get(key, { type: "json" }))));
    chunk.forEach((key, j) => {
      out.set(key, values[j] ?? null);
    });
  }
  return out;
}

/** A hash pointer's value: a key's or a token's hash (lowercase hex SHA-256). */
export const HASH_RE = /^[0-9a-f]{64}$/;

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; null when this was the last one. */
  cursor: string | null;
}

export class BadCursor extends Error {
  override name = "BadCursor";
}

/**
 * One page of `list()`; a cursor KV did not issue is a BadCursor (the caller's input), any other failure a StoreFault.
 */
export async function kvList(kv: KvLike, prefix: string, limit: number, cursor: string | null) {
  try {
    return await kv.list({ prefix, limit, ...(cursor ? { cursor } : {}) });
  } catch (err) {
    // KV answers a cursor it did not issue with an error: that is the caller's input.
    if (cursor) throw new BadCursor((err as Error).message);
    throw new StoreFault(`KV list failed: ${(err as Error).message}`);
  }
}
