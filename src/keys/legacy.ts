/**
 * Keys imported by their existing hash (docs/migrating.md): an old system that showed a key
 * only once kept its digest, and hands keygate that digest instead of the key. Shared by the
 * management side (parsing an import's `hash`) and the edge (a presented key's legacy
 * digest, looked up on a miss while such keys are pending: edge/auth/verify.ts).
 *
 * Accepted: `sha256:<hex or base64>`, `sha512:<hex or base64>`, `hmac-sha256:<hex or base64>`
 * (HMAC-SHA-256 keyed with the old system's pepper, LEGACY_HASH_PEPPER), each over the key's
 * bytes (UTF-8; keys are ASCII). A pending key's record is stored under its *legacy
 * identity*: keygate's own hash (hash.ts: HMAC-SHA-256 with KEY_PEPPER when set) of
 * `legacy:<algorithm>:<digest in lowercase hex>`, so KV holds no digest of a live key that
 * is weaker than keygate's own index; a presented key can never be that string (a key
 * holds no colon: format.ts), so only a legacy lookup reaches it. On its first use the key
 * is re-indexed under keygate's hash of the key itself (the lazy re-hash,
 * keys/store/migration.ts).
 */
import { hashKey, toHex } from "./hash";

export type LegacyAlgorithm = "sha256" | "sha512" | "hmac-sha256";
export const LEGACY_ALGORITHMS: readonly LegacyAlgorithm[] = ["sha256", "sha512", "hmac-sha256"];

const DIGEST_BYTES: Record<LegacyAlgorithm, number> = { sha256: 32, sha512: 64, "hmac-sha256": 32 };

export function isLegacyAlgorithm(v: unknown): v is LegacyAlgorithm {
  return typeof v === "string" && (LEGACY_ALGORITHMS as readonly string[]).includes(v);
}

/** A digest as hex (either case) or base64 / base64url (padded or not) → its bytes, or null. */
function digestBytes(text: string, length: number): Uint8Array | null {
  if (text.length === length * 2 && /^[0-9a-fA-F]+$/.test(text)) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return null;
  const std = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (std.length !== Math.ceil((length * 4) / 3)) return null;
  let raw: string;
  try {
    raw = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  } catch {
    return null;
  }
  if (raw.length !== length) return null;
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** An import's `hash`, parsed: its algorithm and digest (lowercase hex), or why it is not one. */
export function parseLegacyHash(v: unknown): { algorithm: LegacyAlgorithm; hex: string } | string {
  const usage = `must be "<algorithm>:<digest>" with algorithm ${LEGACY_ALGORITHMS.join(", ")} and the digest in hex or base64 (e.g. "sha256:9f86d081…")`;
  if (typeof v !== "string") return usage;
  const colon = v.indexOf(":");
  const algorithm = colon < 0 ? "" : v.slice(0, colon).toLowerCase();
  if (!isLegacyAlgorithm(algorithm)) return usage;
  const bytes = digestBytes(v.slice(colon + 1).trim(), DIGEST_BYTES[algorithm]);
  if (bytes === null)
    return `must carry a ${algorithm} digest: ${DIGEST_BYTES[algorithm]} bytes, as ${DIGEST_BYTES[algorithm] * 2} hex characters or base64`;
  return { algorithm, hex: toHex(bytes.buffer as ArrayBuffer) };
}

const encoder = new TextEncoder();

/** The legacy digest of a presented key (lowercase hex); null for hmac-sha256 without LEGACY_HASH_PEPPER. */
export async function legacyDigest(
  key: string,
  algorithm: LegacyAlgorithm,
  legacyPepper: string | undefined,
): Promise<string | null> {
  switch (algorithm) {
    case "sha256":
      return hashKey(key);
    case "hmac-sha256":
      return legacyPepper ? hashKey(key, legacyPepper) : null;
    case "sha512":
      return toHex(await crypto.subtle.digest("SHA-512", encoder.encode(key)));
  }
}

/** Where a pending key's record lives: keygate's hash of `legacy:<algorithm>:<hex>` (the `key:` namespace). */
export function legacyIdentity(algorithm: LegacyAlgorithm, hex: string, pepper: string | undefined): Promise<string> {
  return hashKey(`legacy:${algorithm}:${hex}`, pepper);
}

/**
 * Where a presented key waits if it was imported by its `algorithm` hash and not re-indexed
 * yet: its legacy identity (null for hmac-sha256 without LEGACY_HASH_PEPPER). The one lookup
 * of a key not in keygate's format: the gateway's on a miss (edge/auth/verify.ts) and the
 * leak intake's (manage/leaks.ts).
 */
export async function legacyIdentityOf(
  key: string,
  algorithm: LegacyAlgorithm,
  settings: { pepper?: string; legacyPepper?: string },
): Promise<string | null> {
  const digest = await legacyDigest(key, algorithm, settings.legacyPepper);
  return digest === null ? null : legacyIdentity(algorithm, digest, settings.pepper);
}

/**
 * Whether a digest of `algorithm` already is keygate's own hash of the key (hash.ts): SHA-256
 * without KEY_PEPPER, or HMAC-SHA-256 with LEGACY_HASH_PEPPER equal to KEY_PEPPER. Such a key
 * is stored under it directly: nothing is left to re-hash.
 */
export function isOwnScheme(algorithm: LegacyAlgorithm, settings: { pepper?: string; legacyPepper?: string }): boolean {
  if (algorithm === "sha256") return !settings.pepper;
  if (algorithm === "hmac-sha256") return settings.pepper !== undefined && settings.legacyPepper === settings.pepper;
  return false;
}
