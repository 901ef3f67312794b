// @ts-check
/**
 * keygate origin signatures: sign (the gateway) and verify (your origin) the identity
 * keygate injects, so an origin can refuse a request that did not come through keygate —
 * anyone who learns the origin's address could otherwise send it `x-org-slug` directly.
 *
 * Dependency-free, WebCrypto only: runs unchanged on Node ≥ 20, Cloudflare Workers, Deno
 * and Bun. Import it as `keygate/verifier` (package.json "exports") or copy this file.
 *
 *   x-keygate-signature: v1;kid=<key id>;t=<unix seconds>;sig=<64 hex>
 *
 * sig = HMAC-SHA-256(secret of kid, canonical string), the canonical string being these
 * lines joined by "\n" (RFC 2104 HMAC; header names lowercase, values as sent):
 *
 *   keygate-signature-v1
 *   <METHOD, upper case>
 *   <path exactly as the origin receives it, ORIGIN_URL's base path included>
 *   <query without "?", exactly as received; empty when none>
 *   <t>
 *   <kid>
 *   x-org-slug:<value, empty when absent>
 *   x-api-key-id:<value, empty when absent>
 *   x-api-key-scopes:<value, empty when absent>
 *   x-user-id:<value, empty when absent>
 *   x-auth-method:<value, empty when absent>
 *   x-request-id:<value>
 *   x-keygate-verdict:<value>          (only when present: report mode, below)
 *
 * `x-auth-method` is `key` (then `x-api-key-id` is the key's id) or `session` (a session
 * JWT keygate verified: then `x-user-id` is its `sub` and there is no key id). The
 * identity headers are absent (signed as empty) on public routes and for a
 * SESSION_PASSTHROUGH_COOKIE request: a verified request without `x-auth-method` came
 * through keygate unauthenticated. The body is not covered.
 *
 * Report mode (ENFORCEMENT=report, docs/migrating.md): keygate decides but refuses nothing;
 * it forwards the request with the client's own credential and `x-keygate-verdict: allow`
 * or `deny; reason=<code>; status=<n>`, vouches for no identity (the identity headers are
 * absent: `identity` is null) and signs the verdict as the last line. The verdict is
 * returned as `verdict` (null when the request carries none); a verifier from before report
 * mode refuses those requests (bad_signature), which fails closed. (The user-id and method lines
 * came with sessions: a gateway and a verifier from before them disagree on every
 * signature, which fails closed — upgrade both together.)
 *
 * Secrets: ORIGIN_SIGNING_SECRET holds one or more `kid:secret` pairs separated by commas
 * (secret ≥ 32 characters, kid of [A-Za-z0-9._-]). keygate signs with the first; a
 * verifier accepts every pair it is given. Rotation: give the origin "new:…,old:…", then
 * keygate "new:…", then drop "old" from the origin.
 *
 * @example Node (node:http)
 *   import { createVerifier } from "keygate/verifier";
 *   const verify = createVerifier({ secrets: process.env.ORIGIN_SIGNING_SECRET });
 *   http.createServer(async (req, res) => {
 *     const result = await verify({ method: req.method, url: req.url, headers: req.headers });
 *     if (!result.ok) { res.writeHead(401).end(); return; }
 *     // result.identity: { method: "key" | "session", org, keyId, userId, scopes }, or null
 *     // when keygate authenticated nothing (a public route, a pass-through cookie)
 *   });
 *
 * @example Workers: `const result = await verify(request);`
 */

export const SIGNATURE_HEADER = "x-keygate-signature";
export const SIGNATURE_VERSION = "v1";
/** Largest accepted distance between the signature's timestamp and the verifier's clock. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;
/**
 * The header names keygate injects by default (ORG_HEADER, KEY_ID_HEADER, SCOPES_HEADER;
 * the user id and the auth method are fixed).
 */
export const DEFAULT_IDENTITY_HEADERS = Object.freeze({
  org: "x-org-slug",
  keyId: "x-api-key-id",
  scopes: "x-api-key-scopes",
  userId: "x-user-id",
  method: "x-auth-method",
});
export const REQUEST_ID_HEADER = "x-request-id";
/** What keygate would have decided, on a request it forwarded in report mode (signed when present). */
export const VERDICT_HEADER = "x-keygate-verdict";
const VERDICT_RE = /^(?:allow|deny; reason=([a-z_]{1,64}); status=([1-5]\d\d))$/;

const CONTEXT = "keygate-signature-v1";
const KID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET_LENGTH = 32;
const SIGNATURE_RE = /^v1;kid=([A-Za-z0-9._-]{1,64});t=(\d{1,12});sig=([0-9a-f]{64})$/;

const encoder = new TextEncoder();

/**
 * Parse `kid:secret[,kid:secret…]`. Throws an Error naming the problem (never the secret).
 * @param {string} value
 * @returns {{ kid: string, secret: string }[]}
 */
export function parseSigningSecrets(value) {
  if (typeof value !== "string" || value.trim() === "")
    throw new Error("must be one or more kid:secret pairs separated by commas");
  const seen = new Set();
  return value.split(",").map((entry, i) => {
    const t = entry.trim();
    const colon = t.indexOf(":");
    const kid = colon > 0 ? t.slice(0, colon) : "";
    const secret = colon > 0 ? t.slice(colon + 1) : "";
    if (!KID_RE.test(kid))
      throw new Error(`entry ${i + 1}: expected kid:secret with a kid of 1–64 characters [A-Za-z0-9._-]`);
    if (secret.length < MIN_SECRET_LENGTH)
      throw new Error(`entry ${i + 1} (kid "${kid}"): the secret must be at least ${MIN_SECRET_LENGTH} characters`);
    if (seen.has(kid)) throw new Error(`kid "${kid}" is listed twice`);
    seen.add(kid);
    return { kid, secret };
  });
}

/** @type {Map<string, Promise<CryptoKey>>} */
const keyCache = new Map();

/** @param {string} secret */
function hmacKey(secret) {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * @typedef {object} SignedFields
 * @property {string} method
 * @property {string} path   the path as the origin receives it
 * @property {string} query  without the leading "?"
 * @property {number} timestamp  unix seconds
 * @property {string} kid
 * @property {[string, string][]} headers  [lowercase name, value] in canonical order
 */

/** @param {SignedFields} f */
export function canonicalString(f) {
  const lines = [CONTEXT, f.method.toUpperCase(), f.path, f.query, String(f.timestamp), f.kid];
  for (const [name, value] of f.headers) lines.push(`${name}:${value}`);
  return lines.join("\n");
}

/**
 * The covered headers in canonical order: the identity headers and the request id, always;
 * the verdict (report mode) last, only when the request carries one.
 * @param {(name: string) => string} get  a header's value, "" when absent
 * @param {{ org: string, keyId: string, scopes: string, userId?: string, method?: string }} names  (userId and method default to x-user-id, x-auth-method)
 * @returns {[string, string][]}
 */
export function coveredHeaders(get, names) {
  /** @type {[string, string][]} */
  const covered = [
    names.org,
    names.keyId,
    names.scopes,
    names.userId ?? DEFAULT_IDENTITY_HEADERS.userId,
    names.method ?? DEFAULT_IDENTITY_HEADERS.method,
    REQUEST_ID_HEADER,
  ].map((n) => [n.toLowerCase(), get(n.toLowerCase())]);
  const verdict = get(VERDICT_HEADER);
  if (verdict !== "") covered.push([VERDICT_HEADER, verdict]);
  return covered;
}

/**
 * A verdict header's value, parsed: keygate's decision on a request it forwarded in report
 * mode, or null when there is none (or it is not one).
 * @param {string} value
 * @returns {{ decision: "allow" } | { decision: "deny", reason: string, status: number } | null}
 */
export function parseVerdict(value) {
  const m = VERDICT_RE.exec(value);
  if (!m) return null;
  return m[1] === undefined ? { decision: "allow" } : { decision: "deny", reason: m[1], status: Number(m[2]) };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * The value of the signature header for these fields (the gateway's side).
 * @param {{ kid: string, secret: string }} signer
 * @param {SignedFields} fields  (fields.kid is taken from the signer)
 */
export async function signatureHeader(signer, fields) {
  const data = encoder.encode(canonicalString({ ...fields, kid: signer.kid }));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(signer.secret), data));
  let sig = "";
  for (let i = 0; i < mac.length; i++) sig += HEX[/** @type {number} */ (mac[i])];
  return `${SIGNATURE_VERSION};kid=${signer.kid};t=${fields.timestamp};sig=${sig}`;
}

/**
 * @typedef {{ method?: string, url?: string, headers: Headers | Record<string, string | string[] | undefined> }} RequestLike
 * A Fetch `Request`, or Node's `IncomingMessage` (method, url = raw path and query, headers).
 */

/**
 * @typedef {object} VerifierOptions
 * @property {string | { kid: string, secret: string }[]} secrets  ORIGIN_SIGNING_SECRET's value, or parsed pairs
 * @property {number} [maxSkewSeconds]  default 300
 * @property {Partial<{ org: string, keyId: string, scopes: string }>} [headers]  if keygate's ORG_HEADER… are changed
 * @property {() => number} [now]  milliseconds since epoch (tests)
 */

/**
 * @typedef {{ method: "key" | "session", org: string, keyId: string | null, userId: string | null, scopes: string[] }} Identity
 * keyId is set for a key, userId (the session's `sub`) for a session.
 */

/**
 * @typedef {{ decision: "allow" } | { decision: "deny", reason: string, status: number }} Verdict
 * What keygate would have decided, on a request it forwarded in report mode.
 */

/**
 * @typedef {{ ok: true, kid: string, timestamp: number, identity: Identity | null, verdict: Verdict | null }
 *   | { ok: false, reason: "missing" | "malformed" | "unknown_kid" | "stale" | "bad_signature" }} VerifyResult
 */

/** @param {RequestLike["headers"]} headers */
function headerGetter(headers) {
  if (typeof (/** @type {Headers} */ (headers).get) === "function") {
    const h = /** @type {Headers} */ (headers);
    return (/** @type {string} */ name) => h.get(name) ?? "";
  }
  const rec = /** @type {Record<string, string | string[] | undefined>} */ (headers);
  return (/** @type {string} */ name) => {
    const v = rec[name];
    return v === undefined ? "" : Array.isArray(v) ? v.join(", ") : v;
  };
}

/**
 * Path and query as received: a raw request target ("/a/b?x=1", Node) is split, not
 * re-parsed, so the origin verifies exactly what its router will see; an absolute URL
 * (Fetch Request) is read through URL.
 * @param {string} url
 */
function pathAndQuery(url) {
  if (url.startsWith("/")) {
    const q = url.indexOf("?");
    return q < 0 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) };
  }
  const u = new URL(url);
  return { path: u.pathname, query: u.search.slice(1) };
}

/**
 * A verifier bound to a set of secrets. Each call checks the signature header of one
 * request and returns the identity keygate vouched for, or why it is refused.
 * @param {VerifierOptions} options
 * @returns {(request: RequestLike) => Promise<VerifyResult>}
 */
export function createVerifier(options) {
  const pairs = typeof options.secrets === "string" ? parseSigningSecrets(options.secrets) : options.secrets;
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error("createVerifier: no secrets");
  const secrets = new Map(pairs.map((p) => [p.kid, p.secret]));
  const maxSkew = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  const names = { ...DEFAULT_IDENTITY_HEADERS, ...options.headers };
  const now = options.now ?? Date.now;

  return async function verify(request) {
    const get = headerGetter(request.headers);
    const raw = get(SIGNATURE_HEADER);
    if (raw === "") return { ok: false, reason: "missing" };
    const m = SIGNATURE_RE.exec(raw.trim());
    if (!m) return { ok: false, reason: "malformed" };
    const kid = /** @type {string} */ (m[1]);
    const timestamp = Number(m[2]);
    const sigHex = /** @type {string} */ (m[3]);
    const secret = secrets.get(kid);
    if (secret === undefined) return { ok: false, reason: "unknown_kid" };
    if (Math.abs(now() / 1000 - timestamp) > maxSkew) return { ok: false, reason: "stale" };
    const { path, query } = pathAndQuery(request.url ?? "/");
    const data = encoder.encode(
      canonicalString({
        method: request.method ?? "GET",
        path,
        query,
        timestamp,
        kid,
        headers: coveredHeaders(get, names),
      }),
    );
    const sig = new Uint8Array(32);
    for (let i = 0; i < 32; i++) sig[i] = parseInt(sigHex.slice(i * 2, i * 2 + 2), 16);
    // crypto.subtle.verify compares in constant time.
    if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), sig, data)))
      return { ok: false, reason: "bad_signature" };
    const keyId = get(names.keyId.toLowerCase());
    const userId = get(names.userId.toLowerCase());
    const method = get(names.method.toLowerCase());
    const scopes = get(names.scopes.toLowerCase());
    // Signed, so exactly what keygate set: "key" with a key id, "session" with a user id.
    const authenticated = (method === "key" && keyId !== "") || (method === "session" && userId !== "");
    return {
      ok: true,
      kid,
      timestamp,
      verdict: parseVerdict(get(VERDICT_HEADER)),
      identity: authenticated
        ? {
            method: /** @type {"key" | "session"} */ (method),
            org: get(names.org.toLowerCase()),
            keyId: keyId === "" ? null : keyId,
            userId: userId === "" ? null : userId,
            scopes: scopes === "" ? [] : scopes.split(","),
          }
        : null,
    };
  };
}

// ---- webhooks (Standard Webhooks 1.0, symmetric: docs/webhooks.md) ----
//
//   webhook-id:        msg_… (the same on every attempt of one event: an idempotency key)
//   webhook-timestamp: unix seconds of this attempt
//   webhook-signature: v1,<base64 HMAC-SHA256("<webhook-id>.<webhook-timestamp>.<raw body>")>
//
// keyed with the secret's bytes: the secret is "whsec_" + base64 of them. A header may
// carry several space-separated signatures (a secret being rotated): one match is enough.

export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** Largest accepted distance between webhook-timestamp and the receiver's clock (the spec's 5 minutes). */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** @param {string} b64 */
function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {Uint8Array} bytes */
function toBase64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(/** @type {number} */ (bytes[i]));
  return btoa(bin);
}

/**
 * The key bytes of a webhook secret ("whsec_" + base64; the prefix may be left off).
 * Throws an Error naming the problem (never the secret).
 * @param {string} secret
 */
export function webhookSecretBytes(secret) {
  if (typeof secret !== "string") throw new Error("a webhook secret must be a string (whsec_…)");
  const b64 = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (b64 === "" || !BASE64_RE.test(b64)) throw new Error("a webhook secret is whsec_ followed by base64");
  return fromBase64(b64);
}

/** @type {Map<string, Promise<CryptoKey>>} */
const webhookKeys = new Map();

/** @param {string} secret */
function webhookKey(secret) {
  let key = webhookKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", webhookSecretBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    webhookKeys.set(secret, key);
  }
  return key;
}

/** @param {string | Uint8Array} body */
const bodyText = (body) => (typeof body === "string" ? body : new TextDecoder().decode(body));

/**
 * The webhook-signature value of one attempt (the sender's side): `v1,<base64>`.
 * @param {string} secret  whsec_…
 * @param {{ id: string, timestamp: number, body: string }} message  timestamp in unix seconds; body exactly as sent
 */
export async function signWebhook(secret, message) {
  const data = encoder.encode(`${message.id}.${message.timestamp}.${message.body}`);
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", await webhookKey(secret), data)))}`;
}

/**
 * @typedef {{ ok: true, id: string, timestamp: number, payload: unknown }
 *   | { ok: false, reason: "missing" | "malformed" | "stale" | "bad_signature" }} WebhookVerifyResult
 */

/**
 * Verify one webhook delivery from keygate: its headers and its raw body (read it as text
 * or bytes before any JSON parsing — a re-serialised body no longer matches). Returns the
 * parsed payload, or why it is refused. Use `id` to ignore a delivery seen before (at
 * least once: an event may arrive twice).
 * @param {string} secret  the whsec_… secret shown when the webhook was created
 * @param {{ headers: RequestLike["headers"], body: string | Uint8Array }} delivery
 * @param {{ toleranceSeconds?: number, now?: () => number }} [options]  now: milliseconds since epoch (tests)
 * @returns {Promise<WebhookVerifyResult>}
 */
export async function verifyWebhook(secret, delivery, options = {}) {
  const get = headerGetter(delivery.headers);
  const id = get("webhook-id");
  const ts = get("webhook-timestamp");
  const signatures = get("webhook-signature");
  if (id === "" || ts === "" || signatures === "") return { ok: false, reason: "missing" };
  if (!/^\d{1,12}$/.test(ts) || id.includes(".")) return { ok: false, reason: "malformed" };
  const timestamp = Number(ts);
  const now = (options.now ?? Date.now)() / 1000;
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS))
    return { ok: false, reason: "stale" };
  const body = bodyText(delivery.body);
  const expected = fromBase64((await signWebhook(secret, { id, timestamp, body })).slice(3));
  let match = false;
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    const b64 = entry.slice(comma + 1);
    if (entry.slice(0, comma) !== "v1" || !BASE64_RE.test(b64)) continue;
    const given = fromBase64(b64);
    if (given.length !== expected.length) continue;
    // Constant time over the signature's bytes.
    let diff = 0;
    for (let i = 0; i < given.length; i++)
      diff |= /** @type {number} */ (given[i]) ^ /** @type {number} */ (expected[i]);
    if (diff === 0) match = true;
  }
  if (!match) return { ok: false, reason: "bad_signature" };
  let payload;
  try {
    payload = body === "" ? null : JSON.parse(body);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  return { ok: true, id, timestamp, payload };
}
