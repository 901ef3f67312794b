/**
 * What crosses the gateway, header by header.
 *
 * Request (client → origin): hop-by-hop headers and every header the client lists in
 * `Connection` are dropped (RFC 9110 §7.6.1), so a client cannot make an intermediary drop
 * ours; `Expect` is dropped (a 100-continue reaching the origin breaks the subrequest);
 * the credential the gateway consumed is dropped; every inbound copy of a header the
 * gateway sets — in any case, and with `_` for `-` (CGI-style servers read `x_org_slug`
 * as `x-org-slug`) — is dropped before ours are set. So are client claims about the
 * connection (X-Forwarded-*, Forwarded, X-Real-IP…) and URL/method rewrites that an
 * origin framework might honour after the gateway matched the route (X-Original-URL,
 * X-HTTP-Method-Override…).
 *
 * Response (origin → client): only hop-by-hop headers are dropped.
 */
import type { Config } from "../config";
import { isOurAuthorization } from "../auth/credentials";
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

/** Headers a client must never choose, compared after lowercasing and `_` → `-`. */
const CLIENT_CLAIMS = [
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-request-id",
  "cdn-loop",
  // keygate's own signature (verifier/index.js): only the gateway may set it.
  SIGNATURE_HEADER,
];

export interface Identity {
  keyId: string;
  org: string;
  scopes: string[];
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
}

/** Names (canonical form) dropped from every request: derived once per config. */
const reservedCache = new WeakMap<Config, Set<string>>();

function reservedFor(config: Config): Set<string> {
  let set = reservedCache.get(config);
  if (!set) {
    set = new Set([...CLIENT_CLAIMS, config.headers.org, config.headers.keyId, config.headers.scopes]);
    for (const s of config.sources) if (s.kind === "header") set.add(s.name.replace(/_/g, "-"));
    reservedCache.set(config, set);
  }
  return set;
}

function connectionTokens(value: string | null): Set<string> {
  const tokens = new Set<string>();
  if (value) for (const t of value.split(",")) tokens.add(t.trim().toLowerCase());
  return tokens;
}

export function upstreamHeaders(inbound: Headers, config: Config, ctx: UpstreamContext): Headers {
  const reserved = reservedFor(config);
  const named = connectionTokens(inbound.get("connection"));
  const out = new Headers();
  for (const [name, value] of inbound) {
    if (ctx.websocket && name === "upgrade") {
      out.set(name, value);
      continue;
    }
    if (HOP_BY_HOP.has(name) || named.has(name) || name === "expect" || name === "host") continue;
    if (WEBSOCKET_HANDSHAKE.has(name)) continue;
    if (name.startsWith("cf-")) continue; // Cloudflare's own, set again by the edge
    if (reserved.has(name.includes("_") ? name.replace(/_/g, "-") : name)) continue;
    if (name === "authorization" && isOurAuthorization(value, config.sources)) continue;
    if (name === "cookie") {
      // The web console's session cookie (Path=/ over https) is the gateway's, never the origin's.
      const kept = withoutConsoleCookie(value);
      if (kept) out.set(name, kept);
      continue;
    }
    out.set(name, value);
  }
  if (ctx.clientIp) out.set("x-forwarded-for", ctx.clientIp);
  out.set("x-forwarded-proto", ctx.proto);
  out.set("x-forwarded-host", ctx.host);
  out.set("x-request-id", ctx.requestId);
  if (ctx.identity) {
    out.set(config.headers.org, ctx.identity.org);
    out.set(config.headers.keyId, ctx.identity.keyId);
    out.set(config.headers.scopes, ctx.identity.scopes.join(","));
  }
  return out;
}

/** The origin's headers minus hop-by-hop ones. */
export function downstreamHeaders(upstream: Headers): Headers {
  const named = connectionTokens(upstream.get("connection"));
  const out = new Headers(upstream);
  for (const name of [...HOP_BY_HOP, ...named]) out.delete(name);
  return out;
}
