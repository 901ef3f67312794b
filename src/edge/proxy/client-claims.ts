/**
 * Client claims: request headers a client must never choose, because some origin,
 * framework or proxy in front of it trusts them as set by infrastructure — the client's
 * address, the URL or method "really" asked for, a TLS client certificate's verdict, a
 * user an authenticating proxy vouches for. keygate drops every one of them before it
 * forwards (edge/proxy/headers.ts), in any case and with `_` for `-` (CGI-style servers read
 * `X_Real_IP` as `X-Real-IP`). This is the one list: each family says which origins trust
 * it. An entry is an exact name, a prefix (`x-ssl-*`) or a suffix (`*-method-override`),
 * compared with the canonical name (lowercase, `_` → `-`).
 *
 * An operator whose origin really needs one of them from its clients allows it back by
 * name with FORWARD_CLIENT_HEADERS (exactly that spelling; the gateway's own headers
 * cannot be allowed back).
 *
 * Method overrides also come as query parameters (`?_method=DELETE`): the query's
 * forwarding drops them too (isMethodOverrideParam), always; in a form body they are
 * refused where they could gain something (edge/routes/method-override.ts).
 */
import { SIGNATURE_HEADER, VERDICT_HEADER } from "../../../verifier/index.js";

const FAMILIES: { names: string[] }[] = [
  {
    // Reverse proxies and frameworks behind one: nginx real_ip, Express `trust proxy`,
    // Rails, Django, Spring ForwardedHeaderFilter, IIS, WebLogic… read the client's
    // address, scheme and host from these once they trust the hop in front of them;
    // client-address libraries read more spellings (npm request-ip and django-ipware:
    // Forwarded-For, Cluster-Client-IP; PHP's classic getenv chain: X-Coming-From,
    // Coming-From), and Jetty's ForwardedRequestCustomizer reads mod_proxy's TLS headers
    // (Proxy-Auth-Cert, Proxy-SSL-Id, X-Proxied-Https).
    names: [
      "forwarded",
      "forwarded-for",
      "forwarded-for-ip",
      "x-forwarded",
      "x-forwarded-*",
      "x-real-ip",
      "x-client-ip",
      "client-ip",
      "true-client-ip",
      "x-true-client-ip",
      "x-cluster-client-ip",
      "cluster-client-ip",
      "x-true-ip",
      "x-coming-from",
      "coming-from",
      "x-originating-ip",
      "x-remote-ip",
      "x-remote-addr",
      "x-proxyuser-ip",
      "proxy-client-ip",
      "wl-proxy-client-ip",
      "x-custom-ip-authorization",
      "x-host",
      "x-http-host-override",
      "x-url-scheme",
      "x-scheme",
      "x-https",
      "front-end-https",
      "front-end-http",
      "proxy-auth-cert",
      "proxy-ssl-id",
      "x-proxied-https",
      "via",
    ],
  },
  {
    // A CDN in front of the origin sets these; an origin behind that CDN believes them:
    // Fastly (Fastly-Client-IP, Fastly-SSL), Azure Front Door (X-Azure-ClientIP,
    // X-Azure-SocketIP, X-Azure-FDID), CloudFront (CloudFront-Viewer-Address,
    // CloudFront-Forwarded-Proto), Akamai, App Engine, Fly, Vercel, Netlify, Imperva,
    // Sucuri, Alibaba; Google Cloud Tasks and Cloud Scheduler (App Engine strips them from
    // outside requests, Cloud Run and other hosts do not, and handlers check them to accept
    // a task or a cron call). (Cloudflare's own cf-* headers are dropped too, and set again
    // by its edge.)
    names: [
      "fastly-*",
      "x-azure-*",
      "cloudfront-*",
      "akamai-*",
      "x-akamai-*",
      "x-appengine-*",
      "fly-*",
      "x-vercel-*",
      "x-nf-*",
      "incap-client-ip",
      "x-sucuri-*",
      "ali-cdn-real-ip",
      "cdn-loop",
      "x-cloudtasks-*",
      "x-cloudscheduler",
      "x-cloudscheduler-*",
    ],
  },
  {
    // mTLS terminated in front of the origin: the proxy passes the client certificate
    // and its verdict on. RFC 9440 (Client-Cert), nginx and HAProxy conventions
    // (X-SSL-Client-Verify, X-SSL-Client-Cert, X-Client-Cert…), IIS ARR (X-ARR-ClientCert),
    // AWS ALB (X-Amzn-Mtls-Clientcert*), WebLogic (WL-Proxy-SSL), CGI-style SSL_* names.
    names: [
      "client-cert",
      "client-cert-chain",
      "x-client-cert",
      "x-client-cert-*",
      "x-client-certificate",
      "x-client-verify",
      "x-client-dn",
      "x-client-s-dn",
      "x-client-i-dn",
      "x-client-serial",
      "x-ssl",
      "x-ssl-*",
      "ssl-*",
      "x-arr-clientcert",
      "x-arr-ssl",
      "x-amzn-mtls-*",
      "wl-proxy-ssl",
    ],
  },
  {
    // An authenticating proxy in front of the origin names the user, and the origin
    // trusts it: AWS ALB OIDC, Google IAP and Cloud Endpoints / API Gateway, Azure App
    // Service authentication, oauth2-proxy, Authelia (Remote-*), Authentik (X-Authentik-*),
    // Apache mod_auth_openidc (OIDC_CLAIM_*), Grafana's auth proxy, Kong (X-Consumer-*,
    // X-Credential-Identifier…), WSO2, Pomerium, Vouch; serverless-express reads the API
    // Gateway event (its authorizer's claims) from X-APIGateway-Event.
    names: [
      "x-amzn-oidc-*",
      "x-goog-authenticated-user-*",
      "x-goog-iap-jwt-assertion",
      "x-endpoint-api-userinfo",
      "x-apigateway-*",
      "x-authentik-*",
      "oidc-claim-*",
      "x-ms-client-principal",
      "x-ms-client-principal-*",
      "x-ms-token-*",
      "x-auth-request-*",
      "remote-user",
      "remote-groups",
      "remote-email",
      "remote-name",
      "x-remote-user",
      "x-webauth-user",
      "x-authenticated-user",
      "x-authenticated-userid",
      "x-authenticated-scope",
      "x-consumer-*",
      "x-credential-identifier",
      "x-anonymous-consumer",
      "x-userinfo",
      "x-jwt-assertion",
      "x-pomerium-*",
      "x-vouch-*",
    ],
  },
  {
    // Frameworks and proxies that route on them after the gateway matched the path and
    // method: IIS/Symfony/nginx (X-Original-URL, X-Rewrite-URL), Envoy, Next.js's
    // internal headers (X-Middleware-Subrequest skips its middleware: CVE-2025-29927;
    // X-Invoke-Path, X-Now-Route-Matches, X-Matched-Path), Traefik's X-Replaced-Path (the
    // path before its prefix was stripped), WebDAV's Destination (another
    // path than the one authorized), and method overrides (Rails, Express
    // method-override, Symfony, Laravel, ASP.NET, Google APIs).
    names: [
      "x-original",
      "x-original-*",
      "x-rewrite",
      "x-rewrite-*",
      "x-override",
      "x-override-*",
      "x-envoy-*",
      "x-middleware-*",
      "x-invoke-*",
      "x-now-route-matches",
      "x-matched-path",
      "x-replaced-path",
      "destination",
      "x-http-destinationurl",
      "x-proxy-url",
      "x-http-method",
      "x-method",
      "*-method-override",
    ],
  },
  {
    // The gateway's own: it sets them itself (the client's request id travels as
    // x-client-request-id, ours is x-request-id; only keygate may sign, or give a verdict
    // in report mode: docs/migrating.md).
    names: ["x-request-id", "x-client-request-id", SIGNATURE_HEADER, VERDICT_HEADER],
  },
];

/** What the gateway sets itself on every forwarded request: never allowed back. */
const GATEWAY_SET = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-request-id",
  "x-client-request-id",
  SIGNATURE_HEADER,
  VERDICT_HEADER,
]);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
const all = FAMILIES.flatMap((f) => f.names);

/** The exact names (canonical form). */
export const CLIENT_CLAIM_NAMES: readonly string[] = all.filter((n) => !n.includes("*"));
/** The families, as written (`x-ssl-*`, `*-method-override`). */
export const CLIENT_CLAIM_FAMILIES: readonly string[] = all.filter((n) => n.includes("*"));

/** The families by prefix or suffix (canonical form), as one expression. */
export const CLIENT_CLAIM_PATTERN = new RegExp(
  [
    `^(?:${CLIENT_CLAIM_FAMILIES.filter((n) => n.endsWith("*"))
      .map((n) => escapeRegExp(n.slice(0, -1)))
      .join("|")})`,
    `(?:^|-)(?:${CLIENT_CLAIM_FAMILIES.filter((n) => n.startsWith("*"))
      .map((n) => escapeRegExp(n.slice(2)))
      .join("|")})$`,
  ].join("|"),
);

/** The canonical form of a header name: lowercase, `_` → `-`. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes("_") ? lower.replace(/_/g, "-") : lower;
}

const EXACT = new Set(CLIENT_CLAIM_NAMES);

/** Whether a client may not send this header (any case, `_` for `-`). */
export function isClientClaim(name: string): boolean {
  const canon = canonicalHeaderName(name);
  return EXACT.has(canon) || CLIENT_CLAIM_PATTERN.test(canon);
}

/**
 * FORWARD_CLIENT_HEADERS: a comma list of header names the operator's origin needs from
 * its clients although they are client claims. Each must be one (anything else is not
 * dropped: nothing to allow) and not one the gateway sets itself. Returns the set of
 * names (lowercase, as given: only that spelling is forwarded), or the problem.
 */
export function parseForwardClientHeaders(list: string | null): Set<string> | string {
  const out = new Set<string>();
  if (list === null) return out;
  for (const raw of list.split(",")) {
    const name = raw.trim().toLowerCase();
    if (GATEWAY_SET.has(canonicalHeaderName(name)))
      return `"${name}" is set by the gateway itself and cannot be allowed back`;
    if (!isClientClaim(name))
      return `"${name}" is not a client claim keygate strips (docs/security.md lists them): nothing to allow back`;
    out.add(name);
  }
  return out;
}

/**
 * Whether a query parameter's name asks for a method override: `_method` (Rails,
 * Symfony, Laravel, Spring's HiddenHttpMethodFilter, Express method-override with a query
 * getter), `_HttpMethod` (Salesforce), `X-HTTP-Method-Override` and the other method
 * header names used as parameters. `name` is percent-decoded; compared after cutting it
 * at a NUL (PHP's names are C strings: `_method%00x` is `_method`), removing leading
 * spaces and folding case, `_`, `.` and spaces to `-` (PHP reads `.method` and ` _method`
 * as `_method`).
 */
export function isMethodOverrideParam(name: string): boolean {
  if (!METHOD_WORD.test(name)) return false; // most names: one search
  const nul = name.indexOf("\0");
  const canon = (nul < 0 ? name : name.slice(0, nul))
    .replace(/^\s+/, "")
    .toLowerCase()
    .replace(/[_.\s]/g, "-");
  return METHOD_OVERRIDE_PARAM.test(canon);
}

const METHOD_WORD = /method/i;

const METHOD_OVERRIDE_PARAM = /^(?:-|x-)(?:http-?)?method$|(?:^|-)method-override$/;
