/**
 * A keygate key where the profile does not read it — another header (its value or its
 * name), an Authorization scheme the profile does not consume, a cookie pair, a query
 * parameter (its value or its name) — is removed before forwarding: it would reach the
 * origin (its logs, its own auth) unverified. Recognised by KEY_PREFIX followed by a key
 * character — at the start of a token, or anywhere when a whole minted key's length
 * follows —
 * - as text;
 * - as base64 or base64url (as in Basic), at any byte alignment;
 * - percent-encoded, up to three times (`kg%5F…`, `kg%255F…`, ASP.NET's `kg%u005F…`):
 *   origins URL-decode cookies,
 *   query strings and often header values; each decoded layer is checked as text and
 *   as base64.
 * Header names arrive lowercased: they are compared without regard to case (a lowercased
 * key is still most of one).
 */
import type { Config } from "../../config/config";
import { CHECKSUM_LENGTH, RANDOM_LENGTH } from "../../keys/format";

export interface StrayKeyMatcher {
  /** KEY_PREFIX, lowercased: what a header name carrying a key contains (names arrive lowercased). */
  prefixLower: string;
  /** A value carrying a key with our prefix, as text. */
  re: RegExp;
  /** The same, without regard to case (header names). */
  reAnyCase: RegExp;
  /** A whole minted key (KEY_PREFIX and a whole key's length of key characters), anywhere: what a path may not carry. */
  whole: RegExp;
  /** What base64 (and base64url) text of that prefix contains, at each byte alignment. */
  b64: string[];
}

/** Per config: how to recognise our keys in a value (null: KEY_PREFIX is empty). */
const strayKeyCache = new WeakMap<Config, StrayKeyMatcher | null>();

/**
 * The base64 characters fully determined by `prefix` when it starts at byte offset 0, 1
 * or 2 of a 3-byte group: one of them appears in any base64 text that encodes it. They
 * are the same in base64url: KEY_PREFIX's bytes ([A-Za-z0-9_-]) never make a whole 6-bit
 * group of 62 or 63 (`+`, `/`), whatever the alignment.
 */
function base64Signatures(prefix: string): string[] {
  const sigs = new Set<string>();
  for (let pad = 0; pad < 3; pad++) {
    const enc = btoa("\0".repeat(pad) + prefix);
    const first = Math.ceil((8 * pad) / 6);
    const last = Math.floor((8 * (pad + prefix.length)) / 6); // exclusive
    if (last > first) sigs.add(enc.slice(first, last));
  }
  return [...sigs];
}

export function strayKeyMatcher(config: Config): StrayKeyMatcher | null {
  let m = strayKeyCache.get(config);
  if (m === undefined) {
    // The prefix at the start of a token (not inside a word) followed by a key character,
    // or anywhere when followed by a whole minted key's length of key characters.
    // KEY_PREFIX is [A-Za-z0-9_-]* (config/config.ts): nothing in it needs escaping.
    const p = config.keyPrefix;
    const wholeKey = `${p}[A-Za-z0-9]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}`;
    const source = `(?:^|[^A-Za-z0-9])${p}[A-Za-z0-9]|${wholeKey}`;
    m =
      p === ""
        ? null
        : {
            prefixLower: p.toLowerCase(),
            re: new RegExp(source),
            reAnyCase: new RegExp(source, "i"),
            whole: new RegExp(wholeKey),
            b64: base64Signatures(p),
          };
    strayKeyCache.set(config, m);
  }
  return m;
}

const B64_RUN_RE = /[A-Za-z0-9+/_-]{6,}/g;

/** Whether a value carries a key with our prefix, as text or base64(url) at any alignment. */
function carriesKeyAsIs(value: string, m: StrayKeyMatcher): boolean {
  if (m.re.test(value)) return true;
  if (!m.b64.some((sig) => value.includes(sig))) return false;
  for (const [run] of value.matchAll(B64_RUN_RE)) {
    const std = run.replace(/-/g, "+").replace(/_/g, "/");
    for (let offset = 0; offset < 4; offset++) {
      const part = std.slice(offset);
      // Padded again (a run never holds the "="): unpadded base64url, or a padded encoding
      // whose "=" the run left out, keeps its last byte.
      const rest = part.length % 4;
      const usable = rest === 0 ? part : rest === 1 ? part.slice(0, -1) : part + "=".repeat(4 - rest);
      if (usable.length === 0) break;
      try {
        if (m.re.test(atob(usable))) return true;
      } catch {
        /* not base64 */
      }
    }
  }
  return false;
}

/**
 * A percent-encoded ASCII byte: what can hide a key's characters (keys are ASCII). Also
 * in the `%uXXXX` form ASP.NET (HttpUtility.UrlDecode) and IIS decode: `kg%u005F…`.
 */
const ASCII_ESCAPE = /%(?:[uU]00)?[0-7][0-9A-Fa-f]/;
const ASCII_ESCAPES = /%(?:[uU]00)?([0-7][0-9A-Fa-f])/g;
/** Decoding rounds looked through: `%5F`, `%255F`, `%25255F`. */
const MAX_DECODE_ROUNDS = 3;

/**
 * One round of percent-decoding of ASCII escapes only, `%5F` or `%u005F`, each on its own
 * (never throws; other bytes and malformed escapes stay as they are, as lenient decoders
 * leave them).
 */
export function decodeAsciiEscapes(value: string): string {
  return value.replace(ASCII_ESCAPES, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Whether a value carries a key, as it is or once percent-decoded (up to MAX_DECODE_ROUNDS times). */
export function carriesKey(value: string, m: StrayKeyMatcher): boolean {
  let v = value;
  for (let round = 0; ; round++) {
    if (carriesKeyAsIs(v, m)) return true;
    if (round === MAX_DECODE_ROUNDS || !ASCII_ESCAPE.test(v)) return false;
    v = decodeAsciiEscapes(v);
  }
}

/** Whether a header name carries a key (names arrive lowercased: any case matches). */
export function nameCarriesKey(name: string, m: StrayKeyMatcher): boolean {
  // Most names hold neither the prefix nor an escape: one substring search each.
  if (name.includes(m.prefixLower)) return m.reAnyCase.test(name);
  return name.includes("%") && m.reAnyCase.test(decodeAsciiEscapes(name));
}

/**
 * The value to forward for header `name`: `value` unchanged, or null to drop the header
 * when it carries a key. A cookie loses only the pairs that carry one (name or value).
 * The headers the profile consumes are checked by credential extraction and always
 * stripped.
 */
export function withoutStrayKey(name: string, value: string, m: StrayKeyMatcher | null): string | null {
  if (m === null || !carriesKey(value, m)) return value;
  if (name !== "cookie") return null;
  const kept = value.split(";").filter((pair) => !carriesKey(pair.trim(), m));
  return kept.length === 0 ? null : kept.map((p) => p.trim()).join("; ");
}

/** Whether a query parameter (`name=value`, still encoded) carries a key, in its name or its value. */
export function paramCarriesKey(part: string, m: StrayKeyMatcher): boolean {
  if (carriesKey(part, m)) return true;
  // Form decoding reads "+" as a space (a key never holds either).
  return part.includes("+") && carriesKey(part.replace(/\+/g, " "), m);
}

/**
 * Whether a (normalized) path carries a whole keygate key — in a segment or its
 * `;parameters`, percent-encoded or not (normalization decoded `%5F`). A path cannot lose
 * a part the way a header or a parameter can, so the gateway refuses it (400) rather than
 * forward the key. Only a whole minted key counts: `/docs/kg_intro` is an ordinary path.
 */
export function pathCarriesKey(path: string, m: StrayKeyMatcher | null): boolean {
  return m?.whole.test(path) === true;
}
