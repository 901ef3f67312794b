/**
 * Credential extraction: reads the sources a profile accepts and returns a tagged result.
 * It never throws and never decides whether a key is good (that is verify.ts).
 *
 * - header source (x-api-key…): the raw key. A header sent with an empty value is a
 *   malformed credential (400), not a missing one: the client meant to send a key.
 * - bearer: `Authorization: Bearer <token68>` (RFC 6750 §2.1, scheme case-insensitive).
 * - basic: `Authorization: Basic base64(key ":")`: the key is the user-id and the password
 *   is empty (RFC 7617; the One Codex contract).
 *
 * Malformed: an empty credential header, an empty Authorization header (when Bearer or
 * Basic is accepted), an empty or non-token68 bearer token, undecodable Basic, a non-empty Basic
 * password, characters outside printable ASCII, a value over MAX_KEY_LENGTH, or two
 * *different* keys in one request. The same key sent twice is accepted.
 */
import type { CredentialSource } from "../../config/config";
import { isWellFormedKey, MAX_KEY_LENGTH } from "../../keys/format";
import { isSessionShaped } from "./session";

export type CredentialSourceKind = "header" | "bearer" | "basic";

export type Extracted =
  | { kind: "missing" }
  | { kind: "malformed"; reason: string }
  | { kind: "present"; key: string; via: CredentialSourceKind };

const AUTH_RE = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +(.*))?$/;
const TOKEN68_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Generous bound on any credential-bearing header before parsing it. */
const MAX_HEADER_LENGTH = MAX_KEY_LENGTH * 2 + 32;

function checkKey(key: string): string | null {
  if (key.length > MAX_KEY_LENGTH) return `API key longer than ${MAX_KEY_LENGTH} characters`;
  if (!isWellFormedKey(key)) return "API key contains characters outside printable ASCII (or a space, comma or colon)";
  return null;
}

type Found = { key: string; via: CredentialSourceKind } | { error: string } | null;

function fromHeader(headers: Headers, name: string): Found {
  const raw = headers.get(name);
  if (raw === null) return null;
  if (raw.length > MAX_HEADER_LENGTH) return { error: `${name} header too long` };
  // Repeated fields arrive joined by ", " (RFC 9110 §5.3): identical copies are one key.
  const parts = raw.split(",").map((p) => p.trim());
  const first = parts[0]!;
  if (parts.some((p) => p !== first)) {
    return parts.some((p) => p === "")
      ? { error: `empty value in repeated ${name} header` }
      : { error: "two different API keys in one request" };
  }
  if (first === "") return { error: `empty ${name} header` };
  const problem = checkKey(first);
  return problem ? { error: problem } : { key: first, via: "header" };
}

function fromAuthorization(value: string, bearer: boolean, basic: boolean, sessions: boolean): Found {
  if (value.trim() === "") return { error: "empty Authorization header" };
  const m = AUTH_RE.exec(value.trim());
  if (!m) return bearer || basic ? { error: "malformed Authorization header" } : null;
  const scheme = m[1]!.toLowerCase();
  const param = (m[2] ?? "").trim();
  // The length bound is a key's: a session token (edge/auth/session.ts, which refuses an
  // over-long one unread as a bad session) and another scheme's value are not read here.
  if (scheme === "bearer" && bearer) {
    if (sessions && isSessionShaped(param)) return null; // a session, not a key (edge/auth/session.ts)
    if (value.length > MAX_HEADER_LENGTH) return { error: "Authorization header too long" };
    if (param === "") return { error: "empty bearer token" };
    if (!TOKEN68_RE.test(param)) return { error: "malformed bearer token" };
    const problem = checkKey(param);
    return problem ? { error: problem } : { key: param, via: "bearer" };
  }
  if (scheme === "basic" && basic) {
    if (value.length > MAX_HEADER_LENGTH) return { error: "Authorization header too long" };
    if (param === "" || !BASE64_RE.test(param)) return { error: "malformed Basic credentials" };
    let decoded: string;
    try {
      decoded = atob(param);
    } catch {
      return { error: "malformed Basic credentials" };
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return { error: "Basic credentials without a colon" };
    const user = decoded.slice(0, colon);
    if (decoded.length > colon + 1)
      return { error: "Basic credentials must carry the API key as username and an empty password" };
    if (user === "") return { error: "Basic credentials with an empty username" };
    const problem = checkKey(user);
    return problem ? { error: problem } : { key: user, via: "basic" };
  }
  // Another scheme (Digest, a JWT the origin handles…) is not ours: leave it alone.
  return null;
}

/** `sessions`: sessions are on, so a JWT-shaped Bearer token is left to edge/auth/session.ts. */
export function extractCredential(headers: Headers, sources: readonly CredentialSource[], sessions = false): Extracted {
  let found: { key: string; via: CredentialSourceKind } | null = null;
  let bearer = false;
  let basic = false;
  for (const s of sources) {
    if (s.kind === "bearer") bearer = true;
    else if (s.kind === "basic") basic = true;
  }
  const candidates: Found[] = [];
  for (const s of sources) {
    if (s.kind === "header") candidates.push(fromHeader(headers, s.name));
  }
  if (bearer || basic) {
    const auth = headers.get("authorization");
    if (auth !== null) candidates.push(fromAuthorization(auth, bearer, basic, sessions));
  }
  for (const c of candidates) {
    if (c === null) continue;
    if ("error" in c) return { kind: "malformed", reason: c.error };
    if (found && found.key !== c.key) return { kind: "malformed", reason: "two different API keys in one request" };
    found ??= c;
  }
  return found ? { kind: "present", key: found.key, via: found.via } : { kind: "missing" };
}

/**
 * Whether an Authorization value carries one of the schemes this gateway consumes (so it
 * must be stripped before forwarding). Other schemes pass through to the origin.
 */
export function isOurAuthorization(value: string, sources: readonly CredentialSource[]): boolean {
  const scheme = value.trim().split(" ", 1)[0]!.toLowerCase();
  return sources.some((s) => s.kind === scheme);
}
