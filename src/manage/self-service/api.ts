/**
 * The self-service key API: an organization's own key holders manage its keys over the
 * Argus contract, at SELF_SERVICE_PATH (docs/self-service.md). Never forwarded.
 *
 *   GET    {path}                  200: JSON array of the caller's org's usable keys
 *   POST   {path}                  {name, scopes?, expires_at?} → 201 with the key, shown this once
 *   DELETE {path}/:id              200: the key, revoked at once
 *   POST   {path}/:id/regenerate   {grace_seconds?} → 201 with the new key; the old one stops
 *                                  now, or after the grace
 *
 * Authenticated like any gateway request, with the key's own restrictions (caller.ts);
 * answers carry `Cache-Control: no-store`; errors are in the profile's shape
 * (errors/render.ts). This app only parses and renders: the operations are the management
 * core's (src/manage/keys.ts), for the caller as a principal (a key holder or a session),
 * so they validate, store, audit and decide authority (manage/authority.ts) exactly as the
 * admin API and the console do; the audit actor is `key:<id>` (or `session:<sub>`).
 */
import { Hono } from "hono";
import { normalizedPathOf } from "../../edge/routes/normalize";
import type { KeyView } from "../../keys/fields";
import type { FieldError } from "../../keys/issue";
import type { Outcome } from "../../keys/lifecycle";
import { KV_LIST_MAX } from "../../keys/store/kv";
import type { ManageDeps } from "../context";
import { failureAnswer, invalidAnswer, thrownAnswer, unmatchedAnswer } from "../http/answers";
import type { AppEnv, Ctx } from "../http/context";
import { reject } from "../http/context";
import { jsonBodyLimit, jsonBody as sharedJsonBody, TOO_LARGE_DETAIL } from "../http/json-body";
import { createKey, listKeys, revokeKey, rotateKey } from "../keys";
import type { CredentialHolder } from "../principal";
import { workerDeps } from "../worker";
import { resolveCaller } from "./caller";

/**
 * Where app.ts mounts this app. Requests reach it only through app.ts's getPath, which
 * maps a path under SELF_SERVICE_PATH to this mount + the rest: a client cannot address
 * the mount directly.
 */
export const SELF_SERVICE_MOUNT = "/__keygate_self";

/**
 * GET reads at most this many KV list pages (≤ 1,000 entries each, a key's summary and
 * its last use are two): ≥ 5,000 keys per org, far below KV's 1,000 operations per request.
 */
const MAX_LIST_PAGES = 10;
/**
 * Statuses a key never leaves: not listed, as Argus lists only keys that can still work —
 * except a key revoked because it leaked (docs/leaked-keys.md): its holder did not revoke it,
 * so it stays listed, as revoked with `revoked_reason: "leaked"`, for them to see why it stopped.
 */
const GONE = new Set(["revoked", "expired", "rotated"]);
const listable = (k: KeyView) => !GONE.has(k.status) || k.revoked_reason === "leaked";

/** Self-service endpoints by path below the mount, for 405 answers with Allow (RFC 9110 §15.5.6). */
const ENDPOINTS: [RegExp, string][] = [
  [/^\/?$/, "GET, HEAD, POST"],
  [/^\/[^/]+$/, "DELETE"],
  [/^\/[^/]+\/regenerate$/, "POST"],
];

function invalid(c: Ctx, errors: FieldError[]): Response {
  const a = invalidAnswer(errors);
  return reject(c, a.code, a.options);
}

function failure(c: Ctx, outcome: Exclude<Outcome<unknown>, { ok: true }>): Response {
  const a = failureAnswer(outcome);
  return reject(c, a.code, a.options);
}

/** What the management core runs with for this request (manage/worker.ts), and who asks. */
function core(c: Ctx): [ManageDeps, CredentialHolder] {
  return [workerDeps(c.env, c.get("config"), c.get("requestId")), c.get("selfServiceCaller")];
}

/** A key as the list shows it: the Argus fields, plus expiry, scopes and status. Never the key or its hash. */
function listed(k: KeyView) {
  return {
    id: k.id,
    name: k.name,
    key_prefix: k.key_prefix,
    created_at: k.created_at,
    last_used_at: k.last_used_at,
    expires_at: k.expires_at,
    scopes: k.scopes,
    status: k.status,
    ...(k.revoked_reason ? { revoked_at: k.revoked_at, revoked_reason: k.revoked_reason } : {}),
  };
}

/** A key as creation and regeneration show it: the Argus fields (the key, this once), plus expiry and scopes. */
function issued(k: KeyView & { key: string }) {
  return {
    id: k.id,
    name: k.name,
    key: k.key,
    key_prefix: k.key_prefix,
    created_at: k.created_at,
    expires_at: k.expires_at,
    scopes: k.scopes,
  };
}

/** The JSON body (manage/http/json-body.ts), its field errors in the profile's shape. */
const jsonBody = (required: boolean) => sharedJsonBody<AppEnv>(required, invalid);

export const selfService = new Hono<AppEnv>();

selfService.use(async function selfServiceGate(c, next) {
  const config = c.get("config");
  const log = c.get("log");
  const normalized = normalizedPathOf(c.req.raw);
  log.path = normalized.ok ? normalized.path : "(invalid)";
  log.route = "(self-service)";
  const caller = await resolveCaller(c, config.selfService!.scope);
  if (caller instanceof Response) return caller;
  log.outcome = "self_service";
  c.set("selfServiceCaller", caller);
  await next();
  // Set after the handler: a header set on the context before it would be lost on a raw Response.
  c.res.headers.set("cache-control", "no-store");
  c.res.headers.set("x-request-id", c.get("requestId"));
});

selfService.use(jsonBodyLimit<AppEnv>((c) => reject(c, "payload_too_large", { detail: TOO_LARGE_DETAIL })));

selfService.get("/", async (c) => {
  const [deps, caller] = core(c);
  const keys: KeyView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const outcome = await listKeys(deps, caller, {
      org: caller.org,
      limit: KV_LIST_MAX,
      ...(cursor ? { cursor } : {}),
    });
    if (!outcome.ok) return failure(c, outcome);
    keys.push(...outcome.value.keys.filter(listable));
    cursor = outcome.value.cursor;
    if (cursor === null) break;
  }
  // Oldest first, as a database's ids would list them.
  keys.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
  return c.json(keys.map(listed), 200);
});

selfService.post("/", jsonBody(true), async (c) => {
  const outcome = await createKey(...core(c), c.req.valid("json"));
  if (!outcome.ok) return failure(c, outcome);
  c.get("log").key_id = outcome.value.id;
  return c.json(issued(outcome.value), 201);
});

selfService.delete("/:id", async (c) => {
  const outcome = await revokeKey(...core(c), c.req.param("id"));
  if (!outcome.ok) return failure(c, outcome);
  return c.json({ ...listed(outcome.value), revoked_at: outcome.value.revoked_at }, 200);
});

selfService.post("/:id/regenerate", jsonBody(false), async (c) => {
  const id = c.req.param("id");
  const outcome = await rotateKey(...core(c), id, c.req.valid("json"), "regenerate");
  if (!outcome.ok) return failure(c, outcome);
  c.get("log").key_id = outcome.value.id;
  return c.json({ ...issued(outcome.value), replaces: id }, 201);
});

// Anything else under the path: 405 for a known endpoint, else the profile's 404. Never forwarded.
selfService.all("*", (c) => {
  const a = unmatchedAnswer(c.req.path.slice(SELF_SERVICE_MOUNT.length), ENDPOINTS);
  return reject(c, a.code, a.options);
});

selfService.onError((err, c) => {
  const a = thrownAnswer(err, {
    surface: "self-service",
    requestId: c.get("requestId"),
    feedDetail: "The change is stored, but other locations could not be told yet: repeat the request to publish it.",
  });
  return reject(c, a.code, a.options);
});
