import { guardRecord, isIsoOrNull, isStringArray, KEY_ID_RE, ORG_RE } from "./fields";

export type { StatusFields } from "./fields";
export { statusOf } from "./fields";

export {
  isCreditRefill,
  isRateLimit,
  KEY_ID_RE,
  MAX_ALLOWED_IPS,
  MAX_CREDITS,
  MAX_RATE_LIMIT,
  MAX_RATE_LIMIT_PERIOD_SECONDS,
  ORG_RE,
  SCOPE_RE,
} from "./fields";

/**
 * The key record: everything the hot path needs to decide, in one KV value, so a request
 * costs one `get`. Stored under the key's hash (see store.ts and docs/storage.md); the
 * plaintext key is never part of it. Its fields are declared in fields.ts (KEY_FIELDS),
 * from which the guard, the summary, the view and the inputs derive; this interface is
 * their type, held to that declaration by the compiler.
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
  /** Requests allowed per period for this key (exact, global: see edge/abuse/key-rate-limiter.ts). Absent = unlimited. */
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



/** What an operator sees of a key's state, derived from the record and the clock. */
export type KeyStatus = "active" | "disabled" | "expired" | "revoked" | "rotating" | "rotated";

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
 * Check a value read from KV. A record that does not pass is treated as a store fault
 * (503), never as a usable key.
 */
export function isKeyRecord(v: unknown): v is KeyRecord {
  return guardRecord(v);
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
