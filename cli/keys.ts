/**
 * keygate keys CLI: `npm run keys -- <verb> [flags]`.
 *
 * Two backends, one code path per operation:
 * - local (default): the lifecycle functions (src/keys/lifecycle.ts) on the same local
 *   state `wrangler dev` reads (`.wrangler/state`, or --persist-to, exactly as
 *   `wrangler dev --persist-to`), through wrangler's getPlatformProxy(). KEY_PREFIX and
 *   KEY_PEPPER come from wrangler.toml and .dev.vars, as for the gateway. Audit records
 *   say who: "cli".
 * - remote (--url URL): the admin API of a running or deployed gateway, with the token
 *   from KEYGATE_ADMIN_TOKEN. The gateway runs the same lifecycle functions.
 * Each verb builds the admin API's JSON body (or query) from its flags and hands it to the
 * backend, so both refuse the same inputs; --json prints exactly the API's answer.
 *
 * Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import type { FieldError, KeySettings } from "../src/keys/issue";
import type { KeyView, LifecycleContext, Outcome } from "../src/keys/lifecycle";
import { auditEvents, createKey, importKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../src/keys/lifecycle";
import type { AuditEvent, KvLike } from "../src/keys/store";
import { DEFAULTS, settingsFrom } from "../src/config/variables";
import { openLocalPlatform } from "../scripts/local-platform";
import { localFeed } from "./feed";
import type { OrgBackend } from "./limits";
import { LIMIT_FLAG_OF, LIMIT_FLAGS, limitFields, LimitUsageError, ORGS_FLAGS, orgsPlan, rateLimitOf, ROTATE_LIMIT_FLAGS } from "./limits";
import { setOrg, showOrg } from "../src/orgs/settings";
import type { UsageBackend } from "./usage";
import { localUsage, USAGE_FLAGS, usageHuman, usageQuery } from "./usage";

export class UsageError extends Error {}
export class Refused extends Error {}

const USAGE = `Usage: npm run keys -- <verb> [flags]

Verbs:
  create  --org ORG [--org ORG2 …] [--name NAME] [--scopes a,b] [--expires ISO-8601] [--meta k=v …]
          [--rate-limit LIMIT/PERIOD]   e.g. 100/60s, 1000/1h (per key, global, exact)
          [--credits N [--refill N/day|N/month]] [--allow-ip CIDR …]
  import  --key PLAINTEXT --org ORG [same flags as create]
  list    [--org ORG] [--name TEXT] [--prefix KEY_PREFIX] [--status STATUS] [--limit N] [--cursor CURSOR]
  tokens  create|list|revoke …         scoped admin tokens (npm run keys -- tokens --help)
  show    KEY_ID
  revoke  KEY_ID
  rotate  KEY_ID [--grace-seconds N]      the old key keeps working N seconds (default 0: stops now)
          [--credits N [--refill N/day]]  a new balance for the new key (default: it shares the old one's)
  update  KEY_ID [--name NAME] [--org ORG …] [--scopes a,b] [--expires ISO-8601|now|never] [--enable|--disable]
          [--rate-limit LIMIT/PERIOD|none] [--credits N|none [--refill N/day]] [--allow-ip CIDR … | --allow-ip none]
  audit   [--id KEY_ID | --org ORG] [--limit N] [--cursor CURSOR]
  orgs    set --org ORG --rate-limit LIMIT/PERIOD|none   one limit shared by every key of the org
  orgs    show --org ORG
  usage   --org ORG [--key KEY_ID] [--since 1h|7d|…] [--granularity minute|hour|day]   requests, forwarded, rejected

Common flags:
  --json               print the admin API's JSON answer (one line) instead of a table
  --url URL            act on a running or deployed gateway through its admin API; the token is read
                       from KEYGATE_ADMIN_TOKEN. URL is the gateway (its ADMIN_PREFIX assumed /_keygate)
                       or the full admin prefix (https://gw.example.com/ops-admin)
  --persist-to DIR     local state folder, as given to \`wrangler dev --persist-to\` (default .wrangler/state)
  --config FILE        wrangler configuration (default wrangler.toml)
  --env NAME           wrangler environment

Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
`;

const COMMON = {
  json: { type: "boolean", default: false },
  url: { type: "string" },
  "persist-to": { type: "string" },
  config: { type: "string" },
  env: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

const KEY_FLAGS = {
  org: { type: "string", multiple: true },
  name: { type: "string" },
  scopes: { type: "string" },
  expires: { type: "string" },
  meta: { type: "string", multiple: true },
  "rate-limit": { type: "string" },
  ...LIMIT_FLAGS,
} as const satisfies ParseArgsConfig["options"];

const PAGE_FLAGS = {
  limit: { type: "string" },
  cursor: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

type Values = Record<string, string | boolean | string[] | undefined>;
type Json = Record<string, unknown>;

/** The operations, whichever side runs them. */
interface Backend extends OrgBackend, UsageBackend {
  create(body: Json): Promise<Outcome<Json>>;
  import(body: Json): Promise<Outcome<Json>>;
  list(query: Json): Promise<Outcome<Json>>;
  show(id: string): Promise<Outcome<Json>>;
  update(id: string, body: Json): Promise<Outcome<Json>>;
  revoke(id: string): Promise<Outcome<Json>>;
  rotate(id: string, body: Json): Promise<Outcome<Json>>;
  audit(query: Json): Promise<Outcome<Json>>;
  close(): Promise<void>;
}

// ---- local backend: lifecycle functions on wrangler's local state ----

async function localBackend(values: Values): Promise<Backend> {
  const proxy = await openLocalPlatform({
    configPath: values.config as string | undefined,
    environment: values.env as string | undefined,
    persistTo: values["persist-to"] as string | undefined,
  });
  const kv = proxy.env.KEYS as KvLike | undefined;
  if (!kv) {
    await proxy.dispose();
    throw new Refused("no KEYS KV namespace binding in the wrangler configuration");
  }
  let settings: KeySettings;
  try {
    settings = settingsFrom(proxy.env).key; // KEY_PREFIX and KEY_PEPPER, read and checked as the gateway does
  } catch (err) {
    await proxy.dispose();
    throw new Refused(`${(err as Error).message} (wrangler configuration)`);
  }
  // A running `wrangler dev` learns of each change from the revocation feed (cli/feed.ts).
  const feed = localFeed((values.config as string | undefined) ?? "wrangler.toml", values.env as string | undefined);
  const ctx = (): LifecycleContext => ({ kv, settings, actor: "cli", now: Date.now(), publish: feed.publish });
  const json = <T>(p: Promise<Outcome<T>>) => p as unknown as Promise<Outcome<Json>>;
  return {
    create: (body) => json(createKey(ctx(), body)),
    import: (body) => json(importKey(ctx(), body)),
    list: (query) => json(listKeys(ctx(), query)),
    show: (id) => json(showKey(ctx(), id)),
    update: (id, body) => json(updateKey(ctx(), id, body)),
    revoke: (id) => json(revokeKey(ctx(), id)),
    rotate: (id, body) => json(rotateKey(ctx(), id, body)),
    audit: (query) => json(auditEvents(ctx(), query)),
    orgShow: (org) => json(showOrg({ kv, now: Date.now() }, org)),
    orgSet: (org, body) => json(setOrg({ kv, now: Date.now(), publish: feed.publishOrg }, org, body)),
    usage: (query) => localUsage(feed, query),
    close: async () => {
      await feed.close();
      await proxy.dispose();
    },
  };
}

// ---- remote backend: the admin API ----

/** The admin API's base URL: the gateway's URL plus /_keygate, or the URL given when it has a path. */
export function adminBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: "${url}" is not an absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError("--url: must be http:// or https://");
  if (parsed.search || parsed.hash) throw new UsageError("--url: must not have a query or fragment");
  const path = parsed.pathname.replace(/\/+$/, "");
  return parsed.origin + (path === "" ? DEFAULTS.ADMIN_PREFIX : path);
}

function remoteBackend(url: string, token: string): Backend {
  const base = adminBase(url);
  async function call(method: string, path: string, body?: Json): Promise<Outcome<Json>> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        redirect: "manual",
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new Refused(`cannot reach ${base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      /* not JSON: described below */
    }
    if (res.ok) return { ok: true, value: parsed };
    const detail = typeof parsed.detail === "string" ? parsed.detail : text.slice(0, 200);
    if (res.status === 400 && Array.isArray(parsed.errors)) return { ok: false, error: "invalid", errors: parsed.errors as FieldError[] };
    if (res.status === 401) throw new Refused(`the gateway refused the admin token (401): check KEYGATE_ADMIN_TOKEN`);
    if (res.status === 404) {
      // The gateway answers 404 for the whole prefix when its admin API is off.
      const why = path.startsWith("/keys/") && method !== "POST" ? "" : " (is the admin API on? set the ADMIN_TOKEN secret on the gateway; is --url right?)";
      return { ok: false, error: "not_found", message: `not found${why}` };
    }
    if (res.status === 409) return { ok: false, error: "conflict", message: detail };
    throw new Refused(`the gateway answered ${res.status}: ${detail}`);
  }
  const q = (query: Json) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const s = params.toString();
    return s ? `?${s}` : "";
  };
  const id = (key: string) => encodeURIComponent(key);
  return {
    create: (body) => call("POST", "/keys", body),
    import: (body) => call("POST", "/keys/import", body),
    list: (query) => call("GET", `/keys${q(query)}`),
    show: (key) => call("GET", `/keys/${id(key)}`),
    update: (key, body) => call("PATCH", `/keys/${id(key)}`, body),
    revoke: (key) => call("DELETE", `/keys/${id(key)}`),
    rotate: (key, body) => call("POST", `/keys/${id(key)}/rotate`, body),
    audit: (query) => call("GET", `/audit${q(query)}`),
    orgShow: (org) => call("GET", `/orgs/${encodeURIComponent(org)}`),
    orgSet: (org, body) => call("PUT", `/orgs/${encodeURIComponent(org)}`, body),
    usage: (query) => call("GET", `/usage${q(query)}`),
    close: async () => {},
  };
}

async function openBackend(values: Values): Promise<Backend> {
  if (values.url === undefined) return localBackend(values);
  for (const local of ["persist-to", "config", "env"]) {
    if (values[local] !== undefined) throw new UsageError(`--${local} is for local state; it cannot be combined with --url`);
  }
  const token = process.env.KEYGATE_ADMIN_TOKEN;
  if (!token) throw new UsageError("--url needs the gateway's admin token in the KEYGATE_ADMIN_TOKEN environment variable");
  return remoteBackend(values.url as string, token);
}

// ---- flags → API bodies ----

const FLAG_OF: Record<string, string> = {
  orgs: "--org",
  expires_at: "--expires",
  grace_seconds: "--grace-seconds",
  key_id: "--id",
  enabled: "--enable/--disable",
  rate_limit: "--rate-limit",
  ...LIMIT_FLAG_OF,
};

function flagOf(field: string): string {
  return field.startsWith("(") ? field : (FLAG_OF[field] ?? `--${field}`);
}

/**
 * The admin API's field errors speak JSON ("array", "null", {"limit": …}); the CLI's user
 * typed flags. Each message is reworded for the flag it came from; the rest keep the API's
 * wording, which names no JSON type.
 */
const FLAG_MESSAGES: [field: string, api: RegExp, cli: string][] = [
  ["orgs", /non-empty array of at most (\d+) org slugs (\(.*\))/, "--org: give 1 to $1 org slugs $2; repeat --org for more"],
  ["scopes", /array of at most (\d+) scopes (\(.*\))/, "--scopes: a comma-separated list of at most $1 scopes $2"],
  ["expires_at", /^must be a real calendar date-time in RFC 3339 \/ ISO 8601 form with a zone (\(.*?\)), or null$/, "--expires: must be a real calendar date-time in ISO 8601 form with a zone $1, now or never"],
  ["rate_limit", /"limit": 1–(\d+), "period_seconds": 1–(\d+)/, "--rate-limit: LIMIT/PERIOD with LIMIT from 1 to $1 and PERIOD from 1 s to $2 s (e.g. 100/60s, 1000/1h), or none"],
  ["meta", /at most (\d+) string values/, "--meta: at most $1 KEY=VALUE pairs"],
  ["(body)", /must change at least one of/, "nothing to change: give at least one of --name, --org, --scopes, --expires, --enable/--disable, --rate-limit"],
];

function flagMessage(e: FieldError): string {
  for (const [field, api, cli] of FLAG_MESSAGES) {
    const m = e.field === field ? api.exec(e.message) : null;
    if (m) return cli.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? "");
  }
  if (e.message.startsWith("name, orgs and scopes together")) return `--name, --org and --scopes together are too long${e.message.slice(e.message.indexOf(":"))}`;
  return `${flagOf(e.field)}: ${e.message}`;
}

/** node:util parseArgs' messages, shortened to one line that names the flag. */
function parseArgsMessage(err: Error & { code?: string }, verb: string): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `unknown flag ${flag} for "${verb}"`;
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) return `${flag} needs a value`;
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `"${verb}" takes no positional argument (${/'([^']*)'/.exec(err.message)?.[1] ?? "?"})`;
  return err.message.split("\n")[0]!;
}

/** A usage error: one line per problem, then where to read the usage (never the whole of it). */
function usageError(message: string): string {
  return message.split("\n").map((line) => `error: ${line}\n`).join("") + "see `npm run keys -- --help`\n";
}

function scopesOf(raw: string): string[] {
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}

function metaOf(raw: string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of raw) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--meta: "${pair}" is not KEY=VALUE`);
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return meta;
}

/** "now" and "never" are CLI conveniences; anything else goes to validation as given. */
function expiresOf(raw: string): string | null {
  if (raw === "never") return null;
  if (raw === "now") return new Date().toISOString();
  return raw;
}

function newKeyBody(values: Values): Json {
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

function pageQuery(values: Values): Json {
  return {
    ...(values.limit !== undefined ? { limit: values.limit } : {}),
    ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
  };
}

function oneId(positionals: string[], verb: string): string {
  if (positionals.length !== 1) throw new UsageError(`${verb} needs exactly one KEY_ID (e.g. npm run keys -- ${verb} key_…)`);
  return positionals[0]!;
}

// ---- output ----

function isoShort(iso: string | null | undefined, none = "never"): string {
  return iso ? iso.replace(/\.\d{3}Z$/, "Z") : none;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}

function describe(k: KeyView): string {
  const lines = [
    `${k.id}${k.name ? ` ("${k.name}")` : ""}`,
    `  status:     ${k.status}`,
    `  prefix:     ${k.key_prefix}`,
    `  orgs:       ${k.orgs.join(", ")}`,
    `  scopes:     ${k.scopes.length ? k.scopes.join(", ") : "(none)"}`,
    `  created:    ${isoShort(k.created_at)}`,
    `  expires:    ${isoShort(k.expires_at)}`,
    `  last used:  ${isoShort(k.last_used_at)}`,
    `  rate limit: ${k.rate_limit ? `${k.rate_limit.limit} requests per ${k.rate_limit.period_seconds} s` : "none"}`,
  ];
  if (k.revoked_at) lines.push(`  revoked:    ${isoShort(k.revoked_at)}`);
  if (k.replaced_by) lines.push(`  rotated:    ${isoShort(k.rotated_at)}, replaced by ${k.replaced_by}`);
  if (k.replaces) lines.push(`  replaces:   ${k.replaces}`);
  if (k.meta && Object.keys(k.meta).length) lines.push(`  meta:       ${Object.entries(k.meta).map(([a, b]) => `${a}=${b}`).join(", ")}`);
  return lines.join("\n");
}

function showOnce(key: string): string {
  return `\n  ${key}\n\nThis is the only time the key is shown: store it now.`;
}

function keyTable(keys: KeyView[]): string {
  if (keys.length === 0) return "(no keys)";
  return table([
    ["ID", "NAME", "PREFIX", "STATUS", "SCOPES", "CREATED", "LAST USED", "EXPIRES"],
    ...keys.map((k) => [k.id, k.name || "-", k.key_prefix, k.status, k.scopes.join(",") || "-", isoShort(k.created_at), isoShort(k.last_used_at), isoShort(k.expires_at)]),
  ]);
}

function auditTable(events: AuditEvent[]): string {
  if (events.length === 0) return "(no events)";
  const details = (e: AuditEvent) => {
    if (e.action === "rotate") return `new key ${e.new_key_id}, grace ${e.grace_seconds ?? 0} s`;
    if (e.changes) return Object.entries(e.changes).map(([f, c]) => `${f}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`).join("; ");
    return "";
  };
  return table([["AT", "ACTOR", "ACTION", "KEY", "DETAILS"], ...events.map((e) => [isoShort(e.at), e.actor, e.action, e.key_id ?? e.token_id ?? "-", details(e)])]);
}

function nextPage(cursor: unknown, command: string): string {
  return typeof cursor === "string" ? `\n\nMore: npm run keys -- ${command} --cursor '${cursor}'` : "";
}

// ---- verbs ----

interface Parsed {
  values: Values;
  positionals: string[];
}

/** What a verb will do: built from the flags alone, so bad usage fails before any state is opened. */
interface Plan {
  call(backend: Backend): Promise<Outcome<Json>>;
  human(value: Json): string;
}

interface VerbSpec {
  options: ParseArgsConfig["options"];
  positionals: boolean;
  plan(p: Parsed): Plan;
}

const VERBS: Record<string, VerbSpec> = {
  usage: {
    options: USAGE_FLAGS,
    positionals: false,
    plan({ values }) {
      const query = usageQuery(values);
      return { call: (b) => b.usage(query), human: usageHuman };
    },
  },
  orgs: {
    options: ORGS_FLAGS,
    positionals: true,
    plan: ({ values, positionals }) => orgsPlan(values, positionals),
  },
  create: {
    options: KEY_FLAGS,
    positionals: false,
    plan({ values }) {
      const body = newKeyBody(values);
      return {
        call: (b) => b.create(body),
        human: (v) => `Created key ${v.id}${v.name ? ` ("${v.name}")` : ""} for ${(v.orgs as string[]).join(", ")}\n${describe(v as unknown as KeyView).split("\n").slice(1).join("\n")}\n${showOnce(v.key as string)}`,
      };
    },
  },
  import: {
    options: { ...KEY_FLAGS, key: { type: "string" } },
    positionals: false,
    plan({ values }) {
      if (values.key === undefined) throw new UsageError("--key is required: the existing plaintext key to import");
      const body = { key: values.key, ...newKeyBody(values) };
      return { call: (b) => b.import(body), human: (v) => `Imported ${describe(v as unknown as KeyView)}` };
    },
  },
  list: {
    options: { ...PAGE_FLAGS, org: { type: "string" }, name: { type: "string" }, prefix: { type: "string" }, status: { type: "string" } },
    positionals: false,
    plan({ values }) {
      const filters = (["org", "name", "prefix", "status"] as const).filter((f) => values[f] !== undefined);
      const query = { ...Object.fromEntries(filters.map((f) => [f, values[f]])), ...pageQuery(values) };
      return {
        call: (b) => b.list(query),
        human: (v) => keyTable(v.keys as KeyView[]) + nextPage(v.cursor, `list${filters.map((f) => ` --${f} '${values[f]}'`).join("")}${values.limit ? ` --limit ${values.limit}` : ""}`),
      };
    },
  },
  show: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "show");
      return { call: (b) => b.show(id), human: (v) => describe(v as unknown as KeyView) };
    },
  },
  revoke: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "revoke");
      return { call: (b) => b.revoke(id), human: (v) => `Revoked ${describe(v as unknown as KeyView)}` };
    },
  },
  rotate: {
    options: { "grace-seconds": { type: "string" }, ...ROTATE_LIMIT_FLAGS },
    positionals: true,
    plan({ values, positionals }) {
      const id = oneId(positionals, "rotate");
      const raw = values["grace-seconds"] as string | undefined;
      const body = { ...(raw === undefined ? {} : { grace_seconds: /^\d+$/.test(raw) ? Number(raw) : raw }), ...limitFields(values) };
      return {
        call: (b) => b.rotate(id, body),
        human: (v) => {
          const previous = v.previous as KeyView;
          const stops = previous.status === "rotated" ? "stopped working now" : `keeps working until ${isoShort(previous.expires_at)}`;
          return `Rotated ${previous.id}: it ${stops}.\nNew key ${describe(v as unknown as KeyView)}\n${showOnce(v.key as string)}`;
        },
      };
    },
  },
  update: {
    options: { ...KEY_FLAGS, enable: { type: "boolean" }, disable: { type: "boolean" } },
    positionals: true,
    plan({ values, positionals }) {
      const id = oneId(positionals, "update");
      if (values.enable && values.disable) throw new UsageError("--enable and --disable are exclusive");
      if (values.meta !== undefined) throw new UsageError("--meta cannot be changed after creation");
      const body: Json = {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.org !== undefined ? { orgs: values.org } : {}),
        ...(values.scopes !== undefined ? { scopes: scopesOf(values.scopes as string) } : {}),
        ...(values.expires !== undefined ? { expires_at: expiresOf(values.expires as string) } : {}),
        ...(values.enable ? { enabled: true } : values.disable ? { enabled: false } : {}),
        ...(values["rate-limit"] !== undefined ? { rate_limit: rateLimitOf(values["rate-limit"] as string) } : {}),
        ...limitFields(values),
      };
      return { call: (b) => b.update(id, body), human: (v) => `Updated ${describe(v as unknown as KeyView)}` };
    },
  },
  audit: {
    options: { ...PAGE_FLAGS, id: { type: "string" }, org: { type: "string" } },
    positionals: false,
    plan({ values }) {
      const query = { ...(values.id !== undefined ? { key_id: values.id } : {}), ...(values.org !== undefined ? { org: values.org } : {}), ...pageQuery(values) };
      return {
        call: (b) => b.audit(query),
        human: (v) => auditTable(v.events as AuditEvent[]) + nextPage(v.cursor, `audit${values.id ? ` --id ${values.id}` : ""}`),
      };
    },
  },
};

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === "tokens") return (await import("./tokens")).tokensMain(rest);
  if (!verb || verb === "help" || verb === "--help" || verb === "-h") {
    // No verb at all is bad usage: the usage goes to stderr, stdout stays empty.
    (verb ? process.stdout : process.stderr).write(USAGE);
    return verb ? 0 : 2;
  }
  const spec = VERBS[verb];
  if (!spec) {
    process.stderr.write(usageError(`unknown verb "${verb}": expected one of ${Object.keys(VERBS).join(", ")}`));
    return 2;
  }
  let backend: Backend | undefined;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...spec.options }, allowPositionals: spec.positionals, strict: true });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const plan = spec.plan({ values: values as Values, positionals });
    backend = await openBackend(values as Values);
    const outcome = await plan.call(backend);
    if (!outcome.ok) {
      if (outcome.error === "invalid") throw new UsageError([...new Set(outcome.errors.map(flagMessage))].join("\n"));
      throw new Refused(outcome.message);
    }
    process.stdout.write((values.json ? JSON.stringify(outcome.value) : plan.human(outcome.value)) + "\n");
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof LimitUsageError) {
      process.stderr.write(usageError(err.message));
      return 2;
    }
    if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(usageError(parseArgsMessage(err as Error, verb)));
      return 2;
    }
    if (err instanceof Refused) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await backend?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
