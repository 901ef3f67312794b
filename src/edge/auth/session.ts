/**
 * Sessions beside keys: a signed JWT (a browser's or an identity provider's session
 * token, e.g. Clerk's `__session`) verified at the edge, so requests without an API key
 * can be authenticated by the gateway too (docs/sessions.md).
 *
 * Where the token comes from (sessionTokenOf): `Authorization: Bearer <jwt>` — only when the
 * value has a JWT's shape (three base64url segments whose first decodes to a JSON object),
 * so an API key sent as a bearer token is still a key — else the cookie named by
 * SESSION_COOKIE.
 *
 * What is checked (verifySession), in this order:
 * 1. shape and size (≤ MAX_SESSION_TOKEN_LENGTH characters);
 * 2. the algorithm, taken from the token's header but only accepted against a key of its
 *    own type: HS256 with SESSION_JWT_SECRET; RS256 or ES256 (P-256) with a key of the
 *    JWKS at SESSION_JWKS_URL whose `kid` and key type match. Anything else (`none`,
 *    HS384, PS256, an HS256 token when only a JWKS is configured — the classic
 *    "HMAC-signed with the RSA public key" confusion —, an RS256 header naming an EC key)
 *    is refused before any signature check;
 * 3. the signature (Hono's JWT `verify`, hono/utils/jwt/jwt, given an imported CryptoKey;
 *    its own header checks apply too: `typ` absent or "JWT", no `crit`);
 * 4. the time claims against the caller's `now`, with SESSION_SKEW_SECONDS of leeway:
 *    `exp` is required (a session without an expiry is refused), `nbf` and `iat` are
 *    honoured when present;
 * 5. SESSION_ISSUER (`iss` must equal it) and SESSION_AUDIENCE (`aud`, a string or an
 *    array, must contain it), when configured;
 * 6. the claims: `sub` (the user) must be a non-empty string of printable ASCII without
 *    spaces (≤ 256 characters), and the org at SESSION_ORG_CLAIM (a dot path) an org slug
 *    (ORG_RE, as every org keygate knows: `*` or `acme,globex` is no org) — a session
 *    without a valid org is unauthenticated, like any bad session; the scopes at SESSION_SCOPES_CLAIM (a
 *    space-separated string or an array of strings; absent = none) keep only the values a
 *    key's scope could hold.
 *
 * JWKS (SESSION_JWKS_URL): fetched on first use and cached per isolate, by URL, as
 * imported keys. Refetched when older than JWKS_MAX_AGE_MS, or when a token names a `kid`
 * the cache does not hold (key rotation at the provider) — but never more than once per
 * JWKS_MIN_REFRESH_MS per isolate, whatever the tokens say, so a flood of made-up kids
 * costs one fetch per interval, not one per request. A failed fetch is retried with a
 * short backoff — JWKS_RETRY_MIN_MS (1 s) after the first failure, then 2 s, 4 s…,
 * capped at JWKS_RETRY_MAX_MS (30 s) — so a provider that is back is used again within
 * seconds; meanwhile keys already held stay usable up to JWKS_STALE_MS past their age.
 * Until a first fetch succeeds every RS256/ES256 session is refused with reason
 * JWKS_UNAVAILABLE (the gateway answers 503: an outage at the provider is not the
 * client's fault). No redirect is followed; the answer is read up to JWKS_MAX_BYTES.
 *
 * Nothing here logs or returns the token; `reason` names the failed check (for logs).
 *
 * @example Another module authenticating a session (e.g. a self-service API):
 *   import { sessionTokenOf, verifySession } from "./session";
 *   const token = config.session ? sessionTokenOf(req.headers, config.session) : null;
 *   if (token !== null) {
 *     const v = await verifySession(token, config.session!, clock.now());
 *     if (v.kind === "ok") {
 *       // v.sub: the user; v.org: the org claim; v.scopes: for authorize() or a scope ceiling
 *     } else {
 *       // v.reason: for the log only; answer the profile's 401 (invalid_key) and count the
 *       // failure against the client's IP — or 503 when v.reason === JWKS_UNAVAILABLE
 *     }
 *   }
 */
import { verify as verifyJws } from "hono/utils/jwt/jwt";
import type { SessionSettings } from "../../config/config";
import { ORG_RE, SCOPE_RE } from "../../keys/record";
import type { KeySetPolicy } from "../../lib/key-set";
import { keySetCache, retryDelay } from "../../lib/key-set";

/** `exp`: the token's expiry, seconds since epoch (the console ends its session there). */
export type SessionVerdict =
  | { kind: "ok"; sub: string; org: string; scopes: string[]; exp: number }
  | { kind: "invalid"; reason: string };

/** Leeway on `exp`, `nbf` and `iat`, for clocks a little apart. */
export const SESSION_SKEW_SECONDS = 30;
/** Longest token looked at (Clerk's are ~1–2 KB). */
export const MAX_SESSION_TOKEN_LENGTH = 8192;
/** A JWKS this old is refetched on its next use. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** At most one JWKS fetch per this interval per isolate once a fetch has succeeded (unknown kids, age). */
export const JWKS_MIN_REFRESH_MS = 30_000;
/** After a failed fetch, the next one waits this long, doubled at each further failure… */
export const JWKS_RETRY_MIN_MS = 1_000;
/** …up to this long. */
export const JWKS_RETRY_MAX_MS = 30_000;
/** How long past JWKS_MAX_AGE_MS held keys stay usable while refetching fails. */
export const JWKS_STALE_MS = 60 * 60_000;
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
export const JWKS_MAX_BYTES = 256 * 1024;
/** The reason given when no JWKS could be had: the gateway's 503, not a client failure. */
export const JWKS_UNAVAILABLE = "jwks_unavailable";

const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER_RE = /^bearer +([^\s]+) *$/i;
/** A user id forwarded in a header: printable ASCII, no spaces. */
const ID_RE = /^[\x21-\x7e]{1,256}$/;
const MIN_RSA_BITS = 2048;

type Asymmetric = "RS256" | "ES256";
const IMPORT_PARAMS: Record<Asymmetric, SubtleCryptoImportKeyAlgorithm> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};

function base64UrlJson(segment: string): unknown {
  const b64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), (ch) => ch.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** A JWT's decoded header, or null when `value` does not have a JWT's shape. */
function headerOf(value: string): Record<string, unknown> | null {
  if (value.length > MAX_SESSION_TOKEN_LENGTH || !JWT_RE.test(value)) return null;
  try {
    const header = base64UrlJson(value.slice(0, value.indexOf(".")));
    return typeof header === "object" && header !== null && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** True when `value` has a JWT's shape: three base64url segments, the first a JSON object. */
export function isJwtShaped(value: string): boolean {
  return headerOf(value) !== null;
}

/**
 * True when `value` is a session token for the gateway to verify: JWT-shaped, or three
 * base64url segments longer than MAX_SESSION_TOKEN_LENGTH — too long to be a key (≤ 512)
 * and refused unread by verifySession ("too_long": the profile's 401, like any bad
 * session), never read as an over-long key.
 */
export function isSessionShaped(value: string): boolean {
  return value.length > MAX_SESSION_TOKEN_LENGTH ? JWT_RE.test(value) : isJwtShaped(value);
}

/** The session token in an `Authorization: Bearer` value, or null (another scheme, or a key). */
export function bearerSessionOf(authorization: string | null): string | null {
  if (authorization === null) return null;
  const m = BEARER_RE.exec(authorization.trim());
  return m && isSessionShaped(m[1]!) ? m[1]! : null;
}

/** The first non-empty value of cookie `name` in a Cookie header (RFC 6265 §5.4), unquoted. */
export function cookieOf(header: string | null, name: string): string | null {
  if (header === null) return null;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value !== "") return value;
  }
  return null;
}

/** A Cookie header without cookie `name` (null when nothing is left). */
export function withoutCookie(header: string, name: string): string | null {
  const kept = header.split(";").filter((pair) => {
    const eq = pair.indexOf("=");
    return (eq < 0 ? pair : pair.slice(0, eq)).trim() !== name;
  });
  const joined = kept
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .join("; ");
  return joined === "" ? null : joined;
}

/**
 * The session token a request carries: a Bearer JWT first, else the SESSION_COOKIE
 * cookie; null when neither. The token is not verified here (verifySession does).
 */
export function sessionTokenOf(headers: Headers, settings: SessionSettings): string | null {
  const bearer = bearerSessionOf(headers.get("authorization"));
  if (bearer !== null) return bearer;
  return settings.cookie === null ? null : cookieOf(headers.get("cookie"), settings.cookie);
}

// ---------- keys ----------

/** HS256 keys by secret (a secret imports once per isolate). */
const hmacKeys = new Map<string, CryptoKey>();

async function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    hmacKeys.set(secret, key);
  }
  return key;
}

type Jwk = Record<string, unknown>;

/** The usable verification keys of a JWKS document: RSA ≥ 2048 bits → RS256, EC P-256 → ES256. */
async function importJwks(doc: unknown): Promise<Map<string, CryptoKey>> {
  const out = new Map<string, CryptoKey>();
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('JWKS has no "keys" array');
  for (const raw of keys) {
    if (typeof raw !== "object" || raw === null) continue;
    const jwk = raw as Jwk;
    if (typeof jwk.kid !== "string" || jwk.kid === "") continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes("verify")) continue;
    let alg: Asymmetric;
    let material: JsonWebKey;
    if (jwk.kty === "RSA" && typeof jwk.n === "string" && typeof jwk.e === "string") {
      alg = "RS256";
      material = { kty: "RSA", n: jwk.n, e: jwk.e };
    } else if (jwk.kty === "EC" && jwk.crv === "P-256" && typeof jwk.x === "string" && typeof jwk.y === "string") {
      alg = "ES256";
      material = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
    } else continue;
    if (jwk.alg !== undefined && jwk.alg !== alg) continue;
    const id = `${alg}:${jwk.kid}`;
    if (out.has(id)) continue;
    try {
      const key = await crypto.subtle.importKey("jwk", material, IMPORT_PARAMS[alg], false, ["verify"]);
      if (alg === "RS256" && (key.algorithm as CryptoKeyRsaKeyAlgorithm).modulusLength < MIN_RSA_BITS) continue;
      out.set(id, key);
    } catch {
      // A malformed key is skipped; the others still count.
    }
  }
  if (out.size === 0) throw new Error("holds no usable RS256 or ES256 key with a kid");
  return out;
}

/** The JWKS cache's policy (lib/key-set.ts): the JWKS_* constants above. */
const JWKS_POLICY: KeySetPolicy = {
  maxAgeMs: JWKS_MAX_AGE_MS,
  minRefreshMs: JWKS_MIN_REFRESH_MS,
  retryMinMs: JWKS_RETRY_MIN_MS,
  retryMaxMs: JWKS_RETRY_MAX_MS,
  staleMs: JWKS_STALE_MS,
  fetchTimeoutMs: JWKS_FETCH_TIMEOUT_MS,
  maxBytes: JWKS_MAX_BYTES,
  what: "session JWKS",
  urlField: "jwks_url",
};

/**
 * How long after the last of `failures` failed fetches in a row the next may start: 1 s, 2 s, 4 s… up to
 * JWKS_RETRY_MAX_MS.
 */
export function jwksRetryDelay(failures: number): number {
  return retryDelay(JWKS_POLICY, failures);
}

/** Per isolate, by URL: `${alg}:${kid}` → imported key, so a kid only ever matches a key of the token's own type. */
const jwksLookup = keySetCache(JWKS_POLICY, importJwks);

async function jwksKey(
  url: string,
  alg: Asymmetric,
  kid: string,
  now: number,
): Promise<CryptoKey | "unknown_kid" | typeof JWKS_UNAVAILABLE> {
  const found = await jwksLookup(url, `${alg}:${kid}`, now);
  if (found === "unknown") return "unknown_kid";
  if (found === "unavailable") return JWKS_UNAVAILABLE;
  return found.key;
}

// ---------- claims ----------

function claimAt(payload: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = payload;
  for (const segment of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, segment))
      return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function scopesOf(value: unknown): string[] | null {
  if (value === undefined || value === null) return [];
  let list: unknown[];
  if (typeof value === "string") list = value.split(/\s+/);
  else if (Array.isArray(value)) list = value;
  else return null;
  const out: string[] = [];
  for (const s of list) {
    if (typeof s !== "string") return null;
    if (SCOPE_RE.test(s) && !out.includes(s)) out.push(s);
  }
  return out;
}

const invalid = (reason: string): SessionVerdict => ({ kind: "invalid", reason });

/** Hono's verify errors → our reasons (never their messages: they quote the token). */
function reasonOf(err: unknown): string {
  const name = err instanceof Error ? err.name : "";
  if (name === "JwtTokenSignatureMismatched") return "signature";
  if (name === "JwtHeaderInvalid" || name === "JwtAlgorithmMismatch") return "header";
  return "malformed";
}

/**
 * Verify a session token (see the module comment for every check). `now`: milliseconds
 * since epoch (pass clock.now()). Never throws.
 */
export async function verifySession(token: string, settings: SessionSettings, now: number): Promise<SessionVerdict> {
  const header = headerOf(token);
  if (header === null) return invalid(token.length > MAX_SESSION_TOKEN_LENGTH ? "too_long" : "malformed");
  let key: CryptoKey;
  let alg: "HS256" | Asymmetric;
  if (header.alg === "HS256") {
    if (settings.secret === null) return invalid("algorithm");
    alg = "HS256";
    key = await hmacKey(settings.secret);
  } else if (header.alg === "RS256" || header.alg === "ES256") {
    if (settings.jwksUrl === null) return invalid("algorithm");
    if (typeof header.kid !== "string" || header.kid === "" || header.kid.length > 256) return invalid("kid");
    alg = header.alg;
    const found = await jwksKey(settings.jwksUrl, alg, header.kid, now);
    if (typeof found === "string") return invalid(found);
    key = found;
  } else {
    return invalid("algorithm");
  }

  let payload: Record<string, unknown>;
  try {
    // Time, issuer and audience are checked below, against `now` and with leeway.
    payload = (await verifyJws(token, key, { alg, exp: false, nbf: false, iat: false })) as Record<string, unknown>;
  } catch (err) {
    return invalid(reasonOf(err));
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return invalid("malformed");

  const t = now / 1000;
  const { exp, nbf, iat } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return invalid("no_exp");
  if (exp + SESSION_SKEW_SECONDS <= t) return invalid("expired");
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf) || nbf - SESSION_SKEW_SECONDS > t))
    return invalid("not_yet_valid");
  if (iat !== undefined && (typeof iat !== "number" || !Number.isFinite(iat) || iat - SESSION_SKEW_SECONDS > t))
    return invalid("issued_in_future");
  if (settings.issuer !== null && payload.iss !== settings.issuer) return invalid("issuer");
  if (settings.audience !== null) {
    const aud = payload.aud;
    const ok =
      typeof aud === "string" ? aud === settings.audience : Array.isArray(aud) && aud.includes(settings.audience);
    if (!ok) return invalid("audience");
  }

  const sub = payload.sub;
  if (typeof sub !== "string" || !ID_RE.test(sub)) return invalid("sub");
  const org = claimAt(payload, settings.orgClaim);
  if (typeof org !== "string") return invalid("no_org");
  // An org slug, never a pattern: "*" means every org only in an admin token's orgs.
  if (!ORG_RE.test(org)) return invalid("org");
  const scopes = scopesOf(claimAt(payload, settings.scopesClaim));
  if (scopes === null) return invalid("scopes");
  return { kind: "ok", sub, org, scopes, exp };
}
