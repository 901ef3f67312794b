/**
 * Counts each request made with a known key or session (log.usage, from the Admission's
 * facts once the key is known: edge/gateway/admit.ts) after its response is decided, and starts
 * a background flush when one is due (edge/usage/counter.ts). The gateway calls `countRequest`
 * itself (edge/gateway/handler.ts); the Hono side (the self-service API) through `countUsage`.
 * Admin requests and requests without a known key are not counted.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../manage/http/context";
import { clock } from "../../lib/clock";
import type { Env } from "../../config/config";
import type { RequestLog } from "../../lib/log";
import { logLine } from "../../lib/log";
import { flushUsage, usageCounter } from "./counter";

export function countRequest(env: Env, waitUntil: (p: Promise<unknown>) => void, flushMs: number, log: RequestLog, status: number): void {
  const subject = log.usage;
  const ns = env.USAGE_STORE;
  // No store: nothing would ever be flushed, so nothing is counted.
  if (subject === undefined || !ns || (log.outcome !== "forwarded" && log.outcome !== "rejected")) return;
  const now = clock.now();
  const counter = usageCounter();
  counter.count(subject, status, log.outcome === "forwarded", now);
  if (counter.due(now, flushMs)) {
    waitUntil(flushUsage(ns, counter, now, (org, cause) => logLine("warn", "usage flush failed: kept for the next flush", { org, cause })));
  }
}

export const countUsage: MiddlewareHandler<AppEnv> = async function countUsage(c, next) {
  await next();
  countRequest(c.env, (p) => c.executionCtx.waitUntil(p), c.get("config").usageFlushMs, c.get("log"), c.res.status);
};
