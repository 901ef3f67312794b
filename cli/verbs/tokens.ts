/**
 * `npm run keys -- tokens <create|list|revoke> [flags]`: scoped admin tokens (see
 * docs/admin-tokens.md). Only the root ADMIN_TOKEN may manage them, so with --url
 * KEYGATE_ADMIN_TOKEN must be the root token.
 */

import { validateNewToken } from "../../src/keys/issue";
import type { IssuedTokenView, TokenView } from "../../src/keys/token";
import type { Json } from "../args";
import { oneId, precheck, UsageError } from "../args";
import type { Answer } from "../backends/backend";
import { describeToken, showOnce, tokenTable } from "../render";
import type { Command, Verb } from "../run";

export const TOKENS_USAGE = `Usage: npm run keys -- tokens <verb> [flags]

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

export const TOKEN_VERBS: Record<string, Verb> = {
  create: {
    options: {
      name: { type: "string" },
      org: { type: "string", multiple: true },
      role: { type: "string" },
      expires: { type: "string" },
    },
    positionals: false,
    plan({ values: v }) {
      if (v.name === undefined) throw new UsageError("--name is required: what the token is for");
      if (v.org === undefined)
        throw new UsageError("--org is required (repeat it for several orgs, or --org '*' for every org)");
      if (v.role === undefined) throw new UsageError("--role is required: read or write");
      const body: Json = {
        name: v.name,
        orgs: v.org,
        role: v.role,
        ...(v.expires !== undefined ? { expires_at: v.expires } : {}),
      };
      precheck(validateNewToken(body, Date.now()));
      return {
        call: (b) => b.tokenCreate(body),
        human: (t) =>
          `Created admin token ${describeToken(t as unknown as TokenView)}\n${showOnce((t as unknown as IssuedTokenView).token, "token")}`,
      };
    },
  },
  list: {
    options: {},
    positionals: false,
    plan() {
      return {
        // Every page: a deployment has few tokens.
        async call(b): Answer {
          const tokens: unknown[] = [];
          let cursor: string | null = null;
          do {
            const page = await b.tokenList(cursor ? { limit: "1000", cursor } : { limit: "1000" });
            if (!page.ok) return page;
            tokens.push(...(page.value.tokens as unknown[]));
            cursor = (page.value.cursor as string | null) ?? null;
          } while (cursor !== null);
          return { ok: true, value: { tokens, cursor: null } };
        },
        human: (v) => tokenTable(v.tokens as TokenView[]),
      };
    },
  },
  revoke: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "revoke", "TOKEN_ID", "npm run keys -- tokens revoke tok_…");
      return { call: (b) => b.tokenRevoke(id), human: (t) => `Revoked ${describeToken(t as unknown as TokenView)}` };
    },
  },
};

export const TOKENS: Command = {
  name: "tokens",
  usage: TOKENS_USAGE,
  verbs: TOKEN_VERBS,
  tokenKind: "root admin token",
};
