/**
 * The key record's fields, declared once. Everything else that describes a key derives
 * from KEY_FIELDS, in its order:
 *
 * - the record guard run on every KV read (isKeyRecord, record.ts): `stored`;
 * - the record a new key is stored as (issueKey, issue.ts): `stored` + `create`;
 * - the listing summary kept as KV metadata, ≤ 1 KiB (summarize, store.ts): `summary`,
 *   and its size check (`largest`);
 * - the API / CLI view (view, lifecycle.ts): `view`;
 * - the inputs of create, update and rotate, their validation and how a change is applied
 *   (issue.ts, lifecycle.ts): `create`, `update`, `rotate`;
 * - the field table of docs/storage.md and its record example (`doc`, `example`), held to
 *   this declaration by test/admin/storage-doc.test.ts.
 *
 * Adding a field is one entry here (plus its line in the KeyRecord interface: the
 * compiler checks the two agree).
 */
import type { CreditRefill, Credits, KeyRecord, KeyStatus, RateLimit } from "./record";
import type { KeyPatch, NewKeyInput } from "./issue";
import type { KeyView } from "./lifecycle";
import type { KeySummary } from "./store";
import { canonicalCidr, parseCidr } from "../lib/cidr";

// ---- value checks shared with other modules (re-exported by record.ts) ----

/** Slugs: what the SaaS dashboards use (letters, digits, '-', '_', '.'), 1–128 chars. */
export const ORG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._*-]{0,127}$/;
export const KEY_ID_RE = /^key_[0-9A-Za-z]{16,32}$/;

export const MAX_CREDITS = 1_000_000_000;
export const MAX_ALLOWED_IPS = 64;
export const MAX_RATE_LIMIT = 1_000_000_000;
/** One day: longer windows would make a burst at the window edge matter more than the limit. */
export const MAX_RATE_LIMIT_PERIOD_SECONDS = 86_400;

export function isCreditRefill(v: unknown): v is CreditRefill {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    Object.keys(r).length === 2 &&
    Number.isInteger(r.amount) &&
    (r.amount as number) >= 1 &&
    (r.amount as number) <= MAX_CREDITS &&
    (r.interval === "day" || r.interval === "month")
  );
}

export function isCredits(v: unknown): v is Credits {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    Number.isInteger(c.remaining) &&
    (c.remaining as number) >= 0 &&
    (c.remaining as number) <= MAX_CREDITS &&
    (c.refill === undefined || isCreditRefill(c.refill)) &&
    typeof c.set_at === "string" &&
    !Number.isNaN(Date.parse(c.set_at)) &&
    typeof c.balance_id === "string" &&
    KEY_ID_RE.test(c.balance_id)
  );
}

export function isRateLimit(v: unknown): v is RateLimit {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    Object.keys(r).length === 2 &&
    Number.isInteger(r.limit) &&
    (r.limit as number) >= 1 &&
    (r.limit as number) <= MAX_RATE_LIMIT &&
    Number.isInteger(r.period_seconds) &&
    (r.period_seconds as number) >= 1 &&
    (r.period_seconds as number) <= MAX_RATE_LIMIT_PERIOD_SECONDS
  );
}

export function isStringArray(v: unknown, re: RegExp): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string" && re.test(s));
}

export function isIsoOrNull(v: unknown): v is string | null {
  return v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v)));
}

// ---- input validation ----

export interface FieldError {
  field: string;
  message: string;
}

export const MAX_NAME_LENGTH = 200;
const MAX_META_ENTRIES = 20;
const MAX_META_KEY_LENGTH = 64;
const MAX_META_VALUE_LENGTH = 200;
const MAX_ORGS = 50;
const MAX_SCOPES = 100;
const MAX_DATE_LENGTH = 64;
/** Longest field name echoed back in an error (the name of an unknown field is the client's). */
const MAX_ECHOED_FIELD = 64;

/** A client-chosen name, bounded and printable, for an error message. */
export function echoed(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > MAX_ECHOED_FIELD ? clean.slice(0, MAX_ECHOED_FIELD) + "…" : clean;
}

/**
 * Characters refused in every name and label an operator or key holder chooses (a key's
 * or token's `name`, `meta` keys and values): they are shown in the console, the CLI,
 * listings and logs, where they could hide or reorder what is shown — controls (C0, DEL,
 * C1), format characters (Unicode Cf: the zero-width ones U+200B–U+200D, U+2060, U+FEFF,
 * the bidi marks, embeddings, overrides and isolates U+200E–U+200F, U+202A–U+202E,
 * U+2066–U+2069, the soft hyphen, tag characters…), the line and paragraph separators
 * U+2028–U+2029, and unpaired surrogates (not text at all).
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** The first refused character of `v` (UNSAFE_TEXT), as "U+XXXX", or null. */
export function unsafeCharacter(v: string): string | null {
  const m = UNSAFE_TEXT.exec(v);
  return m === null ? null : `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The message refusing a text field for the character `found` (unsafeCharacter). */
function unsafeMessage(found: string, what = "must not contain"): string {
  return `${what} control, zero-width, bidi-control or unpaired surrogate characters (found ${found})`;
}

export function checkName(v: unknown, errors: FieldError[]): v is string {
  if (typeof v !== "string" || v.length > MAX_NAME_LENGTH) {
    errors.push({ field: "name", message: `must be a string of at most ${MAX_NAME_LENGTH} printable characters` });
    return false;
  }
  const found = unsafeCharacter(v);
  if (found !== null) {
    errors.push({ field: "name", message: unsafeMessage(found) });
    return false;
  }
  return true;
}

export function checkOrgs(v: unknown, errors: FieldError[]): v is string[] {
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
export function checkExpiry(v: unknown, now: number, future: boolean, errors: FieldError[]): v is string | null {
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

/** `credits` as the API and the CLI take it. */
export interface CreditsInput {
  remaining: number;
  refill?: CreditRefill;
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

/** The record value of a credits setting made at `now` for the balance `balanceId`. */
export function creditsRecord(input: CreditsInput | Credits, now: number, balanceId: string): Credits {
  if ("balance_id" in input) return input;
  return { remaining: input.remaining, ...(input.refill ? { refill: input.refill } : {}), set_at: new Date(now).toISOString(), balance_id: balanceId };
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
    const badKey = unsafeCharacter(k);
    const badValue = typeof x === "string" ? unsafeCharacter(x) : null;
    if (k.length === 0 || k.length > MAX_META_KEY_LENGTH) {
      errors.push({ field: "meta", message: `keys must be 1–${MAX_META_KEY_LENGTH} printable characters (got "${echoed(k)}", ${k.length} characters)` });
      ok = false;
    } else if (badKey !== null) {
      errors.push({ field: "meta", message: unsafeMessage(badKey, "keys must not contain") + ` (key "${echoed(k)}")` });
      ok = false;
    } else if (typeof x !== "string" || x.length > MAX_META_VALUE_LENGTH) {
      errors.push({ field: "meta", message: `values must be strings of at most ${MAX_META_VALUE_LENGTH} printable characters (not the value of "${echoed(k)}")` });
      ok = false;
    } else if (badValue !== null) {
      errors.push({ field: "meta", message: unsafeMessage(badValue, "values must not contain") + ` (the value of "${echoed(k)}")` });
      ok = false;
    }
  }
  return ok;
}

function checkEnabled(v: unknown, errors: FieldError[]): boolean {
  if (typeof v === "boolean") return true;
  errors.push({ field: "enabled", message: "must be true or false" });
  return false;
}

const toIso = (v: unknown): unknown => (v === null ? null : new Date(parseDateTime(v as string)!).toISOString());
/** IPv4-mapped IPv6 entries stored as the IPv4 they are (lib/cidr.ts canonicalCidr). */
const canonicalIps = (v: unknown): unknown => (v === null ? null : (v as string[]).map((s) => canonicalCidr(s)!));
const dedupe = (v: unknown): unknown => [...new Set(v as string[])];

// ---- the declaration ----

/** What a field-level operation knows besides the value. */
export interface FieldContext {
  now: number;
}

/** How the API view shows a field: every time, only when set, or only for one key (not in listings: from the record, not the summary). */
export type ViewShow = "always" | "set" | "detail";

/** What the view of a record or summary knows besides it. */
export interface ViewContext {
  now: number;
  lastUsed: string | null;
}

export type JsonKind = "string" | "number" | "boolean" | "array" | "object";

export const isKind: Record<JsonKind, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  array: Array.isArray,
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
};

export interface KeyField {
  /** The record's field name (or, for a view-only entry, the view's). */
  name: string;
  /** One line for docs/storage.md's field table. */
  doc: string;
  /** The type as docs/storage.md writes it. */
  type: string;
  /** Its JSON type (what a listing requires of a summary's field). */
  kind: JsonKind;
  /**
   * Kept in the record (`key:<hash>`). `required`: never absent; `optional`: absent when
   * unset. What the guard requires of a present value (null passes when `nullable`): its
   * `kind`, and for a string `pattern` and `date` (Date.parse accepts it), for an array
   * string items (matching `pattern`) and `minItems`–`maxItems` of them, then `refine`.
   * `unchecked`: the guard ignores it (the hot path never reads it).
   */
  stored?: {
    presence: "required" | "optional";
    nullable?: boolean;
    unchecked?: true;
    pattern?: RegExp;
    date?: true;
    minItems?: number;
    maxItems?: number;
    refine?: (v: unknown) => boolean;
  };
  /** Also what a listing shows (KV metadata, ≤ 1 KiB): optional fields only when set. */
  summary?: boolean;
  /**
   * The largest value a field not chosen by the caller can take in the summary, for the
   * metadata size check. A summary field chosen by the caller (create) has none.
   */
  largest?: unknown;
  /** Shown by the API and the CLI, under `as` (default: the name), through `of`. */
  view?: { show: ViewShow; as?: string; of?: (value: unknown, record: Record<string, unknown>, ctx: ViewContext) => unknown };
  /**
   * Settable on create (and import): `required` (no default), or `default` when absent,
   * or neither (checked only when given). The value after `normalize` is the input's;
   * `toRecord` stores it.
   */
  create?: {
    check: (v: unknown, errors: FieldError[], ctx: FieldContext) => boolean;
    required?: boolean;
    default?: unknown;
    normalize?: (v: unknown) => unknown;
    toRecord?: (v: unknown, ctx: FieldContext & { id: string }) => unknown;
  };
  /**
   * Settable on update (PATCH), under `as` (default: the name). `toRecord` turns the
   * input into the stored value, `fromRecord` the stored value into the input's form (for
   * the audit event's from/to).
   */
  update?: {
    as?: string;
    check: (v: unknown, errors: FieldError[], ctx: FieldContext) => boolean;
    normalize?: (v: unknown) => unknown;
    toRecord?: (v: unknown, ctx: FieldContext & { record: KeyRecord }) => unknown;
    fromRecord?: (v: unknown) => unknown;
  };
  /**
   * Rotation: every field with `create`, and those marked `inherited`, pass from the old
   * key to the new one (optional ones when set); `settable` ones also take a new value in
   * the rotation's body (null: none).
   */
  rotate?: "inherited" | "settable";
  /** Example value in docs/storage.md's record (stored fields only). */
  example?: unknown;
}

const ISO_EXAMPLE = "2026-11-01T09:00:00.000Z";
const LARGEST_ISO = "2000-01-01T00:00:00.000Z";
const LARGEST_KEY_ID = "key_" + "x".repeat(32);

const DECLARED = [
  {
    name: "v",
    doc: "Record format version.",
    type: "1",
    kind: "number",
    stored: { presence: "required", refine: (v) => v === 1 },
    example: 1,
  },
  {
    name: "id",
    doc: "Public identifier: safe in logs, headers and URLs.",
    type: "`key_` + 20 base62",
    kind: "string",
    stored: { presence: "required", pattern: KEY_ID_RE },
    summary: true,
    largest: LARGEST_KEY_ID,
    view: { show: "always" },
    example: "key_7Fq2Lr9XcB3mNp8TzK1a",
  },
  {
    name: "name",
    doc: "The operator's label for the key.",
    type: "string (≤ 200)",
    kind: "string",
    stored: { presence: "required" },
    summary: true,
    view: { show: "always" },
    create: { check: checkName, default: "" },
    update: { check: checkName },
    example: "ci",
  },
  {
    name: "start",
    doc: "The non-secret start of the key: the prefix plus 4 characters for minted keys, at most 4 characters for imported ones.",
    type: "string",
    kind: "string",
    stored: { presence: "required" },
    summary: true,
    largest: "x".repeat(20),
    view: { show: "always", as: "key_prefix" },
    example: "kg_AbCd",
  },
  {
    name: "orgs",
    doc: "Organizations the key may act for; the first is its default (the org injected for profiles that take it from the key).",
    type: "org slugs (1–50)",
    kind: "array",
    stored: { presence: "required", pattern: ORG_RE, minItems: 1 },
    summary: true,
    view: { show: "always" },
    create: { check: checkOrgs, required: true },
    update: { check: checkOrgs },
    example: ["acme", "globex"],
  },
  {
    name: "scopes",
    doc: "What the key may do (routes require them).",
    type: "scopes (≤ 100)",
    kind: "array",
    stored: { presence: "required", pattern: SCOPE_RE },
    summary: true,
    view: { show: "always" },
    create: { check: checkScopes, default: [], normalize: dedupe },
    update: { check: checkScopes, normalize: dedupe },
    example: ["read", "write"],
  },
  {
    name: "status",
    doc: "View only: active, disabled, expired, revoked, rotating or rotated, from the record and the clock.",
    type: "string",
    kind: "string",
    view: { show: "always", of: (_, r, ctx) => statusOf(r as unknown as StatusFields, ctx.now) },
  },
  {
    name: "enabled",
    doc: "View only: not `disabled`.",
    type: "boolean",
    kind: "boolean",
    view: { show: "always", of: (_, r) => !r.disabled },
  },
  {
    name: "created_at",
    doc: "When the key was created.",
    type: "ISO 8601",
    kind: "string",
    stored: { presence: "required" },
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    example: ISO_EXAMPLE,
  },
  {
    name: "expires_at",
    doc: "The key stops working at this instant (checked on every request); null: never.",
    type: "ISO 8601 or null",
    kind: "string",
    stored: { presence: "required", nullable: true, date: true },
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    create: { check: (v, errors, ctx) => checkExpiry(v, ctx.now, true, errors), default: null, normalize: toIso },
    update: { check: (v, errors, ctx) => checkExpiry(v, ctx.now, false, errors), normalize: toIso },
    example: "2027-01-01T00:00:00.000Z",
  },
  {
    name: "disabled",
    doc: "Refused while true; the API shows and sets it as `enabled`.",
    type: "boolean",
    kind: "boolean",
    stored: { presence: "required" },
    summary: true,
    largest: false,
    update: { as: "enabled", check: checkEnabled, toRecord: (v) => !v, fromRecord: (v) => !v },
    rotate: "inherited",
    example: false,
  },
  {
    name: "last_used_at",
    doc: "View only: the key's last use (the latest of its `:used` entries).",
    type: "ISO 8601 or null",
    kind: "string",
    view: { show: "always", of: (_, _r, ctx) => ctx.lastUsed },
  },
  {
    name: "revoked_at",
    doc: "When the key was revoked; null: not revoked.",
    type: "ISO 8601 or null",
    kind: "string",
    stored: { presence: "required", nullable: true, date: true },
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    example: null,
  },
  {
    name: "updated_at",
    doc: "Last admin change; absent on records never changed since creation.",
    type: "ISO 8601",
    kind: "string",
    stored: { presence: "optional", unchecked: true },
    view: { show: "set" },
    example: "2026-11-02T10:00:00.000Z",
  },
  {
    name: "rotated_at",
    doc: "On a rotated key: when it was rotated.",
    type: "ISO 8601",
    kind: "string",
    stored: { presence: "optional", date: true },
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "set" },
    example: "2026-11-02T10:00:00.000Z",
  },
  {
    name: "replaced_by",
    doc: "On a rotated key: the id of the key that replaces it.",
    type: "key id",
    kind: "string",
    stored: { presence: "optional", pattern: KEY_ID_RE },
    summary: true,
    largest: LARGEST_KEY_ID,
    view: { show: "set" },
    example: "key_Q4wE8rT2yU6iO0pA3sD5",
  },
  {
    name: "replaces",
    doc: "On the key a rotation created: the id of the key it replaces.",
    type: "key id",
    kind: "string",
    stored: { presence: "optional", unchecked: true },
    view: { show: "set" },
    example: "key_Zx9Cv8Bn7Mm6Ll5Kk4Jj",
  },
  {
    name: "meta",
    doc: "Free-form labels from the operator (never interpreted by the gateway).",
    type: "object of strings (≤ 20)",
    kind: "object",
    stored: { presence: "optional", unchecked: true },
    view: { show: "set" },
    create: { check: checkMeta },
    example: { team: "platform" },
  },
  {
    name: "rate_limit",
    doc: "Requests allowed per period for this key (exact, global; docs/limits.md); absent or null: unlimited.",
    type: "{limit, period_seconds} or null",
    kind: "object",
    stored: { presence: "optional", nullable: true, refine: isRateLimit },
    summary: true,
    // The listing entry stores it: reserve room for the largest one, so a key near the 1 KiB
    // metadata limit is refused up front (400) instead of failing after its record is written.
    largest: { limit: MAX_RATE_LIMIT, period_seconds: MAX_RATE_LIMIT_PERIOD_SECONDS },
    view: { show: "always" },
    create: { check: checkRateLimit, default: null },
    update: { check: checkRateLimit },
    example: { limit: 100, period_seconds: 60 },
  },
  {
    name: "credits",
    doc: "Calls the key may make (docs/limits.md): the setting, the live balance is kept by a Durable Object named by `balance_id`; absent or null: unmetered.",
    type: "{remaining, refill?, set_at, balance_id} or null",
    kind: "object",
    stored: { presence: "optional", nullable: true, refine: isCredits },
    view: {
      show: "detail",
      of: (v) => {
        const c = v as Credits | null | undefined;
        return c ? { remaining: c.remaining, ...(c.refill ? { refill: c.refill } : {}), set_at: c.set_at } : null;
      },
    },
    create: { check: checkCredits, default: null, toRecord: (v, ctx) => creditsRecord(v as CreditsInput | Credits, ctx.now, ctx.id) },
    update: {
      check: checkCredits,
      toRecord: (v, ctx) => (v === null ? null : creditsRecord(v as CreditsInput, ctx.now, ctx.record.credits?.balance_id ?? ctx.record.id)),
    },
    rotate: "settable",
    example: { remaining: 5000, refill: { amount: 5000, interval: "month" }, set_at: ISO_EXAMPLE, balance_id: "key_7Fq2Lr9XcB3mNp8TzK1a" },
  },
  {
    name: "allowed_ips",
    doc: "CIDRs CF-Connecting-IP must be in (docs/limits.md); absent or null: any address.",
    type: "CIDRs (1–64) or null",
    kind: "array",
    stored: { presence: "optional", nullable: true, maxItems: MAX_ALLOWED_IPS },
    view: { show: "detail" },
    create: { check: checkAllowedIps, default: null, normalize: canonicalIps },
    update: { check: checkAllowedIps, normalize: canonicalIps },
    example: ["203.0.113.0/24"],
  },
] as const satisfies readonly KeyField[];

export const KEY_FIELDS: readonly KeyField[] = DECLARED;

/** The fields statusOf needs: a record or its listing summary. */
export interface StatusFields {
  expires_at: string | null;
  disabled: boolean;
  revoked_at: string | null;
  replaced_by?: string;
}

export function statusOf(r: StatusFields, now: number): KeyStatus {
  if (r.revoked_at !== null) return "revoked";
  if (r.expires_at !== null && Date.parse(r.expires_at) <= now) return r.replaced_by ? "rotated" : "expired";
  if (r.disabled) return "disabled";
  return r.replaced_by ? "rotating" : "active";
}

// ---- what derives from it ----

const KIND_CODE: Record<JsonKind, number> = { string: 0, number: 1, boolean: 2, array: 3, object: 4 };

/** One checked stored field, flat and of one shape (the guard's loop stays monomorphic). */
interface Guard {
  name: string;
  required: boolean;
  nullable: boolean;
  kind: number;
  pattern: RegExp | null;
  date: boolean;
  minItems: number;
  maxItems: number;
  refine: ((v: unknown) => boolean) | null;
}

const GUARDS: readonly Guard[] = KEY_FIELDS.flatMap((f): Guard[] => {
  const st = f.stored;
  if (!st || st.unchecked) return [];
  return [
    {
      name: f.name,
      required: st.presence === "required",
      nullable: st.nullable === true,
      kind: KIND_CODE[f.kind],
      pattern: st.pattern ?? null,
      date: st.date === true,
      minItems: st.minItems ?? 0,
      maxItems: st.maxItems ?? Infinity,
      refine: st.refine ?? null,
    },
  ];
});

/**
 * The guard of a value read from KV (record.ts's isKeyRecord), run on every cache miss of
 * the hot path: the simple checks inline, closures only for `refine`.
 */
export function guardRecord(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  for (let i = 0; i < GUARDS.length; i++) {
    const g = GUARDS[i]!;
    const x = r[g.name];
    if (x === undefined) {
      if (g.required) return false;
      continue;
    }
    if (x === null) {
      if (g.nullable) continue;
      return false;
    }
    switch (g.kind) {
      case 0:
        if (typeof x !== "string" || (g.pattern !== null && !g.pattern.test(x)) || (g.date && Number.isNaN(Date.parse(x)))) return false;
        break;
      case 3: {
        if (!Array.isArray(x) || x.length < g.minItems || x.length > g.maxItems) return false;
        for (let j = 0; j < x.length; j++) {
          const s = x[j];
          if (typeof s !== "string" || (g.pattern !== null && !g.pattern.test(s))) return false;
        }
        break;
      }
      case 1:
        if (typeof x !== "number") return false;
        break;
      case 2:
        if (typeof x !== "boolean") return false;
        break;
      default:
        if (typeof x !== "object" || Array.isArray(x)) return false;
    }
    if (g.refine !== null && !g.refine(x)) return false;
  }
  return true;
}

export const STORED_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.stored);
export const SUMMARY_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.summary);
export const VIEW_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.view);
export const CREATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.create);
export const UPDATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.update);
export const ROTATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.rotate === "settable");

const isOptional = (f: KeyField): boolean => f.stored?.presence === "optional";

/** A record's (or summary's) fields, in declaration order: required ones always, optional ones when set. */
export function pick(source: Record<string, unknown>, fields: readonly KeyField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = source[f.name];
    if (isOptional(f) ? v : true) out[f.name] = v;
  }
  return out;
}

/** The API view of a record or of a summary (listings: without the `detail` fields). */
export function viewOf(r: Record<string, unknown>, ctx: ViewContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const full = "v" in r;
  for (const f of VIEW_FIELDS) {
    const { show, as, of } = f.view!;
    const raw = r[f.name];
    if (show === "set") {
      if (raw) out[as ?? f.name] = of ? of(raw, r, ctx) : raw;
    } else if (show === "always" || full) {
      out[as ?? f.name] = (of ? of(raw, r, ctx) : raw) ?? null;
    }
  }
  return out;
}

/**
 * The summary fields a caller chooses on create and update (name, orgs, scopes): required
 * summary fields without a `largest` value. The metadata size check names them.
 */
export const CHOSEN_SUMMARY_FIELDS: readonly string[] = SUMMARY_FIELDS.filter((f) => f.largest === undefined && !isOptional(f)).map((f) => f.name);

/** The largest summary the `chosen` values allow: every other field at its `largest`. */
export function largestSummary(chosen: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of SUMMARY_FIELDS) {
    if (f.largest !== undefined) out[f.name] = f.largest;
    else if (!isOptional(f)) out[f.name] = chosen[f.name];
  }
  return out;
}

/** The record a new key is stored as, in declaration order: `system` fields, then the validated input's. */
export function newRecord(system: Record<string, unknown>, input: Record<string, unknown>, ctx: FieldContext & { id: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of STORED_FIELDS) {
    let v: unknown;
    if (f.create) {
      v = input[f.name];
      if (v && f.create.toRecord) v = f.create.toRecord(v, ctx);
    } else v = system[f.name];
    if (isOptional(f) ? v : v !== undefined) out[f.name] = v;
  }
  return out;
}

/** The record after a validated patch: unnamed fields, even unknown ones, are kept. */
export function applyPatch(before: KeyRecord, patch: Record<string, unknown>, ctx: FieldContext): KeyRecord {
  const after: Record<string, unknown> = { ...before };
  for (const f of UPDATE_FIELDS) {
    const u = f.update!;
    const v = patch[u.as ?? f.name];
    if (v === undefined) continue;
    after[f.name] = u.toRecord ? u.toRecord(v, { ...ctx, record: before }) : v;
  }
  return after as unknown as KeyRecord;
}

/** A patch's changes, each field as the patch names it, before and after (the audit event). */
export function changesOf(before: KeyRecord, after: KeyRecord, patch: Record<string, unknown>): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of UPDATE_FIELDS) {
    const u = f.update!;
    const name = u.as ?? f.name;
    if (!(name in patch)) continue;
    const b = (before as unknown as Record<string, unknown>)[f.name];
    const a = (after as unknown as Record<string, unknown>)[f.name];
    const from = u.fromRecord ? u.fromRecord(b) : b;
    const to = u.fromRecord ? u.fromRecord(a) : a;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[name] = { from, to };
  }
  return changes;
}

/** The create input a rotation gives the new key: every create field inherited when set, `settable` ones from the body when given (null: none). */
export function rotationInput(old: KeyRecord, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const r = old as unknown as Record<string, unknown>;
  for (const f of CREATE_FIELDS) {
    const v = f.rotate === "settable" && given[f.name] !== undefined ? given[f.name] : r[f.name];
    if (isOptional(f) ? v : true) out[f.name] = v;
  }
  return out;
}

/** The fields without `create` a rotation passes to the new key (issueKey's `extra`: disabled). */
export function rotationInherited(old: KeyRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const r = old as unknown as Record<string, unknown>;
  for (const f of STORED_FIELDS) if (!f.create && f.rotate === "inherited" && r[f.name] !== undefined) out[f.name] = r[f.name];
  return out;
}

// Compile-time: the types other modules use are held to this declaration, so a field added
// here and not there (or there and not here) fails the typecheck.
type Entry = (typeof DECLARED)[number];
type Same<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : { undeclared: Exclude<A, B>; notInType: Exclude<B, A> };
type Names<E> = E extends { name: infer N } ? N : never;
type Renamed<E, K extends "view" | "update"> = E extends { [k in K]: { as: infer A } } ? A : E extends { [k in K]: object } ? Names<E> : never;
const declared: [
  Same<keyof KeyRecord, Names<Extract<Entry, { stored: object }>>>,
  Same<keyof KeySummary, Names<Extract<Entry, { summary: true }>>>,
  Same<keyof KeyView, Renamed<Entry, "view">>,
  Same<keyof NewKeyInput, Names<Extract<Entry, { create: object }>>>,
  Same<keyof KeyPatch, Renamed<Entry, "update">>,
] = [true, true, true, true, true];
void declared;
