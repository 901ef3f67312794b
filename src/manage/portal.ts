/**
 * Portal links in the management core: issue `{org, return_url?, scopes?}` → a single-use
 * link token (manage/console/portal.ts, docs/console.md) that opens a console session for one org,
 * and revoke one by its id. The link carries a scope ceiling set by whoever issues it:
 * `scopes`, or by default the issuer's own — root and admin tokens hold no scopes, so a
 * link issued without `scopes` has no ceiling (its user may grant any scope within the
 * org). The session it opens is a `portal` principal with that ceiling (principal.ts).
 */
import type { FieldError } from "../keys/fields";
import type { Outcome } from "../keys/lifecycle";
import { randomBase62 } from "../keys/format";
import { ORG_RE, SCOPE_RE } from "../keys/record";
import { hashPortalToken, PORTAL_LINK_ID_RE, PORTAL_LINK_SECONDS, validReturnUrl } from "./console/portal";
import type { PortalLink } from "./console/portal";
import { randomToken } from "./console/cookie";
import { decide, reachOrgs } from "./authority";
import type { ManageDeps } from "./context";
import { failure } from "./context";
import type { Principal } from "./principal";
import { actorOf } from "./principal";

/** At most this many scopes in a link's ceiling (as in a key's). */
const MAX_SCOPES = 100;

export interface IssuedPortalLink {
  /** The link's public id (to revoke it). */
  id: string;
  /** The one-time token of the link's URL (the surface builds the URL: {console}/portal/<token>). */
  token: string;
  org: string;
  expires_at: string;
  /** The ceiling the link carries; null: none. */
  scopes: string[] | null;
}

const noStore = (): Outcome<never> => ({ ok: false, error: "unavailable", message: "Portal links are kept by the console's session store (the CONSOLE_SESSIONS binding), which this gateway does not have." });

export async function portalLink(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<IssuedPortalLink>> {
  const allowed = decide(p, "portal_link");
  if (!allowed.ok) return failure(allowed);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: "invalid", errors: [{ field: "(body)", message: "must be a JSON object sent with Content-Type: application/json" }] };
  }
  const o = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o)) if (k !== "org" && k !== "return_url" && k !== "scopes") errors.push({ field: k, message: "unknown field" });
  if (typeof o.org !== "string" || !ORG_RE.test(o.org)) errors.push({ field: "org", message: "is required: an org slug" });
  const returnUrl = o.return_url === undefined || o.return_url === null ? null : validReturnUrl(o.return_url);
  if (o.return_url !== undefined && o.return_url !== null && returnUrl === null) {
    errors.push({ field: "return_url", message: "must be an absolute https URL (or http on localhost / 127.0.0.1 / [::1])" });
  }
  const scopes = o.scopes ?? null;
  if (scopes !== null && !(Array.isArray(scopes) && scopes.length <= MAX_SCOPES && scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s)))) {
    errors.push({ field: "scopes", message: `must be an array of at most ${MAX_SCOPES} scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*): the most the link's user may grant` });
  }
  if (errors.length) return { ok: false, error: "invalid", errors };
  const org = o.org as string;
  const d = decide(p, "portal_link", { orgs: [org] });
  if (!d.ok) return failure(d);
  if (!deps.portalLinks) return noStore();

  // The issuer's own ceiling by default: root and admin tokens hold no scopes, hence none.
  const ceiling = scopes === null ? null : [...new Set(scopes as string[])];
  const token = randomToken();
  const id = `pl_${randomBase62(20)}`;
  const expires = deps.now + PORTAL_LINK_SECONDS * 1000;
  const link: PortalLink = { org, expires_at: new Date(expires).toISOString(), scopes: ceiling, ...(returnUrl ? { return_url: returnUrl } : {}) };
  await deps.portalLinks.create({ id, token: await hashPortalToken(token), org, link: JSON.stringify(link), issuer: actorOf(p), expiresAt: expires });
  return { ok: true, value: { id, token, org, expires_at: link.expires_at, scopes: ceiling } };
}

/**
 * Revoke a portal link (unused: it cannot be opened; used: the session it opened ends).
 * The link as revoked (never its token); not found for an unknown id or a link of an org
 * the principal does not reach. Revoking a revoked link changes nothing.
 */
export async function portalLinkRevoke(deps: ManageDeps, p: Principal, id: string): Promise<Outcome<unknown>> {
  const allowed = decide(p, "portal_link_revoke");
  if (!allowed.ok) return failure(allowed);
  const notFound: Outcome<never> = { ok: false, error: "not_found", message: `no portal link with id "${id.slice(0, 64)}"` };
  if (!PORTAL_LINK_ID_RE.test(id)) return notFound;
  if (!deps.portalLinks) return noStore();
  // The store selects the link by the orgs the table gives the principal for this operation.
  const revoked = await deps.portalLinks.revoke(id, reachOrgs(p, "portal_link_revoke"));
  return revoked === null ? notFound : { ok: true, value: revoked };
}
