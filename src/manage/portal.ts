/**
 * Portal links (docs/console.md), in the management core: `POST {ADMIN_PREFIX}/portal-links
 * {org, return_url?, scopes?}` → 201 `{id, url, expires_at}`. The API owner's backend asks
 * for one when a signed-in customer clicks "Manage API keys", and redirects the customer's
 * browser to it; the URL opens that org's keys page in the console (on CONSOLE_HOST when
 * set) with a session limited to that org and to the link's scope ceiling (principal
 * `portal`). `DELETE {ADMIN_PREFIX}/portal-links/:id` revokes one: it cannot be opened any
 * more, and the console session it opened ends at the next request.
 *
 * - The URL carries a one-time token (32 random bytes). The console's session store (the
 *   ConsoleSessions Durable Object) keeps only its SHA-256, with the link, its id, its
 *   issuer and its expiry (`PORTAL_LINK_SECONDS`).
 * - Opening it (console/ui.tsx) takes it in the store: strictly once, before its expiry,
 *   unrevoked — the object is strongly consistent, wherever the link is opened.
 * - Revoking the admin token that issued a link revokes the link too.
 * - `return_url` (optional): shown as a "Back to <host>" link. Only absolute https URLs, or
 *   http on a loopback host (local development).
 * - `scopes` (optional): the most the link's user may grant — by default the issuer's own:
 *   root and admin tokens hold no scopes, so a link issued without `scopes` has no ceiling
 *   (its user may grant any scope within the org).
 */
import type { Config } from "../config/config";
import { randomBase62 } from "../keys/format";
import type { FieldError } from "../keys/issue";
import type { Outcome } from "../keys/lifecycle";
import { ORG_RE, SCOPE_RE } from "../keys/record";
import { decide, reachOrgs } from "./authority";
import type { ManageDeps } from "./context";
import { failure } from "./context";
import type { Principal } from "./principal";
import { actorOf } from "./principal";
import { digestHex, randomToken } from "./secret";

/** A portal link as issued (stored as JSON in the session store; given back when it is opened). */
export interface PortalLink {
  org: string;
  /** ISO 8601; the link is refused after it. */
  expires_at: string;
  /** The most its user may grant (a scope ceiling); null or absent: none. */
  scopes?: string[] | null;
  return_url?: string;
}

/** A portal link's public id (`pl_` + 20 base62), returned at creation, used to revoke it. */
export const PORTAL_LINK_ID_RE = /^pl_[A-Za-z0-9]{20}$/;

/** How long a portal link can be opened. */
export const PORTAL_LINK_SECONDS = 600;

/** What the store keeps in place of a link's token. */
export function hashPortalToken(token: string): Promise<string> {
  return digestHex(token);
}

/**
 * A link read back from the store, or null when it does not read back (a link whose
 * ceiling does not read back is no link: never a link without a ceiling).
 */
export function readPortalLink(json: string): PortalLink | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  const l = v as Partial<PortalLink> | null;
  if (typeof l !== "object" || l === null || typeof l.org !== "string" || typeof l.expires_at !== "string") return null;
  const scopes = l.scopes ?? null;
  if (scopes !== null && !(Array.isArray(scopes) && scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s))))
    return null;
  return {
    org: l.org,
    expires_at: l.expires_at,
    scopes,
    ...(typeof l.return_url === "string" ? { return_url: l.return_url } : {}),
  };
}

/**
 * The absolute URL of a console page for a request that arrived at `requestUrl`: on
 * CONSOLE_HOST when set (same scheme and port as the request), else on the request's own
 * origin under `{ADMIN_PREFIX}/ui`. `path` starts with "/".
 */
export function consoleUrl(requestUrl: string, config: Pick<Config, "consoleHost" | "admin">, path: string): string {
  const url = new URL(requestUrl);
  if (config.consoleHost === null) return `${url.origin}${config.admin.prefix}/ui${path}`;
  return `${url.protocol}//${config.consoleHost}${url.port ? `:${url.port}` : ""}${path}`;
}

/** A return URL we are willing to show as a link, normalized; null when refused. */
export function validReturnUrl(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length > 2048) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  if (url.protocol === "https:") return url.href;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (
    url.protocol === "http:" &&
    (host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))
  )
    return url.href;
  return null;
}

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

const noStore = (): Outcome<never> => ({
  ok: false,
  error: "unavailable",
  message:
    "Portal links are kept by the console's session store (the CONSOLE_SESSIONS binding), which this gateway does not have.",
});

export async function portalLink(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<IssuedPortalLink>> {
  const allowed = decide(p, "portal_link");
  if (!allowed.ok) return failure(allowed);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return {
      ok: false,
      error: "invalid",
      errors: [{ field: "(body)", message: "must be a JSON object sent with Content-Type: application/json" }],
    };
  }
  const o = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o))
    if (k !== "org" && k !== "return_url" && k !== "scopes") errors.push({ field: k, message: "unknown field" });
  if (typeof o.org !== "string" || !ORG_RE.test(o.org))
    errors.push({ field: "org", message: "is required: an org slug" });
  const returnUrl = o.return_url === undefined || o.return_url === null ? null : validReturnUrl(o.return_url);
  if (o.return_url !== undefined && o.return_url !== null && returnUrl === null) {
    errors.push({
      field: "return_url",
      message: "must be an absolute https URL (or http on localhost / 127.0.0.1 / [::1])",
    });
  }
  const scopes = o.scopes ?? null;
  if (
    scopes !== null &&
    !(
      Array.isArray(scopes) &&
      scopes.length <= MAX_SCOPES &&
      scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s))
    )
  ) {
    errors.push({
      field: "scopes",
      message: `must be an array of at most ${MAX_SCOPES} scopes ([A-Za-z0-9][A-Za-z0-9:._*-]*): the most the link's user may grant`,
    });
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
  const link: PortalLink = {
    org,
    expires_at: new Date(expires).toISOString(),
    scopes: ceiling,
    ...(returnUrl ? { return_url: returnUrl } : {}),
  };
  await deps.portalLinks.create({
    id,
    token: await hashPortalToken(token),
    org,
    link: JSON.stringify(link),
    issuer: actorOf(p),
    expiresAt: expires,
  });
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
  const notFound: Outcome<never> = {
    ok: false,
    error: "not_found",
    message: `no portal link with id "${id.slice(0, 64)}"`,
  };
  if (!PORTAL_LINK_ID_RE.test(id)) return notFound;
  if (!deps.portalLinks) return noStore();
  // The store selects the link by the orgs the table gives the principal for this operation.
  const revoked = await deps.portalLinks.revoke(id, reachOrgs(p, "portal_link_revoke"));
  return revoked === null ? notFound : { ok: true, value: revoked };
}
