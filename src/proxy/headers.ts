/**
 * What crosses the gateway, header by header.
 *
 * Request (client → origin): hop-by-hop headers and every header the client lists in
 * `Connection` are dropped (RFC 9110 §7.6.1), so a client cannot make an intermediary drop
 * ours; `Expect` is dropped (a 100-continue reaching the origin breaks the subrequest);
 * the credential the gateway consumed is dropped (with sessions on: a Bearer JWT and the
 * SESSION_COOKIE cookie too); every inbound copy of a header the
 * gateway sets — in any case, and with `_` for `-` (CGI-style servers read `x_org_slug`
 * as `x-org-slug`) — is dropped before ours are set. So, by pattern, is the whole family
 * of client claims about the connection and of URL/method rewrites an origin framework or
 * proxy might honour after the gateway matched the route: X-Forwarded-*, X-Original-*,
 * X-Rewrite-*, X-Override-*, X-Envoy-*, *-Method-Override, Forwarded, Front-End-Https,
 * X-Real-IP and the other client-address headers (CLIENT_CLAIMS). The client's
 * x-request-id is never ours: a well-formed one is passed as x-client-request-id. A
 * keygate key (KEY_PREFIX…) anywhere the profile does not read it — another header, an
 * Authorization scheme it does not consume, a cookie pair, a query parameter — is removed
 * (withoutStrayKey, forwardedSearch).
 *
 * Response (origin → client): only hop-by-hop headers are dropped.
 */
import type { Config } from "../config";
import { isOurAuthorization } from "../auth/credentials";
import { CHECKSUM_LENGTH, RANDOM_LENGTH } from "../keys/format";
import { bearerSessionOf, withoutCookie } from "../auth/session";
import { SIGNATURE_HEADER } from "../../verifier/index.js";
import { withoutConsoleCookie } from "../console/cookie";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The runtime runs its own WebSocket handshake with the origin (its own key, version and
 * extensions); forwarding the client's would make the origin answer the wrong key.
 */
const WEBSOCKET_HANDSHAKE = new Set(["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept"]);

/**
 * Headers a client must never choose, compared after lowercasing and `_` → `-`: exact
 * names here, whole families in CLIENT_CLAIM_FAMILIES.
 */
const CLIENT_CLAIMS = [
  // Client addresses and the original request as some proxy claims to have seen it.
  "forwarded",
  "front-end-https",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "x-cluster-client-ip",
  "client-ip",
  "x-originating-ip",
  "x-remote-ip",
  "x-remote-addr",
  "x-proxyuser-ip",
  "x-host",
  "x-url-scheme",
  "x-scheme",
  "front-end-http",
  // Method overrides (Rails, Express method-override, Symfony, ASP.NET…).
  "x-http-method",
  "x-method",
  "x-request-id",
  "x-client-request-id",
  "cdn-loop",
  // keygate's own signature (verifier/index.js): only the gateway may set it.
  SIGNATURE_HEADER,
];

/**
 * Families of client claims, dropped by pattern (on the canonical name): every
 * X-Forwarded-* (and a bare X-Forwarded), X-Original-*, X-Rewrite-*, X-Override-*,
 * X-Envoy-*, and any *-Method-Override header. An origin framework or a proxy in front of
 * it may honour any of them after the gateway has matched the route.
 */
const CLIENT_CLAIM_FAMILIES = /^(?:x-forwarded(?:-|$)|x-original(?:-|$)|x-rewrite(?:-|$)|x-override(?:-|$)|x-envoy-)|(?:^|-)method-override$/;

/** Whether a client may not send this header (any case, `_` for `-`). */
export function isClientClaim(name: string): boolean {
  const canon = name.toLowerCase().replace(/_/g, "-");
  return CLIENT_CLAIM_FAMILIES.test(canon) || CLIENT_CLAIMS.includes(canon);
}

/** Longest client request id kept (as x-client-request-id); longer ones are dropped. */
const MAX_CLIENT_REQUEST_ID = 128;
const CLIENT_REQUEST_ID_RE = /^[A-Za-z0-9._:=+\/-]+$/;

/**
 * The client's own x-request-id, when it is a plain token of at most 128 characters, else
 * null. Never the gateway's request id: kept only for correlation, under its own name.
 */
export function clientRequestId(inbound: Headers): string | null {
  const value = inbound.get("x-request-id")?.trim();
  if (!value || value.length > MAX_CLIENT_REQUEST_ID || !CLIENT_REQUEST_ID_RE.test(value)) return null;
  return value;
}

/**
 * What the gateway vouches for: `x-org-slug`, `x-api-key-scopes`, `x-auth-method` (key or
 * session), plus `x-api-key-id` for a key or `x-user-id` (the JWT's `sub`) for a session.
 */
export interface Identity {
  org: string;
  scopes: string[];
  /** How the request authenticated; "key" when absent. */
  method?: "key" | "session";
  /** A key's id (method "key"). */
  keyId?: string;
  /** A session's user, its `sub` (method "session"). */
  userId?: string;
}

export interface UpstreamContext {
  requestId: string;
  /** CF-Connecting-IP: the only client address the gateway trusts. */
  clientIp: string | null;
  proto: string;
  host: string;
  /** A WebSocket upgrade keeps its Upgrade header. */
  websocket: boolean;
  identity: Identity | null;
  /**
   * An unauthenticated CORS preflight: Authorization and Cookie are dropped too (a browser
   * never sends credentials on one; whatever is there is unchecked).
   */
  dropCredentials?: boolean;
  /** Forwarded without a body (a CORS preflight): its framing headers are dropped. */
  noBody?: boolean;
}

/** Names (canonical form) dropped from every request: derived once per config. */
const reservedCache = new WeakMap<Config, Set<string>>();

function reservedFor(config: Config): Set<string> {
  let set = reservedCache.get(config);
  if (!set) {
    set = new Set([...CLIENT_CLAIMS, ...Object.values(config.headers)]);
    for (const s of config.sources) if (s.kind === "header") set.add(s.name.replace(/_/g, "-"));
    reservedCache.set(config, set);
  }
  return set;
}

/**
 * Names (as the runtime gives them: lowercase) never forwarded, whatever their value:
 * hop-by-hop, Expect, Host, the WebSocket handshake's and the reserved names. One lookup
 * per header on the hot path; derived once per config.
 */
const droppedCache = new WeakMap<Config, Set<string>>();

function droppedFor(config: Config): Set<string> {
  let set = droppedCache.get(config);
  if (!set) {
    set = new Set([...HOP_BY_HOP, "expect", "host", ...WEBSOCKET_HANDSHAKE, ...reservedFor(config)]);
    droppedCache.set(config, set);
  }
  return set;
}

const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(value: string | null): ReadonlySet<string> {
  if (!value) return NO_TOKENS;
  const tokens = new Set<string>();
  for (const t of value.split(",")) tokens.add(t.trim().toLowerCase());
  return tokens;
}

export function upstreamHeaders(inbound: Headers, config: Config, ctx: UpstreamContext): Headers {
  const reserved = reservedFor(config);
  const dropped = droppedFor(config);
  const named = connectionTokens(inbound.get("connection"));
  const stray = strayKeyMatcher(config);
  const out = new Headers();
  for (const [name, value] of inbound) {
    if (ctx.websocket && name === "upgrade") {
      out.set(name, value);
      continue;
    }
    if (dropped.has(name) || named.has(name)) continue;
    if (name.startsWith("cf-")) continue; // Cloudflare's own, set again by the edge
    const canon = name.includes("_") ? name.replace(/_/g, "-") : name;
    if ((canon !== name && reserved.has(canon)) || CLIENT_CLAIM_FAMILIES.test(canon)) continue;
    if (name === "authorization" && (isOurAuthorization(value, config.sources) || (config.session !== null && bearerSessionOf(value) !== null))) continue;
    if (ctx.dropCredentials && (name === "authorization" || name === "cookie")) continue;
    if (ctx.noBody && (name === "content-length" || name === "content-type" || name === "content-encoding")) continue;
    let kept: string | null = value;
    // The session cookie is the gateway's credential, like a key: never forwarded.
    if (name === "cookie") {
      // The web console's session cookie (Path=/ over https) is the gateway's, never the
      // origin's. With CONSOLE_HOST browsers send it only to that host, but one set before
      // CONSOLE_HOST was (on this host, Path=/) may live on for its hour: still dropped.
      kept = withoutConsoleCookie(value) || null;
      if (kept !== null && config.session?.cookie) kept = withoutCookie(kept, config.session.cookie);
    }
    const forwarded = kept === null ? null : withoutStrayKey(name, kept, stray);
    if (forwarded !== null) out.set(name, forwarded);
  }
  if (ctx.clientIp) out.set("x-forwarded-for", ctx.clientIp);
  out.set("x-forwarded-proto", ctx.proto);
  out.set("x-forwarded-host", ctx.host);
  out.set("x-request-id", ctx.requestId);
  const clientId = clientRequestId(inbound);
  if (clientId !== null) out.set("x-client-request-id", clientId);
  if (ctx.identity) {
    out.set(config.headers.org, ctx.identity.org);
    if (ctx.identity.keyId !== undefined) out.set(config.headers.keyId, ctx.identity.keyId);
    if (ctx.identity.userId !== undefined) out.set(config.headers.userId, ctx.identity.userId);
    out.set(config.headers.scopes, ctx.identity.scopes.join(","));
    out.set(config.headers.method, ctx.identity.method ?? "key");
  }
  return out;
}

interface StrayKeyMatcher {
  /** A value carrying a key with our prefix, as text. */
  re: RegExp;
  /** What base64 (and base64url) text of that prefix contains, at each byte alignment. */
  b64: string[];
}

/** Per config: how to recognise our keys in a value (null: KEY_PREFIX is empty). */
const strayKeyCache = new WeakMap<Config, StrayKeyMatcher | null>();

/**
 * The base64 characters fully determined by `prefix` when it starts at byte offset 0, 1
 * or 2 of a 3-byte group: one of them appears in any base64 text that encodes it.
 */
function base64Signatures(prefix: string): string[] {
  const sigs = new Set<string>();
  for (let pad = 0; pad < 3; pad++) {
    const enc = btoa("\0".repeat(pad) + prefix);
    const first = Math.ceil((8 * pad) / 6);
    const last = Math.floor((8 * (pad + prefix.length)) / 6); // exclusive
    const sig = enc.slice(first, last);
    if (sig.length > 0) {
      sigs.add(sig);
      sigs.add(sig.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...sigs];
}

function strayKeyMatcher(config: Config): StrayKeyMatcher | null {
  let m = strayKeyCache.get(config);
  if (m === undefined) {
    // The prefix at the start of a token (not inside a word) followed by a key character,
    // or anywhere when followed by a whole minted key's length of key characters.
    // KEY_PREFIX is [A-Za-z0-9_-]* (config.ts): nothing in it needs escaping.
    const p = config.keyPrefix;
    m = p === "" ? null : { re: new RegExp(`(?:^|[^A-Za-z0-9])${p}[A-Za-z0-9]|${p}[A-Za-z0-9]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}`), b64: base64Signatures(p) };
    strayKeyCache.set(config, m);
  }
  return m;
}

const B64_RUN_RE = /[A-Za-z0-9+/_-]{6,}/g;

/** Whether a value carries a key with our prefix, as text or base64(url) at any alignment. */
function carriesKey(value: string, m: StrayKeyMatcher): boolean {
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
 * A keygate key (a value with KEY_PREFIX, as text or base64 as in Basic) sent where this
 * profile does not read it — another header, an Authorization scheme the profile does not
 * consume, a cookie — is removed before forwarding: it would reach the origin (its logs,
 * its own auth) unverified. A cookie loses only the pairs that carry one. The headers the
 * profile consumes are checked by credential extraction and always stripped.
 * Returns the value to forward, or null to drop the header.
 */
function withoutStrayKey(name: string, value: string, m: StrayKeyMatcher | null): string | null {
  if (m === null || !carriesKey(value, m)) return value;
  if (name !== "cookie") return null;
  const kept = value.split(";").filter((pair) => !carriesKey(pair.trim(), m));
  return kept.length === 0 ? null : kept.map((p) => p.trim()).join("; ");
}

/**
 * The query string to forward: `search` verbatim, minus the parameters whose value
 * carries a keygate key (see withoutStrayKey). Other parameters keep their exact bytes.
 */
export function forwardedSearch(search: string, config: Config): string {
  const m = strayKeyMatcher(config);
  if (m === null || search.length <= 1) return search;
  const parts = search.slice(1).split("&");
  const kept = parts.filter((part) => {
    const eq = part.indexOf("=");
    if (eq < 0) return true;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " "));
    } catch {
      value = part.slice(eq + 1);
    }
    return !carriesKey(value, m);
  });
  if (kept.length === parts.length) return search;
  return kept.length === 0 ? "" : "?" + kept.join("&");
}

/** The origin's headers minus hop-by-hop ones. */
export function downstreamHeaders(upstream: Headers): Headers {
  const named = connectionTokens(upstream.get("connection"));
  const out = new Headers(upstream);
  for (const name of [...HOP_BY_HOP, ...named]) out.delete(name);
  return out;
}
