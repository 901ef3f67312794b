/**
 * The keys CLI as a command: its usage text and its verbs (cli/verbs/), run by cli/run.ts.
 * cli/keys.ts is the entry `npm run keys` starts.
 */

import type { Command, Io } from "./run";
import { processIo, run } from "./run";
import { KEY_VERBS } from "./verbs/keys";
import { LEAKED_VERB } from "./verbs/leaked";
import { MIGRATION_VERB, SHADOW_VERB } from "./verbs/migration";
import { ORGS_VERB } from "./verbs/orgs";
import { SESSION_VERB } from "./verbs/session";
import { TOKENS } from "./verbs/tokens";
import { USAGE_VERB } from "./verbs/usage";
import { WEBHOOKS } from "./verbs/webhooks";

export const USAGE = `Usage: npm run keys -- <verb> [flags]

Verbs:
  create  --org ORG [--org ORG2 …] [--name NAME] [--scopes a,b] [--expires ISO-8601] [--meta k=v …]
          [--rate-limit LIMIT/PERIOD[:exact]]   e.g. 100/60s, 1000/1h (per key; counted per region, or :exact)
          [--credits N [--refill N/day|N/month]] [--allow-ip CIDR …]
  import  --key PLAINTEXT --org ORG [same flags as create]
  import  --hash ALGORITHM:DIGEST [--key-prefix PREFIX] --org ORG [same flags as create]
          the old system's hash: sha256:, sha512: (hex or base64), hmac-sha256: (LEGACY_HASH_PEPPER)
  import  --file keys.jsonl [--org ORG …]   one JSON object per line (key or hash, the key's fields);
          batches of 1,000, a progress bar; bad lines reported by number; what is stored is skipped
  migration [--org ORG]                      imported, migrated (re-indexed at first use), pending keys per org
  shadow  [--since 24h] [--route ROUTE] [--org ORG]   report mode's comparisons: is it safe to switch?
  list    [--org ORG] [--name TEXT] [--prefix KEY_PREFIX] [--status STATUS] [--limit N] [--cursor CURSOR]
  tokens  create|list|revoke …         scoped admin tokens (npm run keys -- tokens --help)
  webhooks add|list|remove|test|deliveries …   events out, signed (npm run keys -- webhooks --help)
  show    KEY_ID
  revoke  KEY_ID
  rotate  KEY_ID [--grace-seconds N]      the old key keeps working N seconds (default 0: stops now)
          [--credits N [--refill N/day]]  a new balance for the new key (default: it shares the old one's)
  update  KEY_ID [--name NAME] [--org ORG …] [--scopes a,b] [--expires ISO-8601|now|never] [--enable|--disable]
          [--rate-limit LIMIT/PERIOD[:exact]|none] [--credits N|none [--refill N/day]] [--allow-ip CIDR … | --allow-ip none]
  audit   [--id KEY_ID | --org ORG] [--limit N] [--cursor CURSOR]
  orgs    set --org ORG --rate-limit LIMIT/PERIOD[:exact]|none   one limit shared by every key of the org
  orgs    show --org ORG
  session --org ORG [--scopes a,b] [--sub USER] [--ttl 1h|30m|7d]   a session JWT for local use, signed with the
          local SESSION_JWT_SECRET (the one \`npm run dev\` keeps in the state, or .dev.vars'); stdout: the token
  usage   --org ORG [--key KEY_ID] [--since 1h|7d|…] [--granularity minute|hour|day]   requests, forwarded, rejected
          (counted by the running gateway: locally, needs \`npm run dev\` running on the same state)
  leaked  --file FOUND.txt [--source NAME] [--location URL]   report found tokens (one a line) as leaked: each key
          of this gateway among them is revoked, disabled or marked, as LEAKED_KEY_ACTION says

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

export const KEYS: Command = {
  name: "",
  usage: USAGE,
  verbs: {
    ...KEY_VERBS,
    orgs: ORGS_VERB,
    usage: USAGE_VERB,
    leaked: LEAKED_VERB,
    session: SESSION_VERB,
    migration: MIGRATION_VERB,
    shadow: SHADOW_VERB,
  },
  groups: { tokens: TOKENS, webhooks: WEBHOOKS },
};

/** `npm run keys -- …` with `argv` the arguments after `--`. Returns the exit code. */
export function main(argv: string[], io: Io = processIo): Promise<number> {
  return run(KEYS, argv, io);
}
