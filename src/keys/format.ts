/**
 * Key format, version 1 (the GitHub token design):
 *
 *   <prefix><32 random base62 chars><6 base62 chars of CRC32(random part)>
 *
 * 32 base62 characters carry 32 × log2(62) ≈ 190 bits of entropy (the spec asks ≥ 160).
 * The checksum lets the gateway refuse a mistyped or forged key that carries our prefix
 * without a KV read. It is an integrity check, not a secret: security rests on the random
 * part and on the hash stored in KV.
 */

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6; // 62^6 > 2^32, so any CRC32 fits
/** Longest credential the gateway accepts anywhere (RFC 9110 sets no limit; we do). */
export const MAX_KEY_LENGTH = 512;
/** Characters shown to recognise a key in listings (after the prefix for minted keys). */
const DISPLAY_CHARS = 4;

const BASE62_RE = /^[0-9A-Za-z]+$/;
// Printable ASCII except space and comma: a comma would be ambiguous once HTTP joins
// repeated header fields, a colon would be ambiguous in Basic credentials.
const KEY_CHARS_RE = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32/ISO-HDLC (the zlib one) over the ASCII bytes of `s`. */
export function crc32(s: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < s.length; i++) {
    crc = CRC_TABLE[(crc ^ s.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Fixed-width base62 of an unsigned 32-bit number. */
export function checksumOf(random: string): string {
  let n = crc32(random);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** Uniform random base62 string (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = "";
  const buf = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (let i = 0; i < buf.length && out.length < length; i++) {
      const b = buf[i]! & 0x3f; // 0..63
      if (b < 62) out += BASE62[b];
    }
  }
  return out;
}

/** Mint a new key with the given prefix. */
export function mintKey(prefix: string): string {
  const random = randomBase62(RANDOM_LENGTH);
  return prefix + random + checksumOf(random);
}

/**
 * How a presented key relates to our format:
 * - "minted": carries our prefix and a valid checksum: look it up;
 * - "corrupt": carries our prefix but fails the format or checksum: refuse without a KV read;
 * - "foreign": any other format (imported keys): look it up.
 */
export type KeyShape = "minted" | "corrupt" | "foreign";

export function classifyKey(key: string, prefix: string): KeyShape {
  if (prefix === "" || !key.startsWith(prefix)) return "foreign";
  const body = key.slice(prefix.length);
  if (body.length !== RANDOM_LENGTH + CHECKSUM_LENGTH || !BASE62_RE.test(body)) return "corrupt";
  const random = body.slice(0, RANDOM_LENGTH);
  return body.slice(RANDOM_LENGTH) === checksumOf(random) ? "minted" : "corrupt";
}

/**
 * The regular expressions that find this gateway's minted keys in text, for leak scanners
 * (docs/leaked-keys.md): `secret`, the key itself (GitHub's partner program and custom
 * patterns: its "secret format"), and `gitleaks`, the key between boundaries with the key
 * as group 1 (a gitleaks rule's `regex` with `secretGroup = 1`; RE2 and JavaScript read it
 * alike). A regex cannot check the CRC32: a near miss with a bad checksum matches, and the
 * leak intake labels it a false positive without reading KV.
 */
export function keyPatterns(prefix: string): { secret: string; gitleaks: string } {
  // KEY_PREFIX is [A-Za-z0-9_-]: nothing in it is special outside a character class.
  const secret = `${prefix.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}`;
  return { secret, gitleaks: `(?:^|[^0-9A-Za-z_-])(${secret})(?:[^0-9A-Za-z]|$)` };
}

/** Whether a string may be an API key at all (length and characters). */
export function isWellFormedKey(key: string): boolean {
  return key.length > 0 && key.length <= MAX_KEY_LENGTH && KEY_CHARS_RE.test(key);
}

/** The short, non-secret start of a key shown in listings and logs ("kg_AbCd"). */
export function displayStart(key: string, prefix: string): string {
  const keep = prefix !== "" && key.startsWith(prefix) ? prefix.length + DISPLAY_CHARS : DISPLAY_CHARS;
  return key.slice(0, Math.min(keep, Math.floor(key.length / 2)));
}
