/**
 * The key record: everything the hot path needs to decide, in one KV value, so a request
 * costs one `get`. Stored under the key's hash (see store.ts and docs/storage.md); the
 * plaintext key is never part of it.
 */
export interface KeyRecord {
  /** Record format version. */
  v: 1;
  /** Public identifier ("key_…"): safe in logs, headers and URLs. */
  id: string;
  name: string;
  /** Organizations the key may act for; the first is its default. Never empty. */
  orgs: string[];
  scopes: string[];
  /** The non-secret start of the key, for recognising it ("kg_AbCd"). */
  start: string;
  created_at: string;
  /** ISO 8601; the key stops working at this instant (checked on every request). */
  expires_at: string | null;
  disabled: boolean;
  revoked_at: string | null;
  /** Free-form labels from the operator (never interpreted by the gateway). */
  meta?: Record<string, string>;
  /** Last admin change (ISO 8601); absent on records never changed since creation. */
  updated_at?: string;
  /** Set on a rotated key: when it was rotated, and the id of the key that replaces it. */
  rotated_at?: string;
  replaced_by?: string;
  /** Set on the key a rotation created: the id of the key it replaces. */
  replaces?: string;
  /** Requests allowed per period for this key (exact, global: see abuse/key-rate-limiter.ts). Absent = unlimited. */
  rate_limit?: RateLimit | null;
  /** Calls the key may make (docs/limits.md); absent = unmetered. */
  credits?: Credits | null;
  /** CIDRs CF-Connecting-IP must be in (docs/limits.md); absent = any address. */
  allowed_ips?: string[] | null;
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

export const MAX_CREDITS = 1_000_000_000;
export const MAX_ALLOWED_IPS = 64;

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

function isCredits(v: unknown): v is Credits {
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

/** What an operator sees of a key's state, derived from the record and the clock. */
export type KeyStatus = "active" | "disabled" | "expired" | "revoked" | "rotating" | "rotated";

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

/** At most `limit` requests in each fixed window of `period_seconds` (aligned on the epoch). */
export interface RateLimit {
  limit: number;
  period_seconds: number;
}

export const MAX_RATE_LIMIT = 1_000_000_000;
/** One day: longer windows would make a burst at the window edge matter more than the limit. */
export const MAX_RATE_LIMIT_PERIOD_SECONDS = 86_400;

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

/** Why a key that exists is refused. All map to the same 401 body: no oracle. */
export type KeyDenial = "revoked" | "disabled" | "expired";

/** Slugs: what the SaaS dashboards use (letters, digits, '-', '_', '.'), 1–128 chars. */
export const ORG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SCOPE_RE = /^[A-Za-z0-9][A-Za-z0-9:._*-]{0,127}$/;
export const KEY_ID_RE = /^key_[0-9A-Za-z]{16,32}$/;

/** The state of a record at `now` (ms since epoch): null when usable. */
export function denialOf(record: KeyRecord, now: number): KeyDenial | null {
  if (record.revoked_at !== null) return "revoked";
  if (record.disabled) return "disabled";
  if (record.expires_at !== null && Date.parse(record.expires_at) <= now) return "expired";
  return null;
}

function isStringArray(v: unknown, re: RegExp): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string" && re.test(s));
}

function isIsoOrNull(v: unknown): v is string | null {
  return v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v)));
}

/**
 * Check a value read from KV. A record that does not pass is treated as a store fault
 * (503), never as a usable key.
 */
export function isKeyRecord(v: unknown): v is KeyRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.id === "string" &&
    KEY_ID_RE.test(r.id) &&
    typeof r.name === "string" &&
    isStringArray(r.orgs, ORG_RE) &&
    r.orgs.length > 0 &&
    isStringArray(r.scopes, SCOPE_RE) &&
    typeof r.start === "string" &&
    typeof r.created_at === "string" &&
    isIsoOrNull(r.expires_at) &&
    typeof r.disabled === "boolean" &&
    isIsoOrNull(r.revoked_at) &&
    (r.replaced_by === undefined || (typeof r.replaced_by === "string" && KEY_ID_RE.test(r.replaced_by))) &&
    (r.rotated_at === undefined || (typeof r.rotated_at === "string" && !Number.isNaN(Date.parse(r.rotated_at)))) &&
    (r.rate_limit === undefined || r.rate_limit === null || isRateLimit(r.rate_limit)) &&
    (r.credits === undefined || r.credits === null || isCredits(r.credits)) &&
    (r.allowed_ips === undefined ||
      r.allowed_ips === null ||
      (Array.isArray(r.allowed_ips) && r.allowed_ips.length <= MAX_ALLOWED_IPS && r.allowed_ips.every((x) => typeof x === "string")))
  );
}

/**
 * A scoped admin token (issue: least privilege for the admin API): stored under its hash
 * like a key, never in plaintext. `orgs` is ["*"] for every org.
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
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.id === "string" &&
    TOKEN_ID_RE.test(r.id) &&
    typeof r.name === "string" &&
    Array.isArray(r.orgs) &&
    r.orgs.length > 0 &&
    (r.orgs.length === 1 && r.orgs[0] === ALL_ORGS ? true : isStringArray(r.orgs, ORG_RE)) &&
    TOKEN_ROLES.includes(r.role as TokenRole) &&
    typeof r.start === "string" &&
    typeof r.created_at === "string" &&
    isIsoOrNull(r.expires_at) &&
    isIsoOrNull(r.revoked_at)
  );
}
