/**
 * What each piece of keygate costs against the floor (docs/performance.md, "The floor"):
 *
 * - floor variants: the floor (bench/floor/floor.ts) with ONE step replaced by, or one
 *   step added from, keygate's own code — the same functions the gateway calls;
 * - keygate variants: keygate's whole Worker (src/manage/app.ts) with one feature turned off
 *   through its env (no REVOCATION_FEED, no USAGE_STORE, LAST_USED_INTERVAL_MS=0), or all
 *   three ("kg-core").
 *
 * Served by the ablation worker (bench/floor/ablate.ts, one variant per request, chosen by
 * the x-bench-variant header) and timed by the micro-benchmark (bench/micro/cases.ts).
 * Measurement only: nothing here is part of keygate.
 */

import type { Config } from "../../src/config/config";
import { ConfigError, configFor } from "../../src/config/config";
import { LastUsedThrottle } from "../../src/edge/auth/last-used";
import { admit } from "../../src/edge/gateway/admit";
import { isolateOf } from "../../src/edge/gateway/isolate";
import { writeAccessLog } from "../../src/edge/gateway/respond";
import { locator } from "../../src/edge/location";
import { forward } from "../../src/edge/proxy/forward";
import { isClientClaim, upstreamHeaders } from "../../src/edge/proxy/headers";
import { followFeed } from "../../src/edge/revocation/follower";
import { normalizedPathOf } from "../../src/edge/routes/normalize";
import { matchRoute } from "../../src/edge/routes/table";
import { countRequest } from "../../src/edge/usage/counter";
import type { Env } from "../../src/env";
import app from "../../src/index";
import { recordLastUsed } from "../../src/keys/store/records";
import type { FloorContext, FloorEnv, FloorHandler, FloorHooks } from "./floor";
import { createFloor, FLOOR_CREDENTIAL } from "./floor";

/** The ablation worker's env: keygate's (vars and bindings) plus the floor's keys. */
export type AblationEnv = Env & FloorEnv;

/** keygate's config for an env (as the gateway derives it); a bad config is a bench bug. */
export function configOf(env: Env): Config {
  const config = configFor(env);
  if (config instanceof ConfigError) throw config;
  return config;
}

const lastUsed = new LastUsedThrottle();

/**
 * The floor variants: what replaces or joins a floor step. Each names the keygate code it
 * runs. (Route matching at the default configuration, no ROUTES, is a length check:
 * measure a route table with `--vars=ROUTES=…`.)
 */
export const FLOOR_VARIANTS: Record<string, { what: string; hooks: FloorHooks }> = {
  floor: { what: "the floor alone", hooks: {} },
  normalize: {
    what: "path: keygate's normalizedPathOf (edge/routes/normalize.ts) instead of the URL's pathname",
    hooks: {
      path(request) {
        const n = normalizedPathOf(request);
        return n.ok ? n.path : new Response(null, { status: 400 });
      },
    },
  },
  route: {
    what: "+ route matching: matchRoute(config.routes, path, method) (edge/routes/table.ts)",
    hooks: {
      before(request, path, env: Env) {
        matchRoute(configOf(env).routes, path, request.method);
      },
    },
  },
  families: {
    what: "+ header-family stripping: the floor's header loop also drops isClientClaim headers (edge/proxy/headers.ts)",
    hooks: {
      headers(request, identity) {
        const out = new Headers();
        for (const [name, value] of request.headers)
          if (name !== FLOOR_CREDENTIAL && !isClientClaim(name)) out.set(name, value);
        out.set("x-api-key-id", identity.id);
        out.set("x-org-slug", identity.org);
        out.set("x-api-key-scopes", identity.scopes);
        return out;
      },
    },
  },
  headers: {
    what: "upstream headers: keygate's upstreamHeaders (families, hop-by-hop, stray keys, X-Forwarded-*, request ids) instead of the floor's loop",
    hooks: {
      headers(request, identity, requestId, url, env: Env) {
        return upstreamHeaders(request.headers, configOf(env), {
          requestId,
          clientIp: request.headers.get("cf-connecting-ip"),
          proto: url.protocol.slice(0, -1),
          host: url.host,
          websocket: false,
          identity: { method: "key", keyId: identity.id, org: identity.org, scopes: identity.scopes.split(",") },
        });
      },
    },
  },
  feed: {
    what: "+ the revocation feed check: followFeed per request, a poll per REVOCATION_POLL_MS in waitUntil (edge/revocation/follower.ts)",
    hooks: {
      async before(_request, _path, env: Env, ctx) {
        if (!env.REVOCATION_FEED) throw new Error("feed variant: no REVOCATION_FEED binding");
        const config = configOf(env);
        const iso = isolateOf(env, config.cache.maxEntries);
        const wait = followFeed(
          env.REVOCATION_FEED,
          iso.feed,
          iso.cache,
          config.revocation,
          Date.now(),
          (p) => ctx.waitUntil(p),
          () => {},
        );
        if (wait !== null) await wait;
      },
    },
  },
  usage: {
    what: "+ usage counting: countRequest per request, flushes per USAGE_FLUSH_MS in waitUntil (usage/)",
    hooks: {
      after(o, env: Env, ctx) {
        if (!env.USAGE_STORE) throw new Error("usage variant: no USAGE_STORE binding");
        if (o.identity === null) return;
        countRequest(
          env,
          (p) => ctx.waitUntil(p),
          configOf(env).usageFlushMs,
          { usage: { org: o.identity.org, keyId: o.identity.id }, outcome: "forwarded" },
          o.status,
        );
      },
    },
  },
  lastused: {
    what: "+ last-used tracking: LastUsedThrottle.claim per request, recordLastUsed in waitUntil when due (edge/auth/last-used.ts)",
    hooks: {
      after(o, env: Env, ctx) {
        if (o.identity === null) return;
        const config = configOf(env);
        const now = Date.now();
        if (
          config.lastUsedIntervalMs === 0 ||
          !lastUsed.claim(o.identity.id, now, config.lastUsedIntervalMs, config.lastUsedMaxWritesPerSecond)
        )
          return;
        ctx.waitUntil(
          recordLastUsed(env.KEYS, { id: o.identity.id, orgs: [o.identity.org] }, new Date(now).toISOString()).catch(
            () => {},
          ),
        );
      },
    },
  },
  admit: {
    what: "decision: keygate's admit() (normalize, route, credential, checksum, SHA-256, LRU, authorize, org) instead of the floor's hash + Map, feed/usage/last-used off",
    hooks: {
      async decide(request, env: Env, ctx, requestId) {
        const core = coreEnv(env);
        const config = configOf(core);
        const admission = await admit(request, {
          config,
          env: core,
          isolate: isolateOf(core, config.cache.maxEntries),
          requestId,
          waitUntil: (p) => ctx.waitUntil(p),
          where: locator(request),
        });
        if (admission.kind !== "forward" || admission.identity === null) return null;
        const { keyId, org, scopes } = admission.identity;
        return { id: keyId ?? "", org, scopes: scopes.join(",") };
      },
    },
  },
  forward: {
    what: "forward: keygate's forward() (one deadline timer, a small body read whole, hop-by-hop headers dropped) instead of fetch + rebuild",
    hooks: {
      forward(target, request, headers, env: Env) {
        const config = configOf(env);
        return forward(target, {
          method: request.method,
          headers,
          body: request.body,
          timeoutMs: config.upstreamTimeoutMs,
          idleTimeoutMs: config.upstreamIdleTimeoutMs,
        });
      },
    },
  },
  log: {
    what: "log: keygate's access-log line (writeAccessLog, edge/gateway/respond.ts) instead of the floor's",
    hooks: {
      log(request, o) {
        writeAccessLog(
          request,
          o.requestId,
          {
            path: o.path,
            route: "(default)",
            auth: "key",
            cache: "memory",
            outcome: o.identity ? "forwarded" : "rejected",
            ...(o.identity ? { key_id: o.identity.id, org: o.identity.org } : {}),
          },
          o.status,
          o.started,
        );
      },
    },
  },
};

/** The keygate variants: its env with features turned off. */
export const KEYGATE_VARIANTS: Record<string, { what: string; env: (env: Env) => Env }> = {
  kg: { what: "keygate, defaults on (as the valid target)", env: (env) => env },
  "kg-feed": {
    what: "keygate without the revocation feed (no REVOCATION_FEED binding)",
    env: (env) => without(env, "REVOCATION_FEED"),
  },
  "kg-usage": {
    what: "keygate without usage counting (no USAGE_STORE binding)",
    env: (env) => without(env, "USAGE_STORE"),
  },
  "kg-lastused": {
    what: "keygate without last-used tracking (LAST_USED_INTERVAL_MS=0)",
    env: (env) => ({ ...env, LAST_USED_INTERVAL_MS: "0" }) as Env,
  },
  "kg-core": { what: "keygate with all three off", env: (env) => coreEnv(env) },
};

function without(env: Env, binding: "REVOCATION_FEED" | "USAGE_STORE"): Env {
  const copy = { ...env } as Record<string, unknown>;
  delete copy[binding];
  return copy as unknown as Env;
}

/** keygate's env without the feed, usage counting and last-used tracking (one object per env: configFor caches by it). */
const cores = new WeakMap<object, Env>();
export function coreEnv(env: Env): Env {
  let core = cores.get(env);
  if (core === undefined) {
    core = { ...without(without(env, "REVOCATION_FEED"), "USAGE_STORE"), LAST_USED_INTERVAL_MS: "0" } as Env;
    cores.set(env, core);
  }
  return core;
}

const floors = new Map<string, FloorHandler>();
const variantEnvs = new WeakMap<object, Map<string, Env>>();

/** Every variant (the floor's, then keygate's) and what it measures. */
export function variantDescriptions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, v] of Object.entries(FLOOR_VARIANTS)) out[id] = v.what;
  for (const [id, v] of Object.entries(KEYGATE_VARIANTS)) out[id] = v.what;
  return out;
}

/**
 * The handler for one variant (floor or keygate), or null for an unknown id. Variant envs
 * are built once per env object, so keygate's config and gateway caches stay warm.
 */
export function variantHandler(
  id: string,
): ((request: Request, env: AblationEnv, ctx: ExecutionContext) => Promise<Response>) | null {
  const fv = FLOOR_VARIANTS[id];
  if (fv) {
    let floor = floors.get(id);
    if (floor === undefined) {
      floor = createFloor(fv.hooks);
      floors.set(id, floor);
    }
    const f = floor;
    return (request, env, ctx) => f(request, env, ctx as FloorContext);
  }
  const kv = KEYGATE_VARIANTS[id];
  if (kv) {
    return (request, env, ctx) => {
      let byId = variantEnvs.get(env);
      if (byId === undefined) {
        byId = new Map();
        variantEnvs.set(env, byId);
      }
      let e = byId.get(id);
      if (e === undefined) {
        e = kv.env(env);
        byId.set(id, e);
      }
      return app.fetch(request, e, ctx);
    };
  }
  return null;
}
