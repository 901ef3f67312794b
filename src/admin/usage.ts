/**
 * GET /usage?org=ORG[&key=ID][&from=ISO&to=ISO][&granularity=minute|hour|day] (docs/usage.md):
 * `{"totals": {"requests", "forwarded", "rejected", "rejected_by_status"}, "series": […]}` from
 * the org's UsageStore object. Registered by app.ts next to the org endpoints; the org is
 * authorized by the same single call (mayActForOrg).
 */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import { GRANULARITY_MINUTES, usageAnswer, validateUsageQuery } from "../usage/query";
import type { UsageAnswer, UsageQuery } from "../usage/query";
import type { UsageBucket, UsageStore } from "../usage/store-object";
import type { AdminHelpers } from "./orgs";
import { mayActForOrg } from "./orgs";

type Ctx = Context<AppEnv>;

export function usageRoutes(admin: Hono<AppEnv>, h: AdminHelpers & { query(c: Ctx): Record<string, string> | { field: string; message: string }[]; unavailable(c: Ctx, detail: string): Response }): void {
  admin.get("/usage", async (c) => {
    const q = h.query(c);
    if (Array.isArray(q)) return h.invalid(c, q);
    const checked = validateUsageQuery(q, clock.now());
    if (!checked.ok) return h.invalid(c, checked.errors);
    const uq = checked.value;
    if (!mayActForOrg(c, uq.org, false)) return h.forbidden(c, `this token may not act for org "${uq.org}"`);
    const ns = c.env.USAGE_STORE;
    if (!ns) return h.unavailable(c, "No USAGE_STORE Durable Object binding: usage is not recorded (see wrangler.toml).");
    return c.json(await readUsage(ns, uq));
  });
}

/** One usage answer from the org's UsageStore object (also the console's key page: last 7 days). */
export async function readUsage(ns: DurableObjectNamespace<UsageStore>, uq: UsageQuery): Promise<UsageAnswer> {
  const stub = ns.get(ns.idFromName(uq.org));
  const g = GRANULARITY_MINUTES[uq.granularity];
  const [buckets, statuses] = await Promise.all([stub.query(uq.key, uq.fromMinute, uq.toMinute, g), stub.statuses(uq.key, uq.fromMinute, uq.toMinute)]);
  return usageAnswer(uq, buckets as UsageBucket[], statuses as Record<string, number>);
}

export const USAGE_ENDPOINTS: [RegExp, string][] = [[/^\/usage$/, "GET, HEAD"]];
