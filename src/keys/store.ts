/**
 * The only module that names KV keys. Layout (docs/storage.md is the contract, and a test
 * checks that document against `kvKey`):
 *
 *   key:<hash>                          KeyRecord JSON                 hot path: one get per request
 *   id:<key id>                         {"hash"} + metadata KeySummary admin: find a record by its id; list every key
 *   org:<org>:<key id>                  "" + metadata KeySummary       admin: list an org without reading records
 *   org:<org>:<key id>:used             {"last_used_at"} (+ metadata)  hot path (waitUntil): last use, listed with the org
 *   audit:<inverted ms>:<event id>      AuditEvent JSON (+ metadata)   admin: every change, newest first
 *   audit-key:<key id>:<inverted ms>:<event id>   the same event       admin: one key's history, newest first
 *   audit-org:<org>:<inverted ms>:<event id>      the same event       admin: one org's history, newest first
 *   admin-token:<hash>                  TokenRecord JSON               admin: a scoped admin token, by its hash
 *   admin-token-id:<token id>           {"hash"} + metadata TokenSummary   admin: find / list scoped tokens
 *   org-settings:<org>                  OrgSettings JSON               hot path (cached): the org-wide rate limit
 *
 * Key ids have a fixed length (newKeyId), so a key's `:used` entry sorts right after its
 * summary and a listing page carries both (see listOrg).
 */
import type { KeyRecord, RateLimit, TokenRecord } from "./record";
import { isKeyRecord, isRateLimit, isTokenRecord } from "./record";
import { isKind, pick, SUMMARY_FIELDS } from "./fields";

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
} as const;

/**
 * Who acted, as audit events name it: the root ADMIN_TOKEN, a scoped admin token, an API
 * key or a session (self-service), or the local CLI. Built here, beside AuditEvent, so
 * every writer spells them alike.
 */
export const actor = {
  root: "root",
  cli: "cli",
  token: (id: string) => `token:${id}`,
  key: (id: string) => `key:${id}`,
  session: (sub: string) => `session:${sub}`,
} as const;

const LAST_USED_SUFFIX = ":used";

/** KV's limit on a key's metadata (serialized JSON). */
export const KV_METADATA_MAX_BYTES = 1024;
/** KV's largest page for list(). */
export const KV_LIST_MAX = 1000;

/**
 * What a listing shows of a key, stored as KV metadata (≤ 1 KiB) on the org index and the
 * id pointer: the fields fields.ts marks `summary`, in its order (optional ones when set).
 */
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
  rotated_at?: string;
  replaced_by?: string;
  rate_limit?: RateLimit;
}

export function summarize(r: KeyRecord): KeySummary {
  return pick(r as unknown as Record<string, unknown>, SUMMARY_FIELDS) as unknown as KeySummary;
}

/** Serialized size of a summary: it must fit KV's metadata limit. */
export function summaryBytes(s: KeySummary): number {
  return new TextEncoder().encode(JSON.stringify(s)).length;
}

/**
 * Whether listing metadata is a summary a listing can show: the summary's required fields
 * are there with their types (null where nullable). Looser than the record guard: what
 * the hot path trusts is the record, never the metadata.
 */
const REQUIRED_SUMMARY = SUMMARY_FIELDS.filter((f) => f.stored?.presence === "required").map((f) => ({
  name: f.name,
  nullable: f.stored?.nullable === true,
  type: isKind[f.kind],
}));

function isSummary(v: unknown): v is KeySummary {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  for (const f of REQUIRED_SUMMARY) {
    const x = s[f.name];
    if (!(f.nullable && x === null) && !f.type(x)) return false;
  }
  return true;
}


export class StoreFault extends Error {
  override name = "StoreFault";
}

export class KeyConflict extends Error {
  override name = "KeyConflict";
}

async function kvCall<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new StoreFault(`KV ${what} failed: ${(err as Error).message}`);
  }
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
 * Order: record (what the hot path reads), id pointer, org index.
 */
export async function createRecord(kv: KvLike, hash: string, record: KeyRecord): Promise<void> {
  if ((await kvCall("get", () => kv.get(kvKey.record(hash), { type: "json" }))) !== null) {
    throw new KeyConflict("a key with the same value already exists");
  }
  await kvCall("put", () => kv.put(kvKey.record(hash), JSON.stringify(record)));
  const summary = summarize(record);
  await kvCall("put", () => kv.put(kvKey.idPointer(record.id), JSON.stringify({ hash }), { metadata: summary }));
  await kvCall("put", () => Promise.all(record.orgs.map((org) => kv.put(kvKey.orgIndex(org, record.id), "", { metadata: summary }))));
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** A record by its public id, with its hash (the record's KV identity); null when unknown. */
export async function findById(kv: KvLike, id: string): Promise<{ hash: string; record: KeyRecord } | null> {
  const pointer = await kvCall("get", () => kv.get(kvKey.idPointer(id), { type: "json" }));
  if (pointer === null) return null;
  const hash = (pointer as { hash?: unknown }).hash;
  if (typeof hash !== "string" || !HASH_RE.test(hash)) throw new StoreFault(`KV value under ${kvKey.idPointer(id)} is not a hash pointer`);
  const record = await readRecord(kv, hash);
  if (record === null) throw new StoreFault(`${kvKey.idPointer(id)} points to a missing record`);
  if (record.id !== id) throw new StoreFault(`${kvKey.idPointer(id)} points to the record of another key`);
  return { hash, record };
}

/**
 * Rewrite an existing record after an admin change, then its listing entries (the id
 * pointer's summary, and the org index): a summary for
 * each of its orgs; for orgs it left, the summary and last-used entries are deleted and
 * the last use is carried to the orgs it joined. The record goes first: it is what the
 * hot path reads, so a failure half-way leaves the key behaving as changed and only the
 * listing stale (repeating the change repairs it).
 */
export async function writeRecord(kv: KvLike, hash: string, record: KeyRecord, previousOrgs: string[]): Promise<void> {
  await kvCall("put", () => kv.put(kvKey.record(hash), JSON.stringify(record)));
  const summary = summarize(record);
  await kvCall("put", () =>
    Promise.all([
      kv.put(kvKey.idPointer(record.id), JSON.stringify({ hash }), { metadata: summary }),
      ...record.orgs.map((org) => kv.put(kvKey.orgIndex(org, record.id), "", { metadata: summary })),
    ]),
  );
  const left = previousOrgs.filter((org) => !record.orgs.includes(org));
  const joined = record.orgs.filter((org) => !previousOrgs.includes(org));
  if (left.length === 0 && joined.length === 0) return;
  const lastUsed = await readLastUsed(kv, previousOrgs, record.id);
  if (lastUsed !== null) await kvCall("put", () => Promise.all(joined.map((org) => putLastUsed(kv, org, record.id, lastUsed))));
  await kvCall("delete", () =>
    Promise.all(left.flatMap((org) => [kv.delete(kvKey.orgIndex(org, record.id)), kv.delete(kvKey.lastUsed(org, record.id))])),
  );
}

function putLastUsed(kv: KvLike, org: string, id: string, at: string): Promise<void> {
  // Value and metadata carry the same instant: list() reads the metadata, get() the value.
  return kv.put(kvKey.lastUsed(org, id), JSON.stringify({ last_used_at: at }), { metadata: { last_used_at: at } });
}

function lastUsedOf(v: unknown): string | null {
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
  const values = await kvCall("get", () => Promise.all(orgs.map((org) => kv.get(kvKey.lastUsed(org, id), { type: "json" }))));
  let latest: string | null = null;
  for (const v of values) {
    const at = lastUsedOf(v);
    if (at !== null && (latest === null || Date.parse(at) > Date.parse(latest))) latest = at;
  }
  return latest;
}

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; null when this was the last one. */
  cursor: string | null;
}

export class BadCursor extends Error {
  override name = "BadCursor";
}

async function listPage(kv: KvLike, prefix: string, limit: number, cursor: string | null) {
  try {
    return await kv.list({ prefix, limit, ...(cursor ? { cursor } : {}) });
  } catch (err) {
    // KV answers a cursor it did not issue with an error: that is the caller's input.
    if (cursor) throw new BadCursor((err as Error).message);
    throw new StoreFault(`KV list failed: ${(err as Error).message}`);
  }
}

/**
 * One page of an org's keys: `list({prefix: "org:<org>:"})` returns each key's summary
 * (metadata) and its last-use entry, so no record is read. A page holds at most `limit`
 * KV entries, hence at most `limit` keys (fewer when they carry last-use entries). When a
 * page ends between a summary and its last-use entry, that one entry is read.
 * A summary whose metadata is missing or damaged is rebuilt from its record.
 */
export async function listOrg(
  kv: KvLike,
  org: string,
  limit: number,
  cursor: string | null,
  keep: (s: KeySummary) => boolean = () => true,
): Promise<Page<{ summary: KeySummary; last_used_at: string | null }>> {
  const prefix = kvKey.orgPrefix(org);
  const page = await listPage(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
  const used = new Map<string, string>();
  const summaries: { id: string; metadata: unknown }[] = [];
  for (const entry of page.keys) {
    const rest = entry.name.slice(prefix.length);
    if (rest.endsWith(LAST_USED_SUFFIX)) {
      const at = lastUsedOf(entry.metadata);
      if (at !== null) used.set(rest.slice(0, -LAST_USED_SUFFIX.length), at);
    } else {
      summaries.push({ id: rest, metadata: entry.metadata });
    }
  }
  const last = summaries[summaries.length - 1];
  if (!page.list_complete && last && !used.has(last.id) && page.keys[page.keys.length - 1]!.name === kvKey.orgIndex(org, last.id)) {
    const at = lastUsedOf(await kvCall("get", () => kv.get(kvKey.lastUsed(org, last.id), { type: "json" })));
    if (at !== null) used.set(last.id, at);
  }
  const items: { summary: KeySummary; last_used_at: string | null }[] = [];
  for (const { id, metadata } of summaries) {
    let summary: KeySummary | null = isSummary(metadata) ? metadata : null;
    if (summary === null) {
      const found = await findById(kv, id);
      if (found === null || !found.record.orgs.includes(org)) continue; // a stale index entry
      summary = summarize(found.record);
    }
    if (keep(summary)) items.push({ summary, last_used_at: used.get(id) ?? null });
  }
  return { items, cursor: page.list_complete ? null : (page.cursor ?? null) };
}

/**
 * One page of every key, whatever its orgs: `list({prefix: "id:"})`, one id pointer per
 * key, whose metadata is the key's summary (pointers written before it carried one are
 * rebuilt from their record). `keep` filters the page, so a page may hold fewer than
 * `limit` keys, even none, while `cursor` is not null. Each kept key's last use is one
 * read (of its first org's `:used` entry: the hot path writes the same instant under all
 * of a key's orgs).
 */
export async function listAll(
  kv: KvLike,
  limit: number,
  cursor: string | null,
  keep: (s: KeySummary) => boolean = () => true,
): Promise<Page<{ summary: KeySummary; last_used_at: string | null }>> {
  const prefix = kvKey.idPrefix();
  const page = await listPage(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
  const kept: KeySummary[] = [];
  for (const entry of page.keys) {
    let summary: KeySummary | null = isSummary(entry.metadata) ? entry.metadata : null;
    if (summary === null) {
      const found = await findById(kv, entry.name.slice(prefix.length));
      if (found === null) continue;
      summary = summarize(found.record);
    }
    if (keep(summary)) kept.push(summary);
  }
  const used = await kvCall("get", () => Promise.all(kept.map((s) => kv.get(kvKey.lastUsed(s.orgs[0]!, s.id), { type: "json" }))));
  return {
    items: kept.map((summary, i) => ({ summary, last_used_at: lastUsedOf(used[i]) })),
    cursor: page.list_complete ? null : (page.cursor ?? null),
  };
}

/** Who changed what, when. */
export interface AuditEvent {
  id: string;
  at: string;
  /** Who acted (see `actor`): "root", "token:<id>", "key:<id>", "session:<sub>" or "cli". */
  actor: string;
  action: "create" | "import" | "update" | "revoke" | "rotate" | "token_create" | "token_revoke";
  /** Key events: the key concerned. */
  key_id?: string;
  /** Key events: the key's orgs (for an org move, before and after); filed under each org's log. */
  orgs?: string[];
  /** Token events: the scoped admin token concerned. */
  token_id?: string;
  /** update: each changed field, before and after. */
  changes?: Record<string, { from: unknown; to: unknown }>;
  /** rotate: the key that replaces key_id, and the grace it was given. */
  new_key_id?: string;
  grace_seconds?: number;
  request_id?: string;
}

/** ms since epoch → a fixed-width string that sorts newest first (KV lists in ascending order). */
const INVERT_FROM_MS = 9_999_999_999_999;
export function invertedMs(ms: number): string {
  return String(INVERT_FROM_MS - ms).padStart(13, "0");
}

function auditMetadata(event: AuditEvent): AuditEvent | { id: string; truncated: true } {
  return new TextEncoder().encode(JSON.stringify(event)).length <= KV_METADATA_MAX_BYTES ? event : { id: event.id, truncated: true };
}

/**
 * Store an audit event in the global log, in the log of each key it concerns and in the
 * log of each org it names. The event is the value and, when it fits in 1 KiB, also the
 * metadata, so a listing reads no values.
 */
export async function appendAudit(kv: KvLike, event: AuditEvent): Promise<void> {
  const inv = invertedMs(Date.parse(event.at));
  const value = JSON.stringify(event);
  const metadata = auditMetadata(event);
  const keyIds = [...(event.key_id ? [event.key_id] : []), ...(event.new_key_id ? [event.new_key_id] : [])];
  await kvCall("put", () =>
    Promise.all([
      kv.put(kvKey.audit(inv, event.id), value, { metadata }),
      ...keyIds.map((keyId) => kv.put(kvKey.keyAudit(keyId, inv, event.id), value, { metadata })),
      ...(event.orgs ?? []).map((org) => kv.put(kvKey.orgAudit(org, inv, event.id), value, { metadata })),
    ]),
  );
}

/**
 * An audit event read back, or null when the value is not one. Events written before the
 * field was renamed carry `who` ("admin:<8 hex>" or "cli"): it is shown as `actor`.
 */
function asAuditEvent(v: unknown): AuditEvent | null {
  if (typeof v !== "object" || v === null) return null;
  let e = v as Record<string, unknown>;
  if (e.actor === undefined && typeof e.who === "string") {
    const { who, ...rest } = e;
    e = { ...rest, actor: who };
  }
  const ok =
    typeof e.id === "string" &&
    typeof e.at === "string" &&
    typeof e.actor === "string" &&
    typeof e.action === "string" &&
    (typeof e.key_id === "string" || typeof e.token_id === "string");
  return ok ? (e as unknown as AuditEvent) : null;
}

/** Which audit log to read: every event, one key's, or one org's. */
export type AuditLog = { all: true } | { keyId: string } | { org: string };

/**
 * One page of audit events, newest first. `keep` drops events from the page (a caller that
 * may not see them): the page can then hold fewer than `limit` events, even none, while
 * `cursor` is not null.
 */
export async function listAudit(
  kv: KvLike,
  log: AuditLog,
  limit: number,
  cursor: string | null,
  keep: (e: AuditEvent) => boolean = () => true,
): Promise<Page<AuditEvent>> {
  const prefix = "keyId" in log ? kvKey.keyAuditPrefix(log.keyId) : "org" in log ? kvKey.orgAuditPrefix(log.org) : kvKey.auditPrefix();
  const page = await listPage(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
  const items: AuditEvent[] = [];
  for (const entry of page.keys) {
    let event = asAuditEvent(entry.metadata);
    if (event === null) {
      // Too large for metadata (a big update): read the value.
      event = asAuditEvent(await kvCall("get", () => kv.get(entry.name, { type: "json" })));
    }
    if (event !== null && keep(event)) items.push(event);
  }
  return { items, cursor: page.list_complete ? null : (page.cursor ?? null) };
}

// ---- scoped admin tokens ----

/**
 * The record of the token whose hash is `hash`, or null. Throws StoreFault when KV fails
 * or holds something that is not a token record (fail closed).
 */
export async function readToken(kv: KvLike, hash: string): Promise<TokenRecord | null> {
  const value = await kvCall("get", () => kv.get(kvKey.token(hash), { type: "json" }));
  if (value === null) return null;
  if (!isTokenRecord(value)) throw new StoreFault("KV value under a token hash is not a valid token record");
  return value;
}

/**
 * Store a token: the record under its hash (what authentication reads), then the id
 * pointer, whose metadata is the record itself (what a listing reads; it holds no secret).
 * Also used to rewrite both after a revocation.
 */
export async function writeToken(kv: KvLike, hash: string, record: TokenRecord): Promise<void> {
  await kvCall("put", () => kv.put(kvKey.token(hash), JSON.stringify(record)));
  await kvCall("put", () => kv.put(kvKey.tokenPointer(record.id), JSON.stringify({ hash }), { metadata: record }));
}

/** A token by its public id, with its hash; null when unknown. */
export async function findTokenById(kv: KvLike, id: string): Promise<{ hash: string; record: TokenRecord } | null> {
  const pointer = await kvCall("get", () => kv.get(kvKey.tokenPointer(id), { type: "json" }));
  if (pointer === null) return null;
  const hash = (pointer as { hash?: unknown }).hash;
  if (typeof hash !== "string" || !HASH_RE.test(hash)) throw new StoreFault(`KV value under ${kvKey.tokenPointer(id)} is not a hash pointer`);
  const record = await readToken(kv, hash);
  if (record === null || record.id !== id) throw new StoreFault(`${kvKey.tokenPointer(id)} does not point to its token`);
  return { hash, record };
}

/** One page of tokens, from the id pointers' metadata (a damaged one is read from its record). */
export async function listTokenRecords(kv: KvLike, limit: number, cursor: string | null): Promise<Page<TokenRecord>> {
  const prefix = kvKey.tokenPointerPrefix();
  const page = await listPage(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
  const items: TokenRecord[] = [];
  for (const entry of page.keys) {
    if (isTokenRecord(entry.metadata)) items.push(entry.metadata);
    else {
      const found = await findTokenById(kv, entry.name.slice(prefix.length));
      if (found) items.push(found.record);
    }
  }
  return { items, cursor: page.list_complete ? null : (page.cursor ?? null) };
}

/**
 * The distinct orgs whose slug starts with `startsWith`, read from the org index
 * (`org:<org>:…`; slugs never contain ":"), in slug order. Scans at most `maxEntries`
 * index entries; `more` says the scan stopped before the end (narrow the search).
 */
export async function searchOrgs(kv: KvLike, startsWith: string, maxEntries = KV_LIST_MAX): Promise<{ orgs: string[]; more: boolean }> {
  const prefix = kvKey.orgPrefix("").slice(0, -1) + startsWith; // "org:" + the typed start
  const orgs = new Set<string>();
  let cursor: string | null = null;
  let scanned = 0;
  for (;;) {
    const page = await listPage(kv, prefix, Math.min(KV_LIST_MAX, maxEntries - scanned), cursor);
    for (const entry of page.keys) {
      const rest = entry.name.slice("org:".length);
      const colon = rest.indexOf(":");
      if (colon > 0) orgs.add(rest.slice(0, colon));
    }
    scanned += page.keys.length;
    if (page.list_complete || !page.cursor) return { orgs: [...orgs], more: false };
    if (scanned >= maxEntries) return { orgs: [...orgs], more: true };
    cursor = page.cursor;
  }
}

/** An organization's settings (PUT /orgs/:org): one rate limit shared by all its keys. */
export interface OrgSettings {
  rate_limit: RateLimit | null;
  updated_at: string;
}

function isOrgSettings(v: unknown): v is OrgSettings {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (o.rate_limit === null || isRateLimit(o.rate_limit)) && typeof o.updated_at === "string";
}

/** An org's settings, or null when it has none; StoreFault when KV fails or holds something else. */
export async function readOrgSettings(kv: KvLike, org: string, cacheTtlSeconds?: number): Promise<OrgSettings | null> {
  const value = await kvCall("get", () => kv.get(kvKey.orgSettings(org), cacheTtlSeconds ? { type: "json", cacheTtl: cacheTtlSeconds } : { type: "json" }));
  if (value === null) return null;
  if (!isOrgSettings(value)) throw new StoreFault(`KV value under ${kvKey.orgSettings(org)} is not org settings`);
  return value;
}

/** Store an org's settings; an org without any setting left is deleted (nothing to read). */
export async function writeOrgSettings(kv: KvLike, org: string, settings: OrgSettings): Promise<void> {
  if (settings.rate_limit === null) await kvCall("delete", () => kv.delete(kvKey.orgSettings(org)));
  else await kvCall("put", () => kv.put(kvKey.orgSettings(org), JSON.stringify(settings)));
}
