/**
 * The audit log: every change, stored once per log it belongs to — the global one, each
 * key's it concerns, each org's it names — newest first, the event as the value and (when
 * it fits in 1 KiB) the metadata, so a listing reads no values. kv.ts `actor` spells who acted.
 */
import type { LeakRecord } from "../record";
import type { KvLike, Page } from "./kv";
import { KV_LIST_MAX, KV_METADATA_MAX_BYTES, kvCall, kvKey, kvList } from "./kv";

/** Who changed what, when. */
export interface AuditEvent {
  id: string;
  at: string;
  /** Who acted (see `actor`): "root", "token:<id>", "key:<id>", "session:<sub>", "cli", or "gateway" (a re-hash). */
  actor: string;
  action:
    | "create"
    | "import"
    | "update"
    | "revoke"
    | "rotate"
    | "migrate"
    | "token_create"
    | "token_revoke"
    | "webhook_create"
    | "webhook_delete"
    | "webhook_disable"
    | "key.leaked";
  /** Key events: the key concerned. */
  key_id?: string;
  /** A bulk import (docs/migrating.md): the keys one call imported, as one event (in the global and org logs). */
  key_ids?: string[];
  /** Key events: the key's orgs (for an org move, before and after); filed under each org's log. */
  orgs?: string[];
  /** Token events: the scoped admin token concerned. */
  token_id?: string;
  /** Webhook events: the webhook concerned (its URL is never logged: it may carry a secret of the receiver's). */
  webhook_id?: string;
  /** webhook_disable: why keygate disabled it. */
  reason?: string;
  /** update: each changed field, before and after. */
  changes?: Record<string, { from: unknown; to: unknown }>;
  /** rotate: the key that replaces key_id, and the grace it was given. */
  new_key_id?: string;
  grace_seconds?: number;
  /** key.leaked: the report (the reporter is also the actor) and what was done (docs/leaked-keys.md). */
  leak?: Omit<LeakRecord, "at">;
  request_id?: string;
}

/** ms since epoch → a fixed-width string that sorts newest first (KV lists in ascending order). */
const INVERT_FROM_MS = 9_999_999_999_999;
export function invertedMs(ms: number): string {
  return String(INVERT_FROM_MS - ms).padStart(13, "0");
}

function auditMetadata(event: AuditEvent): AuditEvent | { id: string; truncated: true } {
  return new TextEncoder().encode(JSON.stringify(event)).length <= KV_METADATA_MAX_BYTES
    ? event
    : { id: event.id, truncated: true };
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
  return isAuditEvent(e) ? e : null;
}

/** What a listing needs of an event: its id, instant, actor and action, and the key, token or webhook it concerns. */
function isAuditEvent(v: object): v is AuditEvent {
  const e = v as Record<string, unknown>;
  return (
    typeof e.id === "string" &&
    typeof e.at === "string" &&
    typeof e.actor === "string" &&
    typeof e.action === "string" &&
    (typeof e.key_id === "string" ||
      typeof e.token_id === "string" ||
      typeof e.webhook_id === "string" ||
      Array.isArray(e.key_ids))
  );
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
  const prefix =
    "keyId" in log
      ? kvKey.keyAuditPrefix(log.keyId)
      : "org" in log
        ? kvKey.orgAuditPrefix(log.org)
        : kvKey.auditPrefix();
  const page = await kvList(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
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
