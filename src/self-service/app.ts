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
 * Authenticated like any gateway request (caller.ts); answers carry `Cache-Control:
 * no-store`; errors are in the profile's shape (errors/render.ts). The operations are
 * keys/lifecycle.ts's, restricted to the caller's org (LifecycleContext.scope, exclusive), so they
 * validate, store and audit exactly as the admin API does; the audit actor is
 * `key:<id>`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { isolateOf } from "../gateway/isolate";
import { clock } from "../clock";
import { reject } from "../gateway";
import type { FieldError } from "../keys/issue";
import { validateNewKey } from "../keys/issue";
import type { KeyView, LifecycleContext, Outcome } from "../keys/lifecycle";
import { createKey, listKeys, revokeKey, rotateKey, showKey } from "../keys/lifecycle";
import { KV_LIST_MAX } from "../keys/store";
import { publisherFor } from "../revocation/publish";
import { failureAnswer, invalidAnswer, thrownAnswer, unmatchedAnswer } from "../http/answers";
import { jsonBody as sharedJsonBody, jsonBodyLimit, TOO_LARGE_DETAIL } from "../http/json-body";
import { normalizedPathOf } from "../routes/normalize";
import type { Caller } from "./caller";
import { resolveCaller } from "./caller";

type Ctx = Context<AppEnv>;

/**
 * Where app.ts mounts this app. Requests reach it only through app.ts's getPath, which
 * maps a path under SELF_SERVICE_PATH to this mount + the rest: a client cannot address
 * the mount directly.
 */
export const SELF_SERVICE_MOUNT = "/__keygate_self";

/** Fields a key holder may set; orgs, meta and rate_limit stay the operator's (admin API). */
const CREATE_FIELDS = ["name", "scopes", "expires_at"];
/**
 * GET reads at most this many KV list pages (≤ 1,000 entries each, a key's summary and
 * its last use are two): ≥ 5,000 keys per org, far below KV's 1,000 operations per request.
 */
const MAX_LIST_PAGES = 10;
/** Statuses a key never leaves: not listed, as Argus lists only keys that can still work. */
const GONE = new Set(["revoked", "expired", "rotated"]);

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

function lifecycle(c: Ctx, caller: Caller): LifecycleContext {
  const config = c.get("config");
  return {
    kv: c.env.KEYS,
    settings: { prefix: config.keyPrefix, ...(config.pepper ? { pepper: config.pepper } : {}) },
    actor: caller.actor,
    now: clock.now(),
    requestId: c.get("requestId"),
    purge: (hash) => isolateOf(c.env, config.cache.maxEntries).cache.delete(hash),
    // Every isolate learns of the change through the revocation feed (docs/revocation.md).
    ...publisherFor(c.env.REVOCATION_FEED),
    // Only keys wholly of the caller's org exist for it (a shared key is the operator's).
    scope: [caller.org],
    exclusive: true,
  };
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
  };
}

/** A key as creation and regeneration show it: the Argus fields (the key, this once), plus expiry and scopes. */
function issued(k: KeyView & { key: string }) {
  return { id: k.id, name: k.name, key: k.key, key_prefix: k.key_prefix, created_at: k.created_at, expires_at: k.expires_at, scopes: k.scopes };
}

/** The JSON body (http/json-body.ts), its field errors in the profile's shape. */
const jsonBody = (required: boolean) => sharedJsonBody<AppEnv>(required, invalid);

/** A scope the caller would grant without holding it, or null. */
function beyondCeiling(caller: Caller, scopes: readonly string[]): string | null {
  return scopes.find((s) => !caller.scopes.includes(s)) ?? null;
}

function ceilingRefusal(c: Ctx, scope: string): Response {
  return reject(c, "forbidden", { detail: `You cannot grant the "${scope}" scope: your own credential does not hold it`, reason: "scope_ceiling" });
}

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
  const caller = c.get("selfServiceCaller");
  const ctx = lifecycle(c, caller);
  const keys: KeyView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const outcome = await listKeys(ctx, { org: caller.org, limit: KV_LIST_MAX, ...(cursor ? { cursor } : {}) });
    if (!outcome.ok) return failure(c, outcome);
    keys.push(...outcome.value.keys.filter((k) => !GONE.has(k.status)));
    cursor = outcome.value.cursor;
    if (cursor === null) break;
  }
  // Oldest first, as a database's ids would list them.
  keys.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
  return c.json(keys.map(listed), 200);
});

selfService.post("/", jsonBody(true), async (c) => {
  const caller = c.get("selfServiceCaller");
  const body: unknown = c.req.valid("json");
  if (typeof body !== "object" || body === null || Array.isArray(body)) return invalid(c, [{ field: "(body)", message: "must be a JSON object" }]);
  const o = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o)) if (!CREATE_FIELDS.includes(k)) errors.push({ field: k, message: "unknown field" });
  // Required here (the admin API defaults it to ""): Argus asks every key for a name.
  if (o.name === undefined || o.name === null || (typeof o.name === "string" && o.name.trim() === "")) {
    errors.push({ field: "name", message: "is required: a descriptive name for the key" });
  }
  if (errors.length) return invalid(c, errors);
  // Omitted scopes: the caller's own (a new key can do what its creator can, no more).
  const input = { name: o.name, orgs: [caller.org], scopes: o.scopes ?? [...caller.scopes], expires_at: o.expires_at ?? null };
  const ctx = lifecycle(c, caller);
  const checked = validateNewKey(input, ctx.now);
  if (!checked.ok) return invalid(c, checked.errors);
  const beyond = beyondCeiling(caller, checked.value.scopes);
  if (beyond !== null) return ceilingRefusal(c, beyond);
  const outcome = await createKey(ctx, input);
  if (!outcome.ok) return failure(c, outcome);
  c.get("log").key_id = outcome.value.id;
  return c.json(issued(outcome.value), 201);
});

selfService.delete("/:id", async (c) => {
  const outcome = await revokeKey(lifecycle(c, c.get("selfServiceCaller")), c.req.param("id"));
  if (!outcome.ok) return failure(c, outcome);
  return c.json({ ...listed(outcome.value), revoked_at: outcome.value.revoked_at }, 200);
});

selfService.post("/:id/regenerate", jsonBody(false), async (c) => {
  const caller = c.get("selfServiceCaller");
  const id = c.req.param("id");
  const body: unknown = c.req.valid("json");
  const ctx = lifecycle(c, caller);
  // Regenerating mints a key with the old one's scopes: the caller must hold them all.
  const current = await showKey(ctx, id);
  if (!current.ok) return failure(c, current);
  const beyond = beyondCeiling(caller, current.value.scopes);
  if (beyond !== null) return ceilingRefusal(c, beyond);
  const outcome = await rotateKey(ctx, id, body);
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
