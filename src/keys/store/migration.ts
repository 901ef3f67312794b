/**
 * Imported keys in KV (docs/migrating.md, docs/storage.md): each imported key's marker
 * (`imported:<key id>`, its migration state as metadata), the legacy identities already
 * re-indexed (`legacy-done:<identity>`, so an import run again skips them), the legacy
 * algorithms with pending keys (`legacy-algorithms`, what the edge looks up on a miss when
 * there is no revocation feed to tell it), and the lazy re-hash itself: a pending key's
 * record moved from its legacy identity to keygate's own hash of the key, at its first use.
 */
import { randomBase62 } from "../format";
import type { LegacyAlgorithm } from "../legacy";
import { isLegacyAlgorithm } from "../legacy";
import type { KeyRecord } from "../record";
import { stampOfRecord } from "../record";
import { appendAudit } from "./audit";
import type { KvLike } from "./kv";
import { actor, KV_LIST_MAX, kvCall, kvKey, kvList } from "./kv";
import { readRecord } from "./records";

/** An imported key's state: not used since a hash import, re-indexed (or imported in keygate's own scheme), or retired unused. */
export type MigrationState = "pending" | "migrated" | "retired";

/** How a key was imported: its plaintext, or its legacy hash's algorithm. */
export type ImportedFrom = "plaintext" | LegacyAlgorithm;

/** The metadata of `imported:<key id>`. */
export interface ImportMarker {
  state: MigrationState;
  from: ImportedFrom;
  orgs: string[];
}

function isMarker(v: unknown): v is ImportMarker {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    (m.state === "pending" || m.state === "migrated" || m.state === "retired") &&
    (m.from === "plaintext" || isLegacyAlgorithm(m.from)) &&
    Array.isArray(m.orgs) &&
    m.orgs.every((o) => typeof o === "string")
  );
}

/** Record (or update) an imported key's marker. */
export function putMarker(kv: KvLike, id: string, marker: ImportMarker): Promise<void> {
  return kvCall("put", () => kv.put(kvKey.importMarker(id), "", { metadata: marker }));
}

/** Whether a legacy identity was already re-indexed (its import is done). */
export async function legacyDone(kv: KvLike, identity: string): Promise<boolean> {
  return (await kvCall("get", () => kv.get(kvKey.legacyDone(identity), { type: "json" }))) !== null;
}

/** The legacy algorithms with pending keys, as last written ([] when none). */
export async function readLegacyAlgorithms(kv: KvLike, cacheTtlSeconds?: number): Promise<LegacyAlgorithm[]> {
  const v = await kvCall("get", () =>
    kv.get(kvKey.legacyAlgorithms(), cacheTtlSeconds ? { type: "json", cacheTtl: cacheTtlSeconds } : { type: "json" }),
  );
  const pending = (v as { pending?: unknown } | null)?.pending;
  return Array.isArray(pending) ? pending.filter(isLegacyAlgorithm) : [];
}

export function writeLegacyAlgorithms(kv: KvLike, algorithms: readonly LegacyAlgorithm[]): Promise<void> {
  return kvCall("put", () => kv.put(kvKey.legacyAlgorithms(), JSON.stringify({ pending: [...algorithms].sort() })));
}

/** Every marker, a page at a time (at most `maxPages` pages: `complete` says whether all were read). */
export async function readMarkers(
  kv: KvLike,
  maxPages: number,
): Promise<{ markers: { id: string; marker: ImportMarker }[]; complete: boolean }> {
  const prefix = kvKey.importMarkerPrefix();
  const markers: { id: string; marker: ImportMarker }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const got = await kvList(kv, prefix, KV_LIST_MAX, cursor);
    for (const k of got.keys)
      if (isMarker(k.metadata)) markers.push({ id: k.name.slice(prefix.length), marker: k.metadata });
    if (got.list_complete || !got.cursor) return { markers, complete: true };
    cursor = got.cursor;
  }
  return { markers, complete: false };
}

/** KV that also reads a value's metadata (the Workers binding does). */
export interface KvWithMetadata extends KvLike {
  getWithMetadata(key: string, options: { type: "json" }): Promise<{ value: unknown; metadata: unknown }>;
}

/**
 * The lazy re-hash: move the record found under the legacy identity `from` to `to`,
 * keygate's own hash of the key just presented. In this order: the record under `to` (with
 * `migrated_at`, without `legacy`), a change made meanwhile under `from` carried over, the
 * id pointer (its listing summary kept as stored; the org index entries carry no hash), then
 * `from` deleted and remembered as done, the marker set to migrated, and an audit event
 * (`migrate`, by the gateway). Returns the
 * migrated record, or null when there is nothing to move (already moved by another request,
 * or `to` is already another record's: that key stays where it is).
 *
 * KV has no compare-and-set: a change made to the key through the management side in the
 * very instant of its re-hash can be lost (repeat it), as with two admin changes at once.
 */
export async function rehash(
  kv: KvWithMetadata,
  from: string,
  to: string,
  now: number,
  requestId?: string,
): Promise<KeyRecord | null> {
  const current = await readRecord(kv, from);
  if (current === null || current.legacy === undefined) return null;
  if ((await kvCall("get", () => kv.get(kvKey.record(to), { type: "json" }))) !== null) return null;
  const at = new Date(now).toISOString();
  const moved = (r: KeyRecord): KeyRecord => {
    const { legacy: _legacy, ...rest } = r;
    return { ...rest, migrated_at: at };
  };
  let record = moved(current);
  await kvCall("put", () => kv.put(kvKey.record(to), JSON.stringify(record)));
  // An admin change that landed under the legacy identity meanwhile wins (it is newer).
  const again = await readRecord(kv, from);
  if (again !== null && again.id === record.id && stampOfRecord(again) > stampOfRecord(current)) {
    record = moved(again);
    await kvCall("put", () => kv.put(kvKey.record(to), JSON.stringify(record)));
  }
  // The pointer keeps the listing summary it carries: a re-hash changes no summary field
  // (`legacy` and `migrated_at` are not listed), and the edge never derives a summary
  // (fields.ts is the management side's).
  const pointer = await kvCall("get", () => kv.getWithMetadata(kvKey.idPointer(record.id), { type: "json" }));
  const metadata = pointer.metadata ?? undefined;
  await kvCall("put", () =>
    kv.put(kvKey.idPointer(record.id), JSON.stringify({ hash: to }), metadata === undefined ? {} : { metadata }),
  );
  await kvCall("delete", () => kv.delete(kvKey.record(from)));
  await kvCall("put", () => kv.put(kvKey.legacyDone(from), JSON.stringify({ id: record.id })));
  await putMarker(kv, record.id, { state: "migrated", from: current.legacy as LegacyAlgorithm, orgs: record.orgs });
  await appendAudit(kv, {
    id: `evt_${randomBase62(16)}`,
    at,
    actor: actor.gateway,
    action: "migrate",
    key_id: record.id,
    orgs: record.orgs,
    ...(requestId ? { request_id: requestId } : {}),
  });
  return record;
}
