/**
 * The key operations of the management core: list, show, create, import, update, enable,
 * disable, rotate (regenerate), revoke and the audit log. Each takes what the request is
 * run with (ManageDeps), who asks (a Principal) and a typed input, and returns an Outcome
 * whose value is what the admin API answers and the CLI prints with --json. Every surface
 * — the admin API, the self-service API, the web console, the CLI on local state or with
 * --url (through the admin API) — calls these and only these; each asks the authority
 * table (authority.ts `decide`) first, so no surface decides who may do what.
 *
 * What a holder (a key, a session, a portal user) creates or regenerates is never more
 * powerful than it is: its scopes within the holder's; for a key holder, the key's
 * expiry no later than its own (its own by default), and its rate limit, allowed_ips and
 * credits carried over — the new key spends the creator's balance (one balance, kept by one
 * Durable Object: exact across isolates). Holder creation is bounded (bounds.ts), and a key
 * a holder makes counts against that holder's bound (`created_by`).
 */

import type { KeySummary, KeyView } from "../keys/fields";
import { view } from "../keys/fields";
import type { ImportSpec, ListQuery } from "../keys/issue";
import {
  newKeyId,
  validateAuditQuery,
  validateImport,
  validateKeyPatch,
  validateListQuery,
  validateNewKey,
  validateRotation,
} from "../keys/issue";
import type { LegacyAlgorithm } from "../keys/legacy";
import { isLegacyAlgorithm, isOwnScheme } from "../keys/legacy";
import type { Found, IssuedView, Outcome, RotationVerb } from "../keys/lifecycle";
import {
  auditPage,
  findKey,
  importStored,
  issueNew,
  listPage,
  MAX_ALL_KEYS_PAGE,
  publishImported,
  revokeFound,
  rotateFound,
  tellImported,
  updateFound,
} from "../keys/lifecycle";
import type { KeyRecord } from "../keys/record";
import { statusOf } from "../keys/record";
import type { AuditEvent, AuditLog } from "../keys/store/audit";
import { putMarker, readLegacyAlgorithms, writeLegacyAlgorithms } from "../keys/store/migration";
import { readLastUsed } from "../keys/store/records";
import { logLine } from "../lib/log";
import type { Operation } from "./authority";
import { decide } from "./authority";
import { creationRate, creatorOf, repeatRate, reserveSlot } from "./bounds";
import type { ManageDeps } from "./context";
import { failure, lifecycleOf } from "./context";
import type { Principal } from "./principal";
import { isHolder, orgsOf, roleOf, scopesHeld } from "./principal";

type Body = Record<string, unknown>;

const notFound = (id: string): Outcome<never> => ({ ok: false, error: "not_found", message: `no key with id "${id}"` });
const invalid = (field: string, message: string): Outcome<never> => ({
  ok: false,
  error: "invalid",
  errors: [{ field, message }],
});
const isBody = (v: unknown): v is Body => typeof v === "object" && v !== null && !Array.isArray(v);

/** The key `id` as `p` may reach it with `op`: not found (also when it may not see it), or refused. */
async function reach(deps: ManageDeps, p: Principal, op: Operation, id: string): Promise<Outcome<Found>> {
  const found = await findKey(deps, id);
  if (!found) return notFound(id);
  const d = decide(p, op, { key: found.record });
  return d.ok ? { ok: true, value: found } : failure(d, id);
}

/** A listing's or audit query's org when it names none: the principal's one org, or every org (null). */
function defaultOrg(p: Principal, also: string): Outcome<string | null> {
  const limited = orgsOf(p);
  if (limited === null) return { ok: true, value: null };
  if (limited.length !== 1)
    return invalid("org", `is required: this caller acts for several orgs (${limited.join(", ")}); name one${also}`);
  return { ok: true, value: limited[0]! };
}

/**
 * One page of keys: `org` (default: the principal's one org; root and "*" tokens list every
 * key), filtered by `name` (substring, case-insensitive), `prefix` and `status`. A key the
 * principal may not see is skipped, so a page may hold fewer keys than `limit`, even none,
 * while `cursor` is not null.
 */
export async function listKeys(
  deps: ManageDeps,
  p: Principal,
  query: Body,
): Promise<Outcome<{ keys: KeyView[]; cursor: string | null }>> {
  const allowed = decide(p, "list");
  if (!allowed.ok) return failure(allowed);
  const checked = validateListQuery(query);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const q: ListQuery = checked.value;
  let org = q.org;
  if (org !== null) {
    const d = decide(p, "list", { orgs: [org] });
    if (!d.ok) return failure(d);
  } else {
    const fallback = defaultOrg(p, "");
    if (!fallback.ok) return fallback;
    org = fallback.value;
  }
  if (org === null && q.limit > MAX_ALL_KEYS_PAGE)
    return invalid("limit", `must be at most ${MAX_ALL_KEYS_PAGE} when listing across orgs (without org)`);
  const needle = q.name?.toLowerCase() ?? null;
  const keep = (s: KeySummary) =>
    decide(p, "list", { key: s }).ok &&
    (needle === null || s.name.toLowerCase().includes(needle)) &&
    (q.prefix === null || s.start.startsWith(q.prefix)) &&
    (q.status === null || statusOf(s, deps.now) === q.status);
  return listPage(lifecycleOf(deps, p), { org, limit: q.limit, cursor: q.cursor }, keep);
}

/**
 * A key's view with `credits.remaining` the live balance its Durable Object holds (balance
 * `balanceId`), in place of the setting's: what a caller means by "remaining". Null when the
 * balance cannot be read now (logged). Unmetered keys, and views of a balance this very
 * operation set (its `remaining` is the balance), are returned as they are.
 */
async function liveBalance<V extends KeyView>(deps: ManageDeps, shown: V, balanceId: string | undefined): Promise<V> {
  const c = shown.credits;
  if (!c || balanceId === undefined || c.remaining === null) return shown;
  let remaining: number | null = null;
  try {
    if (deps.balance) {
      remaining = await deps.balance({
        remaining: c.remaining,
        ...(c.refill ? { refill: c.refill } : {}),
        set_at: c.set_at,
        balance_id: balanceId,
      });
    }
  } catch (err) {
    logLine("warn", "credit balance unreadable: shown as null", {
      ...(deps.requestId ? { request_id: deps.requestId } : {}),
      key_id: shown.id,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  return { ...shown, credits: { ...c, remaining } };
}

/** The live balance of an outcome's key (see liveBalance). */
async function withBalance<V extends KeyView>(
  deps: ManageDeps,
  outcome: Outcome<V>,
  balanceId: string | undefined,
): Promise<Outcome<V>> {
  return outcome.ok ? { ok: true, value: await liveBalance(deps, outcome.value, balanceId) } : outcome;
}

/** One key, with its last use and its live credit balance. */
export async function showKey(deps: ManageDeps, p: Principal, id: string): Promise<Outcome<KeyView>> {
  const allowed = decide(p, "show");
  if (!allowed.ok) return failure(allowed);
  const found = await reach(deps, p, "show", id);
  if (!found.ok) return found;
  const r = found.value.record;
  return {
    ok: true,
    value: await liveBalance(deps, view(r, await readLastUsed(deps.kv, r.orgs, id), deps.now), r.credits?.balance_id),
  };
}

/**
 * Mint a key: the plaintext is in this answer and nowhere else, ever. An operator names its
 * orgs and settings; a holder's key belongs to the holder's org, with the holder's scopes
 * unless it names fewer, and (a key holder) the holder's expiry unless it names an
 * earlier one, rate limit, allowed_ips and credit balance.
 */
export async function createKey(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<IssuedView>> {
  const allowed = decide(p, "create");
  if (!allowed.ok) return failure(allowed);
  if (!isBody(body)) return invalid("(body)", "must be a JSON object");
  const fields = decide(p, "create", { fields: body });
  if (!fields.ok) return failure(fields);
  let input: Body = body;
  let unnamed = false;
  if (isHolder(p)) {
    input = { ...body, orgs: [p.org], scopes: body.scopes ?? [...(scopesHeld(p) ?? [])] };
    if (p.kind === "key" && body.expires_at === undefined) input.expires_at = p.record.expires_at;
    // A holder names its keys (Argus asks every key for a name; the operator's may be "").
    unnamed =
      body.name === undefined || body.name === null || (typeof body.name === "string" && body.name.trim() === "");
  }
  const checked = validateNewKey(input, deps.now);
  if (unnamed || !checked.ok) {
    const errors = checked.ok ? [] : checked.errors.filter((e) => !unnamed || e.field !== "name");
    return {
      ok: false,
      error: "invalid",
      errors: [
        ...(unnamed ? [{ field: "name", message: "is required: a descriptive name for the key" }] : []),
        ...errors,
      ],
    };
  }
  const orgs = decide(p, "create", { orgs: checked.value.orgs });
  if (!orgs.ok) return failure(orgs);
  let value = checked.value;
  if (p.kind === "key") {
    // Never more powerful than its creator: the same limits, and the creator's own balance
    // (fields a holder may not name: the table refused them above).
    const r = p.record;
    value = {
      ...value,
      ...(body.rate_limit === undefined ? { rate_limit: r.rate_limit ?? null } : {}),
      ...(body.allowed_ips === undefined ? { allowed_ips: r.allowed_ips ?? null } : {}),
      ...(body.credits === undefined ? { credits: r.credits ?? null } : {}),
    };
  }
  if (!isHolder(p)) return issueNew(lifecycleOf(deps, p), value);
  const rate = await creationRate(deps.bounds, p);
  if (!rate.ok) return rate;
  const id = newKeyId();
  const slot = await reserveSlot(deps.bounds, deps.kv, p.org, id, deps.now);
  if (!slot.ok) return slot;
  let issued: Outcome<IssuedView> | undefined;
  try {
    issued = await issueNew(lifecycleOf(deps, p), value, { id, created_by: creatorOf(p) });
    // A key holder's new key spends the holder's balance: show what is left of it.
    return await withBalance(deps, issued, p.kind === "key" ? p.record.credits?.balance_id : undefined);
  } finally {
    if (!issued?.ok) await release(deps, [p.org], id);
  }
}

/**
 * Store a key that clients already hold (migration): its plaintext, or its hash from the old
 * system (docs/migrating.md). The answer never repeats the key. A negative cache entry for it
 * in this isolate (clients that sent it before the import got 401) is dropped, so it works
 * here at once. One key; many at once: manage/migration.ts importKeys.
 */
export async function importKey(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<KeyView>> {
  const allowed = decide(p, "import");
  if (!allowed.ok) return failure(allowed);
  const one = await importChecked(deps, p, body);
  if (!one.ok) return one;
  const ctx = lifecycleOf(deps, p);
  const stored = await importStored(ctx, one.value);
  if (stored.ok) {
    await publishImported(ctx, [stored.value]);
    await tellImported(ctx, [stored.value]);
  }
  // Also when already stored: a repeat publishes again what a failure left unpublished.
  if (stored.ok || stored.error === "conflict") await settleLegacy(deps, pendingUnder(deps, one.value));
  if (!stored.ok) return stored;
  return { ok: true, value: view(stored.value.record, null, deps.now) };
}

/** One import's body, checked — its fields, then the orgs it names — against the authority table. */
export async function importChecked(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<ImportSpec>> {
  if (isBody(body)) {
    const fields = decide(p, "import", { fields: body });
    if (!fields.ok) return failure(fields);
  }
  const checked = validateImport(body, deps.now, deps.settings);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const orgs = decide(p, "import", { orgs: checked.value.input.orgs });
  if (!orgs.ok) return failure(orgs);
  return checked;
}

/**
 * After imports by hash: their legacy algorithms are added to `legacy-algorithms` and told
 * to every isolate (the revocation feed; deps.legacyPublish throws FeedUnavailable, a 503
 * that the caller repeats — the keys are stored, so a repeat skips them and publishes
 * again), so the edge looks keys up under them. `algorithms`: those of the hashes of this
 * call, stored now or already stored, whose keys wait for a re-hash.
 */
export async function settleLegacy(deps: ManageDeps, algorithms: readonly LegacyAlgorithm[]): Promise<void> {
  if (algorithms.length === 0) return;
  const known = await readLegacyAlgorithms(deps.kv);
  const all = [...new Set([...known, ...algorithms])].sort();
  if (all.length !== known.length) await writeLegacyAlgorithms(deps.kv, all);
  await deps.legacyPublish?.(all);
}

/** The legacy algorithms an import waits under for its first use (none for a plaintext, or a hash in keygate's scheme). */
export function pendingUnder(deps: ManageDeps, spec: ImportSpec): LegacyAlgorithm[] {
  const src = spec.source;
  return src.kind === "hash" && !isOwnScheme(src.algorithm, deps.settings) ? [src.algorithm] : [];
}

/**
 * Change a key: name, orgs, scopes, expires_at (a past instant expires it now), enabled,
 * rate_limit, credits, allowed_ips — the operator's. Fields the patch does not name are
 * kept. A revoked key cannot be changed.
 */
export async function updateKey(deps: ManageDeps, p: Principal, id: string, body: unknown): Promise<Outcome<KeyView>> {
  const allowed = decide(p, "update");
  if (!allowed.ok) return failure(allowed);
  const found = await findKey(deps, id);
  if (!found) return notFound(id);
  // A key it may not see is not found, before the body is looked at; one it may only see is refused below.
  const sees = decide(p, "update", { key: found.record });
  if (!sees.ok && sees.error === "not_found") return notFound(id);
  if (isBody(body)) {
    const fields = decide(p, "update", { fields: body });
    if (!fields.ok) return failure(fields);
  }
  const checked = validateKeyPatch(body, deps.now, found.record);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const d = decide(p, "update", { key: found.record, ...(checked.value.orgs ? { orgs: checked.value.orgs } : {}) });
  if (!d.ok) return failure(d, id);
  const updated = await updateFound(lifecycleOf(deps, p), found, checked.value);
  if (updated.ok && checked.value.orgs) await settleMoved(deps, found, checked.value.orgs);
  // A new credits setting restarts the balance at its `remaining`: shown as it is.
  return checked.value.credits === undefined ? withBalance(deps, updated, found.record.credits?.balance_id) : updated;
}

/**
 * Enable or disable a key: disabling is a holder's too (for its org's keys), enabling only an operator's. A holder's
 * repeated disable is bounded (bounds.ts repeatRate).
 */
export async function setEnabled(
  deps: ManageDeps,
  p: Principal,
  id: string,
  enabled: boolean,
): Promise<Outcome<KeyView>> {
  const op: Operation = enabled ? "enable" : "disable";
  const allowed = decide(p, op);
  if (!allowed.ok) return failure(allowed);
  const found = await reach(deps, p, op, id);
  if (!found.ok) return found;
  if (isHolder(p) && found.value.record.disabled === !enabled) {
    const rate = await repeatRate(deps.bounds, p);
    if (!rate.ok) return rate;
  }
  return withBalance(
    deps,
    await updateFound(lifecycleOf(deps, p), found.value, { enabled }),
    found.value.record.credits?.balance_id,
  );
}

/**
 * Revoke: the record stays (revoked_at set), so the key keeps answering 401. Revoking a revoked key changes nothing
 * (it publishes the revocation again; a holder's repeats are bounded: bounds.ts repeatRate).
 */
export async function revokeKey(deps: ManageDeps, p: Principal, id: string): Promise<Outcome<KeyView>> {
  const allowed = decide(p, "revoke");
  if (!allowed.ok) return failure(allowed);
  const found = await reach(deps, p, "revoke", id);
  if (!found.ok) return found;
  if (isHolder(p) && found.value.record.revoked_at !== null) {
    const rate = await repeatRate(deps.bounds, p);
    if (!rate.ok) return rate;
  }
  const revoked = await revokeFound(lifecycleOf(deps, p), found.value);
  await release(deps, found.value.record.orgs, id);
  await retireUnused(deps, found.value.record);
  return { ok: true, value: await liveBalance(deps, revoked, found.value.record.credits?.balance_id) };
}

/**
 * Rotate (regenerate): a new key with the same settings; the old one stops after
 * `grace_seconds` (default 0: now). `credits` (an operator's) gives the new key a new
 * balance. A holder may rotate only a key no more powerful than itself, and each rotation
 * counts against its creation rate. `verb` is what the surface calls it, for its messages:
 * "rotate" (admin API, console, CLI) or "regenerate" (the self-service API, as Argus).
 */
export async function rotateKey(
  deps: ManageDeps,
  p: Principal,
  id: string,
  body: unknown,
  verb: RotationVerb = "rotate",
): Promise<Outcome<IssuedView & { previous: KeyView }>> {
  const allowed = decide(p, "rotate");
  if (!allowed.ok) return failure(allowed);
  if (isBody(body)) {
    const fields = decide(p, "rotate", { fields: body });
    if (!fields.ok) return failure(fields);
  }
  const checked = validateRotation(body);
  const found = await reach(deps, p, "rotate", id);
  if (!found.ok) return found;
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  let slot: { org: string; id: string } | null = null;
  if (isHolder(p)) {
    const rate = await creationRate(deps.bounds, p);
    if (!rate.ok) return rate;
    // With a grace period the old key keeps working: the new one needs a slot of its own
    // (without one, it takes the old key's). Else a holder at the cap could keep
    // regenerating with a grace and hold as many working keys as it likes.
    if (checked.value.grace_seconds > 0) {
      slot = { org: found.value.record.orgs[0]!, id: newKeyId() };
      const reserved = await reserveSlot(deps.bounds, deps.kv, slot.org, slot.id, deps.now);
      if (!reserved.ok) return reserved;
    }
  }
  let rotated: Awaited<ReturnType<typeof rotateFound>> | undefined;
  try {
    rotated = await rotateFound(
      lifecycleOf(deps, p),
      found.value,
      checked.value,
      verb,
      isHolder(p) ? { created_by: creatorOf(p), ...(slot ? { id: slot.id } : {}) } : {},
    );
  } finally {
    if (slot && !rotated?.ok) await release(deps, [slot.org], slot.id);
  }
  if (!rotated.ok) return rotated;
  await retireUnused(deps, found.value.record);
  // Without a new setting the new key spends the old one's balance.
  const shared = found.value.record.credits?.balance_id;
  const fresh = checked.value.credits !== undefined;
  const { previous, ...issued } = rotated.value;
  return {
    ok: true,
    value: {
      ...(fresh ? issued : await liveBalance(deps, issued, shared)),
      previous: await liveBalance(deps, previous, shared),
    },
  };
}

/**
 * A key imported by its hash and never used since, revoked or rotated: it leaves the
 * migration's pending count (docs/migrating.md); used during a rotation's grace period, it
 * is re-indexed like any other.
 */
export async function retireUnused(deps: ManageDeps, record: KeyRecord): Promise<void> {
  if (!isLegacyAlgorithm(record.legacy)) return;
  await putMarker(deps.kv, record.id, { state: "retired", from: record.legacy, orgs: record.orgs });
}

/**
 * One page of audit events, newest first: one key's (`key_id`), one org's (`org`), or
 * without either the principal's one org (root: every event). Only root reads the token
 * events; a holder reads the events of its org's own keys. A key the principal may not
 * see answers an empty page, exactly as an unknown key id does.
 */
export async function auditEvents(
  deps: ManageDeps,
  p: Principal,
  query: Body,
): Promise<Outcome<{ events: AuditEvent[]; cursor: string | null }>> {
  const allowed = decide(p, "audit");
  if (!allowed.ok) return failure(allowed);
  const checked = validateAuditQuery(query);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const { key_id, org, limit, cursor } = checked.value;
  const root = roleOf(p) === "root";
  const empty = { ok: true as const, value: { events: [], cursor: null } };
  let log: AuditLog = { all: true };
  if (key_id !== null) {
    if (!root) {
      const found = await findKey(deps, key_id);
      if (!found || !decide(p, "audit", { key: found.record }).ok) return empty;
    }
    log = { keyId: key_id };
  } else if (org !== null) {
    const d = decide(p, "audit", { orgs: [org] });
    if (!d.ok) return failure(d);
    log = { org };
  } else {
    const fallback = defaultOrg(p, ", or give key_id");
    if (!fallback.ok) return fallback;
    if (fallback.value !== null) log = { org: fallback.value };
  }
  // Token events are root's; a holder sees only events about keys of its org alone (no webhook's).
  const keep = root
    ? undefined
    : (e: AuditEvent) =>
        e.token_id === undefined &&
        (!isHolder(p) ||
          (e.key_id !== undefined && decide(p, "audit", { key: { id: e.key_id, orgs: e.orgs ?? [] } }).ok));
  return auditPage(lifecycleOf(deps, p), log, { limit, cursor }, keep);
}

/**
 * A key left its orgs' holder counts (revoked, moved): its slot is freed at once (best effort; bounds.ts settles the
 * rest).
 */
export async function release(deps: ManageDeps, orgs: readonly string[], id: string): Promise<void> {
  if (!deps.bounds || orgs.length !== 1) return;
  try {
    await deps.bounds.settle(orgs[0]!, [id], []);
  } catch (err) {
    logLine("warn", "holder key count not updated (settled at the cap)", {
      ...(deps.requestId ? { request_id: deps.requestId } : {}),
      key_id: id,
      cause: (err as Error).message,
    });
  }
}

/** A key moved out of its one org leaves that org's holder count. */
async function settleMoved(deps: ManageDeps, found: Found, orgs: readonly string[]): Promise<void> {
  const before = found.record.orgs;
  if (before.length === 1 && !orgs.includes(before[0]!)) await release(deps, before, found.record.id);
}
