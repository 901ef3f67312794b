/**
 * The secrets the management side hands out — console session ids, CSRF tokens, form ids,
 * portal-link tokens: 32 random bytes each, base64url — and what is stored in their place
 * (their SHA-256, hex), so that nothing stored opens anything.
 */
import { toHex } from "../keys/hash";

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** 32 random bytes, base64url: session ids, CSRF tokens, form ids, portal tokens. */
export function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** SHA-256 (hex) of a secret: what a store keeps in its place. */
export async function digestHex(secret: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
}
