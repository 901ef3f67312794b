/**
 * `session --org ORG [--scopes a,b] [--sub USER] [--ttl 1h]`: a session JWT for local use
 * (docs/sessions.md), signed HS256 with the local SESSION_JWT_SECRET — the one in .dev.vars,
 * or the one `npm run dev` keeps in the local state — with the claims the gateway reads
 * (SESSION_ORG_CLAIM, SESSION_SCOPES_CLAIM, SESSION_ISSUER, SESSION_AUDIENCE). What an
 * identity provider does for a deployed gateway; so local state only: no --url.
 *
 * stdout is the token alone (`TOKEN=$(npm run -s keys -- session --org acme)`); what it is
 * goes to stderr. --json: {token, sub, org, scopes, expires_at}.
 */
import { checkScopes } from "../../src/keys/fields";
import { ORG_RE } from "../../src/keys/record";
import type { Options } from "../args";
import { durationMs, precheck, scopesOf, UsageError } from "../args";
import type { Verb } from "../run";

/** Printable ASCII without spaces, 1–256 characters: a `sub` the gateway accepts (edge/auth/session.ts). */
const SUB_RE = /^[\x21-\x7e]{1,256}$/;
/** The longest session the CLI signs. */
const MAX_TTL_MS = 30 * 86_400_000;
export const DEFAULT_SUB = "dev-user";

export const SESSION_FLAGS = {
  org: { type: "string" },
  scopes: { type: "string" },
  sub: { type: "string" },
  ttl: { type: "string" },
} as const satisfies Options;

export const SESSION_VERB: Verb = {
  options: SESSION_FLAGS,
  positionals: false,
  plan({ values }) {
    if (values.url !== undefined)
      throw new UsageError(
        "session signs with the local SESSION_JWT_SECRET: it has no --url (a deployed gateway's sessions come from your identity provider)",
      );
    const org = values.org as string | undefined;
    if (org === undefined) throw new UsageError("--org is required: the org the session acts for");
    if (!ORG_RE.test(org))
      throw new UsageError("--org: must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128 characters)");
    const sub = (values.sub as string | undefined) ?? DEFAULT_SUB;
    if (!SUB_RE.test(sub)) throw new UsageError("--sub: 1–256 printable characters without spaces");
    const scopes = values.scopes === undefined ? [] : scopesOf(values.scopes as string);
    const errors: { field: string; message: string }[] = [];
    checkScopes(scopes, errors);
    precheck(errors.length ? { ok: false, errors } : { ok: true });
    const ttlMs = values.ttl === undefined ? 3_600_000 : durationMs(values.ttl as string, "--ttl");
    if (ttlMs > MAX_TTL_MS) throw new UsageError("--ttl: at most 30d");
    const claims = { org, sub, scopes, ttl_seconds: ttlMs / 1000 };
    return {
      call: (b) => b.signSession(claims),
      human: (v) => String(v.token),
      note: (v) =>
        `A session JWT for ${v.sub} in org ${v.org} (scopes: ${(v.scopes as string[]).join(", ") || "none"}), ` +
        `valid until ${v.expires_at}: send it as Authorization: Bearer <token> (docs/sessions.md).\n`,
    };
  },
};
