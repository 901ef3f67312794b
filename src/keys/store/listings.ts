/**
 * A key's listing entries and the listings: a new record with its id pointer and org
 * index entries (createRecord), a changed record with them (writeRecord), a key by its id
 * (findById), one org's keys or every key a page at a time (listOrg, listAll), the orgs
 * (searchOrgs). A listing reads the summaries kept as metadata (fields.ts summarize), no
 * record.
 */
import type { KeySummary } from "../fields";
import { SUMMARY_FIELDS, summarize } from "../fields";
import type { KeyRecord } from "../record";
import type { JsonKind } from "../shape";
import type { KvLike, Page } from "./kv";
import { HASH_RE, KeyConflict, KV_LIST_MAX, kvCall, kvKey, kvList, LAST_USED_SUFFIX, StoreFault } from "./kv";
import { lastUsedOf, putLastUsed, readLastUsed, readRecord } from "./records";

const IS_KIND: Record<JsonKind, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  array: Array.isArray,
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
};

/**
 * What a listing shows of a key, stored as KV metadata (≤ 1 KiB) on the org index and the
 * id pointer: the fields fields.ts marks `summary`, in its order (optional ones when set).
 */
/** Serialized size of a summary: it must fit KV's metadata limit. */
export function summaryBytes(s: Readonly<Record<string, unknown>>): number {
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
  type: IS_KIND[f.stored!.kind],
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
  await kvCall("put", () =>
    Promise.all(record.orgs.map((org) => kv.put(kvKey.orgIndex(org, record.id), "", { metadata: summary }))),
  );
}

/** A record by its public id, with its hash (the record's KV identity); null when unknown. */
export async function findById(kv: KvLike, id: string): Promise<{ hash: string; record: KeyRecord } | null> {
  const pointer = await kvCall("get", () => kv.get(kvKey.idPointer(id), { type: "json" }));
  if (pointer === null) return null;
  const hash = (pointer as { hash?: unknown }).hash;
  if (typeof hash !== "string" || !HASH_RE.test(hash))
    throw new StoreFault(`KV value under ${kvKey.idPointer(id)} is not a hash pointer`);
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
  if (lastUsed !== null)
    await kvCall("put", () => Promise.all(joined.map((org) => putLastUsed(kv, org, record.id, lastUsed))));
  await kvCall("delete", () =>
    Promise.all(
      left.flatMap((org) => [kv.delete(kvKey.orgIndex(org, record.id)), kv.delete(kvKey.lastUsed(org, record.id))]),
    ),
  );
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
  const page = await kvList(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
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
  if (
    !page.list_complete &&
    last &&
    !used.has(last.id) &&
    page.keys[page.keys.length - 1]!.name === kvKey.orgIndex(org, last.id)
  ) {
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
  const page = await kvList(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
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
  const used = await kvCall("get", () =>
    Promise.all(kept.map((s) => kv.get(kvKey.lastUsed(s.orgs[0]!, s.id), { type: "json" }))),
  );
  return {
    items: kept.map((summary, i) => ({ summary, last_used_at: lastUsedOf(used[i]) })),
    cursor: page.list_complete ? null : (page.cursor ?? null),
  };
}

/**
 * The distinct orgs whose slug starts with `startsWith`, read from the org index
 * (`org:<org>:…`; slugs never contain ":"), in slug order. Scans at most `maxEntries`
 * index entries; `more` says the scan stopped before the end (narrow the search).
 */
export async function searchOrgs(
  kv: KvLike,
  startsWith: string,
  maxEntries = KV_LIST_MAX,
): Promise<{ orgs: string[]; more: boolean }> {
  const indexPrefix = kvKey.orgPrefix("").slice(0, -1); // "org:", the org index's
  const prefix = indexPrefix + startsWith;
  const orgs = new Set<string>();
  let cursor: string | null = null;
  let scanned = 0;
  for (;;) {
    const page = await kvList(kv, prefix, Math.min(KV_LIST_MAX, maxEntries - scanned), cursor);
    for (const entry of page.keys) {
      const rest = entry.name.slice(indexPrefix.length);
      const colon = rest.indexOf(":");
      if (colon > 0) orgs.add(rest.slice(0, colon));
    }
    scanned += page.keys.length;
    if (page.list_complete || !page.cursor) return { orgs: [...orgs], more: false };
    if (scanned >= maxEntries) return { orgs: [...orgs], more: true };
    cursor = page.cursor;
  }
}
