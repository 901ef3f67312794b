/**
 * SESSION_* configuration fails closed, and the exported verifySession / sessionTokenOf
 * behave as their JSDoc says (other modules call them directly).
 */
import { describe, expect, it, vi } from "vitest";
import type { SessionSettings } from "../../../../src/config/config";
import { parseConfig } from "../../../../src/config/config";
import { isJwtShaped, sessionTokenOf, verifySession } from "../../../../src/edge/auth/session";
import { mintKey } from "../../../../src/keys/format";
import { base, problem } from "../../../support/config-helpers";
import { makeEnv, through } from "../../../support/worker-helpers";
import { claims, hs256, jwksSet, jwksUrl, rs256, SECRET } from "./support";

describe("SESSION_* configuration", () => {
  it("sessions are off by default; on with a secret and/or a JWKS URL, with the documented defaults", () => {
    expect(parseConfig(base()).session).toBeNull();
    expect(parseConfig(base()).passthroughCookie).toBeNull();
    expect(parseConfig(base({ SESSION_JWT_SECRET: SECRET })).session).toEqual({
      secret: SECRET,
      jwksUrl: null,
      issuer: null,
      audience: null,
      cookie: null,
      orgClaim: ["org_slug"],
      scopesClaim: ["scope"],
    });
    const c = parseConfig(
      base({
        SESSION_JWKS_URL: "https://clerk.acme.test/.well-known/jwks.json",
        SESSION_COOKIE: "__session",
        SESSION_ORG_CLAIM: "o.slg",
        SESSION_ISSUER: "https://clerk.acme.test",
        SESSION_AUDIENCE: "api",
      }),
    );
    expect(c.session).toMatchObject({
      secret: null,
      jwksUrl: "https://clerk.acme.test/.well-known/jwks.json",
      cookie: "__session",
      orgClaim: ["o", "slg"],
      issuer: "https://clerk.acme.test",
      audience: "api",
    });
    expect(c.headers).toMatchObject({ userId: "x-user-id", method: "x-auth-method" });
    expect(parseConfig(base({ SESSION_JWKS_URL: "http://127.0.0.1:9999/jwks" })).session!.jwksUrl).toBe(
      "http://127.0.0.1:9999/jwks",
    );
    expect(parseConfig(base({ SESSION_PASSTHROUGH_COOKIE: "argus_session" })).passthroughCookie).toBe("argus_session");
  });

  it.each([
    [{ SESSION_JWT_SECRET: "too-short" }, "SESSION_JWT_SECRET", "32"],
    [{ SESSION_JWKS_URL: "not a url" }, "SESSION_JWKS_URL", "absolute URL"],
    [{ SESSION_JWKS_URL: "http://idp.example.com/jwks" }, "SESSION_JWKS_URL", "https"],
    [{ SESSION_JWKS_URL: "ftp://idp.example.com/jwks" }, "SESSION_JWKS_URL", "https"],
    [{ SESSION_JWKS_URL: "https://user:pw@idp.example.com/jwks" }, "SESSION_JWKS_URL", "credentials"],
    [{ SESSION_JWT_SECRET: SECRET, SESSION_COOKIE: "bad cookie" }, "SESSION_COOKIE", "cookie name"],
    [{ SESSION_JWT_SECRET: SECRET, SESSION_ORG_CLAIM: "o..slg" }, "SESSION_ORG_CLAIM", "dot path"],
    [{ SESSION_JWT_SECRET: SECRET, SESSION_SCOPES_CLAIM: "a b" }, "SESSION_SCOPES_CLAIM", "dot path"],
    [{ SESSION_JWT_SECRET: SECRET, SESSION_ISSUER: "x".repeat(600) }, "SESSION_ISSUER", "512"],
    [{ SESSION_COOKIE: "__session" }, "SESSION_COOKIE", "sessions are off"],
    [{ SESSION_AUDIENCE: "api" }, "SESSION_AUDIENCE", "sessions are off"],
    [{ SESSION_ORG_CLAIM: "o.slg" }, "SESSION_ORG_CLAIM", "sessions are off"],
    [
      { SESSION_JWT_SECRET: SECRET, SESSION_COOKIE: "s", SESSION_PASSTHROUGH_COOKIE: "s" },
      "SESSION_PASSTHROUGH_COOKIE",
      "differ",
    ],
    [{ SESSION_PASSTHROUGH_COOKIE: "a=b" }, "SESSION_PASSTHROUGH_COOKIE", "cookie name"],
    [{ ORG_HEADER: "x-user-id" }, "ORG_HEADER", "reserved"],
    [{ CREDENTIAL_SOURCES: "x-auth-method" }, "CREDENTIAL_SOURCES", "injected header"],
  ])("refuses %j (%s)", (vars, variable, fragment) => {
    const err = problem(vars);
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(fragment);
  });

  it("never shows the secret; the gateway answers 500 and forwards nothing", async () => {
    const secret = "short-secret-value";
    expect(problem({ SESSION_JWT_SECRET: secret }).message).not.toContain(secret);
    const logs = vi.spyOn(console, "error").mockImplementation(() => {});
    const { res, calls } = await through(
      "/x",
      { headers: { authorization: `Bearer ${await hs256()}` } },
      makeEnv({ SESSION_JWT_SECRET: secret }),
    );
    expect(res.status).toBe(500);
    expect(calls).toHaveLength(0);
    expect(logs.mock.calls.map((c) => String(c[0])).join("\n")).not.toContain(secret);
    logs.mockRestore();
  });
});

describe("verifySession and sessionTokenOf (the module's API)", () => {
  const settings = (over: Partial<SessionSettings> = {}): SessionSettings => ({
    secret: SECRET,
    jwksUrl: null,
    issuer: null,
    audience: null,
    cookie: "__session",
    orgClaim: ["org_slug"],
    scopesClaim: ["scope"],
    ...over,
  });

  it("ok: sub, org and scopes; invalid: a reason, for the log", async () => {
    const now = 1_900_000_000_000;
    const token = await hs256(claims({ scope: "read write" }, now));
    expect(await verifySession(token, settings(), now)).toEqual({
      kind: "ok",
      sub: "user_1",
      org: "acme",
      scopes: ["read", "write"],
      exp: Math.floor(now / 1000) + 300,
    });
    expect(await verifySession(token, settings(), now + 301_000 + 30_000)).toEqual({
      kind: "invalid",
      reason: "expired",
    });
    expect(await verifySession(token, settings({ secret: "x".repeat(40) }), now)).toEqual({
      kind: "invalid",
      reason: "signature",
    });
    expect(await verifySession("not-a-jwt", settings(), now)).toEqual({ kind: "invalid", reason: "malformed" });
    expect(await verifySession(token, settings({ secret: null }), now)).toEqual({
      kind: "invalid",
      reason: "algorithm",
    });
  });

  it("RS256 against a JWKS URL", async () => {
    const s = settings({ secret: null, jwksUrl: jwksUrl(jwksSet()) });
    expect(await verifySession(await rs256(), s, Date.now())).toMatchObject({ kind: "ok", sub: "user_1" });
  });

  it("sessionTokenOf: a Bearer JWT, else the cookie; a key in Bearer is not a session", async () => {
    const token = await hs256();
    const key = mintKey("kg_");
    expect(sessionTokenOf(new Headers({ authorization: `Bearer ${token}` }), settings())).toBe(token);
    expect(sessionTokenOf(new Headers({ authorization: `bearer  ${token}` }), settings())).toBe(token);
    expect(sessionTokenOf(new Headers({ cookie: `a=1; __session=${token}` }), settings())).toBe(token);
    expect(sessionTokenOf(new Headers({ cookie: `__session="${token}"` }), settings())).toBe(token);
    expect(sessionTokenOf(new Headers({ cookie: `__session=${token}` }), settings({ cookie: null }))).toBeNull();
    expect(sessionTokenOf(new Headers({ authorization: `Bearer ${key}` }), settings())).toBeNull();
    expect(sessionTokenOf(new Headers({ authorization: `Basic ${btoa(`${key}:`)}` }), settings())).toBeNull();
    expect(sessionTokenOf(new Headers({ cookie: "__session=" }), settings())).toBeNull();
    // Three dot-separated segments are not enough: the first must decode to a JSON object.
    expect(isJwtShaped("abc.def.ghi")).toBe(false);
    expect(isJwtShaped(token)).toBe(true);
    expect(isJwtShaped(mintKey("kg_"))).toBe(false);
  });
});
