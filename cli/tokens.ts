/**
 * `npm run keys -- tokens <create|list|revoke> [flags]`: scoped admin tokens (see
 * docs/admin-tokens.md), reached through cli/keys.ts.
 *
 * The same two backends as the key verbs: local state (the token operations of
 * src/keys/token.ts on what `wrangler dev` reads; audit actor "cli") or, with --url, the
 * admin API of a running gateway with the root token from KEYGATE_ADMIN_TOKEN (only the
 * root ADMIN_TOKEN may manage tokens). --json prints exactly the API's answer.
 *
 * Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
 */
import { parseArgs } from "node:util";
import type { FieldError, KeySettings } from "../src/keys/issue";
import type { LifecycleContext, Outcome } from "../src/keys/lifecycle";
import type { KvLike } from "../src/keys/store";
import type { IssuedTokenView, TokenView } from "../src/keys/token";
import { createToken, listTokens, revokeToken } from "../src/keys/token";
import { DEFAULTS, settingsFrom } from "../src/config/variables";
import { openLocalPlatform } from "../scripts/local-platform";

const USAGE = `Usage: npm run keys -- tokens <verb> [flags]

Scoped admin tokens: an admin token limited to some orgs and a role, for a backend that
manages its customers' keys. Only the root ADMIN_TOKEN may create, list or revoke them.

Verbs:
  create  --name NAME --org ORG [--org ORG2 …] --role read|write [--expires ISO-8601]
          --org '*' for every org. read: GET requests only; write: every key operation.
  list
  revoke  TOKEN_ID

Common flags:
  --json               print the admin API's JSON answer (one line) instead of a table
  --url URL            act on a running or deployed gateway through its admin API; the root token
                       is read from KEYGATE_ADMIN_TOKEN. URL is the gateway (its ADMIN_PREFIX assumed
                       /_keygate) or the full admin prefix (https://gw.example.com/ops-admin)
  --persist-to DIR     local state folder, as given to \`wrangler dev --persist-to\` (default .wrangler/state)
  --config FILE        wrangler configuration (default wrangler.toml)
  --env NAME           wrangler environment

Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
`;

class UsageError extends Error {}
class Refused extends Error {}

type Json = Record<string, unknown>;

interface Backend {
  create(body: Json): Promise<Outcome<Json>>;
  list(query: Json): Promise<Outcome<Json>>;
  revoke(id: string): Promise<Outcome<Json>>;
  close(): Promise<void>;
}

async function localBackend(values: Record<string, unknown>): Promise<Backend> {
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
  // A running `wrangler dev` caches tokens: a local revocation reaches it within CACHE_TTL_MS.
  const ctx = (): LifecycleContext => ({ kv, settings, actor: "cli", now: Date.now() });
  const json = <T>(p: Promise<Outcome<T>>) => p as unknown as Promise<Outcome<Json>>;
  return {
    create: (body) => json(createToken(ctx(), body)),
    list: (query) => json(listTokens(ctx(), query)),
    revoke: (id) => json(revokeToken(ctx(), id)),
    close: () => proxy.dispose(),
  };
}

/** The admin API's base URL: the gateway's URL plus /_keygate, or the URL given when it has a path. */
function adminBase(url: string): string {
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
    if (res.status === 401) throw new Refused("the gateway refused the admin token (401): check KEYGATE_ADMIN_TOKEN");
    if (res.status === 403) throw new Refused(`the gateway refused (403): ${detail} KEYGATE_ADMIN_TOKEN must be the root ADMIN_TOKEN`);
    if (res.status === 404) {
      const why = path.startsWith("/tokens/") ? "" : " (is the admin API on? set the ADMIN_TOKEN secret on the gateway; is --url right?)";
      return { ok: false, error: "not_found", message: `not found${why}` };
    }
    throw new Refused(`the gateway answered ${res.status}: ${detail}`);
  }
  return {
    create: (body) => call("POST", "/tokens", body),
    list: (query) => call("GET", `/tokens${Object.keys(query).length ? `?${new URLSearchParams(query as Record<string, string>)}` : ""}`),
    revoke: (id) => call("DELETE", `/tokens/${encodeURIComponent(id)}`),
    close: async () => {},
  };
}

async function openBackend(values: Record<string, unknown>): Promise<Backend> {
  if (values.url === undefined) return localBackend(values);
  for (const local of ["persist-to", "config", "env"]) {
    if (values[local] !== undefined) throw new UsageError(`--${local} is for local state; it cannot be combined with --url`);
  }
  const token = process.env.KEYGATE_ADMIN_TOKEN;
  if (!token) throw new UsageError("--url needs the gateway's root admin token in the KEYGATE_ADMIN_TOKEN environment variable");
  return remoteBackend(values.url as string, token);
}

// ---- output ----

const FLAG_OF: Record<string, string> = { orgs: "--org", expires_at: "--expires" };
const flagOf = (field: string) => (field.startsWith("(") ? field : (FLAG_OF[field] ?? `--${field}`));
const isoShort = (iso: string | null | undefined, none = "never") => (iso ? iso.replace(/\.\d{3}Z$/, "Z") : none);

function describe(t: TokenView): string {
  return [
    `${t.id} ("${t.name}")`,
    `  status:   ${t.status}`,
    `  prefix:   ${t.token_prefix}`,
    `  orgs:     ${t.orgs.join(", ")}`,
    `  role:     ${t.role}`,
    `  created:  ${isoShort(t.created_at)}`,
    `  expires:  ${isoShort(t.expires_at)}`,
    ...(t.revoked_at ? [`  revoked:  ${isoShort(t.revoked_at)}`] : []),
  ].join("\n");
}

function tokenTable(tokens: TokenView[]): string {
  if (tokens.length === 0) return "(no tokens)";
  const rows = [
    ["ID", "NAME", "PREFIX", "ORGS", "ROLE", "STATUS", "CREATED", "EXPIRES"],
    ...tokens.map((t) => [t.id, t.name, t.token_prefix, t.orgs.join(","), t.role, t.status, isoShort(t.created_at), isoShort(t.expires_at)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}

// ---- verbs ----

const COMMON = {
  json: { type: "boolean", default: false },
  url: { type: "string" },
  "persist-to": { type: "string" },
  config: { type: "string" },
  env: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const CREATE_FLAGS = {
  name: { type: "string" },
  org: { type: "string", multiple: true },
  role: { type: "string" },
  expires: { type: "string" },
} as const;

async function run(verb: string, args: string[]): Promise<string | null> {
  const spec = verb === "create" ? { ...COMMON, ...CREATE_FLAGS } : COMMON;
  const { values, positionals } = parseArgs({ args, options: spec, allowPositionals: verb === "revoke", strict: true });
  if (values.help) return null;
  const v = values as Record<string, unknown>;
  let call: (b: Backend) => Promise<Outcome<Json>>;
  let human: (value: Json) => string;
  if (verb === "create") {
    if (v.name === undefined) throw new UsageError("--name is required: what the token is for");
    if (v.org === undefined) throw new UsageError("--org is required (repeat it for several orgs, or --org '*' for every org)");
    if (v.role === undefined) throw new UsageError("--role is required: read or write");
    const body: Json = { name: v.name, orgs: v.org, role: v.role, ...(v.expires !== undefined ? { expires_at: v.expires } : {}) };
    call = (b) => b.create(body);
    human = (t) => `Created admin token ${describe(t as unknown as IssuedTokenView)}\n\n  ${(t as unknown as IssuedTokenView).token}\n\nThis is the only time the token is shown: store it now.`;
  } else if (verb === "list") {
    // Every page: a deployment has few tokens.
    call = async (b) => {
      const tokens: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page: Outcome<Json> = await b.list(cursor ? { limit: "1000", cursor } : { limit: "1000" });
        if (!page.ok) return page;
        tokens.push(...(page.value.tokens as unknown[]));
        cursor = (page.value.cursor as string | null) ?? null;
      } while (cursor !== null);
      return { ok: true, value: { tokens, cursor: null } };
    };
    human = (value) => tokenTable(value.tokens as TokenView[]);
  } else {
    if (positionals.length !== 1) throw new UsageError("revoke needs exactly one TOKEN_ID (e.g. npm run keys -- tokens revoke tok_…)");
    const id = positionals[0]!;
    call = (b) => b.revoke(id);
    human = (t) => `Revoked ${describe(t as unknown as TokenView)}`;
  }
  const backend = await openBackend(v);
  try {
    const outcome = await call(backend);
    if (!outcome.ok) {
      if (outcome.error === "invalid") throw new UsageError(outcome.errors.map((e) => `${flagOf(e.field)}: ${e.message}`).join("\n"));
      throw new Refused(outcome.message);
    }
    return v.json ? JSON.stringify(outcome.value) : human(outcome.value);
  } finally {
    await backend.close();
  }
}

/** Entry point from cli/keys.ts: `argv` is everything after `tokens`. Returns the exit code. */
export async function tokensMain(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "help" || verb === "--help" || verb === "-h") {
    process.stdout.write(USAGE);
    return verb ? 0 : 2;
  }
  if (!["create", "list", "revoke"].includes(verb)) {
    process.stderr.write(`Unknown tokens verb "${verb}".\n\n${USAGE}`);
    return 2;
  }
  try {
    const out = await run(verb, rest);
    process.stdout.write(out === null ? USAGE : out + "\n");
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof Refused) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
