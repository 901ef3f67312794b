/**
 * Sessions on a real `wrangler dev` in front of a real origin that serves the JWKS (an
 * identity provider) and verifies keygate's signatures with the shipped verifier: an
 * RS256 session (Bearer and cookie), an ES256 one, a bad session's 401, the pass-through
 * cookie, and a key beside them — in the argus profile (FastAPI's {"detail": …}).
 */

import type { KeyObject } from "node:crypto";
import { createSign, generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin, RecordedCall } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { cliKey, startWrangler } from "../support/node-wrangler";

const SIGNING = "e2e:" + "v".repeat(48);
let origin: Origin;
let gw: WranglerDev;
let key: string;
let keyId: string;

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

function token(
  alg: "RS256" | "ES256",
  kid: string,
  privateKey: KeyObject,
  claims: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT", kid }))}.${b64url(JSON.stringify({ sub: "user_e2e", org_slug: "acme", scope: "read", iat: now, exp: now + 300, ...claims }))}`;
  const signature =
    alg === "RS256"
      ? createSign("RSA-SHA256").update(input).sign(privateKey)
      : sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }); // JWS wants r||s
  return `${input}.${b64url(signature)}`;
}

beforeAll(async () => {
  origin = await startOrigin(0, "127.0.0.1", {
    signingSecret: SIGNING,
    jwks: {
      keys: [
        { ...rsa.publicKey.export({ format: "jwk" }), kid: "rsa-e2e", alg: "RS256", use: "sig" },
        { ...ec.publicKey.export({ format: "jwk" }), kid: "ec-e2e", alg: "ES256", use: "sig" },
      ],
    },
  });
  gw = await startWrangler({
    vars: {
      ORIGIN_URL: origin.url,
      ORIGIN_SIGNING_SECRET: SIGNING,
      AUTH_PROFILE: "argus",
      SESSION_JWKS_URL: `${origin.url}/__origin/jwks`,
      SESSION_COOKIE: "__session",
      SESSION_PASSTHROUGH_COOKIE: "argus_session",
      ROUTES: JSON.stringify([{ path: "/api/admin/*", scopes: ["admin"] }]),
    },
  });
  ({ key, id: keyId } = await cliKey(gw.persistTo));
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

async function echo(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; call: RecordedCall | null }> {
  const res = await fetch(`${gw.url}${path}`, { headers });
  const body = await res.text();
  return {
    status: res.status,
    body,
    call: res.headers.get("x-origin") === "echo" ? (JSON.parse(body) as RecordedCall) : null,
  };
}

describe("sessions on wrangler dev", () => {
  it("an RS256 session in Bearer, verified against the origin's JWKS, reaches it with a signed user identity", async () => {
    const { status, call } = await echo("/api/projects", {
      authorization: `Bearer ${token("RS256", "rsa-e2e", rsa.privateKey)}`,
      "x-user-id": "user_admin",
    });
    expect(status).toBe(200);
    expect(call!.headers["x-user-id"]).toBe("user_e2e");
    expect(call!.headers["x-auth-method"]).toBe("session");
    expect(call!.headers["authorization"]).toBeUndefined();
    expect(call!.signature).toEqual({
      ok: true,
      kid: "e2e",
      timestamp: expect.any(Number),
      identity: { method: "session", org: "acme", keyId: null, userId: "user_e2e", scopes: ["read"] },
      verdict: null, // enforce mode: no report-mode verdict (docs/migrating.md)
    });
  });

  it("an ES256 session in the SESSION_COOKIE cookie", async () => {
    const { status, call } = await echo("/api/projects", {
      cookie: `__session=${token("ES256", "ec-e2e", ec.privateKey)}; theme=dark`,
    });
    expect(status).toBe(200);
    expect(call!.headers["x-user-id"]).toBe("user_e2e");
    expect(call!.headers["cookie"]).toBe("theme=dark");
  });

  it("a bad session (signed by a stranger, expired, or for a route scope it lacks) is refused like a bad key", async () => {
    const badKey = await echo("/api/projects", { "x-api-key": "kg_not-a-real-key" });
    expect(badKey.status).toBe(401);
    expect(JSON.parse(badKey.body)).toEqual({ detail: "Not authenticated" });
    for (const bad of [
      token("RS256", "rsa-e2e", stranger.privateKey),
      token("RS256", "rsa-e2e", rsa.privateKey, { exp: 1000 }),
      token("RS256", "unknown", rsa.privateKey),
    ]) {
      const { status, body, call } = await echo("/api/projects", { authorization: `Bearer ${bad}` });
      expect(status).toBe(401);
      expect(body).toBe(badKey.body);
      expect(call).toBeNull();
    }
    const lacking = await echo("/api/admin/users", {
      authorization: `Bearer ${token("RS256", "rsa-e2e", rsa.privateKey)}`,
    });
    expect(lacking.status).toBe(403);
    expect(JSON.parse(lacking.body)).toEqual({ detail: "Not enough permissions" });
  });

  it("the pass-through cookie reaches the origin with no identity; without it, the profile's 401", async () => {
    const { status, call } = await echo("/api/projects", {
      cookie: "argus_session=opaque-web-session",
      "x-org-slug": "globex",
      "x-auth-method": "session",
    });
    expect(status).toBe(200);
    expect(call!.headers["cookie"]).toBe("argus_session=opaque-web-session");
    expect(call!.headers["x-org-slug"]).toBeUndefined();
    expect(call!.headers["x-auth-method"]).toBeUndefined();
    expect(call!.signature).toMatchObject({ ok: true, identity: null });
    const none = await echo("/api/projects", {});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({ detail: "Not authenticated" });
  });

  it("a key beside sessions: x-auth-method key, its id, no user", async () => {
    const { status, call } = await echo("/api/projects", { "x-api-key": key, "x-user-id": "user_admin" });
    expect(status).toBe(200);
    expect(call!.signature).toMatchObject({ ok: true, identity: { method: "key", keyId, userId: null } });
    expect(call!.headers["x-user-id"]).toBeUndefined();
  });
});
