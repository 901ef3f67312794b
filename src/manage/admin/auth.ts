/**
 * Admin API authentication: `Authorization: Bearer <ADMIN_TOKEN>` (RFC 6750 §2.1).
 *
 * The presented token and ADMIN_TOKEN are both hashed with SHA-256 and the digests compared
 * with crypto.subtle.timingSafeEqual: fixed-length inputs, so neither the comparison time
 * nor an exception reveals how much of a guess was right, or the token's length.
 */

import { ADMIN_REALM } from "./prefix";

export { ADMIN_REALM };

export type AdminAuth = "ok" | "missing" | "invalid";

const encoder = new TextEncoder();
const digests = new Map<string, Promise<ArrayBuffer>>();

function digestOf(token: string): Promise<ArrayBuffer> {
  let d = digests.get(token);
  if (!d) {
    d = crypto.subtle.digest("SHA-256", encoder.encode(token));
    digests.clear(); // one ADMIN_TOKEN per isolate: keep only the current one
    digests.set(token, d);
  }
  return d;
}

/** The challenge for a 401 (RFC 6750 §3): error="invalid_token" when a wrong token was sent. */
export function adminChallenge(result: Exclude<AdminAuth, "ok">): string {
  return result === "invalid"
    ? `Bearer realm="${ADMIN_REALM}", error="invalid_token"`
    : `Bearer realm="${ADMIN_REALM}"`;
}

/**
 * Whether `presented` is `secret`, in constant time: both hashed with SHA-256 and the
 * digests compared with timingSafeEqual (fixed length: neither the time nor an exception
 * tells how much of a guess was right, or the secret's length).
 */
export async function sameSecret(presented: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(secret)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Check an Authorization header value against ADMIN_TOKEN in constant time. */
export async function checkAdminToken(authorization: string | null, token: string): Promise<AdminAuth> {
  if (authorization === null) return "missing";
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m) return /^Bearer\b/i.test(authorization) ? "invalid" : "missing";
  const presented = await crypto.subtle.digest("SHA-256", encoder.encode(m[1]!));
  return crypto.subtle.timingSafeEqual(presented, await digestOf(token)) ? "ok" : "invalid";
}
