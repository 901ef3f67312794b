/**
 * upstreamHeaders()/downstreamHeaders() on their own, header by header. Runs in workerd
 * (npm test) and in Node (npm run test:mutation). What the real origin receives through
 * the gateway is tested in test/worker/edge/proxy/.
 */
import { describe, expect, it } from "vitest";
import type { Config } from "../../../../src/config/config";
import { parseConfig } from "../../../../src/config/config";
import type { UpstreamContext } from "../../../../src/edge/proxy/headers";
import { downstreamHeaders, upstreamHeaders } from "../../../../src/edge/proxy/headers";
import type { Env } from "../../../../src/env";

function config(vars: Record<string, unknown> = {}): Config {
  const KEYS = { get: async () => null } as unknown as KVNamespace;
  return parseConfig({ KEYS, ORIGIN_URL: "https://api.example.com", ...vars } as Env);
}

const IDENTITY = { keyId: "key_AAAAAAAAAAAAAAAAAAAA", org: "acme", scopes: ["read", "billing"] };
const CTX: UpstreamContext = {
  requestId: "rid-1",
  clientIp: "203.0.113.9",
  proto: "https",
  host: "gateway.test",
  websocket: false,
  identity: IDENTITY,
};

const up = (inbound: Record<string, string> | [string, string][], ctx: Partial<UpstreamContext> = {}, cfg = config()) =>
  Object.fromEntries(upstreamHeaders(new Headers(inbound), cfg, { ...CTX, ...ctx }));

describe("upstreamHeaders", () => {
  it("keeps end-to-end headers and sets exactly the gateway's own", () => {
    expect(up({ accept: "application/json", "content-type": "text/plain", "x-custom": "1" })).toEqual({
      accept: "application/json",
      "content-type": "text/plain",
      "x-custom": "1",
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "gateway.test",
      "x-request-id": "rid-1",
      "x-org-slug": "acme",
      "x-api-key-id": IDENTITY.keyId,
      "x-api-key-scopes": "read,billing",
      "x-auth-method": "key",
    });
  });

  it("no identity (public route): no identity headers, client copies still dropped; no client IP: no X-Forwarded-For", () => {
    const out = up(
      { "x-org-slug": "evil", "x-api-key-id": "spoof", "x-api-key-scopes": "admin", "x-forwarded-for": "6.6.6.6" },
      { identity: null, clientIp: null },
    );
    expect(out).toEqual({ "x-forwarded-proto": "https", "x-forwarded-host": "gateway.test", "x-request-id": "rid-1" });
  });

  it("drops hop-by-hop headers, those named in Connection (any case, spaces), Expect, Host and cf-*", () => {
    const out = up({
      connection: "keep-alive, X-Named ,x-other",
      "keep-alive": "timeout=5",
      "proxy-connection": "keep-alive",
      "proxy-authorization": "Basic eDp5",
      "proxy-authenticate": "Basic",
      te: "trailers",
      trailer: "x-t",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      "x-named": "1",
      "x-other": "2",
      expect: "100-continue",
      host: "evil.example",
      "cf-connecting-ip": "6.6.6.6",
      "cf-ray": "abc",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-extensions": "permessage-deflate",
      "sec-websocket-accept": "x",
      "x-kept": "yes",
    });
    expect(Object.keys(out).sort()).toEqual([
      "x-api-key-id",
      "x-api-key-scopes",
      "x-auth-method",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-forwarded-proto",
      "x-kept",
      "x-org-slug",
      "x-request-id",
    ]);
  });

  it("a WebSocket upgrade keeps its Upgrade header (and only then)", () => {
    expect(up({ upgrade: "websocket", connection: "Upgrade" }, { websocket: true }).upgrade).toBe("websocket");
    expect(up({ upgrade: "websocket", connection: "Upgrade" }, { websocket: false }).upgrade).toBeUndefined();
  });

  it("drops client claims and rewrites in any case and with _ for -", () => {
    const claims = [
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
      "x-keygate-signature",
    ];
    const inbound: [string, string][] = [];
    for (const name of claims) inbound.push([name, "client"], [name.toUpperCase().replace(/-/g, "_"), "client"]);
    const out = up(inbound, { identity: null, clientIp: null });
    // The client's own request id is kept only under its own name (issue 8, class 3).
    expect(out).toEqual({
      "x-forwarded-proto": "https",
      "x-forwarded-host": "gateway.test",
      "x-request-id": "rid-1",
      "x-client-request-id": "client",
    });
  });

  it("drops every copy of the identity headers (configured names too) and the credential header", () => {
    const cfg = config({
      ORG_HEADER: "x-tenant",
      KEY_ID_HEADER: "x-kid",
      SCOPES_HEADER: "x-perm",
      CREDENTIAL_SOURCES: "x-token,bearer",
    });
    const out = up(
      [
        ["x-tenant", "evil"],
        ["X_TENANT", "evil"],
        ["x-kid", "spoof"],
        ["x_perm", "admin"],
        ["x-token", "kg_secret"],
        ["X_TOKEN", "kg_secret"],
        ["x-org-slug", "kept: not ours here"],
      ],
      {},
      cfg,
    );
    expect(out["x-tenant"]).toBe("acme");
    expect(out["x-kid"]).toBe(IDENTITY.keyId);
    expect(out["x-perm"]).toBe("read,billing");
    expect(out["x-org-slug"]).toBe("kept: not ours here");
    expect(Object.keys(out).filter((n) => n.includes("_") || n === "x-token")).toEqual([]);
  });

  it("drops an Authorization the profile consumes; passes another scheme, and any scheme the profile does not read", () => {
    expect(up({ authorization: "Bearer kg_x" }).authorization).toBeUndefined();
    expect(up({ authorization: "basic eDo=" }).authorization).toBeUndefined();
    expect(up({ authorization: "Digest username=alice" }).authorization).toBe("Digest username=alice");
    const headerOnly = config({ AUTH_PROFILE: "argos" });
    expect(up({ authorization: "Bearer their-own-jwt" }, {}, headerOnly).authorization).toBe("Bearer their-own-jwt");
  });

  it("a WebSocket upgrade is filtered like any request (only Upgrade is kept)", () => {
    const out = up(
      {
        upgrade: "websocket",
        connection: "Upgrade",
        "x-org-slug": "evil",
        "x-forwarded-for": "6.6.6.6",
        "x-api-key": "kg_secret",
        "sec-websocket-key": "k",
      },
      { websocket: true },
    );
    expect(out).toMatchObject({ upgrade: "websocket", "x-org-slug": "acme", "x-forwarded-for": "203.0.113.9" });
    expect(Object.keys(out).filter((n) => ["connection", "x-api-key", "sec-websocket-key"].includes(n))).toEqual([]);
  });

  it("a credential header configured with _ is dropped in either spelling", () => {
    const cfg = config({ CREDENTIAL_SOURCES: "x_token" });
    expect(
      Object.keys(
        up(
          [
            ["x_token", "kg_a"],
            ["X-Token", "kg_b"],
          ],
          {},
          cfg,
        ),
      ).filter((n) => n.includes("token")),
    ).toEqual([]);
  });

  it("only the Authorization header is judged by scheme: other headers carrying 'Bearer …' pass", () => {
    expect(up({ "x-note": "Bearer not-a-credential", "x-other": "basic too" })).toMatchObject({
      "x-note": "Bearer not-a-credential",
      "x-other": "basic too",
    });
  });

  it("an empty scope list is sent as an empty header", () => {
    expect(up({}, { identity: { ...IDENTITY, scopes: [] } })["x-api-key-scopes"]).toBe("");
  });
});

describe("downstreamHeaders", () => {
  it("drops hop-by-hop headers and those the origin names in Connection; keeps the rest", () => {
    const upstream = new Headers({
      connection: "X-Hop, close",
      "x-hop": "1",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      "proxy-authenticate": "Basic",
      upgrade: "h2c",
      "content-type": "application/json",
      "x-end-to-end": "kept",
    });
    upstream.append("set-cookie", "a=1");
    upstream.append("set-cookie", "b=2");
    const out = downstreamHeaders(upstream);
    expect([...new Set(out.keys())].sort()).toEqual(["content-type", "set-cookie", "x-end-to-end"]);
    expect([...out].filter(([n]) => n === "set-cookie").map(([, v]) => v)).toEqual(["a=1", "b=2"]);
    expect(upstream.get("x-hop")).toBe("1"); // a copy: the origin's headers are untouched
  });
});
