/**
 * Who an operator request is, and the failed-authentication budget that guards it: the admin
 * API's gate (manage/admin/api.ts) and the leak intake's own-scanner endpoint
 * (manage/leak-intake/api.ts) authenticate operators here, one way.
 *
 * - `blockedSeconds`: an address over the management side's per-IP budget of failed
 *   authentications (edge/abuse/auth-failures.ts; its own, apart from the gateway's) is
 *   refused before any secret is compared, so it cannot go on guessing at the edge's speed;
 * - `operatorOf`: `Authorization: Bearer <ADMIN_TOKEN>` (constant-time, admin/auth.ts) is root;
 *   else a scoped admin token, looked up by hash after following the revocation feed (a
 *   revoked token is refused within the feed's bound, as keys are);
 * - `countFailure`: a wrong secret counts against the budget; the wait when it is now spent.
 */
import { blockedFor, clientKey, recordFailure } from "../../edge/abuse/auth-failures";
import { follow } from "../../edge/auth/authenticate";
import { isolateOf } from "../../edge/gateway/isolate";
import { locator } from "../../edge/location";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import type { AdminAuth } from "../admin/auth";
import { checkAdminToken } from "../admin/auth";
import { bearerOf, ROOT, resolveToken } from "../admin/tokens";
import type { Operator } from "../principal";
import type { Ctx } from "./context";

/** The client's address as the budget counts it (null: unknown, never blocked). */
function clientOf(c: Ctx): string | null {
  return clientKey(c.req.header("cf-connecting-ip") ?? null);
}

/** Seconds this request's address is still refused for (0: not blocked). */
export function blockedSeconds(c: Ctx): number {
  const client = clientOf(c);
  const config = c.get("config");
  return client === null
    ? 0
    : blockedFor(isolateOf(c.env, config.cache.maxEntries).managementBlocked, client, clock.now());
}

/** Count a failed authentication against the address; the seconds it is refused for now (0: not yet). */
export async function countFailure(c: Ctx): Promise<number> {
  const client = clientOf(c);
  if (client === null) return 0;
  const config = c.get("config");
  return recordFailure(
    isolateOf(c.env, config.cache.maxEntries).managementBlocked,
    c.env.AUTH_FAILURE_LIMITER,
    client,
    clock.now(),
    config.authFailureBlockSeconds,
    (message) =>
      logLine("error", "auth failure limiter unavailable", { request_id: c.get("requestId"), cause: message }),
    "management",
  );
}

/** The operator an Authorization header names: root (ADMIN_TOKEN) or a usable scoped admin token. */
export async function operatorOf(
  c: Ctx,
  authorization: string | null,
): Promise<{ auth: "ok"; caller: Operator } | { auth: Exclude<AdminAuth, "ok"> }> {
  const config = c.get("config");
  if (config.admin.token === null) return { auth: authorization === null ? "missing" : "invalid" };
  const auth = await checkAdminToken(authorization, config.admin.token);
  if (auth === "ok") return { auth, caller: ROOT };
  if (auth === "missing") return { auth };
  // Not the root token: a scoped admin token? (looked up by hash; manage/admin/tokens.ts)
  const presented = bearerOf(authorization);
  if (presented !== null) {
    // A revoked token is refused within the feed's bound (docs/revocation.md), as keys are.
    const isolate = isolateOf(c.env, config.cache.maxEntries);
    await follow(
      {
        config,
        env: c.env,
        isolate,
        requestId: c.get("requestId"),
        waitUntil: (p) => c.executionCtx.waitUntil(p),
        where: locator(c.req.raw),
      },
      clock.now(),
    );
    const scoped = await resolveToken(presented, { kv: c.env.KEYS, config, now: clock.now(), isolate });
    if (scoped !== null) return { auth: "ok", caller: scoped };
  }
  return { auth };
}
