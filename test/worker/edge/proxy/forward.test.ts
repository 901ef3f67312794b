/**
 * Forwarding semantics, observed at the real origin.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeEnv, mint, ORIGIN, send, through } from "../../../support/worker-helpers";

async function keyHeaders(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const { key } = await mint();
  return { "x-api-key": key, ...extra };
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("what the origin receives", () => {
  it("the same method, normalized path, verbatim query and body", async () => {
    const headers = await keyHeaders({ "content-type": "application/json" });
    const { res, calls } = await through("/a//b/./c?x=1&y=%2F%20&x=2", { method: "PATCH", headers, body: '{"n":1}' });
    expect(res.status).toBe(200);
    expect(calls[0]).toMatchObject({ method: "PATCH", url: "/a/b/c?x=1&y=%2F%20&x=2", bodyBytes: 7 });
    expect(calls[0]!.headers["content-type"]).toBe("application/json");
  });

  it("a multi-MiB upload arrives intact", async () => {
    const body = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    const { calls } = await through("/upload", { method: "PUT", headers: await keyHeaders(), body });
    expect(calls[0]!.bodyBytes).toBe(body.length);
    expect(calls[0]!.bodySha256).toBe(await sha256Hex(body));
  });

  it("a HEAD is forwarded as HEAD", async () => {
    const { res, calls } = await through("/thing", { method: "HEAD", headers: await keyHeaders() });
    expect(res.status).toBe(200);
    expect(calls[0]!.method).toBe("HEAD");
  });

  it("ORIGIN_URL's base path prefixes the normalized path", async () => {
    const { calls } = await through(
      "/things?q=1",
      { headers: await keyHeaders() },
      makeEnv({ ORIGIN_URL: `${ORIGIN}/v1/` }),
    );
    expect(calls[0]!.url).toBe("/v1/things?q=1");
  });

  it("X-Forwarded-For comes from CF-Connecting-IP only; X-Forwarded-Proto/Host from the request", async () => {
    const headers = await keyHeaders({
      "cf-connecting-ip": "203.0.113.7",
      "x-forwarded-for": "1.2.3.4",
      "x-forwarded-host": "evil.test",
      "x-real-ip": "1.2.3.4",
      forwarded: "for=1.2.3.4",
    });
    const { calls } = await through("/ip", { headers });
    const seen = calls[0]!.headers;
    expect(seen["x-forwarded-for"]).toBe("203.0.113.7");
    expect(seen["x-forwarded-proto"]).toBe("https");
    expect(seen["x-forwarded-host"]).toBe("gateway.test");
    expect(seen["x-real-ip"]).toBeUndefined();
    expect(seen.forwarded).toBeUndefined();
    expect(seen.host).toBe(new URL(ORIGIN).host);
  });

  it("drops hop-by-hop headers, those named in Connection, and Expect", async () => {
    const headers = await keyHeaders({
      connection: "keep-alive, x-hop",
      "x-hop": "1",
      "keep-alive": "timeout=5",
      te: "trailers",
      "proxy-authorization": "Basic eDp5",
      "x-end": "kept",
    });
    headers.expect = "100-continue";
    const { res, calls } = await through("/hop-in", { method: "POST", headers, body: "payload" });
    expect(res.status).toBe(200);
    const seen = calls[0]!.headers;
    for (const h of ["x-hop", "keep-alive", "te", "proxy-authorization", "expect"]) expect(seen[h]).toBeUndefined();
    expect(seen["x-end"]).toBe("kept");
    expect(calls[0]!.bodyBytes).toBe(7);
  });

  it("an Authorization scheme the profile does not consume reaches the origin untouched", async () => {
    const headers = await keyHeaders({ authorization: "Digest username=alice" });
    const { calls } = await through("/auth-passthrough", { headers }, makeEnv({ AUTH_PROFILE: "argos" }));
    expect(calls[0]!.headers.authorization).toBe("Digest username=alice");
  });

  it("carries one request id, always the gateway's: the origin's copy and the response's are the same", async () => {
    const { res, calls } = await through("/rid", { headers: await keyHeaders({ "x-request-id": "client-trace-42" }) });
    expect(calls[0]!.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("x-request-id")).toBe(calls[0]!.headers["x-request-id"]);
    // The client's well-formed id is kept for correlation under its own name only.
    expect(calls[0]!.headers["x-client-request-id"]).toBe("client-trace-42");
    const spoof = await through("/rid", { headers: await keyHeaders({ "x-request-id": "bad id <script>" }) });
    expect(spoof.calls[0]!.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(spoof.calls[0]!.headers["x-client-request-id"]).toBeUndefined();
    expect(spoof.res.headers.get("x-request-id")).toBe(spoof.calls[0]!.headers["x-request-id"]);
  });
});

describe("what the client receives", () => {
  it("any origin status with the origin's own body (not rewritten)", async () => {
    const headers = await keyHeaders();
    for (const status of [201, 404, 418, 500, 503]) {
      const { res, body } = await through(`/status/${status}`, { headers });
      expect(res.status).toBe(status);
      expect(JSON.parse(body)).toEqual({ status, from: "origin" });
    }
  });

  it("redirects are returned, not followed", async () => {
    const { res, calls } = await through("/redirect", { headers: await keyHeaders() });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/elsewhere");
    expect(calls).toHaveLength(1);
  });

  it("hop-by-hop response headers are dropped, end-to-end ones kept (cookies too)", async () => {
    const { res } = await through("/hop", { headers: await keyHeaders() });
    expect(res.headers.get("x-hop-custom")).toBeNull();
    expect(res.headers.get("keep-alive")).toBeNull();
    expect(res.headers.get("x-end-to-end")).toBe("kept");
    expect([...res.headers].filter(([name]) => name === "set-cookie").map(([, v]) => v)).toEqual([
      "a=1; Path=/",
      "b=2; Path=/",
    ]);
  });

  it("a gzip-encoded response decodes for the client", async () => {
    const res = await send("/gzip", { headers: await keyHeaders({ "accept-encoding": "gzip" }) });
    expect(((await res.json()) as { compressed: boolean }).compressed).toBe(true);
  });
});

describe("origin failures", () => {
  it("504 in the profile's shape when the origin sends no headers within UPSTREAM_TIMEOUT_MS", async () => {
    // The origin would answer 200 after 10 s: a 504 means the gateway stopped waiting first.
    const { res, body } = await through(
      "/slow-headers?ms=10000",
      { headers: await keyHeaders() },
      makeEnv({ UPSTREAM_TIMEOUT_MS: "300", AUTH_PROFILE: "argos" }),
    );
    expect(res.status).toBe(504);
    expect(JSON.parse(body)).toEqual({
      error: { code: "GATEWAY_TIMEOUT", status: 504, message: "The upstream server did not answer in time." },
    });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("502 when the origin is unreachable", async () => {
    const { res, body } = await through(
      "/x",
      { headers: await keyHeaders() },
      makeEnv({ ORIGIN_URL: "http://127.0.0.1:1" }),
    );
    expect(res.status).toBe(502);
    expect(JSON.parse(body)).toMatchObject({ status: 502, code: "upstream_unreachable" });
  });

  it("502 when the origin resets the connection before answering", async () => {
    const { res } = await through("/reset", { headers: await keyHeaders() });
    expect(res.status).toBe(502);
  });
});

describe("CORS preflight", () => {
  const preflight = {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "POST" },
  };

  it("is forwarded without a key by default (browsers send none)", async () => {
    const { res, calls } = await through("/things", preflight);
    expect(res.status).toBe(200);
    expect(calls[0]!.method).toBe("OPTIONS");
    expect(calls[0]!.headers["x-org-slug"]).toBeUndefined();
  });

  it("needs a key with CORS_PREFLIGHT=auth, and a plain OPTIONS always does", async () => {
    expect((await through("/things", preflight, makeEnv({ CORS_PREFLIGHT: "auth" }))).res.status).toBe(401);
    expect((await through("/things", { method: "OPTIONS" })).res.status).toBe(401);
  });
});

describe("timers", () => {
  afterEach(() => vi.restoreAllMocks());

  it("a finished forward leaves no timer behind (the runtime caps a request's active timers at 10,000)", async () => {
    const active = new Set<unknown>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      const id = realSet(() => {
        active.delete(id);
        fn();
      }, ms);
      active.add(id);
      return id;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, "clearTimeout").mockImplementation(((id: Parameters<typeof clearTimeout>[0]) => {
      active.delete(id);
      realClear(id);
    }) as typeof clearTimeout);
    const headers = await keyHeaders();
    let created = 0;
    // A small body read whole, a large one streamed through the idle guard, a 404 answer.
    for (const path of ["/things", "/large?bytes=200000", "/status/404"]) {
      const before = vi.mocked(globalThis.setTimeout).mock.calls.length;
      const { res } = await through(path, { headers });
      expect(res.status).toBeLessThan(500);
      created += vi.mocked(globalThis.setTimeout).mock.calls.length - before;
    }
    expect(created).toBeGreaterThan(0);
    expect(active.size).toBe(0);
  });
});
