/**
 * Input validation for every key operation (create, import, update, rotate, list, audit)
 * and record construction for new keys, shared by the CLI and the admin API (through
 * keys/lifecycle.ts) so both refuse exactly the same inputs with the same field names.
 */

import type { Result } from "../lib/result";
import type { CreditsInput, FieldContext, FieldError, KeyField, KeyPatch, NewKeyInput } from "./fields";
import {
  CHOSEN_SUMMARY_FIELDS,
  CREATE_FIELDS,
  checkExpiry,
  checkName,
  checkOrgs,
  echoed,
  largestSummary,
  MAX_NAME_LENGTH,
  newRecord,
  ROTATE_FIELDS,
  UPDATE_FIELDS,
  validatedInput,
} from "./fields";
import { classifyKey, displayStart, isWellFormedKey, MAX_KEY_LENGTH, mintKey, randomBase62 } from "./format";
import { hashKey } from "./hash";
import type { LegacyAlgorithm } from "./legacy";
import { isOwnScheme, LEGACY_ALGORITHMS, legacyIdentity, legacyIdentityOf, parseLegacyHash } from "./legacy";
import type { KeyRecord, KeyStatus, TokenRole } from "./record";
import { ALL_ORGS, KEY_ID_RE, ORG_RE, TOKEN_ROLES } from "./record";
import type { KvLike } from "./store/kv";
import { KeyConflict, KV_LIST_MAX, KV_METADATA_MAX_BYTES, kvCall, kvKey } from "./store/kv";
import { createRecord, summaryBytes } from "./store/listings";
import { legacyDone, putMarker } from "./store/migration";

export type { CreditsInput, FieldError } from "./fields";

export type Validated<T> = Result<T, { errors: FieldError[] }>;

/** Longest rotation grace: 30 days. Longer overlaps defeat the point of rotating. */
export const MAX_GRACE_SECONDS = 30 * 86_400;
export const DEFAULT_PAGE_SIZE = 100;

type Body = Record<string, unknown>;

function asBody(input: unknown): Body | FieldError[] {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    return [{ field: "(body)", message: "must be a JSON object" }];
  return input as Body;
}

function unknownFields(o: Body, known: string[], errors: FieldError[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) errors.push({ field: echoed(k), message: "unknown field" });
}

/**
 * A key's listing summary lives in KV metadata (≤ 1 KiB): the fields the caller chooses
 * (name, orgs and scopes) must leave room for the others, at their largest (fields.ts).
 */
function checkSummarySize(chosen: Record<string, unknown>, errors: FieldError[]): void {
  const bytes = summaryBytes(largestSummary(chosen));
  if (bytes > KV_METADATA_MAX_BYTES) {
    const names = CHOSEN_SUMMARY_FIELDS;
    const listed =
      names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names.join("");
    const message = `${listed} together are too long: a key's listing entry must fit KV's ${KV_METADATA_MAX_BYTES}-byte metadata (this one needs ${bytes})`;
    for (const field of names) errors.push({ field, message });
  }
}

/** Check one field's input: `ok` and its value after `normalize`. */
function checked(
  spec: NonNullable<KeyField["create"] | KeyField["update"]>,
  v: unknown,
  errors: FieldError[],
  ctx: FieldContext,
): { ok: boolean; value: unknown } {
  if (!spec.check(v, errors, ctx)) return { ok: false, value: undefined };
  return { ok: true, value: spec.normalize ? spec.normalize(v) : v };
}

/**
 * Validate a new key's settings (JSON body or CLI flags): the fields fields.ts marks
 * `create`, in its order. Unknown fields are refused.
 */
export function validateNewKey(input: unknown, now: number, extraFields: string[] = []): Validated<NewKeyInput> {
  const o = asBody(input);
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, [...CREATE_FIELDS.map((f) => f.name), ...extraFields], errors);
  const ctx = { now };
  const value: Record<string, unknown> = {};
  let chosenOk = true;
  for (const f of CREATE_FIELDS) {
    const spec = f.create!;
    const given = spec.required || spec.default === undefined ? o[f.name] : (o[f.name] ?? spec.default);
    if (given === undefined && !spec.required) continue;
    const r = checked(spec, given, errors, ctx);
    if (!r.ok) {
      if (CHOSEN_SUMMARY_FIELDS.includes(f.name)) chosenOk = false;
    } else if (f.stored?.presence === "optional" ? r.value : true) value[f.name] = r.value;
  }
  if (chosenOk) checkSummarySize(value, errors);
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: validatedInput<NewKeyInput>(value) };
}

/** The fields fields.ts marks `update`, as PATCH names them, in its order. */
export const PATCH_FIELDS = UPDATE_FIELDS.map((f) => f.update!.as ?? f.name) as readonly (keyof KeyPatch)[];

/**
 * Validate a change to an existing key. At least one field; unknown fields are refused.
 * The size check needs the resulting name/orgs/scopes, so it takes the current record.
 */
export function validateKeyPatch(
  input: unknown,
  now: number,
  current: Readonly<Pick<KeyRecord, "name" | "orgs" | "scopes">>,
): Validated<KeyPatch> {
  const o = asBody(input);
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, [...PATCH_FIELDS], errors);
  const present = PATCH_FIELDS.filter((f) => o[f] !== undefined);
  if (present.length === 0 && errors.length === 0) {
    return {
      ok: false,
      errors: [{ field: "(body)", message: `must change at least one of ${PATCH_FIELDS.join(", ")}` }],
    };
  }
  const ctx = { now };
  const patch: Record<string, unknown> = {};
  for (const f of UPDATE_FIELDS) {
    const spec = f.update!;
    const name = spec.as ?? f.name;
    if (o[name] === undefined) continue;
    const r = checked(spec, o[name], errors, ctx);
    if (r.ok) patch[name] = r.value;
  }
  if (errors.length === 0) {
    const base: Readonly<Record<string, unknown>> = current;
    const chosen: Record<string, unknown> = {};
    for (const name of CHOSEN_SUMMARY_FIELDS) chosen[name] = patch[name] ?? base[name];
    checkSummarySize(chosen, errors);
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: validatedInput<KeyPatch>(patch) };
}

/**
 * Validate a rotation: `{grace_seconds?, …}`; grace a whole number of seconds, default 0
 * (the old key stops now); the fields fields.ts marks `rotate: "settable"` (credits), when
 * given, a new setting for the new key (else it inherits the old key's: credits then
 * share the old key's balance).
 */
export function validateRotation(input: unknown): Validated<{ grace_seconds: number; credits?: CreditsInput | null }> {
  const o = asBody(input ?? {});
  if (Array.isArray(o)) return { ok: false, errors: o };
  const errors: FieldError[] = [];
  unknownFields(o, ["grace_seconds", ...ROTATE_FIELDS.map((f) => f.name)], errors);
  const given: Record<string, unknown> = {};
  for (const f of ROTATE_FIELDS) {
    if (o[f.name] === undefined) continue;
    const r = checked(f.create!, o[f.name], errors, { now: 0 });
    if (r.ok) given[f.name] = o[f.name];
  }
  const grace = o.grace_seconds ?? 0;
  if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    errors.push({
      field: "grace_seconds",
      message: `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (30 days)`,
    });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { grace_seconds: grace as number, ...given } };
}

/** A page request: `limit` (1–1000, default 100) and an opaque `cursor` from the previous page. */
function checkPage(o: Body, errors: FieldError[]): { limit: number; cursor: string | null } {
  let limit = DEFAULT_PAGE_SIZE;
  const rawLimit = o.limit;
  if (rawLimit !== undefined) {
    const n =
      typeof rawLimit === "number"
        ? rawLimit
        : typeof rawLimit === "string" && /^\d{1,4}$/.test(rawLimit)
          ? Number(rawLimit)
          : NaN;
    if (!Number.isInteger(n) || n < 1 || n > KV_LIST_MAX)
      errors.push({ field: "limit", message: `must be a whole number from 1 to ${KV_LIST_MAX}` });
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
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org)))
    errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  const name = input.name ?? null;
  if (name !== null && (typeof name !== "string" || name === "" || name.length > MAX_NAME_LENGTH)) {
    errors.push({
      field: "name",
      message: `must be 1–${MAX_NAME_LENGTH} characters, matched anywhere in the name (case-insensitive)`,
    });
  }
  const prefix = input.prefix ?? null;
  if (prefix !== null && (typeof prefix !== "string" || prefix === "" || prefix.length > 64)) {
    errors.push({
      field: "prefix",
      message: "must be 1–64 characters: the start of the key (key_prefix, e.g. kg_AbCd)",
    });
  }
  const status = input.status ?? null;
  if (status !== null && !KEY_STATUSES.includes(status as KeyStatus))
    errors.push({ field: "status", message: `must be one of ${KEY_STATUSES.join(", ")}` });
  const page = checkPage(input, errors);
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      org: org as string | null,
      name: name as string | null,
      prefix: prefix as string | null,
      status: status as KeyStatus | null,
      ...page,
    },
  };
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
  if (keyId !== null && (typeof keyId !== "string" || !KEY_ID_RE.test(keyId)))
    errors.push({ field: "key_id", message: "must be a key id (key_…)" });
  const org = input.org ?? null;
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org)))
    errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  if (keyId !== null && org !== null && errors.length === 0)
    errors.push({ field: "org", message: "give key_id or org, not both" });
  const page = checkPage(input, errors);
  return errors.length
    ? { ok: false, errors }
    : { ok: true, value: { key_id: keyId as string | null, org: org as string | null, ...page } };
}

/** The longest `key_prefix` an import may give (a listing's summary reserves room for it). */
export const MAX_KEY_PREFIX_LENGTH = 20;

/** A validated import (validateImport): the new key's settings and what the client holds — its key, or a hash of it. */
export interface ImportSpec {
  input: NewKeyInput;
  source: { kind: "plaintext"; key: string } | { kind: "hash"; algorithm: LegacyAlgorithm; hex: string };
  /** What the old system showed of the key (the record's `start`); absent: keygate's own display start. */
  keyPrefix?: string;
}

/**
 * Validate one import: the new key's settings (validateNewKey), and exactly one of `key`
 * (the plaintext) and `hash` (keys/legacy.ts; hmac-sha256 only with LEGACY_HASH_PEPPER
 * set), with an optional `key_prefix` (1–20 key characters; with a plaintext key, a start
 * of it no longer than half of it). `settings` null: what can be checked without the gateway's
 * KEY_PREFIX and LEGACY_HASH_PEPPER (the keys CLI's check before it opens anything).
 */
export function validateImport(input: unknown, now: number, settings: KeySettings | null): Validated<ImportSpec> {
  const checked = validateNewKey(input, now, ["key", "hash", "key_prefix"]);
  const o = (typeof input === "object" && input !== null && !Array.isArray(input) ? input : {}) as Body;
  const errors: FieldError[] = checked.ok ? [] : [...checked.errors];
  let source: ImportSpec["source"] | null = null;
  if (o.key !== undefined && o.hash !== undefined) {
    errors.push({ field: "hash", message: "give key or hash, not both" });
  } else if (o.hash !== undefined) {
    const parsed = parseLegacyHash(o.hash);
    if (typeof parsed === "string") errors.push({ field: "hash", message: parsed });
    else if (parsed.algorithm === "hmac-sha256" && settings !== null && !settings.legacyPepper)
      errors.push({
        field: "hash",
        message: "is an hmac-sha256 digest, but LEGACY_HASH_PEPPER (the old system's pepper) is not set on the gateway",
      });
    else source = { kind: "hash", ...parsed };
  } else if (o.key === undefined) {
    errors.push({ field: "key", message: "is required: the existing plaintext key, or give its hash instead" });
  } else {
    const problem = importProblem(o.key, settings?.prefix ?? "");
    if (problem) errors.push({ field: "key", message: problem });
    else source = { kind: "plaintext", key: o.key as string };
  }
  const keyPrefix = o.key_prefix;
  if (keyPrefix !== undefined) {
    if (typeof keyPrefix !== "string" || keyPrefix.length > MAX_KEY_PREFIX_LENGTH || !isWellFormedKey(keyPrefix))
      errors.push({
        field: "key_prefix",
        message: `must be 1–${MAX_KEY_PREFIX_LENGTH} printable ASCII characters without spaces, commas or colons (what the old system showed, e.g. argus_ab)`,
      });
    else if (
      source?.kind === "plaintext" &&
      (!source.key.startsWith(keyPrefix) || keyPrefix.length * 2 > source.key.length)
    )
      errors.push({ field: "key_prefix", message: "must be the start of the key, at most half of it" });
    else if (source?.kind === "hash" && settings && settings.prefix !== "" && keyPrefix.startsWith(settings.prefix))
      errors.push({
        field: "key_prefix",
        message: `starts with KEY_PREFIX ("${settings.prefix}"): the gateway refuses such a key unless it minted it; give KEY_PREFIX another value`,
      });
  }
  if (!checked.ok || errors.length || source === null) return { ok: false, errors };
  return {
    ok: true,
    value: { input: checked.value, source, ...(typeof keyPrefix === "string" ? { keyPrefix } : {}) },
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

/** Key ids are fixed-length (store.ts relies on it to keep a key's listing entries adjacent). */
export function newKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export interface KeySettings {
  prefix: string;
  pepper?: string;
  /** LEGACY_HASH_PEPPER: the old system's pepper (hmac-sha256 imports need it). */
  legacyPepper?: string;
}

/**
 * Mint (or, with `importedKey`, import) a key and store its record. Returns the plaintext,
 * which the caller shows once and never stores. `extra` sets lifecycle fields of the new
 * record (a rotation's `replaces` and inherited `disabled` and `created_by`; an `id` reserved
 * beforehand; the `created_by` of a key a holder makes).
 */
export async function issueKey(
  kv: KvLike,
  settings: KeySettings,
  input: NewKeyInput,
  now: number,
  importedKey?: string,
  extra: Pick<Partial<KeyRecord>, "replaces" | "disabled" | "id" | "created_by"> = {},
): Promise<{ key: string; record: KeyRecord; hash: string }> {
  const key = importedKey ?? mintKey(settings.prefix);
  const id = extra.id ?? newKeyId();
  const record = newRecord(
    {
      v: 1,
      id,
      start: displayStart(key, settings.prefix),
      created_at: new Date(now).toISOString(),
      disabled: extra.disabled ?? false,
      revoked_at: null,
      replaces: extra.replaces,
      created_by: extra.created_by,
    },
    input,
    { now, id },
  );
  const hash = await hashKey(key, settings.pepper);
  await createRecord(kv, hash, record);
  return { key, record, hash };
}

/** A stored import: the record, its KV identity, and the legacy algorithm it waits under (null: in keygate's own index). */
export interface Imported {
  record: KeyRecord;
  hash: string;
  pending: LegacyAlgorithm | null;
}

/** An import refused because the key is already stored (a hash import: or was stored, and re-indexed since). */
export class AlreadyStored extends Error {
  override name = "AlreadyStored";
}

/**
 * The legacy algorithms a key imported by its hash may wait under that a plaintext's digest
 * can be computed for here (hmac-sha256 only with LEGACY_HASH_PEPPER), keygate's own scheme
 * excepted (such a hash is stored under keygate's own index).
 */
export function pendingAlgorithmsOf(settings: KeySettings): LegacyAlgorithm[] {
  return LEGACY_ALGORITHMS.filter(
    (a) => !isOwnScheme(a, settings) && (a !== "hmac-sha256" || settings.legacyPepper !== undefined),
  );
}

/**
 * Where an import lives in KV: `hash`, the record's identity (keygate's hash of the key, or
 * the hash's legacy identity while `pending`), and `aliases`: the other identities under
 * which the same key may already be stored — for a plaintext, its legacy identity under
 * every algorithm in pendingAlgorithmsOf (the same key imported earlier by its hash, waiting
 * for its first use, or revoked before it). A hash cannot name the key's other digests: an
 * import by hash has none.
 */
export async function importIdentity(
  settings: KeySettings,
  spec: ImportSpec,
): Promise<{
  hash: string;
  pending: LegacyAlgorithm | null;
  aliases: { algorithm: LegacyAlgorithm; identity: string }[];
}> {
  const src = spec.source;
  if (src.kind === "hash") {
    if (isOwnScheme(src.algorithm, settings)) return { hash: src.hex, pending: null, aliases: [] };
    return {
      hash: await legacyIdentity(src.algorithm, src.hex, settings.pepper),
      pending: src.algorithm,
      aliases: [],
    };
  }
  const aliases: { algorithm: LegacyAlgorithm; identity: string }[] = [];
  for (const algorithm of pendingAlgorithmsOf(settings)) {
    const identity = await legacyIdentityOf(src.key, algorithm, settings);
    if (identity !== null) aliases.push({ algorithm, identity });
  }
  return { hash: await hashKey(src.key, settings.pepper), pending: null, aliases };
}

/**
 * Store a validated import: its record under keygate's hash of the key (a plaintext, or a
 * digest that already is keygate's own: keys/legacy.ts isOwnScheme), or under the hash's
 * legacy identity until the key's first use (`legacy` set); its listing entries; its
 * marker (keys/store/migration.ts). Refuses (AlreadyStored) a key already stored, a legacy
 * identity already re-indexed, or a plaintext whose key is already stored by its hash
 * (pending, disabled or revoked: storing it again would give the key a second record that
 * keygate's own index finds first — another org's, or a revoked key working again).
 * No audit and no publication: the caller's.
 */
export async function storeImport(kv: KvLike, settings: KeySettings, spec: ImportSpec, now: number): Promise<Imported> {
  const src = spec.source;
  const id = newKeyId();
  const { hash, pending, aliases } = await importIdentity(settings, spec);
  const start =
    src.kind === "plaintext" ? (spec.keyPrefix ?? displayStart(src.key, settings.prefix)) : (spec.keyPrefix ?? "");
  if (pending && (await legacyDone(kv, hash))) throw new AlreadyStored("this key was imported and has been used since");
  for (const alias of aliases)
    if ((await kvCall("get", () => kv.get(kvKey.record(alias.identity), { type: "json" }))) !== null)
      throw new AlreadyStored(`this key is already stored, imported by its ${alias.algorithm} hash`);
  const record = newRecord(
    {
      v: 1,
      id,
      start,
      created_at: new Date(now).toISOString(),
      disabled: false,
      revoked_at: null,
      ...(pending ? { legacy: pending } : {}),
    },
    spec.input,
    { now, id },
  );
  try {
    await createRecord(kv, hash, record);
  } catch (err) {
    if (err instanceof KeyConflict) throw new AlreadyStored("this key is already stored");
    throw err;
  }
  await putMarker(kv, id, {
    state: pending ? "pending" : "migrated",
    from: src.kind === "plaintext" ? "plaintext" : src.algorithm,
    orgs: record.orgs,
  });
  return { record, hash, pending };
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
  if (o.name === undefined || o.name === "")
    errors.push({ field: "name", message: "is required: what the token is for" });
  else checkName(o.name, errors);
  const allOrgs = Array.isArray(o.orgs) && o.orgs.length === 1 && o.orgs[0] === ALL_ORGS;
  if (!allOrgs && !(Array.isArray(o.orgs) && o.orgs.includes(ALL_ORGS))) checkOrgs(o.orgs, errors);
  else if (!allOrgs) errors.push({ field: "orgs", message: `"${ALL_ORGS}" (every org) must be the only entry` });
  if (!TOKEN_ROLES.includes(o.role as TokenRole))
    errors.push({ field: "role", message: `must be one of ${TOKEN_ROLES.join(", ")}` });
  const expires = o.expires_at ?? null;
  checkExpiry(expires, now, true, errors);
  if (errors.length === 0) {
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        v: 1,
        id: "tok_" + "x".repeat(20),
        name: o.name,
        orgs: o.orgs,
        role: "write",
        start: "x".repeat(20),
        created_at: "2000-01-01T00:00:00.000Z",
        expires_at: "2000-01-01T00:00:00.000Z",
        revoked_at: "2000-01-01T00:00:00.000Z",
      }),
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
export function validateTokenQuery(
  input: Record<string, unknown>,
): Validated<{ limit: number; cursor: string | null }> {
  const errors: FieldError[] = [];
  unknownFields(input, ["limit", "cursor"], errors);
  const page = checkPage(input, errors);
  return errors.length ? { ok: false, errors } : { ok: true, value: page };
}
