/**
 * Creating and importing keys: input validation and record construction, shared by the
 * CLI and the admin API so both refuse exactly the same inputs.
 */
import { classifyKey, displayStart, isWellFormedKey, MAX_KEY_LENGTH, mintKey, randomBase62 } from "./format";
import { hashKey } from "./hash";
import type { KeyRecord, RateLimit } from "./record";
import { isRateLimit, MAX_RATE_LIMIT, MAX_RATE_LIMIT_PERIOD_SECONDS, ORG_RE, SCOPE_RE } from "./record";
import type { KvLike } from "./store";
import { createRecord } from "./store";

export interface NewKeyInput {
  name: string;
  orgs: string[];
  scopes: string[];
  expires_at: string | null;
  meta?: Record<string, string>;
  /** Absent or null: no per-key rate limit. */
  rate_limit?: RateLimit | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const MAX_NAME_LENGTH = 200;
const MAX_META_ENTRIES = 20;

/** Validate a new key's settings (JSON body or CLI flags). Unknown fields are refused. */
export function validateNewKey(input: unknown, now: number, extraFields: string[] = []): Validated<NewKeyInput> {
  const errors: FieldError[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: "(body)", message: "must be a JSON object" }] };
  }
  const o = input as Record<string, unknown>;
  const known = new Set(["name", "orgs", "scopes", "expires_at", "meta", "rate_limit", ...extraFields]);
  for (const k of Object.keys(o)) if (!known.has(k)) errors.push({ field: k, message: "unknown field" });

  const name = o.name ?? "";
  if (typeof name !== "string" || name.length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f]/.test(name)) {
    errors.push({ field: "name", message: `must be a string of at most ${MAX_NAME_LENGTH} printable characters` });
  }
  const orgs = o.orgs;
  if (!Array.isArray(orgs) || orgs.length === 0 || !orgs.every((s) => typeof s === "string" && ORG_RE.test(s))) {
    errors.push({ field: "orgs", message: "must be a non-empty array of org slugs ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  } else if (new Set(orgs).size !== orgs.length) {
    errors.push({ field: "orgs", message: "must not repeat an org" });
  }
  const scopes = o.scopes ?? [];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s))) {
    errors.push({ field: "scopes", message: "must be an array of scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128)" });
  }
  const expires = o.expires_at ?? null;
  if (expires !== null) {
    if (typeof expires !== "string" || !/^\d{4}-\d\d-\d\dT/.test(expires) || Number.isNaN(Date.parse(expires))) {
      errors.push({ field: "expires_at", message: "must be an ISO 8601 date-time (e.g. 2027-01-01T00:00:00Z) or null" });
    } else if (Date.parse(expires) <= now) {
      errors.push({ field: "expires_at", message: "must be in the future" });
    }
  }
  const meta = o.meta;
  if (
    meta !== undefined &&
    (typeof meta !== "object" ||
      meta === null ||
      Array.isArray(meta) ||
      Object.keys(meta).length > MAX_META_ENTRIES ||
      !Object.values(meta).every((v) => typeof v === "string" && v.length <= MAX_NAME_LENGTH))
  ) {
    errors.push({ field: "meta", message: `must be an object of at most ${MAX_META_ENTRIES} string values` });
  }
  const rateLimit = o.rate_limit ?? null;
  if (rateLimit !== null && !isRateLimit(rateLimit)) {
    errors.push({
      field: "rate_limit",
      message: `must be {"limit": 1–${MAX_RATE_LIMIT}, "period_seconds": 1–${MAX_RATE_LIMIT_PERIOD_SECONDS}} (whole numbers) or null`,
    });
  }
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name: name as string,
      orgs: orgs as string[],
      scopes: [...new Set(scopes as string[])],
      expires_at: expires === null ? null : new Date(expires as string).toISOString(),
      ...(meta ? { meta: meta as Record<string, string> } : {}),
      ...(rateLimit ? { rate_limit: rateLimit as RateLimit } : {}),
    },
  };
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

export function newKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export interface KeySettings {
  prefix: string;
  pepper?: string;
}

/**
 * Mint (or, with `importedKey`, import) a key and store its record. Returns the plaintext,
 * which the caller shows once and never stores.
 */
export async function issueKey(
  kv: KvLike,
  settings: KeySettings,
  input: NewKeyInput,
  now: number,
  importedKey?: string,
): Promise<{ key: string; record: KeyRecord }> {
  const key = importedKey ?? mintKey(settings.prefix);
  const record: KeyRecord = {
    v: 1,
    id: newKeyId(),
    name: input.name,
    orgs: input.orgs,
    scopes: input.scopes,
    start: displayStart(key, settings.prefix),
    created_at: new Date(now).toISOString(),
    expires_at: input.expires_at,
    disabled: false,
    revoked_at: null,
    ...(input.meta ? { meta: input.meta } : {}),
    ...(input.rate_limit ? { rate_limit: input.rate_limit } : {}),
  };
  await createRecord(kv, await hashKey(key, settings.pepper), record);
  return { key, record };
}
