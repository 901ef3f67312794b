/**
 * Console sessions: a signed cookie that carries a session's id — never a token, a key or
 * who is signed in. The session itself (who, its CSRF token, the form ids it used, when it
 * ends) is kept server-side in the ConsoleSessions Durable Object (sessions-object.ts), so
 * signing out, or revoking the admin token or portal link that opened it, ends it
 * everywhere at the next request, whatever copies of the cookie exist.
 *
 * - Value: `<session id>.<expiry ms>.<mac>`: the id is 32 random bytes (base64url), the mac
 *   base64url(HMAC-SHA-256(id "." expiry)) under a key derived from ADMIN_TOKEN
 *   (HMAC(ADMIN_TOKEN, "keygate console session v1")): a forged or expired cookie is
 *   refused without a call to the store, and changing ADMIN_TOKEN ends every session.
 *   Verification uses crypto.subtle.verify (constant time). The store keeps only the id's
 *   SHA-256.
 * - Attributes: HttpOnly, SameSite=Strict, Max-Age = what is left of the session, never a
 *   Domain (host-only). Over https: the `__Host-` prefix, `Secure` and `Path=/`; over plain
 *   http (local development): the console's own path (`<prefix>/ui`, or `/` on
 *   CONSOLE_HOST). On one host with the gateway the proxy drops this cookie from
 *   forwarded requests (edge/proxy/headers.ts); on CONSOLE_HOST the browser never sends it to
 *   the gateway's host at all.
 */
import { CONSOLE_COOKIE_PLAIN, CONSOLE_COOKIE_SECURE } from "../../edge/proxy/console-cookie";
import type { Principal } from "../principal";
import { base64url } from "../secret";

/** Sessions last at most one hour from sign-in (absolute; sign in again after). */
export const SESSION_SECONDS = 3600;

/** What a console request knows of its session (from the store: sessions.ts). */
export interface Session {
  p: Principal;
  /** SHA-256 (hex) of the session id: its key in the store. */
  key: string;
  /** Expiry, ms since epoch. */
  exp: number;
  /** Per-session CSRF token (hidden field `csrf` of every form). */
  csrf: string;
  /** Portal sessions: where the "Back to …" link goes. */
  back?: string;
  /** A POST's one-time form id (create, rotate): null when none was sent. */
  form: "fresh" | "used" | null;
}

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function signingKey(adminToken: string): Promise<CryptoKey> {
  let k = keys.get(adminToken);
  if (!k) {
    k = (async () => {
      const base = await crypto.subtle.importKey(
        "raw",
        encoder.encode(adminToken),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const derived = await crypto.subtle.sign("HMAC", base, encoder.encode("keygate console session v1"));
      return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    })();
    keys.clear(); // one ADMIN_TOKEN per isolate
    keys.set(adminToken, k);
  }
  return k;
}

function fromBase64url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The cookie value for session `id` ending at `exp` (ms since epoch). */
export async function sealCookie(id: string, exp: number, adminToken: string): Promise<string> {
  const payload = `${id}.${Math.floor(exp)}`;
  const mac = await crypto.subtle.sign("HMAC", await signingKey(adminToken), encoder.encode(payload));
  return `${payload}.${base64url(new Uint8Array(mac))}`;
}

/** The session id in a cookie value, or null when it is missing, forged, damaged or expired. */
export async function openCookie(
  value: string | undefined,
  adminToken: string,
  now: number,
): Promise<{ id: string; exp: number } | null> {
  if (!value || value.length > 256) return null;
  const m = /^([A-Za-z0-9_-]{43})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return null;
  const mac = fromBase64url(m[3]!);
  if (mac === null || mac.length !== 32) return null;
  if (!(await crypto.subtle.verify("HMAC", await signingKey(adminToken), mac, encoder.encode(`${m[1]}.${m[2]}`))))
    return null;
  const exp = Number(m[2]);
  return exp > now ? { id: m[1]!, exp } : null;
}

export interface CookieSpec {
  name: string;
  path: string;
  secure: boolean;
}

/** The cookie's name, path and Secure flag for a request (see the module comment); `uiBase` "" is the root. */
export function cookieSpec(requestUrl: string, uiBase: string): CookieSpec {
  const secure = new URL(requestUrl).protocol === "https:";
  return secure
    ? { name: CONSOLE_COOKIE_SECURE, path: "/", secure }
    : { name: CONSOLE_COOKIE_PLAIN, path: uiBase || "/", secure };
}

export function setCookieHeader(spec: CookieSpec, value: string, maxAgeSeconds: number): string {
  return [
    `${spec.name}=${value}`,
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    `Path=${spec.path}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(spec.secure ? ["Secure"] : []),
  ].join("; ");
}

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time equality of two strings (compares their SHA-256 digests). */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}
