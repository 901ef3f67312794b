/**
 * Portal links: `POST {ADMIN_PREFIX}/portal-links {org, return_url?}` → 201 `{url,
 * expires_at}`. The API owner's backend asks for one when a signed-in customer clicks
 * "Manage API keys", and redirects the customer's browser to it; the URL opens that org's
 * keys page in the console with a session limited to that org (principal `portal`).
 *
 * - The URL carries a one-time token (32 random bytes); KV keeps only its SHA-256, under
 *   `portal-link:<hash>` with a 600 s TTL (KV's minimum is 60 s), and the link is refused after
 *   its `expires_at` whatever KV still holds.
 * - First use deletes the entry (console/app.tsx → takePortalLink). Single use is best
 *   effort across locations: KV is eventually consistent, so a second use elsewhere within
 *   KV's propagation delay (about a minute) could still succeed. What bounds that: the
 *   token is unguessable and travels only from the owner's backend to its user's browser,
 *   and the session it opens is limited to one org. (A Durable Object would make it
 *   strict; see docs/console.md.)
 * - `return_url` (optional): shown as a "Back to <host>" link. Only absolute https URLs,
 *   or http on a loopback host (local development).
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import { renderError } from "../errors/render";
import { toHex } from "../keys/hash";
import { ORG_RE } from "../keys/record";
import { putPortalLink } from "../keys/store";
import type { Principal } from "./principal";
import { canWrite } from "./principal";
import { randomToken } from "./session";

/** How long a portal link can be opened. */
export const PORTAL_LINK_SECONDS = 600;

export async function hashPortalToken(token: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
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

function problem(c: Ctx, code: "invalid_input" | "forbidden", detail: string, errors?: { field: string; message: string }[]): Response {
  c.get("log").reason = code;
  return renderError({ errorFormat: "problem", missingStatus: 401, challenge: "", requestId: c.get("requestId") }, code, {
    detail,
    ...(errors ? { extensions: { errors } } : {}),
  });
}

/** The admin API handler. `principal`: who called (root today; an org-scoped write token at merge). */
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
  const expiresAt = new Date(clock.now() + PORTAL_LINK_SECONDS * 1000).toISOString();
  await putPortalLink(c.env.KEYS, await hashPortalToken(token), { org, expires_at: expiresAt, ...(returnUrl ? { return_url: returnUrl } : {}) }, PORTAL_LINK_SECONDS);
  const url = `${new URL(c.req.url).origin}${c.get("config").admin.prefix}/ui/portal/${token}`;
  return c.json({ url, expires_at: expiresAt }, 201);
}
