/**
 * Console sessions: a signed, short-lived cookie that carries who is signed in (a
 * Principal), never a token.
 *
 * - Value: base64url(JSON payload) "." base64url(HMAC-SHA-256(payload)). The HMAC key is
 *   derived from ADMIN_TOKEN (HMAC(ADMIN_TOKEN, "keygate console session v1")), so it
 *   needs no extra secret, and changing ADMIN_TOKEN ends every console session.
 *   Verification uses crypto.subtle.verify (constant time).
 * - Attributes: HttpOnly, SameSite=Strict, Max-Age = what is left of the session. Over
 *   https: the `__Host-` prefix, `Secure` and `Path=/` (the proxy drops this cookie from
 *   forwarded requests, see proxy/headers.ts); over plain http (local development):
 *   `Path=<prefix>/ui`, so the cookie never reaches the origin's paths.
 * - The payload also holds the session's CSRF token (the hidden field every form posts)
 *   and the last few one-time form ids already used (create / rotate), so resubmitting a
 *   show-once form (reload, back) cannot show or mint a key again.
 */
import { CONSOLE_COOKIE_PLAIN, CONSOLE_COOKIE_SECURE } from "./cookie";
import type { Principal } from "./principal";
import { isPrincipal } from "./principal";

/** Sessions last one hour from sign-in (absolute; sign in again after). */
export const SESSION_SECONDS = 3600;
const USED_FORMS_KEPT = 20;

export interface Session {
  p: Principal;
  /** Expiry, ms since epoch. */
  exp: number;
  /** Per-session CSRF token (hidden field `csrf` of every form). */
  csrf: string;
  /** One-time form ids already submitted. */
  used: string[];
  /** Portal sessions: where the "Back to …" link goes. */
  back?: string;
}

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function signingKey(adminToken: string): Promise<CryptoKey> {
  let k = keys.get(adminToken);
  if (!k) {
    k = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(adminToken), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const derived = await crypto.subtle.sign("HMAC", base, encoder.encode("keygate console session v1"));
      return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    })();
    keys.clear(); // one ADMIN_TOKEN per isolate
    keys.set(adminToken, k);
  }
  return k;
}

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
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

/** 32 random bytes, base64url: CSRF tokens, form ids, portal tokens. */
export function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export function newSession(p: Principal, now: number, back?: string): Session {
  return { p, exp: now + SESSION_SECONDS * 1000, csrf: randomToken(), used: [], ...(back ? { back } : {}) };
}

export function markUsed(s: Session, formId: string): Session {
  return { ...s, used: [...s.used, formId].slice(-USED_FORMS_KEPT) };
}

export async function sealSession(s: Session, adminToken: string): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify(s)));
  const mac = await crypto.subtle.sign("HMAC", await signingKey(adminToken), encoder.encode(payload));
  return `${payload}.${base64url(new Uint8Array(mac))}`;
}

/** The session in a cookie value, or null when it is missing, forged, damaged or expired. */
export async function openSession(value: string | undefined, adminToken: string, now: number): Promise<Session | null> {
  if (!value || value.length > 4096) return null;
  const dot = value.indexOf(".");
  if (dot < 0) return null;
  const payload = value.slice(0, dot);
  const mac = fromBase64url(value.slice(dot + 1));
  if (mac === null || mac.length !== 32) return null;
  if (!(await crypto.subtle.verify("HMAC", await signingKey(adminToken), mac, encoder.encode(payload)))) return null;
  const bytes = fromBase64url(payload);
  if (bytes === null) return null;
  let s: unknown;
  try {
    s = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  const o = s as Partial<Session>;
  if (typeof o !== "object" || o === null || !isPrincipal(o.p) || typeof o.exp !== "number" || typeof o.csrf !== "string" || !Array.isArray(o.used)) return null;
  if (o.exp <= now) return null;
  return o as Session;
}

export interface CookieSpec {
  name: string;
  path: string;
  secure: boolean;
}

/** The cookie's name, path and Secure flag for a request (see the module comment). */
export function cookieSpec(requestUrl: string, uiBase: string): CookieSpec {
  const secure = new URL(requestUrl).protocol === "https:";
  return secure ? { name: CONSOLE_COOKIE_SECURE, path: "/", secure } : { name: CONSOLE_COOKIE_PLAIN, path: uiBase, secure };
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
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  return crypto.subtle.timingSafeEqual(da, db);
}
