/**
 * keygate keys CLI: `npm run keys -- <verb> [flags]`.
 *
 * Works on the same local state `wrangler dev` reads (`.wrangler/state`, or the folder
 * given with --persist-to, exactly as `wrangler dev --persist-to`), through wrangler's
 * getPlatformProxy(), so a running `wrangler dev` sees a new key at once. KEY_PREFIX and
 * KEY_PEPPER come from wrangler.toml and .dev.vars, as for the gateway.
 *
 * Exit codes: 0 ok, 1 refused or not found, 2 bad usage.
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { getPlatformProxy } from "wrangler";
import { importProblem, issueKey, validateNewKey } from "../src/keys/issue";
import type { FieldError } from "../src/keys/issue";
import type { KeyRecord } from "../src/keys/record";
import type { KvLike } from "../src/keys/store";
import { KeyConflict } from "../src/keys/store";

export class UsageError extends Error {}
export class Refused extends Error {}

const USAGE = `Usage: npm run keys -- <verb> [flags]

Verbs:
  create  --org ORG [--org ORG2 …] [--name NAME] [--scopes a,b] [--expires ISO-8601]
          [--rate-limit LIMIT/PERIOD]   e.g. 100/60s, 1000/1h (per key, global, exact)
  import  --key PLAINTEXT --org ORG [same flags as create]

Common flags:
  --json               one JSON object on stdout
  --persist-to DIR     local state folder, as given to \`wrangler dev --persist-to\` (default .wrangler/state)
  --config FILE        wrangler configuration (default wrangler.toml)
  --env NAME           wrangler environment
`;

const COMMON = {
  json: { type: "boolean", default: false },
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
  "rate-limit": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

interface Local {
  kv: KvLike;
  prefix: string;
  pepper?: string;
  dispose(): Promise<void>;
}

async function openLocal(values: Record<string, unknown>): Promise<Local> {
  const persistTo = (values["persist-to"] as string | undefined) ?? ".wrangler/state";
  const proxy = await getPlatformProxy<Record<string, unknown>>({
    configPath: (values.config as string | undefined) ?? "wrangler.toml",
    ...(values.env ? { environment: values.env as string } : {}),
    persist: { path: `${persistTo.replace(/\/+$/, "")}/v3` },
  });
  const kv = proxy.env.KEYS as KvLike | undefined;
  if (!kv) {
    await proxy.dispose();
    throw new Refused("no KEYS KV namespace binding in the wrangler configuration");
  }
  const pepper = typeof proxy.env.KEY_PEPPER === "string" && proxy.env.KEY_PEPPER !== "" ? proxy.env.KEY_PEPPER : undefined;
  return {
    kv,
    prefix: typeof proxy.env.KEY_PREFIX === "string" ? proxy.env.KEY_PREFIX.trim() : "kg_",
    ...(pepper ? { pepper } : {}),
    dispose: () => proxy.dispose(),
  };
}

const FLAG_OF_FIELD: Record<string, string> = { orgs: "org", expires_at: "expires", rate_limit: "rate-limit" };

function fieldErrors(errors: FieldError[]): never {
  throw new UsageError(errors.map((e) => `--${FLAG_OF_FIELD[e.field] ?? e.field}: ${e.message}`).join("\n"));
}

const PERIOD_UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** `--rate-limit 100/60s` → {limit: 100, period_seconds: 60}; the period may end in s, m, h or d. */
function parseRateLimitFlag(text: string): unknown {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*([smhd]?)\s*$/.exec(text);
  if (!m) throw new UsageError(`--rate-limit: expected LIMIT/PERIOD such as 100/60s or 1000/1h, got "${text}"`);
  return { limit: Number(m[1]), period_seconds: Number(m[2]) * PERIOD_UNIT_SECONDS[m[3]!]! };
}

function keyInput(values: Record<string, unknown>) {
  const input = {
    name: (values.name as string | undefined) ?? "",
    orgs: (values.org as string[] | undefined) ?? [],
    scopes: values.scopes ? String(values.scopes).split(",").map((s) => s.trim()).filter(Boolean) : [],
    expires_at: (values.expires as string | undefined) ?? null,
    rate_limit: values["rate-limit"] === undefined ? null : parseRateLimitFlag(values["rate-limit"] as string),
  };
  const checked = validateNewKey(input, Date.now());
  if (!checked.ok) fieldErrors(checked.errors);
  return checked.value;
}

/** What every verb prints about a key: never its hash, the plaintext only on creation. */
export function describeKey(record: KeyRecord, key?: string) {
  return {
    ...(key !== undefined ? { key } : {}),
    id: record.id,
    name: record.name,
    key_prefix: record.start,
    orgs: record.orgs,
    scopes: record.scopes,
    created_at: record.created_at,
    expires_at: record.expires_at,
    rate_limit: record.rate_limit ?? null,
  };
}

function printCreated(out: ReturnType<typeof describeKey>, json: boolean, imported: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(out) + "\n");
    return;
  }
  const lines = [
    `${imported ? "Imported" : "Created"} key ${out.id}${out.name ? ` ("${out.name}")` : ""} for ${out.orgs.join(", ")}`,
    `  scopes:  ${out.scopes.length ? out.scopes.join(", ") : "(none)"}`,
    `  expires: ${out.expires_at ?? "never"}`,
    `  rate limit: ${out.rate_limit ? `${out.rate_limit.limit} requests per ${out.rate_limit.period_seconds} s` : "none"}`,
  ];
  if (!imported) lines.push("", `  ${out.key}`, "", "This is the only time the key is shown: store it now.");
  process.stdout.write(lines.join("\n") + "\n");
}

type Verb = (args: string[]) => Promise<void>;

const VERBS: Record<string, Verb> = {
  async create(args) {
    const { values } = parseArgs({ args, options: { ...COMMON, ...KEY_FLAGS }, strict: true });
    const input = keyInput(values);
    const local = await openLocal(values);
    try {
      const { key, record } = await issueKey(local.kv, local, input, Date.now());
      printCreated(describeKey(record, key), values.json as boolean, false);
    } finally {
      await local.dispose();
    }
  },

  async import(args) {
    const { values } = parseArgs({ args, options: { ...COMMON, ...KEY_FLAGS, key: { type: "string" } }, strict: true });
    if (!values.key) throw new UsageError("--key is required: the existing plaintext key to import");
    const input = keyInput(values);
    const local = await openLocal(values);
    try {
      const problem = importProblem(values.key, local.prefix);
      if (problem) throw new UsageError(`--key: ${problem}`);
      const { record } = await issueKey(local.kv, local, input, Date.now(), values.key as string);
      printCreated(describeKey(record), values.json as boolean, true);
    } finally {
      await local.dispose();
    }
  },
};

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "help" || verb === "--help" || verb === "-h") {
    process.stdout.write(USAGE);
    return verb ? 0 : 2;
  }
  const run = VERBS[verb];
  if (!run) {
    process.stderr.write(`Unknown verb "${verb}".\n\n${USAGE}`);
    return 2;
  }
  try {
    await run(rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof Refused || err instanceof KeyConflict) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
