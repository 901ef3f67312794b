/**
 * The admin HTTP API, under ADMIN_PREFIX (default /_keygate): manage/app.ts mounts it at
 * ADMIN_MOUNT, and src/index.ts sends it the requests managementPathOf gives the plane.
 * Admin requests are never forwarded to the origin.
 *
 *   POST   /keys                 create: 201 with the plaintext key, shown this once
 *   GET    /keys?org=…           list one org's keys (cursor paging)
 *   POST   /keys/import          import an existing key (plaintext or its old hash), or an array of ≤ 1,000
 *   GET    /migration            imported, migrated, pending keys per org; GET /shadow: the shadow report
 *   GET    /keys/:id             show one key
 *   PATCH  /keys/:id             name, orgs, scopes, expires_at, enabled
 *   DELETE /keys/:id             revoke (stops at once in this isolate)
 *   POST   /keys/:id/rotate      new key, same settings; the old one stops after grace_seconds
 *   GET    /audit[?key_id=…]     audit events, newest first (cursor paging)
 *   POST   /tokens               root only: mint a scoped admin token (plaintext shown once)
 *   GET    /tokens               root only: list scoped admin tokens
 *   DELETE /tokens/:id           root only: revoke one (stops at once in this isolate)
 *   POST   /portal-links         a single-use console link for one org (manage/portal.ts)
 *   DELETE /portal-links/:id     revoke one: unusable, and the console session it opened ends
 *   /webhooks…                   webhooks (admin/webhooks.ts, docs/webhooks.md)
 *
 * Off unless ADMIN_TOKEN is set: then the prefix answers the profile's 404, like a path
 * that does not exist, and is still never forwarded. On: `Authorization: Bearer
 * <ADMIN_TOKEN>` (constant-time check) or a scoped admin token (manage/admin/tokens.ts: its orgs
 * and role limit what it may do; docs/admin-tokens.md), else 401 with a Bearer challenge.
 * Answers are JSON with `Cache-Control: no-store` and `x-request-id`; errors are RFC 9457
 * problem details, with a per-field `errors` list on 400. This app only parses and renders:
 * every operation is the management core's (src/manage/), which asks the authority table
 * (manage/authority.ts) what the caller — root or a scoped token — may do.
 */
import { Hono } from "hono";
import { normalizedPathOf } from "../../edge/routes/normalize";
import type { ErrorCode } from "../../errors/codes";
import type { ErrorOptions } from "../../errors/render";
import { renderError } from "../../errors/render";
import type { FieldError } from "../../keys/issue";
import type { Outcome } from "../../keys/lifecycle";
import { KEY_ID_RE } from "../../keys/record";
import type { ManageDeps } from "../context";
import { failureAnswer, invalidAnswer, thrownAnswer, unmatchedAnswer } from "../http/answers";
import type { AppEnv, Ctx } from "../http/context";
import { reject } from "../http/context";
import { jsonBodyLimit, MAX_IMPORT_BODY_BYTES, jsonBody as sharedJsonBody, TOO_LARGE_DETAIL } from "../http/json-body";
import { blockedSeconds, countFailure, operatorOf } from "../http/operator";
import { auditEvents, createKey, importKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../keys";
import { importKeys } from "../migration";
import { consoleUrl, portalLink, portalLinkRevoke } from "../portal";
import type { Operator } from "../principal";
import { tokenCreate, tokenList, tokenRevoke } from "../tokens";
import { workerDeps } from "../worker";
import { adminChallenge } from "./auth";
import { MIGRATION_ENDPOINTS, migrationRoutes } from "./migration";
import { ORG_ENDPOINTS, orgRoutes } from "./orgs";
import { USAGE_ENDPOINTS, usageRoutes } from "./usage";
import { WEBHOOK_ENDPOINTS, webhookRoutes } from "./webhooks";

/** Render one of the admin API's errors: always problem details, whatever the profile. */
function problem(c: Ctx, code: ErrorCode, opts: ErrorOptions & { challenge?: string } = {}): Response {
  c.get("log").reason = code;
  return renderError(
    { errorFormat: "problem", missingStatus: 401, challenge: opts.challenge ?? "", requestId: c.get("requestId") },
    code,
    opts,
  );
}

/** The path's key id in the access log: only when it is one (a client's path is unbounded). */
function logKeyId(c: Ctx): void {
  const id = c.req.param("id");
  if (id !== undefined && KEY_ID_RE.test(id)) c.get("log").key_id = id;
}

function tooManyAdminFailures(c: Ctx, retryAfterSeconds: number): Response {
  c.get("log").outcome = "rejected";
  return problem(c, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

function invalid(c: Ctx, errors: FieldError[]): Response {
  const a = invalidAnswer(errors);
  return problem(c, a.code, a.options);
}

function answer<T>(c: Ctx, outcome: Outcome<T>, status: 200 | 201 = 200): Response {
  if (outcome.ok) return c.json(outcome.value as object, status);
  const a = failureAnswer(outcome);
  return problem(c, a.code, a.options);
}

/** What the management core runs with for this request (manage/worker.ts), and who asks. */
function core(c: Ctx): [ManageDeps, Operator] {
  return [workerDeps(c.env, c.get("config"), c.get("requestId"), c.req.url), c.get("adminCaller")];
}

/** The JSON body (manage/http/json-body.ts), its field errors as problems. */
const jsonBody = (required: boolean) => sharedJsonBody<AppEnv>(required, invalid);

/** The query string as one value per name; a repeated name is ambiguous, hence refused. */
function query(c: Ctx): Record<string, string> | FieldError[] {
  const out: Record<string, string> = {};
  const errors: FieldError[] = [];
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.length > 1)
      errors.push({ field: name.length > 64 ? name.slice(0, 64) + "…" : name, message: "given more than once" });
    else out[name] = values[0]!;
  }
  return errors.length ? errors : out;
}

/** Admin endpoints by path, for 405 answers with an Allow header (RFC 9110 §15.5.6). */
const ENDPOINTS: [RegExp, string][] = [
  [/^\/keys$/, "GET, HEAD, POST"],
  [/^\/keys\/import$/, "POST"],
  [/^\/keys\/[^/]+$/, "GET, HEAD, PATCH, DELETE"],
  [/^\/keys\/[^/]+\/rotate$/, "POST"],
  [/^\/audit$/, "GET, HEAD"],
  [/^\/tokens$/, "GET, HEAD, POST"],
  [/^\/tokens\/[^/]+$/, "DELETE"],
  [/^\/portal-links$/, "POST"],
  [/^\/portal-links\/[^/]+$/, "DELETE"],
  ...ORG_ENDPOINTS,
  ...USAGE_ENDPOINTS,
  ...MIGRATION_ENDPOINTS,
  ...WEBHOOK_ENDPOINTS,
];

/**
 * Where manage/app.ts mounts this app. Requests reach it only through that app's getPath
 * (managementPathOf), which maps a path under ADMIN_PREFIX to ADMIN_MOUNT + the rest and
 * every other path to "/": a client cannot address the mount directly.
 */
export const ADMIN_MOUNT = "/__keygate_admin";

export const admin = new Hono<AppEnv>();

admin.use(async function adminGate(c, next) {
  const config = c.get("config");
  const log = c.get("log");
  const normalized = normalizedPathOf(c.req.raw);
  log.path = normalized.ok ? normalized.path : "(invalid)";
  log.route = "(admin)";
  // Off: answer like a path that does not exist, in the profile's shape; never forwarded.
  if (config.admin.token === null) return reject(c, "not_found", { reason: "admin_disabled" });
  log.outcome = "admin";
  // Wrong admin tokens count against the management side's per-IP failed-authentication
  // budget (manage/http/operator.ts): an address over it is refused before the token is
  // compared at all, so it cannot go on guessing at the edge's speed.
  const blocked = blockedSeconds(c);
  if (blocked > 0) return tooManyAdminFailures(c, blocked);
  const who = await operatorOf(c, c.req.header("authorization") ?? null);
  if (who.auth === "invalid") {
    const wait = await countFailure(c);
    if (wait > 0) return tooManyAdminFailures(c, wait);
  }
  if (who.auth !== "ok") return problem(c, "admin_unauthorized", { challenge: adminChallenge(who.auth) });
  const caller = who.caller;
  c.set("adminCaller", caller);
  await next();
  // Set after the handler: a header set on the context before it would be lost on a raw Response.
  c.res.headers.set("cache-control", "no-store");
  c.res.headers.set("x-request-id", c.get("requestId"));
});

const bodyLimit = jsonBodyLimit<AppEnv>((c) => problem(c, "payload_too_large", { detail: TOO_LARGE_DETAIL }));
// A bulk import's array (manage/migration.ts) has its own limit.
const importBodyLimit = jsonBodyLimit<AppEnv>(
  (c) => problem(c, "payload_too_large", { detail: `The request body exceeds ${MAX_IMPORT_BODY_BYTES} bytes.` }),
  MAX_IMPORT_BODY_BYTES,
);
admin.use((c, next) => (c.req.path === `${ADMIN_MOUNT}/keys/import` ? importBodyLimit : bodyLimit)(c, next));

admin.post("/keys", jsonBody(true), async (c) => {
  const outcome = await createKey(...core(c), c.req.valid("json"));
  if (outcome.ok) c.get("log").key_id = outcome.value.id;
  return answer(c, outcome, 201);
});

admin.get("/keys", async (c) => {
  const q = query(c);
  return Array.isArray(q) ? invalid(c, q) : answer(c, await listKeys(...core(c), q));
});

admin.post("/keys/import", jsonBody(true), async (c) => {
  const body = c.req.valid("json");
  // An array: a batch (manage/migration.ts), each key answered in `results`.
  if (Array.isArray(body)) return answer(c, await importKeys(...core(c), body));
  const outcome = await importKey(...core(c), body);
  if (outcome.ok) c.get("log").key_id = outcome.value.id;
  return answer(c, outcome, 201);
});

admin.get("/keys/:id", async (c) => {
  logKeyId(c);
  return answer(c, await showKey(...core(c), c.req.param("id")));
});

admin.patch("/keys/:id", jsonBody(true), async (c) => {
  logKeyId(c);
  return answer(c, await updateKey(...core(c), c.req.param("id"), c.req.valid("json")));
});

admin.delete("/keys/:id", async (c) => {
  logKeyId(c);
  return answer(c, await revokeKey(...core(c), c.req.param("id")));
});

admin.post("/keys/:id/rotate", jsonBody(false), async (c) => {
  logKeyId(c);
  return answer(c, await rotateKey(...core(c), c.req.param("id"), c.req.valid("json")), 201);
});

// Portal links for the web console (manage/portal.ts), with a scope ceiling. DELETE
// revokes one by the id its creation returned: it cannot be opened any more and the
// session it opened ends.
admin.post("/portal-links", jsonBody(true), async (c) => {
  const outcome = await portalLink(...core(c), c.req.valid("json"));
  if (!outcome.ok) return answer(c, outcome);
  const url = consoleUrl(c.req.url, c.get("config"), `/portal/${outcome.value.token}`);
  return c.json({ id: outcome.value.id, url, expires_at: outcome.value.expires_at }, 201);
});

admin.delete("/portal-links/:id", async (c) => answer(c, await portalLinkRevoke(...core(c), c.req.param("id"))));

admin.get("/audit", async (c) => {
  const q = query(c);
  return Array.isArray(q) ? invalid(c, q) : answer(c, await auditEvents(...core(c), q));
});

admin.post("/tokens", jsonBody(true), async (c) => answer(c, await tokenCreate(...core(c), c.req.valid("json")), 201));

admin.get("/tokens", async (c) => {
  const q = query(c);
  return Array.isArray(q) ? invalid(c, q) : answer(c, await tokenList(...core(c), q));
});

admin.delete("/tokens/:id", async (c) => answer(c, await tokenRevoke(...core(c), c.req.param("id"))));

const helpers = { answer, invalid, core, query, jsonBody: jsonBody(true) };
orgRoutes(admin, helpers);
usageRoutes(admin, helpers);
migrationRoutes(admin, helpers);
webhookRoutes(admin, helpers);

// Anything else under the prefix: 405 for a known endpoint, else 404. Never the gateway.
admin.all("*", (c) => {
  const a = unmatchedAnswer(c.req.path.slice(ADMIN_MOUNT.length) || "/", ENDPOINTS);
  return problem(c, a.code, a.options);
});

admin.onError((err, c) => {
  const a = thrownAnswer(err, {
    surface: "admin",
    requestId: c.get("requestId"),
    feedDetail:
      "The change is stored, but the revocation feed could not be told: other isolates may serve the old state for up to the cache bound. Repeat the request to publish it.",
  });
  return problem(c, a.code, a.options);
});
