/**
 * Who acts on a management surface: ONE type for the admin API, the self-service API, the
 * web console and the CLI, on which the authority table (authority.ts) decides.
 *
 * - root: the ADMIN_TOKEN (and the CLI on local state, which holds the state itself);
 * - token: an org-scoped admin token (manage/admin/tokens.ts): its orgs (["*"] = every org) and
 *   role (read | write);
 * - key: an API key holder on the self-service API: the org it acts for and its record
 *   (scopes, expiry, credits, rate limit, allowed IPs: what it may not exceed);
 * - session: a user's verified session JWT (self-service API, or the console through
 *   GET /ui/session): the user (`sub`), the org claim and the scopes claim;
 * - portal: a console session opened by a portal link: its org and the scope ceiling the
 *   link was issued with (null: the issuer set none — any scope). Its expiry is its console
 *   session's.
 * - reporter: a leak report's sender (manage/leaks.ts, docs/leaked-keys.md), proven by
 *   GitHub's signature (`github`) or LEAK_REPORT_TOKEN (`gitlab`: GitLab's Token Revocation
 *   API; `scanner`: your own scanners). It holds no key and no org: it may only report
 *   leaked keys, each proven by its plaintext.
 *
 * Operators are root and tokens; holders are keys, sessions and portal users. Nothing here
 * decides what a principal may do: authority.ts does.
 */
import type { KeyRecord } from "../keys/record";
import { ORG_RE, SCOPE_RE, TOKEN_ID_RE } from "../keys/record";
import { actor } from "../keys/store/kv";

export type Principal =
  | { kind: "root" }
  | { kind: "token"; id: string; orgs: string[]; role: "read" | "write"; expires_at?: string | null }
  | { kind: "key"; org: string; record: KeyRecord }
  | { kind: "session"; sub: string; org: string; scopes: string[] }
  | { kind: "portal"; org: string; scopes: string[] | null }
  | { kind: "reporter"; via: ReporterVia };

/** How a leak reporter proved itself: GitHub's signature, or LEAK_REPORT_TOKEN on GitLab's API or POST /leaks. */
export type ReporterVia = "github" | "gitlab" | "scanner";

/** The rows of the authority table: a principal's kind, a token's by role. */
export type Role = "root" | "token:write" | "token:read" | "key" | "session" | "portal" | "reporter";
export const ROLES: readonly Role[] = ["root", "token:write", "token:read", "key", "session", "portal", "reporter"];

/** Operators: the root ADMIN_TOKEN and org-scoped admin tokens (who call the admin API). */
export type Operator = Extract<Principal, { kind: "root" | "token" }>;

/** Holders: the principals that hold keys of one org rather than administer orgs. */
export type Holder = Extract<Principal, { kind: "key" | "session" | "portal" }>;

/** Holders that authenticate with a gateway credential, a key or a session JWT (who call the self-service API). */
export type CredentialHolder = Extract<Principal, { kind: "key" | "session" }>;

export function roleOf(p: Principal): Role {
  return p.kind === "token" ? (p.role === "write" ? "token:write" : "token:read") : p.kind;
}

export function isHolder(p: Principal): p is Holder {
  return p.kind === "key" || p.kind === "session" || p.kind === "portal";
}

/** The scopes a holder holds (what it may grant at most); null: no ceiling (a portal link issued without one). */
export function scopesHeld(p: Holder): readonly string[] | null {
  return p.kind === "key" ? p.record.scopes : p.scopes;
}

/**
 * How audit events name the principal (keys/store/kv.ts `actor`): `root`, `token:<id>`,
 * `key:<id>`, `session:<sub>`, `portal:<org>`, `reporter:<via>`.
 */
export function actorOf(p: Principal): string {
  switch (p.kind) {
    case "root":
      return actor.root;
    case "token":
      return actor.token(p.id);
    case "key":
      return actor.key(p.record.id);
    case "session":
      return actor.session(p.sub);
    case "portal":
      return `portal:${p.org}`;
    case "reporter":
      return actor.reporter(p.via);
  }
}

/** The orgs a principal is limited to, or null for "any org" (root, or a token for "*"). */
export function orgsOf(p: Principal): string[] | null {
  switch (p.kind) {
    case "root":
      return null;
    case "token":
      return p.orgs.includes("*") ? null : p.orgs;
    case "reporter":
      return []; // no org of its own: it reaches a key only by presenting the key itself
    default:
      return [p.org];
  }
}

const isScopes = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string" && SCOPE_RE.test(s));

/**
 * A principal read back from a console session (never a key: keys do not sign in to the
 * console). Holders' orgs must be org slugs: "*" is "every org" only in a token's orgs.
 */
export function isPrincipal(v: unknown): v is Principal {
  if (typeof v !== "object" || v === null) return false;
  const p = v as Record<string, unknown>;
  switch (p.kind) {
    case "root":
      return true;
    case "token":
      return (
        typeof p.id === "string" &&
        TOKEN_ID_RE.test(p.id) &&
        Array.isArray(p.orgs) &&
        p.orgs.every((o) => typeof o === "string") &&
        (p.role === "read" || p.role === "write")
      );
    case "session":
      return typeof p.sub === "string" && typeof p.org === "string" && ORG_RE.test(p.org) && isScopes(p.scopes);
    case "portal":
      return typeof p.org === "string" && ORG_RE.test(p.org) && (p.scopes === null || isScopes(p.scopes));
    default:
      return false;
  }
}
