/**
 * What crosses the gateway, header by header.
 *
 * Request (client → origin): hop-by-hop headers and every header the client lists in
 * `Connection` are dropped (RFC 9110 §7.6.1), so a client cannot make an intermediary drop
 * ours; `Expect` is dropped (a 100-continue reaching the origin breaks the subrequest);
 * the credential the gateway consumed is dropped (with sessions on: a Bearer JWT and the
 * SESSION_COOKIE cookie too); every inbound copy of a header the
 * gateway sets — in any case, and with `_` for `-` (CGI-style servers read `x_org_slug`
 * as `x-org-slug`) — is dropped before ours are set. So is every client claim
 * (edge/proxy/client-claims.ts: the one list, by family — client addresses, CDN verdicts,
 * client certificates, identities from authenticating proxies, framework-internal
 * routing and method overrides), unless FORWARD_CLIENT_HEADERS allows that exact name
 * back. The client's x-request-id is never ours: a well-formed one is passed as
 * x-client-request-id. A keygate key (KEY_PREFIX…) anywhere the profile does not read it
 * — another header's value or name, an Authorization scheme it does not consume, a
 * cookie pair, a query parameter's value or name, as text, base64 or percent-encoded — is
 * removed (edge/proxy/stray-keys.ts), and so is a method-override query parameter
 * (`_method`…: forwardedSearch).
 *
 * Report mode (ENFORCEMENT=report, docs/migrating.md: `UpstreamContext.verdict`): keygate
 * vouches for nothing and the origin authenticates as it did before keygate, so the
 * client's own credential is forwarded as sent — its key header, its Authorization, its
 * session cookie — and so is the org header when the profile reads the org from it
 * (ORG_SOURCE=header: there it is the client's request, not an identity). No identity
 * header is set; `x-keygate-verdict` is. Everything else is stripped as in enforce mode:
 * keygate's own headers, client claims, `_` spellings, method overrides, stray keygate keys
 * — a keygate key is never forwarded, not even as the credential.
 *
 * Response (origin → client): only hop-by-hop headers are dropped.
 */
import { VERDICT_HEADER } from "../../../verifier/index.js";
import type { Config } from "../../config/config";
import { isOurAuthorization } from "../auth/credentials";
import { bearerSessionOf, withoutCookie } from "../auth/session";
import { CLIENT_CLAIM_NAMES, CLIENT_CLAIM_PATTERN, isMethodOverrideParam } from "./client-claims";
import { withoutConsoleCookie } from "./console-cookie";
import { decodeAsciiEscapes, nameCarriesKey, paramCarriesKey, strayKeyMatcher, withoutStrayKey } from "./stray-keys";

export { isClientClaim } from "./client-claims";

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
const WEBSOCKET_HANDSHAKE = new Set([
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

/** Longest client request id kept (as x-client-request-id); longer ones are dropped. */
const MAX_CLIENT_REQUEST_ID = 128;
const CLIENT_REQUEST_ID_RE = /^[A-Za-z0-9._:=+/-]+$/;

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
  /**
   * Report mode: keygate's verdict (`allow`, or `deny; reason=…; status=…`), sent as
   * x-keygate-verdict; the client's credential (and, with ORG_SOURCE=header, its org
   * header) is forwarded as sent and no identity is set.
   */
  verdict?: string;
}

/** Names (canonical form) dropped from every request: derived once per config. */
const reservedCache = new WeakMap<Config, Set<string>>();

function reservedFor(config: Config): Set<string> {
  let set = reservedCache.get(config);
  if (!set) {
    set = new Set([...CLIENT_CLAIM_NAMES, ...Object.values(config.headers)]);
    for (const s of config.sources) if (s.kind === "header") set.add(s.name.replace(/_/g, "-"));
    reservedCache.set(config, set);
  }
  return set;
}

/**
 * Names (as the runtime gives them: lowercase) never forwarded, whatever their value:
 * hop-by-hop, Expect, Host, the WebSocket handshake's and the reserved names, but for the
 * ones FORWARD_CLIENT_HEADERS allows back. One lookup per header on the hot path; derived
 * once per config.
 */
const droppedCache = new WeakMap<Config, Set<string>>();

function droppedFor(config: Config): Set<string> {
  let set = droppedCache.get(config);
  if (!set) {
    set = new Set([...HOP_BY_HOP, "expect", "host", ...WEBSOCKET_HANDSHAKE, ...reservedFor(config)]);
    for (const name of config.forwardClientHeaders) set.delete(name);
    droppedCache.set(config, set);
  }
  return set;
}

/**
 * The same in report mode: the client's credential headers (their exact names) pass, and
 * the org header when the client names its org in it (ORG_SOURCE=header).
 */
const reportDroppedCache = new WeakMap<Config, Set<string>>();

function reportDroppedFor(config: Config): Set<string> {
  let set = reportDroppedCache.get(config);
  if (!set) {
    set = new Set(droppedFor(config));
    for (const s of config.sources) if (s.kind === "header") set.delete(s.name);
    if (config.orgSource === "header") set.delete(config.headers.org);
    reportDroppedCache.set(config, set);
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
  const report = ctx.verdict !== undefined;
  const dropped = report ? reportDroppedFor(config) : droppedFor(config);
  const allowed = config.forwardClientHeaders;
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
    if (allowed.size === 0 || !allowed.has(name)) {
      const canon = name.includes("_") ? name.replace(/_/g, "-") : name;
      if ((canon !== name && reserved.has(canon)) || CLIENT_CLAIM_PATTERN.test(canon)) continue;
    }
    if (stray !== null && nameCarriesKey(name, stray)) continue;
    if (
      !report &&
      name === "authorization" &&
      (isOurAuthorization(value, config.sources) || (config.session !== null && bearerSessionOf(value) !== null))
    )
      continue;
    if (ctx.dropCredentials && (name === "authorization" || name === "cookie")) continue;
    if (ctx.noBody && (name === "content-length" || name === "content-type" || name === "content-encoding")) continue;
    let kept: string | null = value;
    // The session cookie is the gateway's credential, like a key: never forwarded.
    if (name === "cookie") {
      // The web console's session cookie (Path=/ over https) is the gateway's, never the
      // origin's. With CONSOLE_HOST browsers send it only to that host, but one set before
      // CONSOLE_HOST was (on this host, Path=/) may live on for its hour: still dropped.
      kept = withoutConsoleCookie(value) || null;
      if (kept !== null && !report && config.session?.cookie) kept = withoutCookie(kept, config.session.cookie);
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
  if (report) out.set(VERDICT_HEADER, ctx.verdict!);
  else if (ctx.identity) {
    out.set(config.headers.org, ctx.identity.org);
    if (ctx.identity.keyId !== undefined) out.set(config.headers.keyId, ctx.identity.keyId);
    if (ctx.identity.userId !== undefined) out.set(config.headers.userId, ctx.identity.userId);
    out.set(config.headers.scopes, ctx.identity.scopes.join(","));
    out.set(config.headers.method, ctx.identity.method ?? "key");
  }
  return out;
}

/**
 * The query string to forward: `search` verbatim, minus the parameters that ask for a
 * method override (`_method`, `X-HTTP-Method-Override`… as a parameter: the route and
 * method were matched as sent) and those carrying a keygate key in their value or their
 * name (edge/proxy/stray-keys.ts). Other parameters keep their exact bytes. Some origins
 * also split parameters on `;` (Rack 2, Python's parse_qs before 3.9.2): an `&`-separated
 * part any of whose `;`-pieces is a method override goes whole.
 */
export function forwardedSearch(search: string, config: Config): string {
  if (search.length <= 1) return search;
  const m = strayKeyMatcher(config);
  const parts = search.slice(1).split("&");
  const kept = parts.filter((part) => !partOverridesMethod(part) && (m === null || !paramCarriesKey(part, m)));
  if (kept.length === parts.length) return search;
  return kept.length === 0 ? "" : "?" + kept.join("&");
}

/**
 * Whether one `&`-separated part of a query or an urlencoded form body (still encoded)
 * names a method override, as an origin reads it: its name leniently decoded (paramName),
 * and, since some origins also split on `;` (Rack 2, Python's parse_qs before 3.9.2), any
 * of its `;`-pieces. The one reading both the query's forwarding and the form-body check
 * (edge/routes/method-override.ts) use.
 */
export function partOverridesMethod(part: string): boolean {
  for (const piece of part.includes(";") ? part.split(";") : [part]) {
    const eq = piece.indexOf("=");
    const name = eq < 0 ? piece : piece.slice(0, eq);
    if (name.length > 0 && isMethodOverrideParam(paramName(name))) return true;
  }
  return false;
}

/**
 * A parameter's name as an origin reads it: "+" a space, its ASCII escapes decoded (the
 * names looked for are ASCII; `%5F` or ASP.NET's `%u005F`), each on its own as lenient
 * decoders do (PHP keeps a malformed `%ZZ` and decodes the rest).
 */
export function paramName(raw: string): string {
  const spaced = raw.includes("+") ? raw.replace(/\+/g, " ") : raw;
  if (!spaced.includes("%")) return spaced;
  return decodeAsciiEscapes(spaced);
}

/** Drop the hop-by-hop headers from `headers`, in place: those of RFC 9110 §7.6.1 and those its Connection names. */
export function stripHopByHop(headers: Headers): Headers {
  const connection = headers.get("connection");
  for (const name of HOP_BY_HOP) headers.delete(name);
  if (connection) for (const name of connectionTokens(connection)) headers.delete(name);
  return headers;
}

/** The origin's headers minus hop-by-hop ones (a copy). */
export function downstreamHeaders(upstream: Headers): Headers {
  return stripHopByHop(new Headers(upstream));
}
