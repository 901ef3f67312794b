/**
 * Counts each gateway request made with a known key (log.usage, from the Admission's facts once
 * the key is known: gateway/admit.ts) after its response is decided, and starts a background flush when one is
 * due (usage/counter.ts). Admin requests and requests without a known key are not counted.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import { logLine } from "../log";
import { flushUsage, usageCounter } from "./counter";

export const countUsage: MiddlewareHandler<AppEnv> = async function countUsage(c, next) {
  await next();
  const log = c.get("log");
  const subject = log.usage;
  const ns = c.env.USAGE_STORE;
  // No store: nothing would ever be flushed, so nothing is counted.
  if (subject === undefined || !ns || (log.outcome !== "forwarded" && log.outcome !== "rejected")) return;
  const now = clock.now();
  const counter = usageCounter();
  counter.count(subject, c.res.status, log.outcome === "forwarded", now);
  if (counter.due(now, c.get("config").usageFlushMs)) {
    c.executionCtx.waitUntil(
      flushUsage(ns, counter, now, (org, cause) => logLine("warn", "usage flush failed: kept for the next flush", { org, cause })),
    );
  }
};
