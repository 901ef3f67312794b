/**
 * The keys CLI's flags for limits (docs/limits.md) and the `orgs` verb. Hooked into
 * cli/keys.ts: LIMIT_FLAGS on create/import/update, ROTATE_LIMIT_FLAGS on rotate,
 * limitFields() into their bodies, and orgsPlan() as the `orgs` verb.
 *
 *   --credits N|none         credits.remaining (none: unmetered, update only)
 *   --refill N/day|N/month   credits.refill (with --credits)
 *   --allow-ip CIDR          allowed_ips, repeatable (--allow-ip none: any address, update only)
 *   orgs set --org ORG --rate-limit LIMIT/PERIOD|none
 *   orgs show --org ORG
 */
import type { ParseArgsConfig } from "node:util";
import type { FieldError } from "../src/keys/issue";
import type { Outcome } from "../src/keys/lifecycle";

type Json = Record<string, unknown>;
type Values = Record<string, string | boolean | string[] | undefined>;

export class LimitUsageError extends Error {}

export const LIMIT_FLAGS = {
  credits: { type: "string" },
  refill: { type: "string" },
  "allow-ip": { type: "string", multiple: true },
} as const satisfies ParseArgsConfig["options"];

export const ROTATE_LIMIT_FLAGS = {
  credits: { type: "string" },
  refill: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** CLI flag names for the API's fields, for error messages. */
export const LIMIT_FLAG_OF: Record<string, string> = { credits: "--credits/--refill", allowed_ips: "--allow-ip" };

const PERIOD_UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** `--rate-limit 100/60s` → {limit: 100, period_seconds: 60} (s, m, h or d); "none" → null. */
export function rateLimitOf(raw: string, flag = "--rate-limit"): Json | null {
  if (raw === "none") return null;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*([smhd]?)\s*$/.exec(raw);
  if (!m) throw new LimitUsageError(`${flag}: expected LIMIT/PERIOD such as 100/60s or 1000/1h, got "${raw}"`);
  return { limit: Number(m[1]), period_seconds: Number(m[2]) * PERIOD_UNIT_SECONDS[m[3]!]! };
}

function wholeNumber(raw: string, flag: string): number | string {
  // Anything else goes to validation as given, which names the field.
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** The `credits` and `allowed_ips` fields from the flags (only those given). */
export function limitFields(values: Values): Json {
  const out: Json = {};
  const credits = values.credits as string | undefined;
  const refill = values.refill as string | undefined;
  if (refill !== undefined && (credits === undefined || credits === "none")) throw new LimitUsageError("--refill needs --credits N");
  if (credits !== undefined) {
    if (credits === "none") out.credits = null;
    else {
      let refillBody: Json | undefined;
      if (refill !== undefined) {
        const m = /^\s*(\d+)\s*\/\s*(day|month)\s*$/.exec(refill);
        if (!m) throw new LimitUsageError(`--refill: expected AMOUNT/day or AMOUNT/month such as 1000/day, got "${refill}"`);
        refillBody = { amount: Number(m[1]), interval: m[2] };
      }
      out.credits = { remaining: wholeNumber(credits, "--credits"), ...(refillBody ? { refill: refillBody } : {}) };
    }
  }
  const ips = values["allow-ip"] as string[] | undefined;
  if (ips !== undefined) out.allowed_ips = ips.length === 1 && ips[0] === "none" ? null : ips;
  return out;
}

export interface OrgBackend {
  orgShow(org: string): Promise<Outcome<Json>>;
  orgSet(org: string, body: Json): Promise<Outcome<Json>>;
}

export const ORGS_FLAGS = {
  org: { type: "string" },
  "rate-limit": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

function describeOrg(v: Json): string {
  const rl = v.rate_limit as { limit: number; period_seconds: number } | null;
  return `org ${v.org}: ${rl ? `rate limit ${rl.limit} requests per ${rl.period_seconds} s (shared by all its keys)` : "no org-wide rate limit"}`;
}

/** `orgs set|show --org ORG [--rate-limit L/P|none]`. */
export function orgsPlan(values: Values, positionals: string[]): { call(b: OrgBackend): Promise<Outcome<Json>>; human(v: Json): string } {
  const [action, ...rest] = positionals;
  if (rest.length > 0 || (action !== "set" && action !== "show")) throw new LimitUsageError("orgs needs set or show: npm run keys -- orgs set --org ORG --rate-limit 1000/60s");
  const org = values.org as string | undefined;
  if (org === undefined) throw new LimitUsageError("--org is required");
  if (action === "show") {
    if (values["rate-limit"] !== undefined) throw new LimitUsageError("--rate-limit is for orgs set");
    return { call: (b) => b.orgShow(org), human: describeOrg };
  }
  const raw = values["rate-limit"] as string | undefined;
  if (raw === undefined) throw new LimitUsageError("orgs set needs --rate-limit LIMIT/PERIOD (or none)");
  const body = { rate_limit: rateLimitOf(raw) };
  return { call: (b) => b.orgSet(org, body), human: (v) => `Set ${describeOrg(v)}` };
}

export type { FieldError };
