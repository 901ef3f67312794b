/**
 * Path normalization: one canonical path that is both matched against the route table
 * and forwarded to the origin, so no encoding trick can make the origin see a different
 * resource than the one the gateway authorized.
 *
 * Steps (RFC 3986 §6.2.2):
 * 1. `\` is a separator, as in the WHATWG URL parser that browsers and workerd use.
 * 2. Percent-encodings of unreserved characters are decoded (`%2e` → `.`, `%41` → `A`);
 *    every other encoding is kept, with uppercase hex.
 * 3. Encodings an origin could read as a separator or a terminator are refused:
 *    `%2F` (/), `%5C` (\), and control characters (`%00`–`%1F`, `%7F`). So is a malformed
 *    `%` escape. Servers disagree on these; refusing is the only answer that is safe for
 *    all of them. So are their double encodings (`%252e`, `%252F`, `%2500`, `%2525`…),
 *    checked on the result so `%25%32%65` is caught too: an origin (or a proxy in front
 *    of it) that decodes once more would read them as `.`, `/`, `\` or a control.
 * 4. Dot segments are removed (§5.2.4), `..` never climbs above the root, empty segments
 *    (`//`) collapse. A segment that would be a dot segment once its `;parameters` are
 *    dropped (`..;`, the Tomcat traversal) is refused.
 * 5. A trailing slash is kept: origins may distinguish `/a` from `/a/`.
 *
 * Normalizing a normalized path returns it unchanged (tested property).
 */

export type Normalized = { ok: true; path: string } | { ok: false; reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
/** An encoded `%` followed by the encoding of a character refused or decoded above. */
const DOUBLE_ENCODED = /%25(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i;

function decodeSegment(segment: string): string | { error: string } {
  if (!segment.includes("%")) return segment;
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch !== "%") {
      out += ch;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX2.test(hex)) return { error: "malformed percent-encoding in path" };
    const code = parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) return { error: "encoded slash or backslash in path" };
    if (code < 0x20 || code === 0x7f) return { error: "encoded control character in path" };
    const decoded = String.fromCharCode(code);
    out += code < 0x80 && UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  if (DOUBLE_ENCODED.test(out)) return { error: "double-encoded dot, slash, backslash, percent or control character in path" };
  return out;
}

export function normalizePath(rawPath: string): Normalized {
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
    const beforeParams = seg.split(";", 1)[0];
    if (beforeParams === "." || beforeParams === "..") return { ok: false, reason: "dot segment with parameters in path" };
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
