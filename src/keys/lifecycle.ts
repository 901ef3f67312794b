/**
 * Key lifecycle mechanics: issue, change, revoke, rotate, list and read the audit log of
 * keys, once the management core has validated the request and decided that its principal
 * may make it (manage/authority.ts). Nothing here decides who may do what; every function
 * works on what it is given.
 *
 * Its callers are the management core's alone: manage/keys.ts for every key operation,
 * manage/orgs.ts to find a key (whose usage a holder reads), keys/token.ts to audit token
 * changes (manage/context.ts builds their LifecycleContext). The surfaces — the admin API,
 * the self-service API, the console, the CLI — reach it only through the core.
 *
 * Every change leaves an audit event naming its actor. Writes go record first (what the
 * hot path reads), then the listing entries, then the audit event, then the revocation
 * feed (publish), so every isolate learns of it.
 */

import type { Emit, KeyEventType } from "../events/types";
import { keyEvent } from "../events/types";
import { logLine } from "../lib/log";
import type { Result } from "../lib/result";
import type { KeyPatch, KeySummary, KeyView, NewKeyInput } from "./fields";
import { applyPatch, changesOf, rotationInherited, rotationInput, view } from "./fields";
import { randomBase62 } from "./format";
import type { FieldError, Imported, ImportSpec, KeySettings } from "./issue";
import { AlreadyStored, issueKey, storeImport } from "./issue";
import type { KeyRecord, LeakRecord, TokenRecord } from "./record";
import { KEY_ID_RE, statusOf } from "./record";
import type { AuditEvent, AuditLog } from "./store/audit";
import { appendAudit, listAudit } from "./store/audit";
import type { KvLike } from "./store/kv";
import { BadCursor } from "./store/kv";
import { findById, listAll, listOrg, writeRecord } from "./store/listings";
import { readLastUsed } from "./store/records";

/** Largest page of the cross-org listing: each key on it costs one read (its last use). */
export const MAX_ALL_KEYS_PAGE = 250;

export interface LifecycleContext {
  kv: KvLike;
  settings: KeySettings;
  /** Who acts, for the audit log: see `actor` in store.ts ("root", "token:<id>", "cli", …). */
  actor: string;
  /** ms since epoch (the caller's clock, so tests can move it). */
  now: number;
  requestId?: string;
  /**
   * Forget a key hash in this isolate's cache, so a change takes effect here at once
   * (the worker's surfaces pass the gateway's cache; the CLI runs outside any isolate).
   */
  purge?: (hash: string) => void;
  /**
   * Tell every isolate (the revocation feed: src/edge/revocation/follower.ts). Called after the
   * change is stored and audited, and again when the same revoke or update is repeated,
   * so a change whose publication failed can be re-published by retrying it.
   */
  publish?: (changes: { hash: string; record: KeyRecord }[]) => Promise<void>;
  /**
   * A scoped admin token was created or revoked (keys/token.ts): tell every isolate (the
   * revocation feed) and, for a revocation, end the console sessions it opened
   * (manage/admin/tokens.ts `tokenPublisher`). Called after the change is stored and audited, and
   * again when a revocation is repeated.
   */
  tokenChanged?: (change: { hash: string; record: TokenRecord }) => Promise<void>;
  /**
   * Tell the webhooks of a change (events/emit.ts: queued on the webhook hub, never waiting
   * for a receiver; never throws). Called once the change is stored and audited; a bulk
   * import's batch is told in one call (tellImported).
   */
  emit?: Emit;
}

/** Why a management operation did not happen (the surfaces map each to a status: manage/http/answers.ts). */
export type Failure =
  | { error: "invalid"; errors: FieldError[] }
  | { error: "not_found"; message: string }
  | { error: "conflict"; message: string }
  /** Not allowed (403); `field`: the field to blame, when one is. */
  | { error: "forbidden"; message: string; field?: string }
  /** A holder's creation bound (429): retry after `retryAfter` seconds. */
  | { error: "rate_limited"; message: string; retryAfter: number }
  /** Something the operation needs is not configured here (503). */
  | { error: "unavailable"; message: string };

export type Outcome<T> = Result<T, Failure>;

export type IssuedView = KeyView & { key: string };

export type { Imported, ImportSpec } from "./issue";

/** A key's record and its hash (its KV identity). */
export interface Found {
  hash: string;
  record: KeyRecord;
}

const conflict = (message: string): Outcome<never> => ({ ok: false, error: "conflict", message });

/** Record an audit event (by ctx.actor, now). Exported for the token operations. */
export async function audit(
  ctx: LifecycleContext,
  event: Omit<AuditEvent, "id" | "at" | "actor" | "request_id">,
): Promise<void> {
  await appendAudit(ctx.kv, {
    id: `evt_${randomBase62(16)}`,
    at: new Date(ctx.now).toISOString(),
    actor: ctx.actor,
    ...event,
    ...(ctx.requestId ? { request_id: ctx.requestId } : {}),
  });
}

/** Tell the webhooks of a change to a key (by ctx.actor, now): its id, orgs and name, never its plaintext or hash. */
async function tell(
  ctx: LifecycleContext,
  type: KeyEventType,
  key: Pick<KeyRecord, "id" | "orgs" | "name">,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await ctx.emit?.(keyEvent(type, key, ctx.actor, ctx.now, extra));
}

/** A key by its id: null for an id that cannot exist or is unknown (never a validation error). */
export async function findKey(ctx: Pick<LifecycleContext, "kv">, id: string): Promise<Found | null> {
  return KEY_ID_RE.test(id) ? findById(ctx.kv, id) : null;
}

/**
 * Publish a change that hands out a key (create, import, rotate) to the revocation feed,
 * best effort. Unlike an update or a revocation — stored, then answered 503 so the caller
 * repeats it to publish — such a change cannot be repeated: a retry would mint another key
 * (or meet "already rotated") and the key in this answer, shown once, would be lost. So a
 * publication failure is logged and the key is still returned; other isolates then learn of
 * the change within the cache bound instead of the feed's (docs/revocation.md).
 */
async function publishIssued(ctx: LifecycleContext, changes: { hash: string; record: KeyRecord }[]): Promise<void> {
  try {
    await ctx.publish?.(changes);
  } catch (err) {
    logLine("error", "revocation feed unreachable: key issued, other isolates learn of it within the cache bound", {
      ...(ctx.requestId ? { request_id: ctx.requestId } : {}),
      key_ids: changes.map((c) => c.record.id),
      cause: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Store a new key (validated input). Its plaintext is in the answer and nowhere else,
 * ever. `id`: the new key's id when the caller chose it (a holder's creation reserves it
 * first); `created_by`: the holder a holder's key counts against (manage/bounds.ts).
 */
export async function issueNew(
  ctx: LifecycleContext,
  input: NewKeyInput,
  opts: { id?: string; created_by?: string } = {},
): Promise<Outcome<IssuedView>> {
  const { key, record, hash } = await issueKey(ctx.kv, ctx.settings, input, ctx.now, undefined, {
    ...(opts.id ? { id: opts.id } : {}),
    ...(opts.created_by ? { created_by: opts.created_by } : {}),
  });
  ctx.purge?.(hash);
  await audit(ctx, { action: "create", key_id: record.id, orgs: record.orgs });
  await publishIssued(ctx, [{ hash, record }]);
  await tell(ctx, "key.created", record);
  return { ok: true, value: { key, ...view(record, null, ctx.now) } };
}

/**
 * Store a validated import (a plaintext key, or a hash of it: issue.ts storeImport), purge
 * its hash here and audit it (unless `opts.audit` is false: a bulk import audits its batch
 * once, auditImports); publishing is the caller's (one publication for a batch). A key
 * already stored is a conflict.
 */
export async function importStored(
  ctx: LifecycleContext,
  spec: ImportSpec,
  opts: { audit?: boolean } = {},
): Promise<Outcome<Imported>> {
  let imported: Imported;
  try {
    imported = await storeImport(ctx.kv, ctx.settings, spec, ctx.now);
  } catch (err) {
    if (err instanceof AlreadyStored) return conflict(`${err.message} (import refuses to overwrite a key's settings)`);
    throw err;
  }
  ctx.purge?.(imported.hash);
  if (opts.audit !== false)
    await audit(ctx, { action: "import", key_id: imported.record.id, orgs: imported.record.orgs });
  return { ok: true, value: imported };
}

/**
 * The audit event of a bulk import: one for the batch (its keys' ids, filed under the global
 * log and each of their orgs' logs), instead of three KV writes per key.
 */
export async function auditImports(ctx: LifecycleContext, imports: readonly Imported[]): Promise<void> {
  if (imports.length === 0) return;
  await audit(ctx, {
    action: "import",
    key_ids: imports.map((i) => i.record.id),
    orgs: [...new Set(imports.flatMap((i) => i.record.orgs))],
  });
}

/** Publish imports (best effort, as every change that hands out a key: see publishIssued). */
export function publishImported(ctx: LifecycleContext, imports: Imported[]): Promise<void> {
  return publishIssued(
    ctx,
    imports.map((i) => ({ hash: i.hash, record: i.record })),
  );
}

/**
 * Tell the webhooks of imported keys: `key.created` with `imported: true` for each (plaintext
 * or hash; a key's later re-hash at its first use is not a new key and tells nothing), all of
 * a batch in one call to the hub.
 */
export async function tellImported(ctx: LifecycleContext, imports: readonly Imported[]): Promise<void> {
  if (imports.length === 0 || !ctx.emit) return;
  const events = imports.map((i) => keyEvent("key.created", i.record, ctx.actor, ctx.now, { imported: true }));
  await ctx.emit(events.length === 1 ? events[0]! : events);
}

/**
 * Apply a validated change (name, orgs, scopes, expires_at, enabled, rate_limit, credits,
 * allowed_ips). Fields the patch does not name — including ones this version does not
 * know — are kept. A revoked key cannot be changed.
 */
export async function updateFound(ctx: LifecycleContext, found: Found, patch: KeyPatch): Promise<Outcome<KeyView>> {
  const before = found.record;
  if (before.revoked_at !== null) return conflict(`key "${before.id}" is revoked; revoked keys cannot be changed`);
  const after = applyPatch(before, patch, { now: ctx.now });
  const changes = changesOf(before, after, patch);
  if (Object.keys(changes ?? {}).length > 0) {
    after.updated_at = new Date(ctx.now).toISOString();
    await writeRecord(ctx.kv, found.hash, after, before.orgs);
    ctx.purge?.(found.hash);
    await audit(ctx, {
      action: "update",
      key_id: before.id,
      orgs: [...new Set([...before.orgs, ...after.orgs])],
      changes,
    });
    // Told with the audit event, before the feed (whose failure asks the caller to repeat a change
    // that is already made): enabling or disabling is its own event, any other change key.updated;
    // a key moved between orgs is told to the webhooks of both.
    const { enabled, ...others } = changes;
    const moved = { ...after, orgs: [...new Set([...before.orgs, ...after.orgs])] };
    if (enabled) await tell(ctx, enabled.to ? "key.enabled" : "key.disabled", moved);
    if (Object.keys(others).length > 0) await tell(ctx, "key.updated", moved, { changes: others });
  }
  await ctx.publish?.([{ hash: found.hash, record: after }]);
  return { ok: true, value: view(after, await readLastUsed(ctx.kv, after.orgs, before.id), ctx.now) };
}

/**
 * Revoke. The record stays (revoked_at set) so the key keeps answering 401 and its history
 * stays listable. Revoking a revoked key changes nothing.
 */
export async function revokeFound(ctx: LifecycleContext, found: Found): Promise<KeyView> {
  let record = found.record;
  if (record.revoked_at === null) {
    const at = new Date(ctx.now).toISOString();
    record = { ...record, revoked_at: at, updated_at: at };
    await writeRecord(ctx.kv, found.hash, record, record.orgs);
    ctx.purge?.(found.hash);
    await audit(ctx, { action: "revoke", key_id: record.id, orgs: record.orgs });
    await tell(ctx, "key.revoked", record);
  }
  await ctx.publish?.([{ hash: found.hash, record }]);
  return view(record, await readLastUsed(ctx.kv, record.orgs, record.id), ctx.now);
}

/** How far each leak action goes: a later report applies only a stronger one. */
const LEAK_STRENGTH: Record<LeakRecord["action"], number> = { none: 0, report: 1, disable: 2, revoke: 3 };

/** A leak report about one key, as the management core passes it (manage/leaks.ts). */
export interface LeakNotice {
  /** The reporter's own word for where it looked ("commit", "gitleaks"…). */
  source: string;
  /** Where the key was found (http(s)), or null. */
  url: string | null;
  /** LEAKED_KEY_ACTION: what to do to a live key. */
  action: "revoke" | "disable" | "report";
}

/**
 * A leak report: the key is revoked (revoked_reason "leaked"), disabled, or left as it is
 * (`report`), and the first report is kept on the record (`leaked`) — one write, one audit
 * event `key.leaked` carrying the source, the URL and the reporter (the actor), then the
 * revocation feed. A rotated-out key in its grace period is a key like any other: it ends at
 * once, its successor (another record) untouched. A key already revoked is only marked.
 *
 * Idempotent: once a key carries a leak report, a report asking nothing more than was done
 * (a replay, another location, the same action) writes nothing and audits nothing — it
 * publishes the record again, so a report whose publication failed is published by repeating
 * it; a key an operator re-enabled after a leak is not disabled again. A report asking more
 * (revoke after `report` or `disable`) applies it and is audited. `changed`: whether anything
 * was written.
 */
export async function leakFound(
  ctx: LifecycleContext,
  found: Found,
  notice: LeakNotice,
): Promise<{ record: KeyRecord; changed: boolean; done: LeakRecord["action"] }> {
  const before = found.record;
  const live = before.revoked_at === null;
  // Once reported, only a stronger action than the one already taken applies.
  const more = before.leaked === undefined || LEAK_STRENGTH[notice.action] > LEAK_STRENGTH[before.leaked.action];
  const revoke = notice.action === "revoke" && live && more;
  const disable = notice.action === "disable" && live && more && !before.disabled;
  const done: LeakRecord["action"] = live ? notice.action : "none";
  if (before.leaked !== undefined && !revoke && !disable) {
    await ctx.publish?.([{ hash: found.hash, record: before }]);
    return { record: before, changed: false, done: before.leaked.action };
  }
  const at = new Date(ctx.now).toISOString();
  const leaked: LeakRecord = before.leaked
    ? { ...before.leaked, action: done }
    : { at, reporter: ctx.actor, source: notice.source, url: notice.url, action: done };
  const record: KeyRecord = {
    ...before,
    ...(revoke ? { revoked_at: at, revoked_reason: "leaked" as const } : {}),
    ...(disable ? { disabled: true } : {}),
    leaked,
    updated_at: at,
  };
  await writeRecord(ctx.kv, found.hash, record, before.orgs);
  ctx.purge?.(found.hash);
  await audit(ctx, {
    action: "key.leaked",
    key_id: record.id,
    orgs: record.orgs,
    leak: { reporter: ctx.actor, source: notice.source, url: notice.url, action: done },
  });
  // A webhook of key.revoked or key.disabled hears of it too (key.leaked follows from manage/leaks.ts).
  if (revoke) await tell(ctx, "key.revoked", record, { reason: "leaked" });
  if (disable) await tell(ctx, "key.disabled", record, { reason: "leaked" });
  await ctx.publish?.([{ hash: found.hash, record }]);
  return { record, changed: true, done };
}

/** What a surface calls a rotation in its messages: the self-service API says "regenerate", as Argus does. */
export type RotationVerb = "rotate" | "regenerate";

/**
 * Rotate: a new key with the same name, orgs, scopes, expiry, meta, limits and enabled
 * state (credits: the same balance unless a new setting is given). The old key's
 * expires_at becomes now + grace_seconds (or stays, if earlier), so the per-request expiry
 * check ends the grace exactly; 0 stops it now. The new key is stored before the old one
 * is touched: a failure never leaves neither.
 */
export async function rotateFound(
  ctx: LifecycleContext,
  found: Found,
  rotation: { grace_seconds: number; credits?: unknown },
  verb: RotationVerb = "rotate",
  opts: { created_by?: string; id?: string } = {},
): Promise<Outcome<IssuedView & { previous: KeyView }>> {
  const old = found.record;
  if (old.revoked_at !== null) return conflict(`key "${old.id}" is revoked; create a new key instead`);
  if (old.replaced_by)
    return conflict(`key "${old.id}" was already ${verb}d to "${old.replaced_by}"; ${verb} that key instead`);
  if (statusOf(old, ctx.now) === "expired") return conflict(`key "${old.id}" has expired; create a new key instead`);

  const {
    key,
    record: fresh,
    hash,
  } = await issueKey(
    ctx.kv,
    ctx.settings,
    // Without a new setting the new key spends the old one's balance: rotating never refills.
    rotationInput(old, rotation),
    ctx.now,
    undefined,
    // A holder's regeneration counts the new key against that holder (manage/bounds.ts), else it keeps the old one's.
    {
      replaces: old.id,
      ...rotationInherited(old),
      ...(opts.created_by ? { created_by: opts.created_by } : {}),
      ...(opts.id ? { id: opts.id } : {}),
    },
  );
  ctx.purge?.(hash);
  const graceEnd = ctx.now + rotation.grace_seconds * 1000;
  const ends = old.expires_at === null ? graceEnd : Math.min(Date.parse(old.expires_at), graceEnd);
  const at = new Date(ctx.now).toISOString();
  const rotated: KeyRecord = {
    ...old,
    expires_at: new Date(ends).toISOString(),
    rotated_at: at,
    replaced_by: fresh.id,
    updated_at: at,
  };
  await writeRecord(ctx.kv, found.hash, rotated, old.orgs);
  ctx.purge?.(found.hash);
  await audit(ctx, {
    action: "rotate",
    key_id: old.id,
    orgs: old.orgs,
    new_key_id: fresh.id,
    grace_seconds: rotation.grace_seconds,
  });
  await publishIssued(ctx, [
    { hash, record: fresh },
    { hash: found.hash, record: rotated },
  ]);
  await tell(ctx, "key.rotated", old, {
    new_key_id: fresh.id,
    grace_seconds: rotation.grace_seconds,
    expires_at: rotated.expires_at,
  });
  const lastUsed = await readLastUsed(ctx.kv, old.orgs, old.id);
  return { ok: true, value: { key, ...view(fresh, null, ctx.now), previous: view(rotated, lastUsed, ctx.now) } };
}

/**
 * One page of keys: one org's (from its index), or with `org` null every key once (the
 * id pointers; pages of at most MAX_ALL_KEYS_PAGE, checked by the caller). No record is
 * read. `keep` filters each page, so a page may hold fewer keys than `limit`, even none,
 * while `cursor` is not null.
 */
export async function listPage(
  ctx: LifecycleContext,
  page: { org: string | null; limit: number; cursor: string | null },
  keep: (s: KeySummary) => boolean,
): Promise<Outcome<{ keys: KeyView[]; cursor: string | null }>> {
  try {
    const found =
      page.org === null
        ? await listAll(ctx.kv, page.limit, page.cursor, keep)
        : await listOrg(ctx.kv, page.org, page.limit, page.cursor, keep);
    return {
      ok: true,
      value: { keys: found.items.map((i) => view(i.summary, i.last_used_at, ctx.now)), cursor: found.cursor },
    };
  } catch (err) {
    if (err instanceof BadCursor)
      return {
        ok: false,
        error: "invalid",
        errors: [{ field: "cursor", message: "is not a cursor this listing returned" }],
      };
    throw err;
  }
}

/** One page of an audit log, newest first; `keep` drops events the caller may not see. */
export async function auditPage(
  ctx: LifecycleContext,
  log: AuditLog,
  page: { limit: number; cursor: string | null },
  keep?: (e: AuditEvent) => boolean,
): Promise<Outcome<{ events: AuditEvent[]; cursor: string | null }>> {
  try {
    const found = await listAudit(ctx.kv, log, page.limit, page.cursor, keep);
    return { ok: true, value: { events: found.items, cursor: found.cursor } };
  } catch (err) {
    if (err instanceof BadCursor)
      return {
        ok: false,
        error: "invalid",
        errors: [{ field: "cursor", message: "is not a cursor this listing returned" }],
      };
    throw err;
  }
}
