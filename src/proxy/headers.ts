/**
 * What crosses the gateway, header by header.
 *
 * Request (client → origin): hop-by-hop headers and every header the client lists in
 * `Connection` are dropped (RFC 9110 §7.6.1), so a client cannot make an intermediary drop
 * ours; `Expect` is dropped (a 100-continue reaching the origin breaks the subrequest);
 * the credential the gateway consumed is dropped; every inbound copy of a header the
 * gateway sets — in any case, and with `_` for `-` (CGI-style servers read `x_org_slug`
 * as `x-org-slug`) — is dropped before ours are set. So, by pattern, is the whole family
 * of client claims about the connection and of URL/method rewrites an origin framework or
 * proxy might honour after the gateway matched the route: X-Forwarded-*, X-Original-*,
 * X-Rewrite-*, X-Override-*, X-Envoy-*, *-Method-Override, Forwarded, Front-End-Https,
 * X-Real-IP and the other client-address headers (CLIENT_CLAIMS). The client's
 * x-request-id is never ours: a well-formed one is passed as x-client-request-id.
 *
 * Response (origin → client): only hop-by-hop headers are dropped.
 */
import type { Config } from "../config";
import { isOurAuthorization } from "../auth/credentials";
import { SIGNATURE_HEADER } from "../../verifier/index.js";

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
    const canon = name.includes("_") ? name.replace(/_/g, "-") : name;
    if (reserved.has(canon) || CLIENT_CLAIM_FAMILIES.test(canon)) continue;
    if (name === "authorization" && isOurAuthorization(value, config.sources)) continue;
    out.set(name, value);
  }
  if (ctx.clientIp) out.set("x-forwarded-for", ctx.clientIp);
  out.set("x-forwarded-proto", ctx.proto);
  out.set("x-forwarded-host", ctx.host);
  out.set("x-request-id", ctx.requestId);
  const clientId = clientRequestId(inbound);
  if (clientId !== null) out.set("x-client-request-id", clientId);
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
