/**
 * Issue 8, class 4: the forwarding and override headers are stripped as a family, by
 * pattern, before the gateway sets its own: X-Forwarded-*, X-Original-*, X-Rewrite-*,
 * X-Override-*, X-Envoy-*, Forwarded, Front-End-Https, X-Real-IP and the method-override
 * headers, in any case and with `_` for `-`.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import { upstreamHeaders } from "../../../../src/edge/proxy/headers";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

const FAMILIES = ["x-forwarded-", "x-original-", "x-rewrite-", "x-override-", "x-envoy-"];
const EXACT = [
  "forwarded",
  "front-end-https",
  "x-real-ip",
  "x-forwarded",
  "x-original",
  "x-http-method-override",
  "x-method-override",
  "x-http-method",
  "x-client-ip",
  "true-client-ip",
  "x-cluster-client-ip",
];
/** Names the review used and ones it did not: any member of a family must go. */
const SAMPLES = [
  ...EXACT,
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "x-forwarded-ssl",
  "x-forwarded-scheme",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-forwarded-client-cert",
  "x-original-url",
  "x-original-uri",
  "x-original-host",
  "x-original-method",
  "x-original-forwarded-for",
  "x-rewrite-url",
  "x-rewrite-path",
  "x-override-method",
  "x-override-url",
  "x-envoy-original-path",
  "x-envoy-internal",
  "x-envoy-external-address",
];

/** Random case and random `-` → `_`. */
function variant(name: string, upper: boolean[], underscore: boolean[]): string {
  return [...name]
    .map((ch, i) =>
      ch === "-" && underscore[i % underscore.length] ? "_" : upper[i % upper.length] ? ch.toUpperCase() : ch,
    )
    .join("");
}

const config = parseConfig(makeEnv());
const ctx = {
  requestId: "rid",
  clientIp: "192.0.2.1",
  proto: "https",
  host: "gw.example",
  websocket: false,
  identity: null,
};

describe("forwarding and override headers as a family (issue 8, class 4)", () => {
  test.prop([
    fc.constantFrom(...FAMILIES),
    fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
  ])(
    "any X-Forwarded-*/X-Original-*/X-Rewrite-*/X-Override-*/X-Envoy-* name, any case, `_` for `-`: never forwarded as sent",
    (family, suffix, upper, underscore) => {
      const name = variant(family + suffix, upper, underscore);
      const out = upstreamHeaders(new Headers([[name, "evil"]]), config, ctx);
      for (const [n, v] of out) expect(v === "evil", `${name} reached the origin as ${n}`).toBe(false);
    },
  );

  test.prop([
    fc.constantFrom(...EXACT),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
  ])(
    "Forwarded, Front-End-Https, X-Real-IP and the method overrides, any case, `_` for `-`: never forwarded",
    (base, upper, underscore) => {
      const name = variant(base, upper, underscore);
      const out = upstreamHeaders(new Headers([[name, "evil"]]), config, ctx);
      for (const [n, v] of out) expect(v === "evil", `${name} reached the origin as ${n}`).toBe(false);
    },
  );

  it("an ordinary header that merely starts alike is kept (the pattern is a family, not a substring)", () => {
    const out = upstreamHeaders(
      new Headers({ "x-forwarder-note": "a", "x-originality": "b", "x-envoyish": "c" }),
      config,
      ctx,
    );
    expect([out.get("x-forwarder-note"), out.get("x-originality"), out.get("x-envoyish")]).toEqual(["a", "b", "c"]);
  });

  it("through the gateway to the real origin: only the gateway's own X-Forwarded-For/Proto/Host arrive", async () => {
    const { key } = await mint();
    const headers: Record<string, string> = { "x-api-key": key, "cf-connecting-ip": "192.0.2.7" };
    for (const name of SAMPLES) headers[name] = "evil";
    for (const name of SAMPLES) headers[variant(name, [true, false], [true])] = "evil";
    for (const m of ["x-http-method-override", "X_HTTP_Method_Override", "x-method-override"]) headers[m] = "DELETE";
    const { res, calls } = await through("/v1/headers", { headers });
    expect(res.status).toBe(200);
    const seen = calls[0]!.headers;
    expect(calls[0]!.method).toBe("GET");
    for (const [name, value] of Object.entries(seen)) {
      expect(
        [value].flat().some((v) => v === "evil" || v === "DELETE"),
        `${name}: ${String(value)}`,
      ).toBe(false);
    }
    expect(seen["x-forwarded-for"]).toBe("192.0.2.7");
    expect(seen["x-forwarded-proto"]).toBe("https");
    expect(seen["x-forwarded-host"]).toBe("gateway.test");
    expect(seen["forwarded"]).toBeUndefined();
    expect(seen["x-real-ip"]).toBeUndefined();
  });
});

describe("issue 20, class 1: client claims and method overrides through the gateway", () => {
  const REVIEW = [
    "X-Middleware-Subrequest",
    "X-Client-Cert",
    "X-SSL-Client-Verify",
    "Fastly-Client-IP",
    "X-Azure-ClientIP",
    "X-Custom-IP-Authorization",
    "X-Invoke-Path",
    "Via",
    "Destination",
  ];

  it("the review's headers never reach the origin, in any spelling; ?_method=DELETE and its variants neither", async () => {
    const { key } = await mint();
    const headers: [string, string][] = [["x-api-key", key]];
    for (const name of REVIEW) headers.push([name, "evil"], [name.toLowerCase().replace(/-/g, "_"), "evil"]);
    const query =
      "?_method=DELETE&_METHOD=DELETE&X-HTTP-Method-Override=DELETE&x_http_method_override=DELETE&%5Fmethod=DELETE&_HttpMethod=DELETE&n=1";
    const { res, calls } = await through(`/v1/things${query}`, { headers });
    expect(res.status).toBe(200);
    expect(calls[0]!.method).toBe("GET");
    expect(calls[0]!.url).toBe("/v1/things?n=1");
    for (const [name, value] of Object.entries(calls[0]!.headers))
      expect(
        [value].flat().some((v) => v === "evil" || v === "DELETE"),
        `${name}: ${String(value)}`,
      ).toBe(false);
  });

  it("FORWARD_CLIENT_HEADERS lets the named one through, and only it", async () => {
    const { key } = await mint();
    const env = makeEnv({ FORWARD_CLIENT_HEADERS: "destination" });
    const { res, calls } = await through(
      "/v1/things",
      {
        method: "MOVE" as string,
        headers: { "x-api-key": key, destination: "/v1/other", via: "1.1 evil", x_destination: "x" },
      },
      env,
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers.destination).toBe("/v1/other");
    expect(calls[0]!.headers.via).toBeUndefined();
  });

  it("an invalid FORWARD_CLIENT_HEADERS fails closed: 500, nothing forwarded", async () => {
    const { key } = await mint();
    const { res, calls } = await through(
      "/v1/things",
      { headers: { "x-api-key": key } },
      makeEnv({ FORWARD_CLIENT_HEADERS: "x-forwarded-for" }),
    );
    expect(res.status).toBe(500);
    expect(calls).toHaveLength(0);
  });
});
