/**
 * The key verbs: create, import, list, show, revoke, rotate, update, audit. Each builds the
 * admin API's body (or query) from its flags; the backend runs it.
 */
import type { KeyView } from "../../src/keys/fields";
import {
  validateAuditQuery,
  validateImport,
  validateKeyPatch,
  validateListQuery,
  validateNewKey,
  validateRotation,
} from "../../src/keys/issue";
import type { AuditEvent } from "../../src/keys/store/audit";
import type { Json, Options, Values } from "../args";
import {
  expiresOf,
  limitFields,
  metaOf,
  oneId,
  precheck,
  rateLimitOf,
  repeatFlags,
  scopesOf,
  UsageError,
} from "../args";
import { auditTable, created, describeKey, keyTable, nextPage, rotated } from "../render";
import type { Verb } from "../run";
import { bulkImportPlan } from "./migration";

/** --credits, --refill, --allow-ip (docs/limits.md). */
export const LIMIT_FLAGS = {
  credits: { type: "string" },
  refill: { type: "string" },
  "allow-ip": { type: "string", multiple: true },
} as const satisfies Options;

const KEY_FLAGS = {
  org: { type: "string", multiple: true },
  name: { type: "string" },
  scopes: { type: "string" },
  expires: { type: "string" },
  meta: { type: "string", multiple: true },
  "rate-limit": { type: "string" },
  ...LIMIT_FLAGS,
} as const satisfies Options;

const PAGE_FLAGS = {
  limit: { type: "string" },
  cursor: { type: "string" },
} as const satisfies Options;

/** The body of create and import. */
export function newKeyBody(values: Values): Json {
  return {
    ...(values.name !== undefined ? { name: values.name } : {}),
    orgs: (values.org as string[] | undefined) ?? [],
    ...(values.scopes !== undefined ? { scopes: scopesOf(values.scopes as string) } : {}),
    ...(values.expires !== undefined ? { expires_at: expiresOf(values.expires as string) } : {}),
    ...(values.meta !== undefined ? { meta: metaOf(values.meta as string[]) } : {}),
    ...(values["rate-limit"] !== undefined ? { rate_limit: rateLimitOf(values["rate-limit"] as string) } : {}),
    ...limitFields(values),
  };
}

/** The body of update: only the fields given. */
export function updateBody(values: Values): Json {
  if (values.enable && values.disable) throw new UsageError("--enable and --disable are exclusive");
  if (values.meta !== undefined) throw new UsageError("--meta cannot be changed after creation");
  return {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.org !== undefined ? { orgs: values.org } : {}),
    ...(values.scopes !== undefined ? { scopes: scopesOf(values.scopes as string) } : {}),
    ...(values.expires !== undefined ? { expires_at: expiresOf(values.expires as string) } : {}),
    ...(values.enable ? { enabled: true } : values.disable ? { enabled: false } : {}),
    ...(values["rate-limit"] !== undefined ? { rate_limit: rateLimitOf(values["rate-limit"] as string) } : {}),
    ...limitFields(values),
  };
}

function pageQuery(values: Values): Json {
  return {
    ...(values.limit !== undefined ? { limit: values.limit } : {}),
    ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
  };
}

const asKey = (v: Json) => v as unknown as KeyView;

export const KEY_VERBS: Record<string, Verb> = {
  create: {
    options: KEY_FLAGS,
    positionals: false,
    plan({ values }) {
      const body = newKeyBody(values);
      precheck(validateNewKey(body, Date.now()));
      return { call: (b) => b.create(body), human: created };
    },
  },
  import: {
    options: {
      ...KEY_FLAGS,
      key: { type: "string" },
      hash: { type: "string" },
      "key-prefix": { type: "string" },
      file: { type: "string" },
    },
    positionals: false,
    plan({ values }) {
      // Many keys, one JSON object per line (cli/verbs/migration.ts).
      if (values.file !== undefined) return bulkImportPlan(values);
      if (values.key !== undefined && values.hash !== undefined) throw new UsageError("give --key or --hash, not both");
      if (values.key === undefined && values.hash === undefined)
        throw new UsageError(
          "--key is required: the existing plaintext key to import (or --hash ALGORITHM:DIGEST, or --file keys.jsonl)",
        );
      const body = {
        ...(values.key !== undefined ? { key: values.key } : { hash: values.hash }),
        ...(values["key-prefix"] !== undefined ? { key_prefix: values["key-prefix"] } : {}),
        ...newKeyBody(values),
      };
      // What depends on the gateway's KEY_PREFIX and LEGACY_HASH_PEPPER is checked by the backend.
      precheck(validateImport(body, Date.now(), null));
      return { call: (b) => b.import(body), human: (v) => `Imported ${describeKey(asKey(v))}` };
    },
  },
  list: {
    options: {
      ...PAGE_FLAGS,
      org: { type: "string" },
      name: { type: "string" },
      prefix: { type: "string" },
      status: { type: "string" },
    },
    positionals: false,
    plan({ values }) {
      const filters = (["org", "name", "prefix", "status"] as const).filter((f) => values[f] !== undefined);
      const query = { ...Object.fromEntries(filters.map((f) => [f, values[f]])), ...pageQuery(values) };
      precheck(validateListQuery(query));
      return {
        call: (b) => b.list(query),
        human: (v) => keyTable(v.keys as KeyView[]) + nextPage(v.cursor, `list ${repeatFlags(values)}`.trimEnd()),
      };
    },
  },
  show: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "show");
      return { call: (b) => b.show(id), human: (v) => describeKey(asKey(v)) };
    },
  },
  revoke: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "revoke");
      return { call: (b) => b.revoke(id), human: (v) => `Revoked ${describeKey(asKey(v))}` };
    },
  },
  rotate: {
    options: { "grace-seconds": { type: "string" }, credits: LIMIT_FLAGS.credits, refill: LIMIT_FLAGS.refill },
    positionals: true,
    plan({ values, positionals }) {
      const id = oneId(positionals, "rotate");
      const raw = values["grace-seconds"] as string | undefined;
      const body = {
        ...(raw === undefined ? {} : { grace_seconds: /^\d+$/.test(raw) ? Number(raw) : raw }),
        ...limitFields(values),
      };
      precheck(validateRotation(body));
      return { call: (b) => b.rotate(id, body), human: rotated };
    },
  },
  update: {
    options: { ...KEY_FLAGS, enable: { type: "boolean" }, disable: { type: "boolean" } },
    positionals: true,
    plan({ values, positionals }) {
      const id = oneId(positionals, "update");
      const body = updateBody(values);
      // The key's current name, orgs and scopes are the backend's: only the size check needs them.
      precheck(validateKeyPatch(body, Date.now(), { name: "", orgs: [], scopes: [] }));
      return { call: (b) => b.update(id, body), human: (v) => `Updated ${describeKey(asKey(v))}` };
    },
  },
  audit: {
    options: { ...PAGE_FLAGS, id: { type: "string" }, org: { type: "string" } },
    positionals: false,
    plan({ values }) {
      const query = {
        ...(values.id !== undefined ? { key_id: values.id } : {}),
        ...(values.org !== undefined ? { org: values.org } : {}),
        ...pageQuery(values),
      };
      precheck(validateAuditQuery(query));
      return {
        call: (b) => b.audit(query),
        human: (v) =>
          auditTable(v.events as AuditEvent[]) + nextPage(v.cursor, `audit ${repeatFlags(values)}`.trimEnd()),
      };
    },
  },
};
