/**
 * Sessions through the real worker, in front of the real local origin (which also serves
 * the JWKS): sources, algorithms, refusals, identity, scopes and the artanis org rule.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_SESSION_TOKEN_LENGTH } from "../../../../src/edge/auth/session";
import { clock } from "../../../../src/lib/clock";
import { PROFILE_CASES } from "../../../support/profile-shapes";
import { makeEnv, mint, through, unknownKey } from "../../../support/worker-helpers";
import { claims, es256, hs256, jwksFetches, jwt, KEYS, rs256, SECRET, sessionEnv } from "./support";

afterEach(() => vi.restoreAllMocks());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("a valid session is forwarded with the user's identity", () => {
  it.each([
    ["HS256 (SESSION_JWT_SECRET)", () => hs256()],
    ["RS256 (JWKS from the origin)", () => rs256()],
    ["ES256 (JWKS from the origin)", () => es256()],
  ])("%s in Authorization: Bearer", async (_label, token) => {
    const { res, calls } = await through("/v1/things", { headers: bearer(await token()) }, sessionEnv());
    expect(res.status).toBe(200);
    const h = calls[0]!.headers;
    expect(h["x-org-slug"]).toBe("acme");
    expect(h["x-user-id"]).toBe("user_1");
    expect(h["x-auth-method"]).toBe("session");
    expect(h["x-api-key-scopes"]).toBe("");
    expect(h["x-api-key-id"]).toBeUndefined();
    // The gateway consumed the session: the origin never sees the token.
    expect(h["authorization"]).toBeUndefined();
  });

  it("the JWKS is fetched once and then served from the isolate's cache", async () => {
    const env = sessionEnv();
    for (let i = 0; i < 5; i++) {
      const { res } = await through("/v1/things", { headers: bearer(i % 2 ? await es256() : await rs256()) }, env);
      expect(res.status).toBe(200);
    }
    expect(await jwksFetches(env.set)).toBe(1);
  });

  it("from the SESSION_COOKIE cookie, which is not forwarded (other cookies are)", async () => {
    const env = sessionEnv({ SESSION_COOKIE: "__session" });
    const { res, calls } = await through(
      "/v1/things",
      { headers: { cookie: `theme=dark; __session=${await rs256()}; lang=en` } },
      env,
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-user-id"]).toBe("user_1");
    expect(calls[0]!.headers["cookie"]).toBe("theme=dark; lang=en");
  });

  it("a cookie is not a source unless SESSION_COOKIE names it", async () => {
    const { res, calls } = await through(
      "/v1/things",
      { headers: { cookie: `__session=${await hs256()}` } },
      sessionEnv(),
    );
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it("Bearer wins over the cookie", async () => {
    const env = sessionEnv({ SESSION_COOKIE: "__session" });
    const other = await hs256(claims({ sub: "user_cookie" }));
    const { calls } = await through(
      "/v1/things",
      { headers: { ...bearer(await hs256()), cookie: `__session=${other}` } },
      env,
    );
    expect(calls[0]!.headers["x-user-id"]).toBe("user_1");
  });

  it("on a public route a session is verified like a key: identity when good, 401 when bad", async () => {
    const env = sessionEnv({ ROUTES: JSON.stringify([{ path: "/public/*", auth: "public" }]) });
    const good = await through("/public/doc", { headers: bearer(await hs256()) }, env);
    expect(good.res.status).toBe(200);
    expect(good.calls[0]!.headers["x-user-id"]).toBe("user_1");
    const bad = await through("/public/doc", { headers: bearer(await hs256(claims({ exp: 1 }))) }, env);
    expect(bad.res.status).toBe(401);
    expect(bad.calls).toHaveLength(0);
  });

  it("sessions are off unless configured: a Bearer JWT is then just a (bad) key", async () => {
    const { res, calls } = await through("/v1/things", { headers: bearer(await hs256()) });
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });
});

describe("keys beside sessions", () => {
  it("a key in Bearer is still a key: x-auth-method key, its id, no user", async () => {
    const { key, record } = await mint({ orgs: ["acme"], scopes: ["read"] });
    const { res, calls } = await through("/v1/things", { headers: bearer(key) }, sessionEnv());
    expect(res.status).toBe(200);
    const h = calls[0]!.headers;
    expect(h["x-auth-method"]).toBe("key");
    expect(h["x-api-key-id"]).toBe(record.id);
    expect(h["x-user-id"]).toBeUndefined();
  });

  it("a key wins over a session cookie sent along (the cookie is still not forwarded)", async () => {
    const { key, record } = await mint();
    const env = sessionEnv({ SESSION_COOKIE: "__session" });
    const { calls } = await through(
      "/v1/things",
      { headers: { "x-api-key": key, cookie: `__session=${await hs256()}` } },
      env,
    );
    expect(calls[0]!.headers["x-api-key-id"]).toBe(record.id);
    expect(calls[0]!.headers["x-auth-method"]).toBe("key");
    expect(calls[0]!.headers["cookie"]).toBeUndefined();
  });

  it("an x-api-key with a Bearer session: the key decides, the JWT is not forwarded", async () => {
    const { key, record } = await mint();
    const { calls } = await through(
      "/v1/things",
      { headers: { "x-api-key": key, ...bearer(await hs256()) } },
      sessionEnv(),
    );
    expect(calls[0]!.headers["x-api-key-id"]).toBe(record.id);
    expect(calls[0]!.headers["authorization"]).toBeUndefined();
  });
});

/**
 * A valid HS256 session of exactly `length` characters (a `pad` claim fills it; the
 * header varies when a length cannot be reached with one: base64url never ends a
 * segment on 1 mod 4).
 */
async function sized(length: number): Promise<string> {
  for (const header of [{ alg: "HS256", typ: "JWT" }, { alg: "HS256" }, { alg: "HS256", typ: "JWT", x: 1 }]) {
    for (let pad = Math.max(0, Math.floor(((length - 120) * 3) / 4) - 120); pad < length; pad++) {
      const token = await jwt(header, claims({ pad: "p".repeat(pad) }), { hs: SECRET });
      if (token.length === length) return token;
      if (token.length > length) break;
    }
  }
  throw new Error(`no token of ${length} characters`);
}

describe("issue 20: a session's size is judged by MAX_SESSION_TOKEN_LENGTH, in every profile", () => {
  for (const profile of PROFILE_CASES) {
    it(`${profile.name}: a 2 KB session (Clerk's size) and one of exactly ${MAX_SESSION_TOKEN_LENGTH} characters pass; the key's header bound does not apply`, async () => {
      const env = sessionEnv(profile.vars);
      for (const length of [2048, MAX_SESSION_TOKEN_LENGTH]) {
        const token = await sized(length);
        const headers = { ...bearer(token), ...(profile.name === "artanis" ? { "x-org-slug": "acme" } : {}) };
        const { res, body, calls } = await through("/v1/things", { headers }, env);
        expect(res.status, `${length}: ${body}`).toBe(200);
        expect(calls[0]!.headers["x-user-id"]).toBe("user_1");
        expect(calls[0]!.headers.authorization).toBeUndefined();
      }
    });
  }

  it("in the session cookie, a 9 KB token is the same 401", async () => {
    const env = sessionEnv({ SESSION_COOKIE: "__session" });
    const refKey = await through("/v1/things", { headers: { "x-api-key": unknownKey() } }, env);
    const { res, body, calls } = await through(
      "/v1/things",
      { headers: { cookie: `__session=${await sized(9 * 1024)}` } },
      env,
    );
    expect(res.status).toBe(401);
    expect(body).toBe(refKey.body);
    expect(calls).toHaveLength(0);
  });

  it("an over-long value of another scheme, which the gateway does not read, is the origin's (not a 400)", async () => {
    const { key } = await mint();
    // onecodex reads Basic only: a long Bearer there is the origin's own token.
    const long = `Bearer ${"x".repeat(4000)}`;
    const { res, calls } = await through(
      "/v1/things",
      { headers: { authorization: long, "x-api-key": key } },
      makeEnv({ AUTH_PROFILE: "onecodex" }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers.authorization).toBe(long);
  });
});

describe("a bad session is the profile's 401, byte for byte a bad key's", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const bad: [string, () => Promise<string>][] = [
    ["expired", () => hs256(claims({ exp: now() - 60 }))],
    ["not yet valid (nbf)", () => hs256(claims({ nbf: now() + 120 }))],
    ["issued in the future (iat)", () => hs256(claims({ iat: now() + 120 }))],
    ["without exp", () => hs256({ sub: "user_1", org_slug: "acme" })],
    ["forged (another secret)", () => hs256(claims(), "another-secret-".padEnd(48, "x"))],
    [
      "forged (another RSA key, kid of the JWKS)",
      () => jwt({ alg: "RS256", kid: "rsa-1" }, claims(), { jwk: KEYS.rsa2.private }),
    ],
    [
      "payload changed after signing",
      async () => {
        const [h, , s] = (await hs256()).split(".");
        return `${h}.${btoa(JSON.stringify(claims({ org_slug: "globex" }))).replace(/=+$/, "")}.${s}`;
      },
    ],
    ["alg none", () => jwt({ alg: "none", typ: "JWT" }, claims(), { none: true })],
    [
      "alg none with a signature",
      async () => `${await jwt({ alg: "none" }, claims(), { none: true })}${(await hs256()).split(".")[2]}`,
    ],
    ["alg NONE", () => jwt({ alg: "NONE" }, claims(), { none: true })],
    [
      "HS256 signed with the RSA public key (PEM)",
      () => jwt({ alg: "HS256", kid: "rsa-1" }, claims(), { hs: KEYS.rsa1.publicPem! }),
    ],
    ["RS256 header naming the EC key", () => jwt({ alg: "RS256", kid: "ec-1" }, claims(), { jwk: KEYS.ec1.private })],
    [
      "ES256 header naming the RSA key",
      () => jwt({ alg: "ES256", kid: "rsa-1" }, claims(), { jwk: KEYS.rsa1.private }),
    ],
    ["HS384", async () => await jwt({ alg: "HS384" }, claims(), { hs: SECRET })],
    ["RS256 without kid", () => jwt({ alg: "RS256" }, claims(), { jwk: KEYS.rsa1.private })],
    ["a crit header", () => jwt({ alg: "HS256", crit: ["exp"] }, claims(), { hs: SECRET })],
    ["no org claim", () => hs256(claims({ org_slug: undefined }))],
    ["an empty org claim", () => hs256(claims({ org_slug: "" }))],
    ["an org claim that is not a string", () => hs256(claims({ org_slug: ["acme"] }))],
    ["no sub", () => hs256(claims({ sub: undefined }))],
    ["a sub with a line break", () => hs256(claims({ sub: "user_1\r\nx-org-slug: globex" }))],
    ["scopes of the wrong type", () => hs256(claims({ scope: 7 }))],
    ["garbage in JWT shape", async () => "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"],
    // Issue 20: longer than MAX_SESSION_TOKEN_LENGTH, refused unread — a 401 as
    // docs/sessions.md says, never the 400 "Authorization header too long" of a key.
    ["9 KB, validly signed", () => sized(9 * 1024)],
    ["one character over the limit, validly signed", () => sized(MAX_SESSION_TOKEN_LENGTH + 1)],
  ];

  for (const profile of PROFILE_CASES) {
    it(`${profile.name}: every bad session answers exactly what an unknown key answers`, async () => {
      const env = sessionEnv(profile.vars);
      const refKey = await through("/v1/things", { headers: profile.present(unknownKey()) }, env);
      expect(refKey.res.status).toBe(401);
      for (const [label, token] of bad) {
        const headers = { ...bearer(await token()), ...(profile.name === "artanis" ? { "x-org-slug": "acme" } : {}) };
        const { res, body, calls } = await through("/v1/things", { headers }, env);
        expect(res.status, label).toBe(401);
        expect(body, label).toBe(refKey.body);
        expect(res.headers.get("www-authenticate"), label).toBe(refKey.res.headers.get("www-authenticate"));
        expect(res.headers.get("content-type"), label).toBe(refKey.res.headers.get("content-type"));
        expect(calls, label).toHaveLength(0);
      }
    });
  }

  it("a bad session cookie is refused the same way", async () => {
    const env = sessionEnv({ SESSION_COOKIE: "__session" });
    const refKey = await through("/v1/things", { headers: { "x-api-key": unknownKey() } }, env);
    const { res, body } = await through(
      "/v1/things",
      { headers: { cookie: `__session=${await hs256(claims({ exp: 1 }))}` } },
      env,
    );
    expect(res.status).toBe(401);
    expect(body).toBe(refKey.body);
  });

  it("HS256 is refused when only a JWKS is configured (no secret to confuse with a public key)", async () => {
    const env = sessionEnv({ SESSION_JWT_SECRET: undefined });
    expect((await through("/v1/things", { headers: bearer(await rs256()) }, env)).res.status).toBe(200);
    for (const token of [
      await hs256(),
      await jwt({ alg: "HS256", kid: "rsa-1" }, claims(), { hs: KEYS.rsa1.publicPem! }),
    ]) {
      expect((await through("/v1/things", { headers: bearer(token) }, env)).res.status).toBe(401);
    }
  });

  it("RS256/ES256 are refused when only a secret is configured", async () => {
    const env = makeEnv({ SESSION_JWT_SECRET: SECRET });
    expect((await through("/v1/things", { headers: bearer(await hs256()) }, env)).res.status).toBe(200);
    expect((await through("/v1/things", { headers: bearer(await rs256()) }, env)).res.status).toBe(401);
  });
});

describe("time, issuer and audience", () => {
  it("exp and nbf have 30 s of leeway on the gateway's clock", async () => {
    const env = sessionEnv();
    const t0 = 1_900_000_000_000;
    const token = await rs256(claims({ iat: t0 / 1000 - 60, nbf: t0 / 1000, exp: t0 / 1000 + 60 }));
    const at = async (ms: number) => {
      vi.spyOn(clock, "now").mockReturnValue(ms);
      return (await through("/v1/things", { headers: bearer(token) }, env)).res.status;
    };
    expect(await at(t0 - 29_000)).toBe(200); // nbf 29 s ahead: within the skew
    expect(await at(t0 - 31_000)).toBe(401);
    expect(await at(t0 + 60_000 + 29_000)).toBe(200); // expired 29 s ago: within the skew
    expect(await at(t0 + 60_000 + 30_000)).toBe(401);
  });

  it("SESSION_ISSUER and SESSION_AUDIENCE must match when set", async () => {
    const env = sessionEnv({ SESSION_ISSUER: "https://clerk.acme.test", SESSION_AUDIENCE: "keygate" });
    const status = async (extra: Record<string, unknown>) =>
      (await through("/x", { headers: bearer(await rs256(claims(extra))) }, env)).res.status;
    expect(await status({ iss: "https://clerk.acme.test", aud: "keygate" })).toBe(200);
    expect(await status({ iss: "https://clerk.acme.test", aud: ["other", "keygate"] })).toBe(200);
    expect(await status({ iss: "https://clerk.acme.test", aud: "other" })).toBe(401); // wrong audience
    expect(await status({ iss: "https://clerk.acme.test" })).toBe(401); // no audience
    expect(await status({ iss: "https://evil.test", aud: "keygate" })).toBe(401); // wrong issuer
    expect(await status({ aud: "keygate" })).toBe(401); // no issuer
  });
});

describe("claims: org, user and scopes", () => {
  it("SESSION_ORG_CLAIM is a dot path (Clerk: o.slg)", async () => {
    const env = sessionEnv({ SESSION_ORG_CLAIM: "o.slg" });
    const ok = await through(
      "/x",
      {
        headers: bearer(await rs256(claims({ org_slug: undefined, o: { id: "org_1", slg: "globex", rol: "admin" } }))),
      },
      env,
    );
    expect(ok.res.status).toBe(200);
    expect(ok.calls[0]!.headers["x-org-slug"]).toBe("globex");
    // A Clerk session with no active organization has no `o`: unauthenticated.
    expect((await through("/x", { headers: bearer(await rs256(claims({ org_slug: "acme" }))) }, env)).res.status).toBe(
      401,
    );
  });

  it("scopes: a space-separated string or an array, checked by route scopes like a key's", async () => {
    const env = sessionEnv({
      ROUTES: JSON.stringify([
        { path: "/admin/*", scopes: ["admin"] },
        { path: "/v1/*", scopes: ["read"] },
      ]),
    });
    const asString = await through(
      "/v1/things",
      { headers: bearer(await hs256(claims({ scope: "read write" }))) },
      env,
    );
    expect(asString.res.status).toBe(200);
    expect(asString.calls[0]!.headers["x-api-key-scopes"]).toBe("read,write");
    const asArray = await through("/v1/things", { headers: bearer(await hs256(claims({ scope: ["read"] }))) }, env);
    expect(asArray.res.status).toBe(200);
    const lacking = await through(
      "/admin/users",
      { headers: bearer(await hs256(claims({ scope: "read write" }))) },
      env,
    );
    expect(lacking.res.status).toBe(403);
    expect(JSON.parse(lacking.body).detail).toBe('The session lacks the "admin" scope required here');
    expect(lacking.calls).toHaveLength(0);
    expect((await through("/v1/things", { headers: bearer(await hs256(claims())) }, env)).res.status).toBe(403);
  });

  it("SESSION_SCOPES_CLAIM names another claim; values a key's scope could not hold are dropped", async () => {
    const env = sessionEnv({ SESSION_SCOPES_CLAIM: "perms.api" });
    const { calls } = await through(
      "/x",
      {
        headers: bearer(
          await hs256(claims({ scope: "ignored", perms: { api: ["read", "bad,scope", "read", "write"] } })),
        ),
      },
      env,
    );
    expect(calls[0]!.headers["x-api-key-scopes"]).toBe("read,write");
  });

  describe("artanis: the client's x-org-slug must be the session's org, like a key's", () => {
    const env = () => sessionEnv({ AUTH_PROFILE: "artanis" });
    it("equal: forwarded", async () => {
      const { res, calls } = await through(
        "/x",
        { headers: { ...bearer(await rs256()), "x-org-slug": "acme" } },
        env(),
      );
      expect(res.status).toBe(200);
      expect(calls[0]!.headers["x-org-slug"]).toBe("acme");
      expect(calls[0]!.headers["x-user-id"]).toBe("user_1");
    });
    it("another org: 403, not forwarded", async () => {
      const { res, body, calls } = await through(
        "/x",
        { headers: { ...bearer(await rs256()), "x-org-slug": "globex" } },
        env(),
      );
      expect(res.status).toBe(403);
      expect(JSON.parse(body)).toMatchObject({
        status: 403,
        message: "The session does not belong to the organization in x-org-slug",
      });
      expect(calls).toHaveLength(0);
    });
    it("missing: 400 like a key without it", async () => {
      const { key } = await mint();
      const e = env();
      const byKey = await through("/x", { headers: { "x-api-key": key } }, e);
      const bySession = await through("/x", { headers: bearer(await rs256()) }, e);
      expect(bySession.res.status).toBe(400);
      expect(bySession.body).toBe(byKey.body);
    });
  });
});
