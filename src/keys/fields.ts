/**
 * A key's fields as the management side sees them, declared once: what each stored field
 * (record.ts RECORD_FIELDS) means, what a listing and the API show of it, what create,
 * update and rotate accept — and the view-only fields. Everything else that describes a
 * key derives from KEY_FIELDS, in its order, types included:
 *
 * - the listing summary kept as KV metadata, ≤ 1 KiB (summarize, store/listings.ts):
 *   `summary`, and its size check (`largest`) — type KeySummary;
 * - the API / CLI view (view): `view` — type KeyView;
 * - the inputs of create, update and rotate, their validation and how a change is applied
 *   (issue.ts, lifecycle.ts): `create`, `update`, `rotate` — types NewKeyInput, KeyPatch;
 * - the record a new key is stored as, and a record after a patch (newRecord, applyPatch),
 *   both checked by the record's own guard before they are returned;
 * - the field table of docs/storage.md and its record example (`doc`, `type`, `example`),
 *   held to this declaration by a test.
 *
 * Adding a stored field is one entry in record.ts and one here; the compiler refuses a
 * stored field this declaration does not describe. The edge never imports this module.
 */
import { canonicalCidr, parseCidr } from "../lib/cidr";
import { periodStart, refillPeriod } from "../objects/protocol";
import type { CreditRefill, Credits, KeyRecord, RateLimit, StatusFields } from "./record";
import {
  isCreditRefill,
  isCredits,
  isKeyRecord,
  isRateLimit,
  MAX_ALLOWED_IPS,
  MAX_CREDITS,
  MAX_RATE_LIMIT,
  MAX_RATE_LIMIT_PERIOD_SECONDS,
  ORG_RE,
  RATE_LIMIT_SHAPE,
  RECORD_FIELDS,
  SCOPE_RE,
  statusOf,
} from "./record";
import type { Field } from "./shape";

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
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.length > MAX_ORGS ||
    !v.every((s) => typeof s === "string" && ORG_RE.test(s))
  ) {
    errors.push({
      field: "orgs",
      message: `must be a non-empty array of at most ${MAX_ORGS} org slugs ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128 characters each)`,
    });
    return false;
  }
  if (new Set(v).size !== v.length) {
    errors.push({ field: "orgs", message: "must not repeat an org" });
    return false;
  }
  return true;
}

export function checkScopes(v: unknown, errors: FieldError[]): v is string[] {
  if (!Array.isArray(v) || v.length > MAX_SCOPES || !v.every((s) => typeof s === "string" && SCOPE_RE.test(s))) {
    errors.push({
      field: "scopes",
      message: `must be an array of at most ${MAX_SCOPES} scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128 characters each)`,
    });
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
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(v);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
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
      message:
        "must be a real calendar date-time in RFC 3339 / ISO 8601 form with a zone (e.g. 2027-01-01T00:00:00Z or 2027-01-01T02:00:00+02:00), or null",
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
    message: `must be ${RATE_LIMIT_SHAPE} or null`,
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

/**
 * The record value of a credits setting made at `now` for the balance `balanceId`: a
 * predecessor's record value (a rotation) as it is, a new setting from the input.
 */
export function creditsRecord(input: unknown, now: number, balanceId: string): Credits | null {
  if (isCredits(input)) return input;
  if (!checkCredits(input, []) || input === null) return null;
  return {
    remaining: input.remaining,
    ...(input.refill ? { refill: input.refill } : {}),
    set_at: new Date(now).toISOString(),
    balance_id: balanceId,
  };
}

/** null (any address) or 1–MAX_ALLOWED_IPS IPv4/IPv6 CIDRs (a bare address is a /32 or /128). */
function checkAllowedIps(v: unknown, errors: FieldError[]): v is string[] | null {
  if (v === null) return true;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ALLOWED_IPS) {
    errors.push({
      field: "allowed_ips",
      message: `must be an array of 1–${MAX_ALLOWED_IPS} IPv4/IPv6 CIDRs (e.g. "203.0.113.0/24", "2001:db8::/32") or null`,
    });
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
      errors.push({
        field: "meta",
        message: `keys must be 1–${MAX_META_KEY_LENGTH} printable characters (got "${echoed(k)}", ${k.length} characters)`,
      });
      ok = false;
    } else if (badKey !== null) {
      errors.push({ field: "meta", message: unsafeMessage(badKey, "keys must not contain") + ` (key "${echoed(k)}")` });
      ok = false;
    } else if (typeof x !== "string" || x.length > MAX_META_VALUE_LENGTH) {
      errors.push({
        field: "meta",
        message: `values must be strings of at most ${MAX_META_VALUE_LENGTH} printable characters (not the value of "${echoed(k)}")`,
      });
      ok = false;
    } else if (badValue !== null) {
      errors.push({
        field: "meta",
        message: unsafeMessage(badValue, "values must not contain") + ` (the value of "${echoed(k)}")`,
      });
      ok = false;
    }
  }
  return ok;
}

function checkEnabled(v: unknown, errors: FieldError[]): v is boolean {
  if (typeof v === "boolean") return true;
  errors.push({ field: "enabled", message: "must be true or false" });
  return false;
}

const toIso = (v: unknown): unknown => (typeof v === "string" ? new Date(parseDateTime(v)!).toISOString() : null);
/** IPv4-mapped IPv6 entries stored as the IPv4 they are (lib/cidr.ts canonicalCidr). */
const canonicalIps = (v: unknown): unknown => (Array.isArray(v) ? v.map((s) => canonicalCidr(String(s))!) : null);
const dedupe = (v: unknown): unknown => (Array.isArray(v) ? [...new Set(v)] : v);

// ---- the declaration ----

/** What a field-level operation knows besides the value. */
export interface FieldContext {
  now: number;
}

/**
 * How the API view shows a field: every time, only when set, or only for one key (not in listings: from the record,
 * not the summary).
 */
export type ViewShow = "always" | "set" | "detail";

/** What a view is made from: a record, or a listing's summary of one. */
export type ViewSource = StatusFields & Partial<KeyRecord>;

/** What the view of a record or summary knows besides it. */
export interface ViewContext {
  now: number;
  lastUsed: string | null;
}

/** A check of an input value: true (and `v` is a T) when valid, else field errors pushed. */
type InputCheck<T> = (v: unknown, errors: FieldError[], ctx: FieldContext) => v is T;

export interface KeyField {
  /** The record's field name (or, for a view-only entry, the view's). */
  name: string;
  /** One line for docs/storage.md's field table. */
  doc: string;
  /** The type as docs/storage.md writes it. */
  type: string;
  /** Kept in the record (`key:<hash>`): its declaration in record.ts (RECORD_FIELDS), what the guard checks. */
  stored?: Field<unknown, "required" | "optional">;
  /** Also what a listing shows (KV metadata, ≤ 1 KiB): optional fields only when set. */
  summary?: true;
  /**
   * The largest value a field not chosen by the caller can take in the summary, for the
   * metadata size check. A summary field chosen by the caller (create) has none.
   */
  largest?: unknown;
  /** Shown by the API and the CLI, under `as` (default: the name), through `of` (default: the record's value). */
  view?: { show: ViewShow; as?: string; of?: (r: ViewSource, ctx: ViewContext) => unknown };
  /**
   * Settable on create (and import): `required` (no default), or `default` when absent,
   * or neither (checked only when given). The value after `normalize` is the input's;
   * `toRecord` stores it.
   */
  create?: {
    check: InputCheck<unknown>;
    required?: true;
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
    check: InputCheck<unknown>;
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

/**
 * The declaration as given (its literal types are what the derived types below read),
 * checked against KeyField.
 */
export function defineFields<const E extends readonly KeyField[]>(entries: E): E {
  return entries;
}

const ISO_EXAMPLE = "2026-11-01T09:00:00.000Z";
const LARGEST_ISO = "2000-01-01T00:00:00.000Z";
const LARGEST_KEY_ID = "key_" + "x".repeat(32);
const S = RECORD_FIELDS;

const DECLARED = defineFields([
  {
    name: "v",
    doc: "Record format version.",
    type: "1",
    stored: S.v,
    example: 1,
  },
  {
    name: "id",
    doc: "Public identifier: safe in logs, headers and URLs.",
    type: "`key_` + 20 base62",
    stored: S.id,
    summary: true,
    largest: LARGEST_KEY_ID,
    view: { show: "always" },
    example: "key_7Fq2Lr9XcB3mNp8TzK1a",
  },
  {
    name: "name",
    doc: "The operator's label for the key.",
    type: "string (≤ 200)",
    stored: S.name,
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
    stored: S.start,
    summary: true,
    largest: "x".repeat(20),
    view: { show: "always", as: "key_prefix" },
    example: "kg_AbCd",
  },
  {
    name: "orgs",
    doc: "Organizations the key may act for; the first is its default (the org injected for profiles that take it from the key).",
    type: "org slugs (1–50)",
    stored: S.orgs,
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
    stored: S.scopes,
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
    view: { show: "always", of: (r, ctx) => statusOf(r, ctx.now) },
  },
  {
    name: "enabled",
    doc: "View only: not `disabled`.",
    type: "boolean",
    view: { show: "always", of: (r) => !r.disabled },
  },
  {
    name: "created_at",
    doc: "When the key was created.",
    type: "ISO 8601",
    stored: S.created_at,
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    example: ISO_EXAMPLE,
  },
  {
    name: "expires_at",
    doc: "The key stops working at this instant (checked on every request); null: never.",
    type: "ISO 8601 or null",
    stored: S.expires_at,
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    create: {
      check: (v, errors, ctx): v is string | null => checkExpiry(v, ctx.now, true, errors),
      default: null,
      normalize: toIso,
    },
    update: { check: (v, errors, ctx): v is string | null => checkExpiry(v, ctx.now, false, errors), normalize: toIso },
    example: "2027-01-01T00:00:00.000Z",
  },
  {
    name: "disabled",
    doc: "Refused while true; the API shows and sets it as `enabled`.",
    type: "boolean",
    stored: S.disabled,
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
    view: { show: "always", of: (_r, ctx) => ctx.lastUsed },
  },
  {
    name: "revoked_at",
    doc: "When the key was revoked; null: not revoked.",
    type: "ISO 8601 or null",
    stored: S.revoked_at,
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "always" },
    example: null,
  },
  {
    name: "revoked_reason",
    doc: 'Why the key was revoked, when keygate knows: "leaked" (a leak report revoked it, docs/leaked-keys.md); absent otherwise.',
    type: '`"leaked"`',
    stored: S.revoked_reason,
    summary: true,
    largest: "leaked",
    view: { show: "set" },
    example: "leaked",
  },
  {
    name: "updated_at",
    doc: "Last admin change; absent on records never changed since creation.",
    type: "ISO 8601",
    stored: S.updated_at,
    view: { show: "set" },
    example: "2026-11-02T10:00:00.000Z",
  },
  {
    name: "rotated_at",
    doc: "On a rotated key: when it was rotated.",
    type: "ISO 8601",
    stored: S.rotated_at,
    summary: true,
    largest: LARGEST_ISO,
    view: { show: "set" },
    example: "2026-11-02T10:00:00.000Z",
  },
  {
    name: "replaced_by",
    doc: "On a rotated key: the id of the key that replaces it.",
    type: "key id",
    stored: S.replaced_by,
    summary: true,
    largest: LARGEST_KEY_ID,
    view: { show: "set" },
    example: "key_Q4wE8rT2yU6iO0pA3sD5",
  },
  {
    name: "replaces",
    doc: "On the key a rotation created: the id of the key it replaces.",
    type: "key id",
    stored: S.replaces,
    view: { show: "set" },
    example: "key_Zx9Cv8Bn7Mm6Ll5Kk4Jj",
  },
  {
    name: "created_by",
    doc: "On a key a key holder created or regenerated (self-service API, console): the holder whose creation bound (SELF_SERVICE_CREATE_PER_MINUTE) it counts against (an API key, key:<id>; a session's user, session:<sub>; an org's portal sessions, portal:<org>) — a key made by such a key counts against the same holder. Kept by every rotation.",
    type: "string",
    stored: S.created_by,
    view: { show: "set" },
    rotate: "inherited",
    example: "session:user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
  },
  {
    name: "meta",
    doc: "Free-form labels from the operator (never interpreted by the gateway).",
    type: "object of strings (≤ 20)",
    stored: S.meta,
    view: { show: "set" },
    create: { check: checkMeta },
    example: { team: "platform" },
  },
  {
    name: "rate_limit",
    doc: "Requests allowed per period for this key, counted `exact` (one object, global) or `regional` (a bucket per region, the default; docs/limits.md); absent or null: unlimited.",
    type: "{limit, period_seconds, mode?} or null",
    stored: S.rate_limit,
    summary: true,
    // The listing entry stores it: reserve room for the largest one, so a key near the 1 KiB
    // metadata limit is refused up front (400) instead of failing after its record is written.
    largest: { limit: MAX_RATE_LIMIT, period_seconds: MAX_RATE_LIMIT_PERIOD_SECONDS, mode: "regional" },
    view: { show: "always" },
    create: { check: checkRateLimit, default: null },
    update: { check: checkRateLimit },
    example: { limit: 100, period_seconds: 60 },
  },
  {
    name: "credits",
    doc: "Calls the key may make (docs/limits.md): the setting, the live balance is kept by a Durable Object named by `balance_id`; absent or null: unmetered.",
    type: "{remaining, refill?, set_at, balance_id} or null",
    stored: S.credits,
    view: {
      show: "detail",
      // `remaining` here is the setting's; the management core replaces it with the live balance the key's
      // Durable Object holds (manage/keys.ts liveBalance) wherever it shows one key.
      of: (
        r,
        ctx,
      ): { remaining: number | null; refill?: CreditRefill; set_at: string; refills_at: string | null } | null => {
        const c = r.credits;
        if (!c) return null;
        const next = c.refill ? periodStart(c.refill.interval, refillPeriod(c.refill.interval, ctx.now) + 1) : null;
        return {
          remaining: c.remaining,
          ...(c.refill ? { refill: c.refill } : {}),
          set_at: c.set_at,
          refills_at: next === null ? null : new Date(next).toISOString(),
        };
      },
    },
    create: { check: checkCredits, default: null, toRecord: (v, ctx) => creditsRecord(v, ctx.now, ctx.id) },
    update: {
      check: checkCredits,
      toRecord: (v, ctx) => creditsRecord(v, ctx.now, ctx.record.credits?.balance_id ?? ctx.record.id),
    },
    rotate: "settable",
    example: {
      remaining: 5000,
      refill: { amount: 5000, interval: "month" },
      set_at: ISO_EXAMPLE,
      balance_id: "key_7Fq2Lr9XcB3mNp8TzK1a",
    },
  },
  {
    name: "allowed_ips",
    doc: "CIDRs CF-Connecting-IP must be in (docs/limits.md); absent or null: any address.",
    type: "CIDRs (1–64) or null",
    stored: S.allowed_ips,
    view: { show: "detail" },
    create: { check: checkAllowedIps, default: null, normalize: canonicalIps },
    update: { check: checkAllowedIps, normalize: canonicalIps },
    example: ["203.0.113.0/24"],
  },
  {
    name: "legacy",
    doc: "On a key imported by its existing hash and not used since: the old system's algorithm (docs/migrating.md); the record is stored under that hash's legacy identity until the key's first use re-indexes it.",
    type: "sha256, sha512 or hmac-sha256",
    stored: S.legacy,
    view: { show: "set" },
    example: "sha256",
  },
  {
    name: "migrated_at",
    doc: "On a key imported by its existing hash: when its first use re-indexed it under keygate's own hash.",
    type: "ISO 8601",
    stored: S.migrated_at,
    view: { show: "set" },
    example: "2026-11-03T08:00:00.000Z",
  },
  {
    name: "leaked",
    doc: "The first leak report naming the key (docs/leaked-keys.md): when, who reported it, their source, where the key was found, what was done.",
    type: "{at, reporter, source, url, action}",
    stored: S.leaked,
    view: { show: "set" },
    example: {
      at: "2026-11-03T08:00:00.000Z",
      reporter: "reporter:github",
      source: "commit",
      url: "https://github.com/octo/app/blob/5f3c2a1/config.js",
      action: "revoke",
    },
  },
]);

export const KEY_FIELDS: readonly KeyField[] = DECLARED;

// ---- the types that derive from it ----

type Entry = (typeof DECLARED)[number];
type NameOf<E> = E extends { name: infer N extends string } ? N : never;
/** Flattens an intersection into one object type (for readable hovers). */
type Flat<T> = { [K in keyof T]: T[K] };
/** Stored fields that are never absent. */
type RequiredName = {
  [K in keyof typeof RECORD_FIELDS]: (typeof RECORD_FIELDS)[K]["presence"] extends "required" ? K : never;
}[keyof typeof RECORD_FIELDS];
/** The type an input check accepts. */
type Checked<C> = C extends { check: (v: unknown, errors: FieldError[], ctx: FieldContext) => v is infer T }
  ? T
  : never;

type SummaryName = NameOf<Extract<Entry, { summary: true }>> & keyof KeyRecord;
/** What a listing shows of a key (KV metadata on its id pointer and org index). */
export type KeySummary = Flat<
  { [K in Extract<SummaryName, RequiredName>]: KeyRecord[K] } & {
    [K in Exclude<SummaryName, RequiredName>]?: NonNullable<KeyRecord[K]>;
  }
>;

type CreateEntry = Extract<Entry, { create: object }>;
type CreateValue<N> = Checked<Extract<CreateEntry, { name: N }>["create"]>;
/** A new key's settings, validated (validateNewKey): stored fields that may be absent may be absent here too. */
export type NewKeyInput = Flat<
  { [N in Extract<NameOf<CreateEntry>, RequiredName>]: CreateValue<N> } & {
    [N in Exclude<NameOf<CreateEntry>, RequiredName>]?: CreateValue<N>;
  }
>;

type UpdateEntry = Extract<Entry, { update: object }>;
type UpdateName<E> = E extends { update: { as: infer A extends string } } ? A : NameOf<E>;
/**
 * What PATCH may change, as it names it (validateKeyPatch). `enabled: false` disables the key; `expires_at` may be
 * past.
 */
export type KeyPatch = { [E in UpdateEntry as UpdateName<E>]?: Checked<E["update"]> };

type ViewEntry = Extract<Entry, { view: object }>;
type ViewName<E> = E extends { view: { as: infer A extends string } } ? A : NameOf<E>;
type Shown<E> = E extends { view: { of: (...args: never[]) => infer R } }
  ? R
  : NameOf<E> extends keyof KeyRecord
    ? KeyRecord[NameOf<E>]
    : never;
/** A value shown every time: null when it is absent. */
type Always<T> = Exclude<T, undefined> | (undefined extends T ? null : never);
/**
 * A key as the API and the CLI show it: never the plaintext (except once, on creation),
 * never the hash. `credits` and `allowed_ips` for one key, not in listings.
 */
export type KeyView = Flat<
  { [E in Extract<ViewEntry, { view: { show: "always" } }> as ViewName<E>]: Always<Shown<E>> } & {
    [E in Extract<ViewEntry, { view: { show: "set" } }> as ViewName<E>]?: NonNullable<Shown<E>>;
  } & { [E in Extract<ViewEntry, { view: { show: "detail" } }> as ViewName<E>]?: Always<Shown<E>> }
>;

// ---- what derives from it ----

export const STORED_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.stored);
export const SUMMARY_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.summary);
export const VIEW_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.view);
export const CREATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.create);
export const UPDATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.update);
export const ROTATE_FIELDS: readonly KeyField[] = KEY_FIELDS.filter((f) => f.rotate === "settable");

const isOptional = (f: KeyField): boolean => f.stored?.presence === "optional";

/**
 * Where an object built field by field from the declaration meets the type derived from
 * the same declaration. Only the derivations below call it, each with an object holding
 * exactly the fields the type names, every input value accepted by its field's own check
 * (test/unit/keys/fields.test.ts holds both halves to each other).
 */
function derived<T>(built: Record<string, unknown>): T {
  return built as T;
}

/** A record's (or summary's) fields, in declaration order: required ones always, optional ones when set. */
export function pick(source: Readonly<Record<string, unknown>>, fields: readonly KeyField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = source[f.name];
    if (isOptional(f) ? v : true) out[f.name] = v;
  }
  return out;
}

/** What a listing shows of a record: the fields marked `summary`, in their order (optional ones when set). */
export function summarize(r: KeyRecord): KeySummary {
  return derived<KeySummary>(pick(r, SUMMARY_FIELDS));
}

/** The API view of a record (one key) or of a summary (listings: without the `detail` fields). */
export function view(r: KeyRecord | KeySummary, lastUsed: string | null, now: number): KeyView {
  const ctx: ViewContext = { now, lastUsed };
  const source: ViewSource & Readonly<Record<string, unknown>> = r;
  const out: Record<string, unknown> = {};
  const full = "v" in r;
  for (const f of VIEW_FIELDS) {
    const { show, as, of } = f.view!;
    const raw = source[f.name];
    if (show === "set") {
      if (raw) out[as ?? f.name] = of ? of(source, ctx) : raw;
    } else if (show === "always" || full) {
      out[as ?? f.name] = (of ? of(source, ctx) : raw) ?? null;
    }
  }
  return derived<KeyView>(out);
}

/**
 * The summary fields a caller chooses on create and update (name, orgs, scopes): required
 * summary fields without a `largest` value. The metadata size check names them.
 */
export const CHOSEN_SUMMARY_FIELDS: readonly string[] = SUMMARY_FIELDS.filter(
  (f) => f.largest === undefined && !isOptional(f),
).map((f) => f.name);

/** The largest summary the `chosen` values allow: every other field at its `largest`. */
export function largestSummary(chosen: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of SUMMARY_FIELDS) {
    if (f.largest !== undefined) out[f.name] = f.largest;
    else if (!isOptional(f)) out[f.name] = chosen[f.name];
  }
  return out;
}

/** A record built by a derivation, checked by the record's own guard: never one the edge would refuse. */
function checkedRecord(built: Record<string, unknown>): KeyRecord {
  if (!isKeyRecord(built)) throw new Error("a key record built from validated input does not pass the record guard");
  return built;
}

/** The record a new key is stored as, in declaration order: `system` fields, then the validated input's. */
export function newRecord(
  system: Readonly<Record<string, unknown>>,
  input: NewKeyInput,
  ctx: FieldContext & { id: string },
): KeyRecord {
  const given: Readonly<Record<string, unknown>> = input;
  const out: Record<string, unknown> = {};
  for (const f of STORED_FIELDS) {
    let v: unknown;
    if (f.create) {
      v = given[f.name];
      if (v && f.create.toRecord) v = f.create.toRecord(v, ctx);
    } else v = system[f.name];
    if (isOptional(f) ? v : v !== undefined) out[f.name] = v;
  }
  return checkedRecord(out);
}

/** The record after a validated patch: unnamed fields, even unknown ones, are kept. */
export function applyPatch(before: KeyRecord, patch: KeyPatch, ctx: FieldContext): KeyRecord {
  const given: Readonly<Record<string, unknown>> = patch;
  const after: Record<string, unknown> = { ...before };
  for (const f of UPDATE_FIELDS) {
    const u = f.update!;
    const v = given[u.as ?? f.name];
    if (v === undefined) continue;
    after[f.name] = u.toRecord ? u.toRecord(v, { ...ctx, record: before }) : v;
  }
  return checkedRecord(after);
}

/** A patch's changes, each field as the patch names it, before and after (the audit event). */
export function changesOf(
  before: KeyRecord,
  after: KeyRecord,
  patch: KeyPatch,
): Record<string, { from: unknown; to: unknown }> {
  const b: Readonly<Record<string, unknown>> = before;
  const a: Readonly<Record<string, unknown>> = after;
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of UPDATE_FIELDS) {
    const u = f.update!;
    const name = u.as ?? f.name;
    if (!(name in patch)) continue;
    const from = u.fromRecord ? u.fromRecord(b[f.name]) : b[f.name];
    const to = u.fromRecord ? u.fromRecord(a[f.name]) : a[f.name];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[name] = { from, to };
  }
  return changes;
}

/**
 * The create input a rotation gives the new key: every create field inherited when set,
 * `settable` ones from the body when given (null: none). The old key's values passed its
 * fields' checks when they were set; a given one was validated (validateRotation).
 */
export function rotationInput(old: KeyRecord, given: Readonly<Record<string, unknown>>): NewKeyInput {
  const r: Readonly<Record<string, unknown>> = old;
  const out: Record<string, unknown> = {};
  for (const f of CREATE_FIELDS) {
    const v = f.rotate === "settable" && given[f.name] !== undefined ? given[f.name] : r[f.name];
    if (isOptional(f) ? v : true) out[f.name] = v;
  }
  return derived<NewKeyInput>(out);
}

/** The fields without `create` a rotation passes to the new key (issueKey's `extra`: disabled). */
export function rotationInherited(old: KeyRecord): { disabled?: boolean; created_by?: string } {
  const r: Readonly<Record<string, unknown>> = old;
  const out: Record<string, unknown> = {};
  for (const f of STORED_FIELDS)
    if (!f.create && f.rotate === "inherited" && r[f.name] !== undefined) out[f.name] = r[f.name];
  return derived<{ disabled?: boolean; created_by?: string }>(out);
}

/** A validated input's fields, as derived: see `derived`. */
export function validatedInput<T extends NewKeyInput | KeyPatch>(built: Record<string, unknown>): T {
  return derived<T>(built);
}

// Compile-time: every stored field of record.ts is described here, and nothing else is "stored".
type Same<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never]
  ? true
  : { undeclared: Exclude<A, B>; notInRecord: Exclude<B, A> };
const everyStoredFieldDescribed: Same<keyof KeyRecord, NameOf<Extract<Entry, { stored: object }>>> = true;
void everyStoredFieldDescribed;
