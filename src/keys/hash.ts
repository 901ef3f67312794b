/**
 * The hash of a key is its KV identity: SHA-256 of the key, or HMAC-SHA-256 keyed with
 * KEY_PEPPER when one is set (a stolen copy of KV then cannot be brute-forced offline
 * without the pepper). Lowercase hex, 64 characters.
 *
 * Changing the pepper (or setting one later) changes every hash: existing keys stop
 * resolving. Golden vectors in test/unit/keys/hash.test.ts pin this function.
 */

const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(pepper: string): Promise<CryptoKey> {
  let key = hmacKeys.get(pepper);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(pepper, key);
  }
  return key;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

export async function hashKey(key: string, pepper?: string): Promise<string> {
  const data = encoder.encode(key);
  const digest = pepper
    ? await crypto.subtle.sign("HMAC", await hmacKey(pepper), data)
    : await crypto.subtle.digest("SHA-256", data);
  return toHex(digest);
}
