/**
 * Key lifecycle: create, import, show, list, update, revoke, rotate, audit. One function
 * per operation, called by the admin API (src/admin/app.ts) and by the CLI against local
 * state (cli/keys.ts), so both validate, store and audit identically. Each takes the raw
 * input (a JSON body, or the same object built from CLI flags) and returns an Outcome
 * whose value is exactly what the API answers and the CLI prints with --json.
 *
 * Every change leaves an audit event naming its actor. Writes go record first (what the
 * hot path reads), then the listing entries, then the audit event.
 *
 * A caller limited to some orgs (a scoped admin token; the self-service API) passes them
 * as `scope`: it then sees only keys in one of those orgs (any other id is "not found",
 * exactly like an unknown one) and may change only keys wholly inside them ("forbidden"
 * for a key shared with an org outside, or a request naming an org outside).
 */
import type { Result } from "../result";
import type { FieldError, KeySettings, NewKeyInput } from "./issue";
import { importProblem, issueKey, validateAuditQuery, validateKeyPatch, validateListQuery, validateNewKey, validateRotation } from "./issue";
import type { CreditRefill, KeyRecord, KeyStatus, RateLimit, TokenRecord } from "./record";
import { ALL_ORGS, KEY_ID_RE, statusOf } from "./record";
import { randomBase62 } from "./format";
import { applyPatch, changesOf, rotationInherited, rotationInput, viewOf } from "./fields";
import type { AuditEvent, AuditLog, KeySummary, KvLike } from "./store";
import { appendAudit, BadCursor, findById, KeyConflict, listAll, listAudit, listOrg, readLastUsed, writeRecord } from "./store";
import { logLine } from "../log";

/**
 * The orgs a caller may act for. Absent: every org, and the whole audit log (the root
 * ADMIN_TOKEN, the CLI). ["*"]: every org's keys, but not the token events.
 */
export type OrgScope = readonly string[] | undefined;

/** Whether `scope` covers `org`. */
export function orgInScope(org: string, scope: OrgScope): boolean {
  return scope === undefined || scope.includes(ALL_ORGS) || scope.includes(org);
}

/** Whether a key with these orgs is in one of the scope's orgs: the caller may see it. */
export function keyInOrgs(keyOrgs: readonly string[], scope: OrgScope): boolean {
  return keyOrgs.some((org) => orgInScope(org, scope));
}

/** Whether every org of a key is in the scope: the caller may change it. */
export function keyWithinOrgs(keyOrgs: readonly string[], scope: OrgScope): boolean {
  return keyOrgs.every((org) => orgInScope(org, scope));
}

/** Largest page of the cross-org listing: each key on it costs one read (its last use). */
export const MAX_ALL_KEYS_PAGE = 250;

export interface LifecycleContext {
  kv: KvLike;
  settings: KeySettings;
  /** Who acts, for the audit log: see `actor` in store.ts ("root", "token:<id>", "cli", …). */
  actor: string;
  /** The orgs the caller may act for (see OrgScope); absent = all. */
  scope?: OrgScope;
  /** ms since epoch (the caller's clock, so tests can move it). */
  now: number;
  requestId?: string;
  /**
   * Forget a key hash in this isolate's cache, so a change takes effect here at once
   * (the admin API passes the gateway's cache; the CLI runs outside any isolate).
   */
  purge?: (hash: string) => void;
  /**
   * With `scope`: a key exists for this caller only when ALL its orgs are in the scope
   * (the self-service API: a key shared with another org is the operator's, not the org
   * holder's — showing, changing or regenerating it answers not_found like an unknown id,
   * and listings skip it). Without: a key in ANY of the scope's orgs is visible, and
   * changing it needs all of them (scoped admin tokens).
   */
  exclusive?: boolean;
  /**
   * Tell every isolate (the revocation feed: src/revocation/feed.ts). Called after the
   * change is stored and audited, and again when the same revoke or update is repeated,
   * so a change whose publication failed can be re-published by retrying it.
   */
  publish?: (changes: { hash: string; record: KeyRecord }[]) => Promise<void>;
  /**
   * A scoped admin token was created or revoked (keys/token.ts): tell every isolate (the
   * revocation feed) and, for a revocation, end the console sessions it opened
   * (admin/tokens.ts `tokenPublisher`). Called after the change is stored and audited, and
   * again when a revocation is repeated.
   */
  tokenChanged?: (change: { hash: string; record: TokenRecord }) => Promise<void>;
}

export type Outcome<T> = Result<
  T,
  { error: "invalid"; errors: FieldError[] } | { error: "not_found"; message: string } | { error: "conflict"; message: string } | { error: "forbidden"; message: string }
>;

/** A key as the API and the CLI show it: never the plaintext (except once, on creation), never the hash. */
export interface KeyView {
  id: string;
  name: string;
  key_prefix: string;
  orgs: string[];
  scopes: string[];
  status: KeyStatus;
  enabled: boolean;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  updated_at?: string;
  rotated_at?: string;
  replaced_by?: string;
  replaces?: string;
  meta?: Record<string, string>;
  /** Requests per period for this key (exact, global); null = unlimited. */
  rate_limit: RateLimit | null;
  /** The credits setting (the live balance is on each forwarded response: x-credits-remaining). Shown for one key, not in listings. */
  credits?: { remaining: number; refill?: CreditRefill; set_at: string } | null;
  /** Shown for one key, not in listings. */
  allowed_ips?: string[] | null;
}

export type IssuedView = KeyView & { key: string };

/** The view of a record (one key) or a summary (listings): the fields fields.ts marks `view`, in its order. */
function view(r: KeyRecord | KeySummary, lastUsed: string | null, now: number): KeyView {
  return viewOf(r as unknown as Record<string, unknown>, { now, lastUsed }) as unknown as KeyView;
}

const invalid = (errors: FieldError[]): Outcome<never> => ({ ok: false, error: "invalid", errors });
const notFound = (id: string): Outcome<never> => ({ ok: false, error: "not_found", message: `no key with id "${id}"` });
const conflict = (message: string): Outcome<never> => ({ ok: false, error: "conflict", message });
const forbidden = (message: string): Outcome<never> => ({ ok: false, error: "forbidden", message });

function outsideScope(orgs: readonly string[], scope: OrgScope): Outcome<never> | null {
  const outside = orgs.filter((org) => !orgInScope(org, scope));
  return outside.length ? forbidden(`not allowed for org${outside.length > 1 ? "s" : ""} ${outside.map((o) => `"${o}"`).join(", ")}`) : null;
}

/** A key the caller may see but not change: it also acts for an org outside the caller's. */
function sharedOutside(ctx: LifecycleContext, record: KeyRecord): Outcome<never> | null {
  return keyWithinOrgs(record.orgs, ctx.scope) ? null : forbidden(`key "${record.id}" also acts for orgs outside this caller's; only a caller allowed for all of them may change it`);
}

/** Record an audit event (by ctx.actor, now). Exported for the token operations. */
export async function audit(ctx: LifecycleContext, event: Omit<AuditEvent, "id" | "at" | "actor" | "request_id">): Promise<void> {
  await appendAudit(ctx.kv, {
    id: `evt_${randomBase62(16)}`,
    at: new Date(ctx.now).toISOString(),
    actor: ctx.actor,
    ...event,
    ...(ctx.requestId ? { request_id: ctx.requestId } : {}),
  });
}

/** Whether this caller may see a key with these orgs (scope, and `exclusive`). */
function visible(ctx: LifecycleContext, orgs: readonly string[]): boolean {
  return ctx.exclusive ? keyWithinOrgs(orgs, ctx.scope) : keyInOrgs(orgs, ctx.scope);
}

/**
 * An id that cannot exist, and a key outside the caller's scope, answer exactly like an
 * unknown one (404), never a validation error.
 */
async function find(ctx: LifecycleContext, id: string) {
  const found = KEY_ID_RE.test(id) ? await findById(ctx.kv, id) : null;
  return found && visible(ctx, found.record.orgs) ? found : null;
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

/** POST /keys: mint a key. The plaintext is in this answer and nowhere else, ever. */
export async function createKey(ctx: LifecycleContext, body: unknown): Promise<Outcome<IssuedView>> {
  const checked = validateNewKey(body, ctx.now);
  if (!checked.ok) return invalid(checked.errors);
  const refused = outsideScope(checked.value.orgs, ctx.scope);
  if (refused) return refused;
  const { key, record, hash } = await issueKey(ctx.kv, ctx.settings, checked.value, ctx.now);
  ctx.purge?.(hash);
  await audit(ctx, { action: "create", key_id: record.id, orgs: record.orgs });
  await publishIssued(ctx, [{ hash, record }]);
  return { ok: true, value: { key, ...view(record, null, ctx.now) } };
}

/**
 * POST /keys/import: store the hash of a key that clients already hold (migration). The
 * answer does not repeat the key. A negative cache entry for it in this isolate (clients
 * that sent it before the import got 401) is dropped, so it works here at once.
 */
export async function importKey(ctx: LifecycleContext, body: unknown): Promise<Outcome<KeyView>> {
  const checked = validateNewKey(body, ctx.now, ["key"]);
  const key = (body as { key?: unknown } | null)?.key;
  const problem = key === undefined ? "is required: the existing plaintext key" : importProblem(key, ctx.settings.prefix);
  const errors = [...(checked.ok ? [] : checked.errors), ...(problem ? [{ field: "key", message: problem }] : [])];
  if (!checked.ok || problem) return invalid(errors);
  const refused = outsideScope(checked.value.orgs, ctx.scope);
  if (refused) return refused;
  try {
    const { record, hash } = await issueKey(ctx.kv, ctx.settings, checked.value, ctx.now, key as string);
    ctx.purge?.(hash);
    await audit(ctx, { action: "import", key_id: record.id, orgs: record.orgs });
    await publishIssued(ctx, [{ hash, record }]);
    return { ok: true, value: view(record, null, ctx.now) };
  } catch (err) {
    if (err instanceof KeyConflict) return conflict("this key is already stored (import refuses to overwrite a key's settings)");
    throw err;
  }
}

/** GET /keys/:id: the record plus its last use (one read per org). */
export async function showKey(ctx: LifecycleContext, id: string): Promise<Outcome<KeyView>> {
  const found = await find(ctx, id);
  if (!found) return notFound(id);
  return { ok: true, value: view(found.record, await readLastUsed(ctx.kv, found.record.orgs, id), ctx.now) };
}

/**
 * GET /keys[?org=…][&name=…][&prefix=…][&status=…]: one page of keys. With `org`, from that
 * org's index; without, every key the caller may see: a caller scoped to one org lists
 * that org, one scoped to several must name one (400), an unscoped one (or "*") lists
 * every key (pages of at most MAX_ALL_KEYS_PAGE). No record is read. Filters apply to each
 * page, so a page may hold fewer keys than `limit`, even none, while `cursor` is not null.
 */
export async function listKeys(ctx: LifecycleContext, query: Record<string, unknown>): Promise<Outcome<{ keys: KeyView[]; cursor: string | null }>> {
  const checked = validateListQuery(query);
  if (!checked.ok) return invalid(checked.errors);
  const { org, name, prefix, status, limit, cursor } = checked.value;
  let target = org;
  if (org !== null) {
    const refused = outsideScope([org], ctx.scope);
    if (refused) return refused;
  } else if (ctx.scope !== undefined && !ctx.scope.includes(ALL_ORGS)) {
    if (ctx.scope.length !== 1) return invalid([{ field: "org", message: `is required: this caller acts for several orgs (${ctx.scope.join(", ")}); name one` }]);
    target = ctx.scope[0]!;
  }
  if (target === null && limit > MAX_ALL_KEYS_PAGE) {
    return invalid([{ field: "limit", message: `must be at most ${MAX_ALL_KEYS_PAGE} when listing across orgs (without org)` }]);
  }
  const needle = name?.toLowerCase() ?? null;
  const keep = (s: KeySummary) =>
    (!ctx.exclusive || visible(ctx, s.orgs)) &&
    (needle === null || s.name.toLowerCase().includes(needle)) && (prefix === null || s.start.startsWith(prefix)) && (status === null || statusOf(s, ctx.now) === status);
  try {
    const page = target === null ? await listAll(ctx.kv, limit, cursor, keep) : await listOrg(ctx.kv, target, limit, cursor, keep);
    return { ok: true, value: { keys: page.items.map((i) => view(i.summary, i.last_used_at, ctx.now)), cursor: page.cursor } };
  } catch (err) {
    if (err instanceof BadCursor) return invalid([{ field: "cursor", message: "is not a cursor this listing returned" }]);
    throw err;
  }
}

/**
 * PATCH /keys/:id: name, orgs, scopes, expires_at (a past instant expires the key now),
 * enabled. Fields the patch does not name — including ones this version does not know —
 * are kept. A revoked key cannot be changed.
 */
export async function updateKey(ctx: LifecycleContext, id: string, body: unknown): Promise<Outcome<KeyView>> {
  const found = await find(ctx, id);
  if (!found) return notFound(id);
  const before = found.record;
  const checked = validateKeyPatch(body, ctx.now, before);
  if (!checked.ok) return invalid(checked.errors);
  const refused = sharedOutside(ctx, before) ?? (checked.value.orgs ? outsideScope(checked.value.orgs, ctx.scope) : null);
  if (refused) return refused;
  if (before.revoked_at !== null) return conflict(`key "${id}" is revoked; revoked keys cannot be changed`);
  const patch = checked.value;
  const after = applyPatch(before, patch as Record<string, unknown>, { now: ctx.now });
  const changes = changesOf(before, after, patch as Record<string, unknown>);
  if (Object.keys(changes ?? {}).length > 0) {
    after.updated_at = new Date(ctx.now).toISOString();
    await writeRecord(ctx.kv, found.hash, after, before.orgs);
    ctx.purge?.(found.hash);
    await audit(ctx, { action: "update", key_id: id, orgs: [...new Set([...before.orgs, ...after.orgs])], changes });
  }
  await ctx.publish?.([{ hash: found.hash, record: after }]);
  return { ok: true, value: view(after, await readLastUsed(ctx.kv, after.orgs, id), ctx.now) };
}

/**
 * DELETE /keys/:id: revoke. The record stays (revoked_at set) so the key keeps answering
 * 401 and its history stays listable. Revoking a revoked key changes nothing.
 */
export async function revokeKey(ctx: LifecycleContext, id: string): Promise<Outcome<KeyView>> {
  const found = await find(ctx, id);
  if (!found) return notFound(id);
  const refused = sharedOutside(ctx, found.record);
  if (refused) return refused;
  let record = found.record;
  if (record.revoked_at === null) {
    const at = new Date(ctx.now).toISOString();
    record = { ...record, revoked_at: at, updated_at: at };
    await writeRecord(ctx.kv, found.hash, record, record.orgs);
    ctx.purge?.(found.hash);
    await audit(ctx, { action: "revoke", key_id: id, orgs: record.orgs });
  }
  await ctx.publish?.([{ hash: found.hash, record }]);
  return { ok: true, value: view(record, await readLastUsed(ctx.kv, record.orgs, id), ctx.now) };
}

/**
 * POST /keys/:id/rotate: a new key with the same name, orgs, scopes, expiry, meta and
 * enabled state. The old key's expires_at becomes now + grace_seconds (or stays, if
 * earlier), so the per-request expiry check ends the grace exactly; 0 stops it now.
 * The new key is stored before the old one is touched: a failure never leaves neither.
 */
export async function rotateKey(
  ctx: LifecycleContext,
  id: string,
  body: unknown,
): Promise<Outcome<IssuedView & { previous: KeyView }>> {
  const checked = validateRotation(body);
  const found = await find(ctx, id);
  if (!found) return notFound(id);
  if (!checked.ok) return invalid(checked.errors);
  const old = found.record;
  const refused = sharedOutside(ctx, old);
  if (refused) return refused;
  if (old.revoked_at !== null) return conflict(`key "${id}" is revoked; create a new key instead`);
  if (old.replaced_by) return conflict(`key "${id}" was already rotated to "${old.replaced_by}"; rotate that key instead`);
  if (statusOf(old, ctx.now) === "expired") return conflict(`key "${id}" has expired; create a new key instead`);

  const { key, record: fresh, hash } = await issueKey(
    ctx.kv,
    ctx.settings,
    // Without a new setting the new key spends the old one's balance: rotating never refills.
    rotationInput(old, checked.value) as unknown as NewKeyInput,
    ctx.now,
    undefined,
    { replaces: old.id, ...(rotationInherited(old) as Pick<Partial<KeyRecord>, "disabled">) },
  );
  ctx.purge?.(hash);
  const graceEnd = ctx.now + checked.value.grace_seconds * 1000;
  const ends = old.expires_at === null ? graceEnd : Math.min(Date.parse(old.expires_at), graceEnd);
  const at = new Date(ctx.now).toISOString();
  const rotated: KeyRecord = { ...old, expires_at: new Date(ends).toISOString(), rotated_at: at, replaced_by: fresh.id, updated_at: at };
  await writeRecord(ctx.kv, found.hash, rotated, old.orgs);
  ctx.purge?.(found.hash);
  await audit(ctx, { action: "rotate", key_id: id, orgs: old.orgs, new_key_id: fresh.id, grace_seconds: checked.value.grace_seconds });
  await publishIssued(ctx, [
    { hash, record: fresh },
    { hash: found.hash, record: rotated },
  ]);
  const lastUsed = await readLastUsed(ctx.kv, old.orgs, id);
  return { ok: true, value: { key, ...view(fresh, null, ctx.now), previous: view(rotated, lastUsed, ctx.now) } };
}

/**
 * GET /audit[?key_id=…|?org=…]: one page of audit events, newest first: one key's, one
 * org's, or (unscoped callers) all. A scoped caller sees a key's events only for a key it
 * may see (any other key_id answers an empty page, as an unknown one does), an org's only
 * for its orgs (403), never the token events; without key_id or org it reads its one org's
 * log (several orgs: 400, name one; "*": the whole log minus token events).
 */
export async function auditEvents(
  ctx: LifecycleContext,
  query: Record<string, unknown>,
): Promise<Outcome<{ events: AuditEvent[]; cursor: string | null }>> {
  const checked = validateAuditQuery(query);
  if (!checked.ok) return invalid(checked.errors);
  const { key_id, org, limit, cursor } = checked.value;
  let log: AuditLog = { all: true };
  if (key_id !== null) {
    if (ctx.scope !== undefined && !(await find(ctx, key_id))) return { ok: true, value: { events: [], cursor: null } };
    log = { keyId: key_id };
  } else if (org !== null) {
    const refused = outsideScope([org], ctx.scope);
    if (refused) return refused;
    log = { org };
  } else if (ctx.scope !== undefined && !ctx.scope.includes(ALL_ORGS)) {
    if (ctx.scope.length !== 1) return invalid([{ field: "org", message: `is required: this caller acts for several orgs (${ctx.scope.join(", ")}); name one, or give key_id` }]);
    log = { org: ctx.scope[0]! };
  }
  const keep = ctx.scope === undefined ? undefined : (e: AuditEvent) => e.token_id === undefined;
  try {
    const page = await listAudit(ctx.kv, log, limit, cursor, keep);
    return { ok: true, value: { events: page.items, cursor: page.cursor } };
  } catch (err) {
    if (err instanceof BadCursor) return invalid([{ field: "cursor", message: "is not a cursor this listing returned" }]);
    throw err;
  }
}
