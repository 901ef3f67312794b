/**
 * The five seed APIs as their clients know them today, before keygate: a test origin that
 * authenticates on its own, in each API's own contract (its authentication page: header
 * names, statuses, error bodies), served by scripts/origin.ts under `/legacy/<profile>/`.
 * It is what docs/migrating.md's guides put keygate in front of, and what report mode is
 * compared with (test/worker/edge/shadow/seeds.test.ts, test/e2e/migrating.e2e.test.ts).
 *
 * Each API keeps its keys as the old system did — only their SHA-256 (the ones that show a key
 * once), so the guides import them by hash — with the org (project, organization) each
 * belongs to and what it may do. The bodies are the seed pages' own where they show one
 * (ARGOS, Operate, Argus and One Codex 401s, Operate's 400), and otherwise a message in the
 * page's shape. Once keygate enforces, an API trusts keygate instead: a request without a
 * credential whose keygate signature verifies (ORIGIN_SIGNING_SECRET) is served for the
 * identity keygate vouched for.
 *
 * The demo keys (DEMO) are fixed, so the guides can show them.
 */
import { createHash } from "node:crypto";
import type http from "node:http";
import type { VerifyResult } from "../verifier/index.js";

import type { LegacyKey, SeedProfile } from "./legacy-keys";
import { DEMO, SEED_PROFILES } from "./legacy-keys";

export type { LegacyKey, SeedProfile } from "./legacy-keys";
export { DEMO, SEED_PROFILES } from "./legacy-keys";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Each API's key store: SHA-256 of the key → the key's org and scopes (the plaintext is not kept). */
const stores = new Map<SeedProfile, Map<string, LegacyKey>>(
  SEED_PROFILES.map((p) => [
    p,
    new Map(Object.values(DEMO[p]).map((k) => [sha256(k.key), { ...k, key: "(hashed)" }] as const)),
  ]),
);

/** Add keys to an API's store (tests that need their own). */
export function addLegacyKeys(profile: SeedProfile, keys: LegacyKey[]): void {
  for (const k of keys) stores.get(profile)!.set(sha256(k.key), { ...k, key: "(hashed)" });
}

type Answer = { status: number; body: string; headers?: Record<string, string> };

const WERKZEUG_401 =
  "The server could not verify that you are authorized to access the URL requested.  You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.";
const WERKZEUG_403 =
  "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.";
const WERKZEUG_404 =
  "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";

/** The answers each API gives, in its own shape (the seed pages' bodies where they show them). */
const REFUSE: Record<SeedProfile, (status: number, message?: string) => Answer> = {
  // ARGOS: {"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}
  argos: (status, message) => ({
    status,
    body: JSON.stringify({
      error: {
        code: status === 401 ? "UNAUTHORIZED" : status === 403 ? "FORBIDDEN" : "BAD_REQUEST",
        status,
        message: status === 401 ? "Invalid or missing API key" : message,
      },
    }),
  }),
  // Artanis shows no body: the status and a message.
  artanis: (status, message) => ({
    status,
    body: JSON.stringify({
      error: status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : "Bad Request",
      status,
      message: status === 401 ? "Missing or invalid x-api-key" : message,
    }),
  }),
  // Operate: {"success":false,"error":{"type":"authentication_error","message":"Missing API Key"}}
  operate: (status, message) => ({
    status,
    body: JSON.stringify({
      success: false,
      error: {
        type: "authentication_error",
        message: status === 400 ? "Missing API Key" : status === 401 ? "Invalid or expired API Key" : message,
      },
    }),
  }),
  // Argus (FastAPI): {"detail": "Not authenticated"}
  argus: (status) => ({
    status,
    body: JSON.stringify({ detail: status === 401 ? "Not authenticated" : "Not enough permissions" }),
  }),
  // One Codex (Flask): {"message": "...", "status": 401}
  onecodex: (status) => ({
    status,
    body: JSON.stringify({
      message: status === 401 ? WERKZEUG_401 : status === 403 ? WERKZEUG_403 : WERKZEUG_404,
      status,
    }),
  }),
};

/** The credential each API reads, as its page describes it: null when none was sent. */
function credentialOf(profile: SeedProfile, h: http.IncomingHttpHeaders): string | null {
  const header = h["x-api-key"];
  if (typeof header === "string" && header !== "") return header;
  const auth = h.authorization ?? "";
  if (profile === "argus" && /^Bearer /i.test(auth)) return auth.slice(7).trim() || null;
  if (profile === "onecodex" && /^Basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon > 0 ? decoded.slice(0, colon) : null;
  }
  return null;
}

/**
 * What each API serves and what it requires (its route table, which keygate's ROUTES
 * mirrors in docs/migrating.md): null — anyone; a scope; `hide` — a refusal answered 404.
 */
function requirement(profile: SeedProfile, path: string): { public: boolean; scope?: string; hide?: boolean } {
  switch (profile) {
    case "argos":
      return /^\/v1\/projects\/[^/]+\/admin(\/|$)/.test(path) ? { public: false, scope: "admin" } : { public: false };
    case "operate":
      return path.startsWith("/reports/") ? { public: false, scope: "reports" } : { public: false };
    case "argus":
      return path.startsWith("/api/scan/") ? { public: false, scope: "admin" } : { public: false };
    case "onecodex":
      // The schema, and the samples listing (public samples when unauthenticated: the page's "empty result sets").
      if (path === "/api/v1/schema" || path === "/api/v1/samples") return { public: true };
      if (/^\/api\/v1\/samples\/[^/]+\/private/.test(path))
        return { public: false, scope: "samples:private", hide: true };
      return { public: false };
    default:
      return { public: false };
  }
}

/**
 * Answer a request for `/legacy/<profile>/<path>` as that API would. `verified`: the keygate
 * signature's verdict, when the origin checks signatures (then a request keygate vouched
 * for is served without a credential: the API has switched to trusting keygate).
 */
export function legacyAnswer(
  profile: SeedProfile,
  path: string,
  headers: http.IncomingHttpHeaders,
  verified: VerifyResult | undefined,
): Answer {
  const refuse = REFUSE[profile];
  const need = requirement(profile, path);
  const vouched = verified?.ok ? verified.identity : null;
  let who: { orgs: string[]; scopes: string[] } | null = vouched
    ? { orgs: [vouched.org], scopes: vouched.scopes }
    : null;
  if (who === null) {
    const key = credentialOf(profile, headers);
    if (key === null) {
      if (need.public) return ok(profile, path, null);
      return profile === "operate" ? refuse(400) : refuse(401);
    }
    const found = stores.get(profile)!.get(sha256(key));
    if (!found || found.revoked) return refuse(401);
    who = found;
  }
  let org = who.orgs[0]!;
  if (profile === "artanis") {
    const named = headers["x-org-slug"];
    if (typeof named !== "string" || named === "") return refuse(400, "Missing x-org-slug header");
    if (!who.orgs.includes(named)) return refuse(403, "The API key does not belong to the organization in x-org-slug");
    org = named;
  }
  if (need.scope && !who.scopes.includes(need.scope)) {
    if (need.hide) return refuse(404);
    return refuse(403, `The API key lacks the "${need.scope}" scope required here`);
  }
  return ok(profile, path, org);
}

function ok(profile: SeedProfile, path: string, org: string | null): Answer {
  return { status: 200, body: JSON.stringify({ api: profile, path, org }) };
}
