/**
 * Portal links: `POST {ADMIN_PREFIX}/portal-links {org, return_url?, scopes?}` → 201 `{id,
 * url, expires_at}` (the operation is the management core's: manage/portal.ts). The API
 * owner's backend asks for one when a signed-in customer clicks "Manage API keys", and
 * redirects the customer's browser to it; the URL opens that org's keys page in the console
 * (on CONSOLE_HOST when set) with a session limited to that org and to the link's scope
 * ceiling (principal `portal`). `DELETE {ADMIN_PREFIX}/portal-links/:id` revokes one: it
 * cannot be opened any more, and the console session it opened ends at the next request.
 *
 * - The URL carries a one-time token (32 random bytes). The console's session store (the
 *   ConsoleSessions Durable Object: sessions-object.ts) keeps only its SHA-256, with the
 *   link, its id, its issuer and its expiry (`PORTAL_LINK_SECONDS`).
 * - Opening it (manage/console/ui.tsx) takes it in the store: strictly once, before its
 *   expiry, unrevoked — the object is strongly consistent, wherever the link is opened.
 * - Revoking the admin token that issued a link revokes the link too.
 * - `return_url` (optional): shown as a "Back to <host>" link. Only absolute https URLs,
 *   or http on a loopback host (local development).
 * - `scopes` (optional): the most the link's user may grant; default the issuer's own
 *   (root and admin tokens hold none: no ceiling).
 */
import type { Config } from "../../config/config";
import { SCOPE_RE } from "../../keys/record";
import { digestHex } from "./sessions";

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
  if (scopes !== null && !(Array.isArray(scopes) && scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s)))) return null;
  return { org: l.org, expires_at: l.expires_at, scopes, ...(typeof l.return_url === "string" ? { return_url: l.return_url } : {}) };
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
  if (url.protocol === "http:" && (host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))) return url.href;
  return null;
}
