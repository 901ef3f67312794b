/**
 * Input validation for every key operation (create, import, update, rotate, list, audit)
 * and record construction for new keys, shared by the CLI and the admin API (through
 * keys/lifecycle.ts) so both refuse exactly the same inputs with the same field names.
 */
import { classifyKey, displayStart, isWellFormedKey, MAX_KEY_LENGTH, mintKey, randomBase62 } from "./format";
import { hashKey } from "./hash";
import type { CreditRefill, Credits, KeyRecord, RateLimit } from "./record";
import { isCreditRefill, isRateLimit, KEY_ID_RE, MAX_ALLOWED_IPS, MAX_CREDITS, MAX_RATE_LIMIT, MAX_RATE_LIMIT_PERIOD_SECONDS, ORG_RE, SCOPE_RE } from "./record";
import { parseCidr } from "../net/cidr";
import type { KvLike } from "./store";
import { createRecord, KV_LIST_MAX, KV_METADATA_MAX_BYTES, summaryBytes } from "./store";

export interface NewKeyInput {
  name: string;
  orgs: string[];
  scopes: string[];
  expires_at: string | null;
  meta?: Record<string, string>;
  /** Absent or null: no per-key rate limit. */
  rate_limit?: RateLimit | null;
  /** As given ({remaining, refill?}), or a predecessor's record value (rotation). */
  credits?: CreditsInput | Credits | null;
  allowed_ips?: string[] | null;
}

/** `credits` as the API and the CLI take it. */
export interface CreditsInput {
  remaining: number;
  refill?: CreditRefill;
}

export interface FieldError {
  field: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const MAX_NAME_LENGTH = 200;
const MAX_META_ENTRIES = 20;
/** Longest rotation grace: 30 days. Longer overlaps defeat the point of rotating. */
export const MAX_GRACE_SECONDS = 30 * 86_400;
export const DEFAULT_PAGE_SIZE = 100;

type Body = Record<string, unknown>;

function asBody(input: unknown): Body | FieldError[] {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return [{ field: "(body)", message: "must be a JSON object" }];
  return input as Body;
}

function unknownFields(o: Body, known: string[], errors: FieldError[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) errors.push({ field: k, message: "unknown field" });
}

function checkName(v: unknown, errors: FieldError[]): v is string {
  if (typeof v !== "string" || v.length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(v)) {
    errors.push({ field: "name", message: `must be a string of at most ${MAX_NAME_LENGTH} printable characters` });
    return false;
  }
  return true;
}

function checkOrgs(v: unknown, errors: FieldError[]): v is string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string" && ORG_RE.test(s))) {
    errors.push({ field: "orgs", message: "must be a non-empty array of org slugs ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
    return false;
  }
  if (new Set(v).size !== v.length) {
    errors.push({ field: "orgs", message: "must not repeat an org" });
    return false;
  }
  return true;
}

function checkScopes(v: unknown, errors: FieldError[]): v is string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && SCOPE_RE.test(s))) {
    errors.push({ field: "scopes", message: "must be an array of scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128)" });
    return false;
  }
  return true;
}

/** An ISO 8601 date-time or null; `future` refuses instants at or before `now`. */
function checkExpiry(v: unknown, now: number, future: boolean, errors: FieldError[]): v is string | null {
  if (v === null) return true;
  if (typeof v !== "string" || !/^\d{4}-\d\d-\d\dT/.test(v) || Number.isNaN(Date.parse(v))) {
    errors.push({ field: "expires_at", message: "must be an ISO 8601 date-time (e.g. 2027-01-01T00:00:00Z) or null" });
    return false;
  }
  if (future && Date.parse(v) <= now) {
    errors.push({ field: "expires_at", message: "must be in the future" });
    return false;
  }
  return true;
}

/** null (no limit) or {"limit", "period_seconds"}. */
function checkRateLimit(v: unknown, errors: FieldError[]): v is RateLimit | null {
  if (v === null || isRateLimit(v)) return true;
  errors.push({
    field: "rate_limit",
    message: `must be {"limit": 1–${MAX_RATE_LIMIT}, "period_seconds": 1–${MAX_RATE_LIMIT_PERIOD_SECONDS}} (whole numbers) or null`,
  });
  return false;
}

/** null (unmetered) or {"remaining": 0–MAX, "refill"?: {"amount": 1–MAX, "interval": "day" | "month"}}. */
function checkCredits(v: unknown, errors: FieldError[]): v is CreditsInput | null {
  if (v === null) return true;
  const o = v as Record<string, unknown>;
  const ok =
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(o).every((k) => k === "remaining" || k === "refill") &&
    Number.isInteger(o.remaining) &&
    (o.remaining as number) >= 0 &&
    (o.remaining as number) <= MAX_CREDITS &&
    (o.refill === undefined || isCreditRefill(o.refill));
  if (!ok) {
    errors.push({
      field: "credits",
      message: `must be {"remaining": 0–${MAX_CREDITS}, "refill": {"amount": 1–${MAX_CREDITS}, "interval": "day" | "month"} (optional)} or null`,
    });
  }
  return ok;
}

/** null (any address) or 1–MAX_ALLOWED_IPS IPv4/IPv6 CIDRs (a bare address is a /32 or /128). */
function checkAllowedIps(v: unknown, errors: FieldError[]): v is string[] | null {
  if (v === null) return true;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ALLOWED_IPS) {
    errors.push({ field: "allowed_ips", message: `must be an array of 1–${MAX_ALLOWED_IPS} IPv4/IPv6 CIDRs (e.g. "203.0.113.0/24", "2001:db8::/32") or null` });
    return false;
  }
  const bad = v.filter((x) => typeof x !== "string" || parseCidr(x) === null);
  if (bad.length > 0) {
    errors.push({
      field: "allowed_ips",
      message: `${bad.map((x) => JSON.stringify(x).slice(0, 70)).join(", ")} ${bad.length === 1 ? "is not a CIDR" : "are not CIDRs"} (address/prefix, no host bits set past the prefix, e.g. "203.0.113.0/24")`,
    });
    return false;
  }
  return true;
}

/** The record value of a credits setting made at `now` for the balance `balanceId`. */
export function creditsRecord(input: CreditsInput | Credits, now: number, balanceId: string): Credits {
  if ("balance_id" in input) return input;
  return { remaining: input.remaining, ...(input.refill ? { refill: input.refill } : {}), set_at: new Date(now).toISOString(), balance_id: balanceId };
}

function checkMeta(v: unknown, errors: FieldError[]): v is Record<string, string> {
  if (
    typeof v !== "object" ||
    v === null ||
    Array.isArray(v) ||
    Object.keys(v).length > MAX_META_ENTRIES ||
    !Object.values(v).every((x) => typeof x === "string" && x.length <= MAX_NAME_LENGTH)
  ) {
    errors.push({ field: "meta", message: `must be an object of at most ${MAX_META_ENTRIES} string values` });
    return false;
  }
  return true;
}

/**
 * A key's listing summary lives in KV metadata (≤ 1 KiB): name, orgs and scopes together
 * must leave room for the fixed fields. Placeholders have the real fields' maximum size.
 */
function checkSummarySize(name: string, orgs: string[], scopes: string[], errors: FieldError[]): void {
  const bytes = summaryBytes({
    id: "key_" + "x".repeat(32),
    name,
    start: "x".repeat(20),
    orgs,
    scopes,
    created_at: "2000-01-01T00:00:00.000Z",
    expires_at: "2000-01-01T00:00:00.000Z",
    disabled: false,
    revoked_at: "2000-01-01T00:00:00.000Z",
    rotated_at: "2000-01-01T00:00:00.000Z",
    replaced_by: "key_" + "x".repeat(32),
  });
  if (bytes > KV_METADATA_MAX_BYTES) {
    const message = `name, orgs and scopes together are too long: a key's listing entry must fit KV's ${KV_METADATA_MAX_BYTES}-byte metadata (this one needs ${bytes})`;
    for (const field of ["name", "orgs", "scopes"]) errors.push({ field, message });
  }
}

/** Validate a new key's settings (JSON body or CLI flags). Unknown fields are refused. */
export function validateNewKey(input: unknown, now: number, extraFields: string[] = []): Validated<NewKeyInput> {
  const o = asBody(input);
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, ["name", "orgs", "scopes", "expires_at", "meta", "rate_limit", "credits", "allowed_ips", ...extraFields], errors);
  const name = o.name ?? "";
  const scopes = o.scopes ?? [];
  const expires = o.expires_at ?? null;
  const okName = checkName(name, errors);
  const okOrgs = checkOrgs(o.orgs, errors);
  const okScopes = checkScopes(scopes, errors);
  checkExpiry(expires, now, true, errors);
  if (o.meta !== undefined) checkMeta(o.meta, errors);
  const rateLimit = o.rate_limit ?? null;
  checkRateLimit(rateLimit, errors);
  const credits = o.credits ?? null;
  checkCredits(credits, errors);
  const allowedIps = o.allowed_ips ?? null;
  checkAllowedIps(allowedIps, errors);
  if (okName && okOrgs && okScopes) checkSummarySize(name, o.orgs as string[], [...new Set(scopes)], errors);
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name: name as string,
      orgs: o.orgs as string[],
      scopes: [...new Set(scopes as string[])],
      expires_at: expires === null ? null : new Date(expires as string).toISOString(),
      ...(o.meta ? { meta: o.meta as Record<string, string> } : {}),
      ...(rateLimit ? { rate_limit: rateLimit as RateLimit } : {}),
      ...(credits ? { credits: credits as CreditsInput } : {}),
      ...(allowedIps ? { allowed_ips: allowedIps as string[] } : {}),
    },
  };
}

/** What PATCH may change. `enabled: false` disables the key; `expires_at` may be past (expire now). */
export interface KeyPatch {
  name?: string;
  orgs?: string[];
  scopes?: string[];
  expires_at?: string | null;
  enabled?: boolean;
  /** null removes the key's rate limit. */
  rate_limit?: RateLimit | null;
  /** A new credits setting (the balance restarts from `remaining`); null: unmetered. */
  credits?: CreditsInput | null;
  /** null: any address. */
  allowed_ips?: string[] | null;
}

export const PATCH_FIELDS = ["name", "orgs", "scopes", "expires_at", "enabled", "rate_limit", "credits", "allowed_ips"] as const;

/**
 * Validate a change to an existing key. At least one field; unknown fields are refused.
 * The size check needs the resulting name/orgs/scopes, so it takes the current record.
 */
export function validateKeyPatch(input: unknown, now: number, current: Pick<KeyRecord, "name" | "orgs" | "scopes">): Validated<KeyPatch> {
  const o = asBody(input);
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, [...PATCH_FIELDS], errors);
  const present = PATCH_FIELDS.filter((f) => o[f] !== undefined);
  if (present.length === 0 && errors.length === 0) {
    return { ok: false, errors: [{ field: "(body)", message: `must change at least one of ${PATCH_FIELDS.join(", ")}` }] };
  }
  const patch: KeyPatch = {};
  if (o.name !== undefined && checkName(o.name, errors)) patch.name = o.name;
  if (o.orgs !== undefined && checkOrgs(o.orgs, errors)) patch.orgs = o.orgs;
  if (o.scopes !== undefined && checkScopes(o.scopes, errors)) patch.scopes = [...new Set(o.scopes)];
  if (o.expires_at !== undefined && checkExpiry(o.expires_at, now, false, errors)) {
    patch.expires_at = o.expires_at === null ? null : new Date(o.expires_at).toISOString();
  }
  if (o.enabled !== undefined) {
    if (typeof o.enabled !== "boolean") errors.push({ field: "enabled", message: "must be true or false" });
    else patch.enabled = o.enabled;
  }
  if (o.rate_limit !== undefined && checkRateLimit(o.rate_limit, errors)) patch.rate_limit = o.rate_limit;
  if (o.credits !== undefined && checkCredits(o.credits, errors)) patch.credits = o.credits;
  if (o.allowed_ips !== undefined && checkAllowedIps(o.allowed_ips, errors)) patch.allowed_ips = o.allowed_ips;
  if (errors.length === 0) checkSummarySize(patch.name ?? current.name, patch.orgs ?? current.orgs, patch.scopes ?? current.scopes, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: patch };
}

/**
 * Validate a rotation: `{grace_seconds?, credits?}`; grace a whole number of seconds, default
 * 0 (the old key stops now); credits, when given, a new setting for the new key (else it
 * shares the old key's balance).
 */
export function validateRotation(input: unknown): Validated<{ grace_seconds: number; credits?: CreditsInput | null }> {
  const o = asBody(input ?? {});
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, ["grace_seconds", "credits"], errors);
  if (o.credits !== undefined) checkCredits(o.credits, errors);
  const grace = o.grace_seconds ?? 0;
  if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    errors.push({ field: "grace_seconds", message: `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (30 days)` });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { grace_seconds: grace as number, ...(o.credits !== undefined ? { credits: o.credits as CreditsInput | null } : {}) } };
}

/** A page request: `limit` (1–1000, default 100) and an opaque `cursor` from the previous page. */
function checkPage(o: Body, errors: FieldError[]): { limit: number; cursor: string | null } {
  let limit = DEFAULT_PAGE_SIZE;
  const rawLimit = o.limit;
  if (rawLimit !== undefined) {
    const n = typeof rawLimit === "number" ? rawLimit : typeof rawLimit === "string" && /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > KV_LIST_MAX) errors.push({ field: "limit", message: `must be a whole number from 1 to ${KV_LIST_MAX}` });
    else limit = n;
  }
  const cursor = o.cursor ?? null;
  if (cursor !== null && (typeof cursor !== "string" || cursor === "" || cursor.length > 2048)) {
    errors.push({ field: "cursor", message: "must be the cursor returned with the previous page" });
  }
  return { limit, cursor: typeof cursor === "string" ? cursor : null };
}

export interface ListQuery {
  org: string;
  limit: number;
  cursor: string | null;
}

/** Validate a listing request (query string or CLI flags): `org` is required. */
export function validateListQuery(input: Record<string, unknown>): Validated<ListQuery> {
  const errors: FieldError[] = [];
  unknownFields(input, ["org", "limit", "cursor"], errors);
  const org = input.org;
  if (typeof org !== "string" || !ORG_RE.test(org)) errors.push({ field: "org", message: "is required: the org slug whose keys to list" });
  const page = checkPage(input, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: { org: org as string, ...page } };
}

export interface AuditQuery {
  key_id: string | null;
  limit: number;
  cursor: string | null;
}

/** Validate an audit listing request: every event, or one key's (`key_id`). */
export function validateAuditQuery(input: Record<string, unknown>): Validated<AuditQuery> {
  const errors: FieldError[] = [];
  unknownFields(input, ["key_id", "limit", "cursor"], errors);
  const keyId = input.key_id ?? null;
  if (keyId !== null && (typeof keyId !== "string" || !KEY_ID_RE.test(keyId))) errors.push({ field: "key_id", message: "must be a key id (key_…)" });
  const page = checkPage(input, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: { key_id: keyId as string | null, ...page } };
}

/** Why an existing plaintext key cannot be imported, or null when it can. */
export function importProblem(key: unknown, prefix: string): string | null {
  if (typeof key !== "string" || !isWellFormedKey(key)) {
    return `must be 1–${MAX_KEY_LENGTH} printable ASCII characters without spaces, commas or colons`;
  }
  if (classifyKey(key, prefix) === "corrupt") {
    return `starts with the key prefix "${prefix}" but is not a valid keygate key; the gateway would refuse it without a lookup`;
  }
  return null;
}

/** Key ids are fixed-length (store.ts relies on it to keep a key's listing entries adjacent). */
export function newKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export interface KeySettings {
  prefix: string;
  pepper?: string;
}

/**
 * Mint (or, with `importedKey`, import) a key and store its record. Returns the plaintext,
 * which the caller shows once and never stores. `extra` sets lifecycle fields of the new
 * record (a rotation's `replaces` and inherited `disabled`).
 */
export async function issueKey(
  kv: KvLike,
  settings: KeySettings,
  input: NewKeyInput,
  now: number,
  importedKey?: string,
  extra: Pick<Partial<KeyRecord>, "replaces" | "disabled"> = {},
): Promise<{ key: string; record: KeyRecord; hash: string }> {
  const key = importedKey ?? mintKey(settings.prefix);
  const id = newKeyId();
  const record: KeyRecord = {
    v: 1,
    id,
    name: input.name,
    orgs: input.orgs,
    scopes: input.scopes,
    start: displayStart(key, settings.prefix),
    created_at: new Date(now).toISOString(),
    expires_at: input.expires_at,
    disabled: extra.disabled ?? false,
    revoked_at: null,
    ...(input.meta ? { meta: input.meta } : {}),
    ...(extra.replaces ? { replaces: extra.replaces } : {}),
    ...(input.rate_limit ? { rate_limit: input.rate_limit } : {}),
    ...(input.credits ? { credits: creditsRecord(input.credits, now, id) } : {}),
    ...(input.allowed_ips ? { allowed_ips: input.allowed_ips } : {}),
  };
  const hash = await hashKey(key, settings.pepper);
  await createRecord(kv, hash, record);
  return { key, record, hash };
}
