/**
 * Input validation for every key operation (create, import, update, rotate, list, audit)
 * and record construction for new keys, shared by the CLI and the admin API (through
 * keys/lifecycle.ts) so both refuse exactly the same inputs with the same field names.
 */
import { classifyKey, displayStart, isWellFormedKey, MAX_KEY_LENGTH, mintKey, randomBase62 } from "./format";
import { hashKey } from "./hash";
import type { CreditRefill, Credits, KeyRecord, KeyStatus, RateLimit, TokenRole } from "./record";
import { ALL_ORGS, isCreditRefill, isRateLimit, KEY_ID_RE, MAX_ALLOWED_IPS, MAX_CREDITS, MAX_RATE_LIMIT, MAX_RATE_LIMIT_PERIOD_SECONDS, ORG_RE, SCOPE_RE, TOKEN_ROLES } from "./record";
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
const MAX_META_KEY_LENGTH = 64;
const MAX_META_VALUE_LENGTH = 200;
const MAX_ORGS = 50;
const MAX_SCOPES = 100;
const MAX_DATE_LENGTH = 64;
/** Longest field name echoed back in an error (the name of an unknown field is the client's). */
const MAX_ECHOED_FIELD = 64;
/** Longest rotation grace: 30 days. Longer overlaps defeat the point of rotating. */
export const MAX_GRACE_SECONDS = 30 * 86_400;
export const DEFAULT_PAGE_SIZE = 100;

type Body = Record<string, unknown>;

function asBody(input: unknown): Body | FieldError[] {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return [{ field: "(body)", message: "must be a JSON object" }];
  return input as Body;
}

/** A client-chosen name, bounded and printable, for an error message. */
function echoed(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > MAX_ECHOED_FIELD ? clean.slice(0, MAX_ECHOED_FIELD) + "…" : clean;
}

function unknownFields(o: Body, known: string[], errors: FieldError[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) errors.push({ field: echoed(k), message: "unknown field" });
}

function checkName(v: unknown, errors: FieldError[]): v is string {
  if (typeof v !== "string" || v.length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(v)) {
    errors.push({ field: "name", message: `must be a string of at most ${MAX_NAME_LENGTH} printable characters` });
    return false;
  }
  return true;
}

function checkOrgs(v: unknown, errors: FieldError[]): v is string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ORGS || !v.every((s) => typeof s === "string" && ORG_RE.test(s))) {
    errors.push({ field: "orgs", message: `must be a non-empty array of at most ${MAX_ORGS} org slugs ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128 characters each)` });
    return false;
  }
  if (new Set(v).size !== v.length) {
    errors.push({ field: "orgs", message: "must not repeat an org" });
    return false;
  }
  return true;
}

function checkScopes(v: unknown, errors: FieldError[]): v is string[] {
  if (!Array.isArray(v) || v.length > MAX_SCOPES || !v.every((s) => typeof s === "string" && SCOPE_RE.test(s))) {
    errors.push({ field: "scopes", message: `must be an array of at most ${MAX_SCOPES} scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128 characters each)` });
    return false;
  }
  return true;
}

/**
 * RFC 3339 date-time (the ISO 8601 profile every client library writes):
 * `YYYY-MM-DDThh:mm[:ss[.fraction]]` and `Z` or `±hh:mm`. Returns epoch milliseconds, or
 * null when it is not one or names an impossible instant: month 13, `2099-02-31`,
 * `2100-02-29`, hour 24, second 60, offset `+24:00`. Date.parse would silently move those
 * (2099-02-31 → 2099-03-03), so every field is checked against the calendar first.
 */
export function parseDateTime(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(v);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // years 0–99 too (Date.UTC would read them as 19xx)
  utc.setUTCHours(hour, minute, second, ms);
  const at = utc.getTime() - offsetMinutes * 60_000;
  return Number.isFinite(at) && Math.abs(at) <= 8.64e15 ? at : null;
}

/** An RFC 3339 date-time or null; `future` refuses instants at or before `now`. */
function checkExpiry(v: unknown, now: number, future: boolean, errors: FieldError[]): v is string | null {
  if (v === null) return true;
  const at = typeof v === "string" && v.length <= MAX_DATE_LENGTH ? parseDateTime(v) : null;
  if (at === null) {
    errors.push({
      field: "expires_at",
      message: "must be a real calendar date-time in RFC 3339 / ISO 8601 form with a zone (e.g. 2027-01-01T00:00:00Z or 2027-01-01T02:00:00+02:00), or null",
    });
    return false;
  }
  if (future && at <= now) {
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

/** `meta`: at most 20 entries; keys 1–64 and values ≤ 200 printable characters. */
function checkMeta(v: unknown, errors: FieldError[]): v is Record<string, string> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    errors.push({ field: "meta", message: `must be an object of at most ${MAX_META_ENTRIES} string values` });
    return false;
  }
  const entries = Object.entries(v);
  if (entries.length > MAX_META_ENTRIES) {
    errors.push({ field: "meta", message: `must have at most ${MAX_META_ENTRIES} entries (got ${entries.length})` });
    return false;
  }
  let ok = true;
  for (const [k, x] of entries) {
    if (k.length === 0 || k.length > MAX_META_KEY_LENGTH || /[\x00-\x1f\x7f]/.test(k)) {
      errors.push({ field: "meta", message: `keys must be 1–${MAX_META_KEY_LENGTH} printable characters (got "${echoed(k)}", ${k.length} characters)` });
      ok = false;
    } else if (typeof x !== "string" || x.length > MAX_META_VALUE_LENGTH || /[\x00-\x1f\x7f]/.test(x)) {
      errors.push({ field: "meta", message: `values must be strings of at most ${MAX_META_VALUE_LENGTH} printable characters (not the value of "${echoed(k)}")` });
      ok = false;
    }
  }
  return ok;
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
      expires_at: expires === null ? null : new Date(parseDateTime(expires as string)!).toISOString(),
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
    patch.expires_at = o.expires_at === null ? null : new Date(parseDateTime(o.expires_at)!).toISOString();
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
  /** null: every org the caller may see (root: all keys). */
  org: string | null;
  /** Keeps keys whose name contains this (case-insensitive). */
  name: string | null;
  /** Keeps keys whose key_prefix starts with this ("kg_AbCd"). */
  prefix: string | null;
  status: KeyStatus | null;
  limit: number;
  cursor: string | null;
}

export const KEY_STATUSES: readonly KeyStatus[] = ["active", "disabled", "expired", "revoked", "rotating", "rotated"];

/** Validate a listing request (query string or CLI flags): `org` and the filters are optional. */
export function validateListQuery(input: Record<string, unknown>): Validated<ListQuery> {
  const errors: FieldError[] = [];
  unknownFields(input, ["org", "name", "prefix", "status", "limit", "cursor"], errors);
  const org = input.org ?? null;
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org))) errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  const name = input.name ?? null;
  if (name !== null && (typeof name !== "string" || name === "" || name.length > MAX_NAME_LENGTH)) {
    errors.push({ field: "name", message: `must be 1–${MAX_NAME_LENGTH} characters, matched anywhere in the name (case-insensitive)` });
  }
  const prefix = input.prefix ?? null;
  if (prefix !== null && (typeof prefix !== "string" || prefix === "" || prefix.length > 64)) {
    errors.push({ field: "prefix", message: "must be 1–64 characters: the start of the key (key_prefix, e.g. kg_AbCd)" });
  }
  const status = input.status ?? null;
  if (status !== null && !KEY_STATUSES.includes(status as KeyStatus)) errors.push({ field: "status", message: `must be one of ${KEY_STATUSES.join(", ")}` });
  const page = checkPage(input, errors);
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { org: org as string | null, name: name as string | null, prefix: prefix as string | null, status: status as KeyStatus | null, ...page } };
}

export interface AuditQuery {
  key_id: string | null;
  org: string | null;
  limit: number;
  cursor: string | null;
}

/** Validate an audit listing request: every event, one key's (`key_id`) or one org's (`org`). */
export function validateAuditQuery(input: Record<string, unknown>): Validated<AuditQuery> {
  const errors: FieldError[] = [];
  unknownFields(input, ["key_id", "org", "limit", "cursor"], errors);
  const keyId = input.key_id ?? null;
  if (keyId !== null && (typeof keyId !== "string" || !KEY_ID_RE.test(keyId))) errors.push({ field: "key_id", message: "must be a key id (key_…)" });
  const org = input.org ?? null;
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org))) errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  if (keyId !== null && org !== null && errors.length === 0) errors.push({ field: "org", message: "give key_id or org, not both" });
  const page = checkPage(input, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: { key_id: keyId as string | null, org: org as string | null, ...page } };
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

// ---- scoped admin tokens ----

export interface NewTokenInput {
  name: string;
  orgs: string[];
  role: TokenRole;
  expires_at: string | null;
}

/**
 * Validate a new scoped admin token: `{name, orgs, role, expires_at?}`. `orgs` is org slugs
 * or exactly ["*"] (every org). The record is the listing's KV metadata, so it must fit 1 KiB.
 */
export function validateNewToken(input: unknown, now: number): Validated<NewTokenInput> {
  const o = asBody(input);
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, ["name", "orgs", "role", "expires_at"], errors);
  if (o.name === undefined || o.name === "") errors.push({ field: "name", message: "is required: what the token is for" });
  else checkName(o.name, errors);
  const allOrgs = Array.isArray(o.orgs) && o.orgs.length === 1 && o.orgs[0] === ALL_ORGS;
  if (!allOrgs && !(Array.isArray(o.orgs) && o.orgs.includes(ALL_ORGS))) checkOrgs(o.orgs, errors);
  else if (!allOrgs) errors.push({ field: "orgs", message: `"${ALL_ORGS}" (every org) must be the only entry` });
  if (!TOKEN_ROLES.includes(o.role as TokenRole)) errors.push({ field: "role", message: `must be one of ${TOKEN_ROLES.join(", ")}` });
  const expires = o.expires_at ?? null;
  checkExpiry(expires, now, true, errors);
  if (errors.length === 0) {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ v: 1, id: "tok_" + "x".repeat(20), name: o.name, orgs: o.orgs, role: "write", start: "x".repeat(20), created_at: "2000-01-01T00:00:00.000Z", expires_at: "2000-01-01T00:00:00.000Z", revoked_at: "2000-01-01T00:00:00.000Z" }),
    ).length;
    if (bytes > KV_METADATA_MAX_BYTES) {
      const message = `name and orgs together are too long: a token's listing entry must fit KV's ${KV_METADATA_MAX_BYTES}-byte metadata (this one needs ${bytes})`;
      for (const field of ["name", "orgs"]) errors.push({ field, message });
    }
  }
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name: o.name as string,
      orgs: o.orgs as string[],
      role: o.role as TokenRole,
      expires_at: expires === null ? null : new Date(expires as string).toISOString(),
    },
  };
}

/** Validate a token listing request: `limit` and `cursor` only. */
export function validateTokenQuery(input: Record<string, unknown>): Validated<{ limit: number; cursor: string | null }> {
  const errors: FieldError[] = [];
  unknownFields(input, ["limit", "cursor"], errors);
  const page = checkPage(input, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: page };
}
