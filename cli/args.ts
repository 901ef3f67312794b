/**
 * The keys CLI's arguments: the common flags, parsing a verb's flags (node:util parseArgs),
 * flag values → admin API fields, and the usage-error rules every verb follows (issue 10):
 * one `error:` line per problem naming the flag, then where the usage is, never the whole
 * usage; no JSON wording ("array", "null") in what the user reads.
 *
 * Nothing here opens state or talks to a gateway: bad usage fails before any backend opens
 * (precheck: a body is validated here by the management core's own checks).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { parseArgs } from "node:util";
import type { FieldError } from "../src/keys/issue";

export type Json = Record<string, unknown>;
export type Values = Record<string, string | boolean | string[] | undefined>;
export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Bad usage: exit 2, one `error:` line per line of the message, then where the usage is. */
export class UsageError extends Error {}
/** Not found, refused, or unreachable: exit 1, one `error:` line. */
export class Refused extends Error {}

/** Flags every verb takes. */
export const COMMON = {
  json: { type: "boolean", default: false },
  url: { type: "string" },
  "persist-to": { type: "string" },
  config: { type: "string" },
  env: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies Options;

/** The flags that pick local state (so cannot go with --url). */
export const LOCAL_FLAGS = ["persist-to", "config", "env"] as const;

export interface Parsed {
  values: Values;
  positionals: string[];
}

/** A verb's flags (plus the common ones), strict; parseArgs' errors become UsageErrors. */
export function parseVerb(verb: string, args: string[], options: Options, positionals: boolean): Parsed {
  try {
    const parsed = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
      throw new UsageError(parseArgsMessage(err as Error, verb));
    throw err;
  }
}

/** node:util parseArgs' messages, shortened to one line that names the flag. */
export function parseArgsMessage(err: Error & { code?: string }, verb: string): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `unknown flag ${flag} for "${verb}"`;
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) return `${flag} needs a value`;
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
    return `"${verb}" takes no positional argument (${/'([^']*)'/.exec(err.message)?.[1] ?? "?"})`;
  return err.message.split("\n")[0]!;
}

/** A usage error as printed: one `error:` line per problem, then where to read the usage. */
export function usageErrorText(message: string, help = "npm run keys -- --help"): string {
  return (
    message
      .split("\n")
      .map((line) => `error: ${line}\n`)
      .join("") + `see \`${help}\`\n`
  );
}

// ---- the admin API's field errors, in terms of flags ----

const FLAG_OF: Record<string, string> = {
  orgs: "--org",
  expires_at: "--expires",
  grace_seconds: "--grace-seconds",
  key_id: "--id",
  enabled: "--enable/--disable",
  rate_limit: "--rate-limit",
  credits: "--credits/--refill",
  allowed_ips: "--allow-ip",
  key_prefix: "--key-prefix",
  tokens: "--file",
  url: "--location",
};

/**
 * The flag (or positional) a field came from. `names`: a verb's own names where they differ
 * from the common ones (webhooks add's `url` is its RECEIVER_URL, not leaked's --location).
 */
export function flagOf(field: string, names: Readonly<Record<string, string>> = {}): string {
  return field.startsWith("(") ? field : (names[field] ?? FLAG_OF[field] ?? `--${field}`);
}

/**
 * The admin API's field errors speak JSON ("array", "null", {"limit": …}); the CLI's user
 * typed flags. Each message is reworded for the flag it came from; the rest keep the API's
 * wording, which names no JSON type.
 */
const FLAG_MESSAGES: [field: string, api: RegExp, cli: string][] = [
  [
    "orgs",
    /non-empty array of at most (\d+) org slugs (\(.*\))/,
    "--org: give 1 to $1 org slugs $2; repeat --org for more",
  ],
  ["scopes", /array of at most (\d+) scopes (\(.*\))/, "--scopes: a comma-separated list of at most $1 scopes $2"],
  [
    "expires_at",
    /^must be a real calendar date-time in RFC 3339 \/ ISO 8601 form with a zone (\(.*?\)), or null$/,
    "--expires: must be a real calendar date-time in ISO 8601 form with a zone $1, now or never",
  ],
  [
    "rate_limit",
    /"limit": 1–(\d+), "period_seconds": 1–(\d+)/,
    "--rate-limit: LIMIT/PERIOD with LIMIT from 1 to $1 and PERIOD from 1 s to $2 s (e.g. 100/60s, 1000/1h, 100/60s:exact), or none",
  ],
  ["meta", /at most (\d+) string values/, "--meta: at most $1 KEY=VALUE pairs"],
  [
    "(body)",
    /must change at least one of/,
    "nothing to change: give at least one of --name, --org, --scopes, --expires, --enable/--disable, --rate-limit",
  ],
];

export function flagMessage(e: FieldError, names: Readonly<Record<string, string>> = {}): string {
  for (const [field, api, cli] of FLAG_MESSAGES) {
    const m = e.field === field ? api.exec(e.message) : null;
    if (m) return cli.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? "");
  }
  if (e.message.startsWith("name, orgs and scopes together"))
    return `--name, --org and --scopes together are too long${e.message.slice(e.message.indexOf(":"))}`;
  return `${flagOf(e.field, names)}: ${e.message}`;
}

/** The field errors of one refused body, as one UsageError (one line per distinct problem). */
export function fieldErrors(errors: FieldError[], names: Readonly<Record<string, string>> = {}): UsageError {
  return new UsageError([...new Set(errors.map((e) => flagMessage(e, names)))].join("\n"));
}

/**
 * A body or query checked, while the plan is built, with the management core's own
 * validation (src/keys/issue.ts and friends: the checks the backend would run first), so a
 * bad value is a usage error before any state is opened or any gateway called (issue 24:
 * bad usage answers at once, not after wrangler's start). What only the stored state can
 * decide (an id that does not exist, a scope beyond a holder's) is still the backend's.
 */
/**
 * A `--file` the user named, read as text: relative to where they ran `npm run keys` (npm
 * runs scripts from the package root and says where it was called in INIT_CWD). Unreadable
 * is bad usage (exit 2).
 */
export function readFileFlag(file: string): string {
  try {
    return readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), file), "utf8");
  } catch (err) {
    throw new UsageError(`--file: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

export function precheck(
  checked: { ok: true } | { ok: false; errors: FieldError[] },
  names: Readonly<Record<string, string>> = {},
): void {
  if (!checked.ok) throw fieldErrors(checked.errors, names);
}

// ---- flag values → API fields ----

export function scopesOf(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function metaOf(raw: string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of raw) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--meta: "${pair}" is not KEY=VALUE`);
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return meta;
}

/** "now" and "never" are CLI conveniences; anything else goes to validation as given. */
export function expiresOf(raw: string, now = Date.now()): string | null {
  if (raw === "never") return null;
  if (raw === "now") return new Date(now).toISOString();
  return raw;
}

const PERIOD_UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `--rate-limit 100/60s` → {limit: 100, period_seconds: 60} (s, m, h or d), counted the
 * default way (regional); `100/60s:exact` or `:regional` says how; "none" → null.
 */
export function rateLimitOf(raw: string, flag = "--rate-limit"): Json | null {
  if (raw === "none") return null;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*([smhd]?)\s*(?::\s*(exact|regional)\s*)?$/.exec(raw);
  if (!m)
    throw new UsageError(
      `${flag}: expected LIMIT/PERIOD[:exact|:regional] such as 100/60s, 1000/1h or 100/60s:exact, got "${raw}"`,
    );
  return {
    limit: Number(m[1]),
    period_seconds: Number(m[2]) * PERIOD_UNIT_SECONDS[m[3]!]!,
    ...(m[4] ? { mode: m[4] } : {}),
  };
}

/** A whole number as a number; anything else goes to validation as given, which names the field. */
export function wholeOrRaw(raw: string): number | string {
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** The `credits` and `allowed_ips` fields from --credits, --refill and --allow-ip (only those given). */
export function limitFields(values: Values): Json {
  const out: Json = {};
  const credits = values.credits as string | undefined;
  const refill = values.refill as string | undefined;
  if (refill !== undefined && (credits === undefined || credits === "none"))
    throw new UsageError("--refill needs --credits N");
  if (credits !== undefined) {
    if (credits === "none") out.credits = null;
    else {
      let refillBody: Json | undefined;
      if (refill !== undefined) {
        const m = /^\s*(\d+)\s*\/\s*(day|month)\s*$/.exec(refill);
        if (!m) throw new UsageError(`--refill: expected AMOUNT/day or AMOUNT/month such as 1000/day, got "${refill}"`);
        refillBody = { amount: Number(m[1]), interval: m[2] };
      }
      out.credits = { remaining: wholeOrRaw(credits), ...(refillBody ? { refill: refillBody } : {}) };
    }
  }
  const ips = values["allow-ip"] as string[] | undefined;
  if (ips !== undefined) out.allowed_ips = ips.length === 1 && ips[0] === "none" ? null : ips;
  return out;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration flag, `90m|1h|7d` → ms (not zero). */
export function durationMs(raw: string, flag: string): number {
  const m = /^\s*(\d+)\s*([mhd])\s*$/.exec(raw);
  if (!m || Number(m[1]) === 0)
    throw new UsageError(`${flag}: expected a duration such as 30m, 1h or 7d, got "${raw}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** `--since 90m|1h|7d` → ms. */
export function sinceMs(raw: string): number {
  return durationMs(raw, "--since");
}

/**
 * The flags a command was given, as they would be typed again (quoted for a POSIX shell
 * where needed), without `drop`: what a "More:" hint repeats with the next --cursor. Every
 * flag given, --url and --persist-to included: a hint that dropped them would read another
 * gateway's or another state's next page (issue 24).
 */
export function repeatFlags(values: Values, drop: readonly string[] = ["cursor", "json", "help"]): string {
  const quote = (v: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`);
  const parts: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (drop.includes(name) || v === undefined || v === false) continue;
    if (v === true) parts.push(`--${name}`);
    else for (const one of Array.isArray(v) ? v : [v]) parts.push(`--${name} ${quote(one)}`);
  }
  return parts.join(" ");
}

/** Exactly one positional id, e.g. KEY_ID. */
export function oneId(
  positionals: string[],
  verb: string,
  what = "KEY_ID",
  example = `npm run keys -- ${verb} key_…`,
): string {
  if (positionals.length !== 1) throw new UsageError(`${verb} needs exactly one ${what} (e.g. ${example})`);
  return positionals[0]!;
}
