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

function fieldErrors(errors: FieldError[]): never {
  throw new UsageError(errors.map((e) => `--${e.field === "orgs" ? "org" : e.field === "expires_at" ? "expires" : e.field}: ${e.message}`).join("\n"));
}

function keyInput(values: Record<string, unknown>) {
  const input = {
    name: (values.name as string | undefined) ?? "",
    orgs: (values.org as string[] | undefined) ?? [],
    scopes: values.scopes ? String(values.scopes).split(",").map((s) => s.trim()).filter(Boolean) : [],
    expires_at: (values.expires as string | undefined) ?? null,
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
