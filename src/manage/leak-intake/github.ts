/**
 * GitHub's secret scanning partner program: is a report really GitHub's? GitHub signs the
 * raw request body with ECDSA on P-256 over SHA-256 and sends
 *
 *   Github-Public-Key-Identifier: <key_identifier>
 *   Github-Public-Key-Signature:  <base64 of the DER-encoded ECDSA-Sig-Value (r, s)>
 *
 * and publishes its keys at GITHUB_SECRET_SCANNING_KEYS_URL as
 * `{"public_keys": [{"key_identifier", "key": "-----BEGIN PUBLIC KEY-----…", "is_current"}]}`
 * (PEM SubjectPublicKeyInfo). The keys are fetched, cached per isolate and refreshed when a
 * report names an identifier the cache does not hold — at most once a minute per isolate,
 * whatever the reports say (lib/key-set.ts), and again once an hour. Every listed key
 * verifies, current or not (a rotation at GitHub signs with the new one first).
 *
 * WebCrypto's ECDSA verifies the raw form r‖s (IEEE P1363, 64 bytes), not DER: the
 * signature is converted strictly (derToRawSignature) — a signature that is not exactly one
 * minimal DER SEQUENCE of two positive INTEGERs of at most 32 bytes is refused, never
 * repaired. No dependency: crypto.subtle alone.
 */
import type { KeySetPolicy } from "../../lib/key-set";
import { keySetCache } from "../../lib/key-set";

export const GITHUB_KEYS_POLICY: KeySetPolicy = {
  maxAgeMs: 60 * 60_000,
  minRefreshMs: 60_000,
  retryMinMs: 60_000,
  retryMaxMs: 60_000,
  staleMs: 24 * 60 * 60_000,
  fetchTimeoutMs: 5_000,
  maxBytes: 64 * 1024,
  what: "GitHub secret scanning keys",
  urlField: "keys_url",
};

/** What a report's headers prove: GitHub's (ok), nothing, a bad signature, or no key set to check it with. */
export type GithubProof = "ok" | "missing" | "invalid" | "unavailable";

const IDENTIFIER_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A P-256 ECDSA-Sig-Value is at most 72 bytes (2 + 2 × (2 + 33)). */
const MAX_DER_BYTES = 72;
const SCALAR_BYTES = 32;
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

function base64Bytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** One DER INTEGER at `at`: its value as 32 big-endian bytes, and where the next element starts; null if malformed. */
function scalarAt(der: Uint8Array, at: number): { value: Uint8Array; next: number } | null {
  if (der[at] !== 0x02) return null;
  const len = der[at + 1];
  if (len === undefined || len === 0 || len > SCALAR_BYTES + 1 || at + 2 + len > der.length) return null;
  let bytes = der.subarray(at + 2, at + 2 + len);
  if (bytes[0]! & 0x80) return null; // negative
  if (bytes[0] === 0) {
    if (len === 1 || !(bytes[1]! & 0x80)) return null; // zero, or not minimal
    bytes = bytes.subarray(1);
  }
  if (bytes.length > SCALAR_BYTES) return null;
  const value = new Uint8Array(SCALAR_BYTES);
  value.set(bytes, SCALAR_BYTES - bytes.length);
  return { value, next: at + 2 + len };
}

/**
 * A DER ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` as WebCrypto's raw r‖s (64
 * bytes), or null when it is not exactly that (long-form lengths, trailing bytes, negative,
 * zero or non-minimal integers, scalars over 32 bytes).
 */
export function derToRawSignature(der: Uint8Array): Uint8Array | null {
  if (der.length < 8 || der.length > MAX_DER_BYTES || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const r = scalarAt(der, 2);
  if (r === null) return null;
  const s = scalarAt(der, r.next);
  if (s === null || s.next !== der.length) return null;
  const raw = new Uint8Array(2 * SCALAR_BYTES);
  raw.set(r.value, 0);
  raw.set(s.value, SCALAR_BYTES);
  return raw;
}

/** The P-256 keys of GitHub's public_keys document, by key_identifier (others skipped). */
async function importGithubKeys(doc: unknown): Promise<Map<string, CryptoKey>> {
  const list = (doc as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list)) throw new Error('no "public_keys" array');
  const out = new Map<string, CryptoKey>();
  for (const item of list) {
    const { key_identifier: id, key: pem } = (item ?? {}) as { key_identifier?: unknown; key?: unknown };
    if (typeof id !== "string" || !IDENTIFIER_RE.test(id) || typeof pem !== "string") continue;
    const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
    if (!m) continue;
    try {
      const spki = base64Bytes(m[1]!.replace(/\s+/g, ""));
      out.set(id, await crypto.subtle.importKey("spki", spki, ECDSA_P256, false, ["verify"]));
    } catch {
      // Not a P-256 key (or malformed): skipped; the others still count.
    }
  }
  if (out.size === 0) throw new Error("holds no usable P-256 key");
  return out;
}

/** Per isolate, by URL (lib/key-set.ts). */
const githubKey = keySetCache(GITHUB_KEYS_POLICY, importGithubKeys);

/**
 * Whether `body` (the raw bytes, exactly as received) carries GitHub's signature by the key
 * its headers name, among the keys published at `keysUrl`. `missing`: a header absent;
 * `invalid`: malformed, an unknown identifier (after a refresh, when one is allowed) or a
 * signature that does not verify; `unavailable`: no key set could be had (never a pass).
 */
export async function verifyGithubReport(
  headers: Headers,
  body: Uint8Array,
  keysUrl: string,
  now: number,
): Promise<GithubProof> {
  const id = headers.get("github-public-key-identifier");
  const signature = headers.get("github-public-key-signature");
  if (id === null || signature === null || id === "" || signature === "") return "missing";
  if (!IDENTIFIER_RE.test(id) || signature.length > 128 || !BASE64_RE.test(signature)) return "invalid";
  const raw = derToRawSignature(base64Bytes(signature));
  if (raw === null) return "invalid";
  const found = await githubKey(keysUrl, id, now);
  if (found === "unavailable") return "unavailable";
  if (found === "unknown") return "invalid";
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, found.key, raw, body);
  return ok ? "ok" : "invalid";
}
