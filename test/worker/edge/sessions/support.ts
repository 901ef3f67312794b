/**
 * Session tests: tokens signed in workerd with the keys minted in test/global-setup.ts
 * (whose public halves the real local origin serves as a JWKS), and gateway envs pointing
 * at that JWKS. Each env gets its own JWKS set name, so its URL — and so the gateway's
 * per-isolate JWKS cache entry and the origin's fetch count — is its own.
 */
import { env } from "cloudflare:test";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, ORIGIN, originCalls } from "../../../support/worker-helpers";

type PrivateJwk = JsonWebKey & { kid: string; alg: string };
interface KeyPair {
  private: PrivateJwk;
  public: JsonWebKey & { kid: string };
  publicPem?: string;
}

export const KEYS = JSON.parse(env.TEST_SESSION_KEYS) as { rsa1: KeyPair; rsa2: KeyPair; ec1: KeyPair };
export const SECRET = "session-secret-".padEnd(48, "s");

const enc = new TextEncoder();

function b64url(data: ArrayBuffer | Uint8Array | string): string {
  const bytes = typeof data === "string" ? enc.encode(data) : new Uint8Array(data);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export type Signer = { hs: string } | { jwk: PrivateJwk } | { none: true };

/**
 * A JWT with exactly this header and payload, signed by `signer`: `{hs: secret}` (HMAC
 * SHA-256 over any string, e.g. a PEM), `{jwk}` (RS256 or ES256 by the key's type) or
 * `{none: true}` (empty signature).
 */
export async function jwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: Signer,
): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if ("none" in signer) return `${input}.`;
  let sig: ArrayBuffer;
  if ("hs" in signer) {
    const key = await crypto.subtle.importKey("raw", enc.encode(signer.hs), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    sig = await crypto.subtle.sign("HMAC", key, enc.encode(input));
  } else if (signer.jwk.kty === "RSA") {
    const { kid: _k, alg: _a, ...material } = signer.jwk;
    const key = await crypto.subtle.importKey("jwk", material, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, [
      "sign",
    ]);
    sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, enc.encode(input));
  } else {
    const { kid: _k, alg: _a, ...material } = signer.jwk;
    const key = await crypto.subtle.importKey("jwk", material, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, enc.encode(input)); // IEEE P1363 r||s, as JWS wants
  }
  return `${input}.${b64url(sig)}`;
}

/** Claims of a good session: user_1 of acme, valid for 5 minutes from `now` (ms). */
export function claims(overrides: Record<string, unknown> = {}, now = Date.now()): Record<string, unknown> {
  const t = Math.floor(now / 1000);
  return { sub: "user_1", org_slug: "acme", iat: t, exp: t + 300, ...overrides };
}

/** HS256 with SESSION_JWT_SECRET. */
export const hs256 = (payload: Record<string, unknown> = claims(), secret = SECRET) =>
  jwt({ alg: "HS256", typ: "JWT" }, payload, { hs: secret });
/** RS256 with rsa-1 (served in the JWKS). */
export const rs256 = (payload: Record<string, unknown> = claims(), key: KeyPair = KEYS.rsa1) =>
  jwt({ alg: "RS256", typ: "JWT", kid: key.private.kid }, payload, { jwk: key.private });
/** ES256 with ec-1 (served in the JWKS). */
export const es256 = (payload: Record<string, unknown> = claims()) =>
  jwt({ alg: "ES256", typ: "JWT", kid: KEYS.ec1.private.kid }, payload, { jwk: KEYS.ec1.private });

let setCounter = 0;

/** A JWKS set name of its own (a fresh URL: a cold cache entry and a zero fetch count). */
export function jwksSet(): string {
  return `s${Date.now()}-${setCounter++}-${crypto.randomUUID().slice(0, 8)}`;
}

export const jwksUrl = (set: string) => `${ORIGIN}/__origin/jwks?set=${set}`;

/** How many times the gateway fetched this JWKS set from the origin. */
export async function jwksFetches(set: string): Promise<number> {
  return (await originCalls(`jwks:${set}`)).length;
}

/** Replace what the origin serves for this set (a key rotation at the provider). */
export async function putJwks(set: string, keys: JsonWebKey[]): Promise<void> {
  const res = await fetch(jwksUrl(set), { method: "PUT", body: JSON.stringify({ keys }) });
  if (res.status !== 204) throw new Error(`PUT JWKS answered ${res.status}`);
}

/**
 * A gateway env with sessions on: HS256 secret and the origin's JWKS (a set of its own),
 * plus `vars`. Returns the set name too.
 */
export function sessionEnv(vars: Vars = {}): ReturnType<typeof makeEnv> & { set: string } {
  const set = jwksSet();
  return Object.assign(makeEnv({ SESSION_JWT_SECRET: SECRET, SESSION_JWKS_URL: jwksUrl(set), ...vars }), { set });
}
