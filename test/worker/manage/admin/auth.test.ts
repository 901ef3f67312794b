/**
 * The admin API's door: off without ADMIN_TOKEN (the profile's 404, never forwarded),
 * Bearer auth compared in constant time, the prefix matched on the normalized path, and
 * configuration that fails closed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeEnv, mint, send, through } from "../../../support/worker-helpers";
import { adminEnv, api, PROBLEM_401, TOKEN, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

// Absolute URLs: "//_keygate/keys" alone would parse as a protocol-relative URL.
const SPELLINGS = [
  "/_keygate/keys",
  "/%5fkeygate/keys",
  "/%5Fkeygate/keys",
  "//_keygate/keys",
  "/x/../_keygate/keys",
  "/_KEYGATE/keys",
  "/_keygate;p/keys",
  "/_keygate",
];

describe("ADMIN_TOKEN unset: the admin prefix is refused with the profile's 404, never forwarded", () => {
  const PROFILES = {
    default:
      '{"type":"about:blank","title":"Not Found","status":404,"detail":"The requested resource was not found.","code":"not_found"}',
    argos: '{"error":{"code":"NOT_FOUND","status":404,"message":"The requested resource was not found."}}',
    argus: '{"detail":"Not Found"}',
  };
  for (const [profile, body] of Object.entries(PROFILES)) {
    it(`${profile}: every spelling of the prefix, with or without a valid key`, async () => {
      const { key } = await mint();
      for (const path of SPELLINGS) {
        for (const headers of [{}, { "x-api-key": key }, { authorization: `Bearer ${TOKEN}` }] as Record<
          string,
          string
        >[]) {
          const {
            res,
            body: text,
            calls,
          } = await through(`https://gateway.test${path}`, { headers }, makeEnv({ AUTH_PROFILE: profile }));
          expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
          expect(text).toBe(body);
          expect(res.headers.get("cache-control")).toBe("no-store");
          expect(calls).toHaveLength(0);
        }
      }
    });
  }

  it("a path that merely starts with the same letters is an ordinary path", async () => {
    const { key } = await mint();
    const { res, calls } = await through("/_keygatex/keys", { headers: { "x-api-key": key } }, makeEnv());
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe("ADMIN_TOKEN set: Authorization: Bearer <ADMIN_TOKEN>", () => {
  it("no Authorization: 401 with a Bearer challenge and no error code (RFC 6750 §3.1), origin never called", async () => {
    const { res, body, calls } = await through("/_keygate/keys?org=acme", {}, adminEnv());
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin"');
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^[\w-]+$/);
    expect(JSON.parse(body)).toEqual(PROBLEM_401);
    expect(calls).toHaveLength(0);
  });

  it('a wrong token, a longer or shorter one, an empty one: 401 error="invalid_token"', async () => {
    for (const token of [TOKEN.slice(0, -1) + "X", TOKEN + "0", TOKEN.slice(0, 10), "x"]) {
      const { res, json } = await api("GET", "/_keygate/keys?org=acme", { token });
      expect(res.status, token).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
      expect(json).toEqual(PROBLEM_401);
    }
    const empty = await api("GET", "/_keygate/keys?org=acme", { token: null, headers: { authorization: "Bearer " } });
    expect(empty.res.status).toBe(401);
    expect(empty.res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
  });

  it("a wrong token whose SHA-256 starts like the right one's is refused (the whole digest is compared)", async () => {
    // Found offline: same length as TOKEN, digests sharing the first byte, and the first
    // three bytes. A comparison of a digest prefix would accept them.
    const near = {
      "1 byte": "test-admin-token-0123456789abcdef01000000eo",
      "3 bytes": "test-admin-token-0123456789abcdef010007leew",
    };
    const digest = async (t: string) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(t)));
    const right = await digest(TOKEN);
    for (const [shared, token] of Object.entries(near)) {
      const n = Number(shared[0]);
      expect([...(await digest(token)).slice(0, n)], shared).toEqual([...right.slice(0, n)]); // the premise holds
      expect(token).toHaveLength(TOKEN.length);
      const { res, json } = await api("GET", "/_keygate/keys?org=acme", { token });
      expect(res.status, shared).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
      expect(json).toEqual(PROBLEM_401);
    }
  });

  it("the token in another scheme or header is not accepted", async () => {
    for (const headers of [
      { authorization: `Basic ${btoa(`${TOKEN}:`)}` },
      { "x-api-key": TOKEN },
      { authorization: TOKEN },
    ] as Record<string, string>[]) {
      const { res } = await api("GET", "/_keygate/keys?org=acme", { token: null, headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin"');
    }
  });

  it("the right token, scheme in any case: 200 JSON, no-store, x-request-id", async () => {
    const { res, json } = await api("GET", `/_keygate/keys?org=${uniqueOrg()}`, {
      token: null,
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^[\w-]+$/);
    expect(json).toEqual({ keys: [], cursor: null });
  });

  it("every spelling of the prefix reaches the admin API (and its token check), never the origin", async () => {
    for (const path of SPELLINGS.filter((p) => p.endsWith("/keys"))) {
      const url = `https://gateway.test${path}?org=acme`;
      const denied = await through(url, {}, adminEnv());
      expect(denied.res.status, path).toBe(401);
      expect(denied.calls).toHaveLength(0);
      const ok = await through(url, { headers: { authorization: `Bearer ${TOKEN}` } }, adminEnv());
      expect(ok.res.status, path).toBe(200);
      expect(ok.calls).toHaveLength(0);
    }
  });

  it("unknown admin paths are 404 and known paths with the wrong method 405 with Allow, never forwarded", async () => {
    const unknown = await through("/_keygate/nope", { headers: { authorization: `Bearer ${TOKEN}` } }, adminEnv());
    expect(unknown.res.status).toBe(404);
    expect(unknown.res.headers.get("content-type")).toBe("application/problem+json");
    expect(unknown.calls).toHaveLength(0);
    const root = await api("GET", "/_keygate/");
    expect(root.res.status).toBe(404);
    const put = await api("PUT", "/_keygate/keys", { body: {} });
    expect(put.res.status).toBe(405);
    expect(put.res.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(put.json).toMatchObject({ status: 405, code: "method_not_allowed" });
    const getImport = await api("DELETE", "/_keygate/keys/key_00000000000000000000/rotate");
    expect(getImport.res.status).toBe(405);
    expect(getImport.res.headers.get("allow")).toBe("POST");
  });

  it("an unauthenticated request learns nothing: 401 before 404/405", async () => {
    for (const [method, path] of [
      ["GET", "/_keygate/nope"],
      ["PUT", "/_keygate/keys"],
      ["GET", "/_keygate/keys/key_00000000000000000000"],
    ] as const) {
      const { res } = await api(method, path, { token: "wrong" });
      expect(res.status).toBe(401);
    }
  });

  it("ADMIN_PREFIX moves the API; the default prefix is then an ordinary, authenticated path", async () => {
    const e = adminEnv({ ADMIN_PREFIX: "/ops/admin/" });
    const moved = await api("GET", `/ops/admin/keys?org=${uniqueOrg()}`, { env: e });
    expect(moved.res.status).toBe(200);
    const encoded = await api("GET", `/OPS/%61dmin/keys?org=${uniqueOrg()}`, { env: e });
    expect(encoded.res.status).toBe(200);
    const old = await through("/_keygate/keys", {}, e);
    expect(old.res.status).toBe(401);
    expect(old.res.headers.get("www-authenticate")).toContain("ApiKey"); // the profile's challenge
    const { key } = await mint();
    const forwarded = await through("/_keygate/keys", { headers: { "x-api-key": key } }, e);
    expect(forwarded.res.status).toBe(200);
    expect(forwarded.calls).toHaveLength(1);
  });

  it('the token never appears in a log line, and audit records name its caller "root"', async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(String(l)));
    vi.spyOn(console, "error").mockImplementation((l: string) => void lines.push(String(l)));
    const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()] } });
    expect(res.status).toBe(201);
    await api("GET", "/_keygate/keys?org=acme", { token: TOKEN + "wrong" });
    const audit = await api("GET", `/_keygate/audit?key_id=${json.id}`);
    vi.restoreAllMocks();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain(json.key);
    }
    expect(audit.json.events[0].actor).toBe("root");
    expect(JSON.stringify(audit.json)).not.toContain(TOKEN);
  });

  it("the access log marks admin requests and the key they touched", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(String(l)));
    const { json } = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()] } });
    vi.restoreAllMocks();
    const entry = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "request");
    expect(entry).toMatchObject({
      method: "POST",
      path: "/_keygate/keys",
      route: "(admin)",
      status: 201,
      outcome: "admin",
      key_id: json.id,
    });
  });
});

describe("admin configuration fails closed", () => {
  const BAD: Record<string, unknown>[] = [
    { ADMIN_TOKEN: "too-short" },
    { ADMIN_TOKEN: "a token with spaces that is long enough to pass" },
    { ADMIN_PREFIX: "/" },
    { ADMIN_PREFIX: "_keygate" },
    { ADMIN_PREFIX: "/a/../b" },
    { ADMIN_PREFIX: "/a%2fb" },
    { LAST_USED_INTERVAL_MS: "500" },
    { LAST_USED_INTERVAL_MS: "soon" },
    { EXPIRY_WARNING_DAYS: "-1" },
  ];
  for (const vars of BAD) {
    it(`${JSON.stringify(vars)}: every request 500, the variable named in the log, never the token`, async () => {
      const lines: string[] = [];
      vi.spyOn(console, "error").mockImplementation((l: string) => void lines.push(String(l)));
      vi.spyOn(console, "log").mockImplementation(() => {});
      const { res, calls } = await through("/anything", {}, makeEnv(vars));
      const admin = await send(
        "/_keygate/keys",
        { headers: { authorization: `Bearer ${String(vars.ADMIN_TOKEN)}` } },
        makeEnv(vars),
      );
      vi.restoreAllMocks();
      expect(res.status).toBe(500);
      expect(admin.status).toBe(500);
      expect(calls).toHaveLength(0);
      const variable = Object.keys(vars)[0]!;
      expect(lines.some((l) => JSON.parse(l).variable === variable)).toBe(true);
      if (vars.ADMIN_TOKEN) for (const l of lines) expect(l).not.toContain(String(vars.ADMIN_TOKEN));
    });
  }

  it("accepts a 64-hex-character token (openssl rand -hex 32) and base64 ones", async () => {
    for (const token of ["a".repeat(64), "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/8="]) {
      const { res } = await api("GET", `/_keygate/keys?org=${uniqueOrg()}`, {
        token,
        env: makeEnv({ ADMIN_TOKEN: token }),
      });
      expect(res.status).toBe(200);
    }
  });
});
