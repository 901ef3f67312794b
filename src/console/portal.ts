/**
 * Portal links: `POST {ADMIN_PREFIX}/portal-links {org, return_url?}` → 201 `{id, url,
 * expires_at}`. The API owner's backend asks for one when a signed-in customer clicks
 * "Manage API keys", and redirects the customer's browser to it; the URL opens that org's
 * keys page in the console (on CONSOLE_HOST when set) with a session limited to that org
 * (principal `portal`). `DELETE {ADMIN_PREFIX}/portal-links/:id` revokes one: it cannot be
 * opened any more, and the console session it opened ends at the next request.
 *
 * - The URL carries a one-time token (32 random bytes). The console's session store (the
 *   ConsoleSessions Durable Object: sessions-object.ts) keeps only its SHA-256, with the
 *   link, its id, its issuer and its expiry (`PORTAL_LINK_SECONDS`).
 * - Opening it (console/app.tsx) takes it in the store: strictly once, before its
 *   expiry, unrevoked — the object is strongly consistent, wherever the link is opened.
 * - Revoking the admin token that issued a link revokes the link too.
 * - `return_url` (optional): shown as a "Back to <host>" link. Only absolute https URLs,
 *   or http on a loopback host (local development).
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import type { Config } from "../config";
import { renderError } from "../errors/render";
import { randomBase62 } from "../keys/format";
import { ORG_RE } from "../keys/record";
import type { Principal } from "./principal";
import { actorOf, canWrite, orgsOf } from "./principal";
import { randomToken } from "./session";
import { createLinkRow, digestHex, revokeLinkRow } from "./sessions";

/** A portal link as issued (stored as JSON in the session store; given back when it is opened). */
export interface PortalLink {
  org: string;
  /** ISO 8601; the link is refused after it. */
  expires_at: string;
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

type Ctx = Context<AppEnv>;

function problem(c: Ctx, code: "invalid_input" | "forbidden" | "not_found", detail: string, errors?: { field: string; message: string }[]): Response {
  c.get("log").reason = code;
  return renderError({ errorFormat: "problem", missingStatus: 401, challenge: "", requestId: c.get("requestId") }, code, {
    detail,
    ...(errors ? { extensions: { errors } } : {}),
  });
}

/** POST /portal-links. `principal`: who called (root, or a write token for the org). */
export async function createPortalLink(c: Ctx, principal: Principal): Promise<Response> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  let body: unknown;
  try {
    body = type === "application/json" ? await c.req.json() : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return problem(c, "invalid_input", "(body): must be a JSON object sent with Content-Type: application/json", [
      { field: "(body)", message: "must be a JSON object sent with Content-Type: application/json" },
    ]);
  }
  const o = body as Record<string, unknown>;
  const errors: { field: string; message: string }[] = [];
  for (const k of Object.keys(o)) if (k !== "org" && k !== "return_url") errors.push({ field: k, message: "unknown field" });
  if (typeof o.org !== "string" || !ORG_RE.test(o.org)) errors.push({ field: "org", message: "is required: an org slug" });
  const returnUrl = o.return_url === undefined || o.return_url === null ? null : validReturnUrl(o.return_url);
  if (o.return_url !== undefined && o.return_url !== null && returnUrl === null) {
    errors.push({ field: "return_url", message: "must be an absolute https URL (or http on localhost / 127.0.0.1 / [::1])" });
  }
  if (errors.length) return problem(c, "invalid_input", errors.map((e) => `${e.field}: ${e.message}`).join("; "), errors);
  const org = o.org as string;
  if (!canWrite(principal, org)) return problem(c, "forbidden", `This token may not manage org "${org}".`);

  const token = randomToken();
  const id = `pl_${randomBase62(20)}`;
  const now = clock.now();
  const expires = now + PORTAL_LINK_SECONDS * 1000;
  const link: PortalLink = { org, expires_at: new Date(expires).toISOString(), ...(returnUrl ? { return_url: returnUrl } : {}) };
  await createLinkRow(c.env.CONSOLE_SESSIONS, { id, token: await hashPortalToken(token), org, link: JSON.stringify(link), issuer: actorOf(principal), expiresAt: expires }, now);
  const url = consoleUrl(c.req.url, c.get("config"), `/portal/${token}`);
  return c.json({ id, url, expires_at: link.expires_at }, 201);
}

/**
 * DELETE /portal-links/:id: revoke a link (unused: it cannot be opened; used: the session
 * it opened ends). 200 with the link (never its token); 404 for an unknown id or a link of
 * an org outside the caller's. Revoking a revoked link changes nothing.
 */
export async function revokePortalLink(c: Ctx, principal: Principal): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const notFound = () => problem(c, "not_found", `no portal link with id "${id.slice(0, 64)}"`);
  if (!PORTAL_LINK_ID_RE.test(id)) return notFound();
  const revoked = await revokeLinkRow(c.env.CONSOLE_SESSIONS, id, orgsOf(principal), clock.now());
  return revoked === null ? notFound() : c.json(revoked, 200);
}
