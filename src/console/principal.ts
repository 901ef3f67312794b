/**
 * Who is signed in to the console, and what they may do: the console's whole permission
 * model is this one seam.
 *
 * - root: the ADMIN_TOKEN; every org, read and write.
 * - token: an org-scoped admin token (admin/tokens.ts): its orgs (["*"] = every org) and
 *   its role; its console sessions end with it (its expiry; revoking it ends them in the
 *   session store: sessions.ts).
 * - portal: a session opened by a portal link, or by a user's own session JWT (`sub`
 *   set: GET /ui/session): one org, read and write within it.
 *
 * Every page and every form asks `canRead` / `canWrite` (or the key-level helpers built
 * from them); nothing else decides.
 */
import { actor } from "../keys/store";
export type Principal =
  | { kind: "root" }
  | { kind: "token"; id: string; orgs: string[]; role: "read" | "write" }
  | { kind: "portal"; org: string; sub?: string };

function coversOrg(p: Principal, org: string): boolean {
  switch (p.kind) {
    case "root":
      return true;
    case "token":
      return p.orgs.includes("*") || p.orgs.includes(org);
    case "portal":
      return p.org === org;
  }
}

export function canRead(p: Principal, org: string): boolean {
  return coversOrg(p, org);
}

export function canWrite(p: Principal, org: string): boolean {
  if (p.kind === "token" && p.role !== "write") return false;
  return coversOrg(p, org);
}

/** A key is visible when one of its orgs is readable… */
export function canReadKey(p: Principal, key: { orgs: string[] }): boolean {
  return key.orgs.some((org) => canRead(p, org));
}

/** …and changeable only when all of them are writable (a change affects every org of the key). */
export function canWriteKey(p: Principal, key: { orgs: string[] }): boolean {
  return key.orgs.length > 0 && key.orgs.every((org) => canWrite(p, org));
}

/** The orgs a principal is limited to, or null for "any org" (root, or a token for "*"). */
export function orgsOf(p: Principal): string[] | null {
  switch (p.kind) {
    case "root":
      return null;
    case "token":
      return p.orgs.includes("*") ? null : p.orgs;
    case "portal":
      return [p.org];
  }
}

/** Whether the principal may write somewhere (shows the "Create key" entry points). */
export function canWriteAny(p: Principal): boolean {
  return p.kind !== "token" || p.role === "write";
}

/**
 * The audit actor for changes made through the console: the same names the admin API
 * records for the same token (keys/store.ts `actor`), and `portal:<org>` for a portal
 * link's session.
 */
export function actorOf(p: Principal): string {
  switch (p.kind) {
    case "root":
      return actor.root;
    case "token":
      return actor.token(p.id);
    case "portal":
      return p.sub !== undefined ? actor.session(p.sub) : `portal:${p.org}`;
  }
}

export function isPrincipal(v: unknown): v is Principal {
  if (typeof v !== "object" || v === null) return false;
  const p = v as Record<string, unknown>;
  if (p.kind === "root") return true;
  if (p.kind === "portal") return typeof p.org === "string" && (p.sub === undefined || typeof p.sub === "string");
  if (p.kind === "token") {
    return typeof p.id === "string" && Array.isArray(p.orgs) && p.orgs.every((o) => typeof o === "string") && (p.role === "read" || p.role === "write");
  }
  return false;
}
