/**
 * Path normalization: one canonical path that is both matched against the route table
 * and forwarded to the origin, so no encoding trick can make the origin see a different
 * resource than the one the gateway authorized.
 *
 * Every character has exactly one form in the canonical path, so an encoded variant of a
 * path is either that same path (matched and forwarded identically) or refused:
 *
 * 1. `\` is a separator, as in the WHATWG URL parser that browsers and workerd use.
 * 2. Percent-encodings of printable ASCII that a server may decode with no change of
 *    meaning are decoded to their literal form (RFC 3986 §6.2.2.2 for unreserved
 *    characters; here also the sub-delimiters `!$&'()*+,=`, `:`, `@`, `[`, `]`, `|`),
 *    since origins (nginx with a URI in proxy_pass, Tomcat, most frameworks) decode
 *    them before routing: `%61dmin` and `admin`, `a%40b` and `a@b` are one path.
 * 3. Characters the URL parser itself encodes (space, `"`, `<`, `>`, `^`, `` ` ``,
 *    `{`, `}`) and non-ASCII bytes stay (or become) encoded, with upper-case hex.
 * 4. Encoded delimiters are refused (400): `%2F` (/), `%5C` (\), `%3B` (;), `%3F` (?),
 *    `%23` (#), `%25` (%, so every double encoding: `%252e`, `%252F`…), controls
 *    (`%00`–`%1F`, `%7F`), a malformed `%` escape, overlong UTF-8 (`%C0%AE`, an old
 *    decoder's `.`), and full-width or look-alike dots, slashes and backslashes
 *    (`%EF%BC%8E`…) that a Unicode-normalizing origin would read as `.`, `/`, `\`.
 *    An origin may decode each of these into a path delimiter or a different escape;
 *    refusing is the only answer that is safe for all of them. (A *literal* `;` is
 *    kept: path parameters, dropped for matching, see matchSegments.)
 * 5. Dot segments are removed (§5.2.4), `..` never climbs above the root, empty segments
 *    (`//`) collapse. A segment that would be a dot segment once its `;parameters` are
 *    dropped (`..;`, the Tomcat traversal) is refused.
 * 6. A segment ending in a dot or a space — literal or encoded, in any mix (`private.`,
 *    `private%2e`, `private%20`, `..%20`, `x. .`), before or after its `;parameters` —
 *    is refused (400): Windows and IIS drop trailing dots and spaces from a name, and
 *    Spring's suffix matching reads `private.` as `private`, so such an origin would
 *    serve a route the gateway did not match (a hidden `/private` reached as the public
 *    `/…/*`). The dot segments `.` and `..` themselves are handled by rule 5. The same for
 *    a segment ending in a space a Unicode-normalizing (NFKC) origin folds into one
 *    (no-break, en/em and ideographic spaces: `private%C2%A0`, `private%E3%80%80`), and a
 *    segment naming an NTFS stream (`private::$DATA`, `private:$DATA`, literal or with
 *    `%24`): Windows reads it as the file `private` itself.
 * 7. A trailing slash is kept: origins may distinguish `/a` from `/a/`.
 *
 * Normalizing a normalized path returns it unchanged (tested property).
 */

export type Normalized = { ok: true; path: string } | { ok: false; reason: string };

const HEX2 = /^[0-9A-Fa-f]{2}$/;
/** Printable ASCII the URL parser always percent-encodes in a path: kept (or made) encoded. */
const ALWAYS_ENCODED = new Set([0x20, 0x22, 0x3c, 0x3e, 0x5e, 0x60, 0x7b, 0x7d]);
/** Delimiters whose encoded form is refused: / \ ; ? # %. */
const ENCODED_DELIMITERS: Record<number, string> = {
  47: "encoded slash or backslash in path",
  92: "encoded slash or backslash in path",
  59: "encoded delimiter (;) in path",
  63: "encoded delimiter (?) in path",
  35: "encoded delimiter (#) in path",
  37: "encoded percent sign (a double encoding) in path",
};
/**
 * UTF-8 sequences a lax decoder reads as `.`, `/` or `\`: overlong forms (lead bytes C0,
 * C1; E0 80–9F; F0 80–8F) and the full-width / small / one-dot-leader / division-slash
 * look-alikes a Unicode-normalizing (NFKC) origin folds into them.
 */
const LOOKALIKE_UTF8 =
  /%C[01]|%E0%[89]|%F0%8|%EF%BC%8[EF]|%EF%BC%BC|%EF%B9%92|%EF%B9%A8|%E2%80%A4|%E2%88%95|%E2%88%96|%E2%81%84/i;

function decodeSegment(segment: string): string | { error: string } {
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    const code = ch.charCodeAt(0);
    if (ch !== "%") {
      // A literal the URL parser would have encoded (direct callers, tests): canonical form.
      out += ALWAYS_ENCODED.has(code) ? `%${code.toString(16).toUpperCase()}` : ch;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX2.test(hex)) return { error: "malformed percent-encoding in path" };
    const byte = parseInt(hex, 16);
    i += 2;
    const delimiter = ENCODED_DELIMITERS[byte];
    if (delimiter !== undefined) return { error: delimiter };
    if (byte < 0x20 || byte === 0x7f) return { error: "encoded control character in path" };
    out += byte >= 0x80 || ALWAYS_ENCODED.has(byte) ? `%${hex.toUpperCase()}` : String.fromCharCode(byte);
  }
  if (out.includes("%") && LOOKALIKE_UTF8.test(out))
    return { error: "overlong or look-alike encoding of a dot, slash or backslash in path" };
  return out;
}

/**
 * A path that is already canonical: segments of characters that stay literal (no `%`,
 * `\\`, `;` or a character the URL parser encodes), no empty segment, no segment
 * ending in a dot (so no dot segment either: `.` and `..` end in one) and no NTFS stream
 * (`:$`, checked beside it). Most requests'
 * paths are; they skip the segment-by-segment pass below, which would return them
 * unchanged.
 */
const CANONICAL = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@|[\]]*[A-Za-z0-9\-_~!$&'()*+,=:@|[\]])*\/?$/;

/**
 * A segment (or its part before `;`) that Windows/IIS or suffix matching would read without its trailing dots and
 * spaces: a dot, a space, or a space an NFKC-normalizing origin folds into one (U+00A0, U+2000–U+200A, U+202F,
 * U+205F, U+3000), in their canonical (upper-case) encoding.
 */
const TRAILING_DOT_OR_SPACE = /(?:\.|%20|%C2%A0|%E2%80%8[0-9A]|%E2%80%AF|%E2%81%9F|%E3%80%80)$/;
/** An NTFS stream in a segment (`name::$DATA`, `name:$DATA`): Windows reads it as `name`. */
const NTFS_STREAM = /:\$/;

export function normalizePath(rawPath: string): Normalized {
  if (rawPath.length > 0 && CANONICAL.test(rawPath) && !NTFS_STREAM.test(rawPath)) return { ok: true, path: rawPath };
  return normalizeSegments(rawPath);
}

/** The full pass, segment by segment (normalizePath without its shortcut for canonical paths). */
export function normalizeSegments(rawPath: string): Normalized {
  // Anything outside visible ASCII should have been percent-encoded by the URL parser.
  if (/[^\x21-\x7e]/.test(rawPath)) return { ok: false, reason: "invalid character in path" };
  const parts = rawPath.replace(/\\/g, "/").split("/");
  const trailingSlash = parts.length > 1 && parts[parts.length - 1] === "";
  const out: string[] = [];
  for (const raw of parts) {
    if (raw === "") continue;
    const seg = decodeSegment(raw);
    if (typeof seg !== "string") return { ok: false, reason: seg.error };
    if (seg === ".") continue;
    if (seg === "..") {
      out.pop();
      continue;
    }
    const beforeParams = seg.split(";", 1)[0]!;
    if (beforeParams === "." || beforeParams === "..")
      return { ok: false, reason: "dot segment with parameters in path" };
    if (TRAILING_DOT_OR_SPACE.test(seg) || TRAILING_DOT_OR_SPACE.test(beforeParams))
      return { ok: false, reason: "path segment ending in a dot or a space" };
    if (NTFS_STREAM.test(seg)) return { ok: false, reason: "path segment naming an NTFS stream (:$)" };
    out.push(seg);
  }
  const path = "/" + out.join("/");
  return { ok: true, path: trailingSlash && out.length > 0 ? path + "/" : path };
}

const byRequest = new WeakMap<Request, { url: URL; normalized: Normalized }>();

function parsed(request: Request): { url: URL; normalized: Normalized } {
  let entry = byRequest.get(request);
  if (entry === undefined) {
    const url = new URL(request.url);
    entry = { url, normalized: normalizePath(url.pathname) };
    byRequest.set(request, entry);
  }
  return entry;
}

/**
 * normalizePath of a request's path, computed once per request: Hono's routing (admin
 * prefix or gateway, see app.ts) and the gateway both need it, and must agree.
 */
export function normalizedPathOf(request: Request): Normalized {
  return parsed(request).normalized;
}

/** The request's URL, parsed once per request (with its normalized path). */
export function requestUrlOf(request: Request): URL {
  return parsed(request).url;
}

/**
 * The form of a normalized path used for route matching only: case-folded, `;params`
 * dropped from each segment, trailing slash ignored. Matching the loosest reading any
 * origin might apply means a restricted route cannot be reached through a variant.
 */
export function matchSegments(path: string): string[] {
  const segments: string[] = [];
  for (const seg of path.toLowerCase().split("/")) {
    if (seg === "") continue;
    const bare = seg.split(";", 1)[0]!;
    if (bare !== "") segments.push(bare);
  }
  return segments;
}
