/**
 * The key record, for the edge: everything the hot path needs to decide, in one KV value, so
 * a request costs one `get`. Stored under the key's hash (store/, docs/storage.md); the
 * plaintext key is never part of it. RECORD_FIELDS declares what is stored and what the
 * guard checks on every KV read (shape.ts); `KeyRecord` is derived from it. Small on
 * purpose: the management side's view of the same fields — inputs, views, docs — is
 * fields.ts, which builds on this declaration and never the other way round.
 *
 * Also here, because the edge reads them too: the value checks of a key's limits, the
 * scoped admin token's record, and a record's state at an instant (denialOf, statusOf,
 * sunsetOf).
 */

import type { Shape } from "./shape";
import {
  boolean,
  date,
  guardOf,
  literal,
  nullable,
  object,
  optional,
  required,
  string,
  strings,
  unchecked,
} from "./shape";

/** Slugs: what the SaaS dashboards use (letters, digits, '-', '_', '.'), 1–128 chars. */
export const ORG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._*-]{0,127}$/;
export const KEY_ID_RE = /^key_[0-9A-Za-z]{16,32}$/;

export const MAX_CREDITS = 1_000_000_000;
export const MAX_ALLOWED_IPS = 64;
export const MAX_RATE_LIMIT = 1_000_000_000;
/** One day: longer windows would make a burst at the window edge matter more than the limit. */
export const MAX_RATE_LIMIT_PERIOD_SECONDS = 86_400;

/**
 * How a limit is counted (docs/limits.md): `exact` — one object for the key (or org)
 * counts every request, wherever it comes from (a round trip to that object, possibly in
 * another region, per request); `regional` — each region counts in its own bucket near the
 * client, the buckets exchange their counts in the background, and a burst spread over
 * several regions at once can go over the limit by a bounded amount (RATE_LIMIT_MODE_DEFAULT).
 */
export type RateLimitMode = "exact" | "regional";
export const RATE_LIMIT_MODES: readonly RateLimitMode[] = ["exact", "regional"];
/**
 * A limit without `mode` is regional: a key used from one region (the common case — a
 * backend calling from one place) is counted exactly either way, and regional saves a
 * round trip to a possibly distant object on every request; `exact` is for limits that
 * must never be exceeded even by a multi-region burst (docs/limits.md "Which mode").
 */
export const RATE_LIMIT_MODE_DEFAULT: RateLimitMode = "regional";

/** At most `limit` requests in each fixed window of `period_seconds` (aligned on the epoch). */
export interface RateLimit {
  limit: number;
  period_seconds: number;
  /** Absent: RATE_LIMIT_MODE_DEFAULT. */
  mode?: RateLimitMode;
}

export function modeOf(rateLimit: RateLimit): RateLimitMode {
  return rateLimit.mode ?? RATE_LIMIT_MODE_DEFAULT;
}

export interface CreditRefill {
  amount: number;
  interval: "day" | "month";
}

/**
 * A key's credits as configured. The live balance is kept by a Durable Object named by
 * `balance_id` (the key's id; a rotated key keeps its predecessor's, so rotating does not
 * refill). `set_at` (ISO) identifies this setting: the object restarts from `remaining`
 * when it sees a later one.
 */
export interface Credits {
  remaining: number;
  refill?: CreditRefill;
  set_at: string;
  balance_id: string;
}

const isWhole = (v: unknown, min: number, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function isCreditRefill(v: unknown): v is CreditRefill {
  return (
    isPlainObject(v) &&
    Object.keys(v).length === 2 &&
    isWhole(v.amount, 1, MAX_CREDITS) &&
    (v.interval === "day" || v.interval === "month")
  );
}

export function isCredits(v: unknown): v is Credits {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    isWhole(c.remaining, 0, MAX_CREDITS) &&
    (c.refill === undefined || isCreditRefill(c.refill)) &&
    typeof c.set_at === "string" &&
    !Number.isNaN(Date.parse(c.set_at)) &&
    typeof c.balance_id === "string" &&
    KEY_ID_RE.test(c.balance_id)
  );
}

export function isRateLimit(v: unknown): v is RateLimit {
  return (
    isPlainObject(v) &&
    Object.keys(v).length === ("mode" in v ? 3 : 2) &&
    isWhole(v.limit, 1, MAX_RATE_LIMIT) &&
    isWhole(v.period_seconds, 1, MAX_RATE_LIMIT_PERIOD_SECONDS) &&
    (!("mode" in v) || RATE_LIMIT_MODES.includes(v.mode as RateLimitMode))
  );
}

/** What a refused `rate_limit` is told (the key field and the org setting alike). */
export const RATE_LIMIT_SHAPE = `{"limit": 1–${MAX_RATE_LIMIT}, "period_seconds": 1–${MAX_RATE_LIMIT_PERIOD_SECONDS}, "mode": "exact" | "regional" (optional, default ${RATE_LIMIT_MODE_DEFAULT})} (whole numbers)`;

export function isStringArray(v: unknown, re: RegExp): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string" && re.test(s));
}

export function isIsoOrNull(v: unknown): v is string | null {
  return v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v)));
}

/** Why a key was revoked, when keygate knows: "leaked", a leak report revoked it (manage/leaks.ts). */
export type RevokedReason = "leaked";

/**
 * A leak report that named a key (manage/leaks.ts), the first one: when, who reported it
 * (an audit actor: "reporter:github", "reporter:gitlab", "reporter:scanner", "root",
 * "token:<id>", "cli"), the reporter's `source` ("commit", "gitleaks"…), where the key was
 * found (an http(s) URL, or null) and what was done (LEAKED_KEY_ACTION, or "none" for a key
 * already revoked).
 */
export interface LeakRecord {
  at: string;
  reporter: string;
  source: string;
  url: string | null;
  action: "revoke" | "disable" | "report" | "none";
}

/**
 * The stored fields, in the order a record is written (fields.ts documents each one and
 * says what the API shows and accepts of it). `unchecked`: the hot path never reads it.
 */
export const RECORD_FIELDS = {
  v: required(literal(1)),
  id: required(string(KEY_ID_RE)),
  name: required(string()),
  /** The non-secret start of the key, for recognising it ("kg_AbCd"). */
  start: required(string()),
  /** Organizations the key may act for; the first is its default. Never empty. */
  orgs: required(strings(ORG_RE, { min: 1 })),
  scopes: required(strings(SCOPE_RE)),
  created_at: required(string()),
  /** The key stops working at this instant (checked on every request). */
  expires_at: required(nullable(date())),
  disabled: required(boolean()),
  revoked_at: required(nullable(date())),
  /** Why it was revoked, when keygate knows ("leaked"); absent otherwise. */
  revoked_reason: optional(unchecked<RevokedReason>("string")),
  /** Last admin change; absent on records never changed since creation. */
  updated_at: optional(unchecked<string>("string")),
  rotated_at: optional(date()),
  replaced_by: optional(string(KEY_ID_RE)),
  replaces: optional(unchecked<string>("string")),
  /**
   * On a key a key holder created or regenerated: the holder whose creation bound it counts
   * against (manage/bounds.ts), kept by every rotation. The hot path never reads it.
   */
  created_by: optional(unchecked<string>("string")),
  /** Free-form labels from the operator (never interpreted by the gateway). */
  meta: optional(unchecked<Record<string, string>>("object")),
  rate_limit: optional(nullable(object(isRateLimit))),
  credits: optional(nullable(object(isCredits))),
  allowed_ips: optional(nullable(strings(undefined, { max: MAX_ALLOWED_IPS }))),
  /** Imported by its legacy hash and not used since (docs/migrating.md): the old system's algorithm. */
  legacy: optional(unchecked<string>("string")),
  /** When a key imported by its legacy hash was re-indexed under keygate's own hash (its first use). */
  migrated_at: optional(unchecked<string>("string")),
  /** The first leak report naming the key (the hot path never reads it: revoked_at and disabled decide). */
  leaked: optional(unchecked<LeakRecord>("object")),
} as const;

export type KeyRecord = Shape<typeof RECORD_FIELDS>;

/**
 * Check a value read from KV. A record that does not pass is treated as a store fault
 * (503), never as a usable key.
 */
export const isKeyRecord: (v: unknown) => v is KeyRecord = guardOf(RECORD_FIELDS);

/** A record's own change instant (updated_at, else created_at), in ms: which of two copies is newer. */
export function stampOfRecord(r: Pick<KeyRecord, "updated_at" | "created_at">): number {
  return Date.parse(r.updated_at ?? r.created_at) || 0;
}

/** What an operator sees of a key's state, derived from the record and the clock. */
export type KeyStatus = "active" | "disabled" | "expired" | "revoked" | "rotating" | "rotated";

/** The fields statusOf needs: a record or its listing summary. */
export type StatusFields = Pick<KeyRecord, "expires_at" | "disabled" | "revoked_at" | "replaced_by">;

export function statusOf(r: StatusFields, now: number): KeyStatus {
  if (r.revoked_at !== null) return "revoked";
  if (r.expires_at !== null && Date.parse(r.expires_at) <= now) return r.replaced_by ? "rotated" : "expired";
  if (r.disabled) return "disabled";
  return r.replaced_by ? "rotating" : "active";
}

/** Why a key that exists is refused. All map to the same 401 body: no oracle. */
export type KeyDenial = "revoked" | "disabled" | "expired";

/** The state of a record at `now` (ms since epoch): null when usable. */
export function denialOf(record: KeyRecord, now: number): KeyDenial | null {
  if (record.revoked_at !== null) return "revoked";
  if (record.disabled) return "disabled";
  if (record.expires_at !== null && Date.parse(record.expires_at) <= now) return "expired";
  return null;
}

/**
 * When a forwarded response should warn the client that its key is going away:
 * during a rotation's grace period (deprecated since the rotation), or within
 * `warningMs` of expiry (deprecated since the warning window opened). Both instants in
 * ms since epoch; null when no warning is due. The key must be usable at `now`.
 */
export function sunsetOf(r: KeyRecord, now: number, warningMs: number): { sunset: number; deprecation: number } | null {
  if (r.expires_at === null) return null;
  const sunset = Date.parse(r.expires_at);
  if (sunset <= now) return null;
  if (r.replaced_by && r.rotated_at) return { sunset, deprecation: Math.min(Date.parse(r.rotated_at), now) };
  if (warningMs > 0 && sunset - now <= warningMs) {
    return { sunset, deprecation: Math.max(sunset - warningMs, Date.parse(r.created_at) || 0) };
  }
  return null;
}

/**
 * A scoped admin token (least privilege for the admin API): stored under its hash like a
 * key, never in plaintext. `orgs` is ["*"] for every org.
 */
export interface TokenRecord {
  v: 1;
  /** Public identifier ("tok_…"): audit events name the token `token:<id>`. */
  id: string;
  name: string;
  orgs: string[];
  /** read: GET (and HEAD) only; write: every key operation. Neither may manage tokens. */
  role: TokenRole;
  /** The non-secret start of the token ("kgt_AbCd"). */
  start: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export type TokenRole = "read" | "write";
export const TOKEN_ROLES: readonly TokenRole[] = ["read", "write"];
export const TOKEN_ID_RE = /^tok_[0-9A-Za-z]{20}$/;
/** All orgs, in a token's `orgs`. */
export const ALL_ORGS = "*";

export function isTokenRecord(v: unknown): v is TokenRecord {
  if (!isPlainObject(v)) return false;
  return (
    v.v === 1 &&
    typeof v.id === "string" &&
    TOKEN_ID_RE.test(v.id) &&
    typeof v.name === "string" &&
    Array.isArray(v.orgs) &&
    v.orgs.length > 0 &&
    (v.orgs.length === 1 && v.orgs[0] === ALL_ORGS ? true : isStringArray(v.orgs, ORG_RE)) &&
    TOKEN_ROLES.includes(v.role as TokenRole) &&
    typeof v.start === "string" &&
    typeof v.created_at === "string" &&
    isIsoOrNull(v.expires_at) &&
    isIsoOrNull(v.revoked_at)
  );
}
