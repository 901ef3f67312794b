/**
 * Admin endpoints about organizations (docs/limits.md, docs/usage.md):
 *
 *   GET  /orgs/:org      the org's settings
 *   PUT  /orgs/:org      {"rate_limit": {"limit", "period_seconds"} | null}
 *
 * Registered on the admin app by app.ts (orgRoutes), behind its token check. Which orgs a
 * caller may see or change is one function, mayActForOrg (root: every org; an org-scoped
 * token: its orgs).
 */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import type { FieldError } from "../keys/issue";
import type { Outcome } from "../keys/lifecycle";
import { setOrg, showOrg } from "../orgs/settings";
import type { OrgContext } from "../orgs/settings";
import { isolateOf } from "../gateway/isolate";
import { orgInScope } from "../keys/lifecycle";
import { callerScope } from "./tokens";
import { publishOrgLimit } from "../revocation/feed";
import { FeedUnavailable } from "../revocation/publish";

type Ctx = Context<AppEnv>;

export interface AdminHelpers {
  answer<T>(c: Ctx, outcome: Outcome<T>, status?: 200 | 201): Response;
  invalid(c: Ctx, errors: FieldError[]): Response;
  forbidden(c: Ctx, detail: string): Response;
  /** Hono middleware parsing a required JSON body (app.ts's jsonBody(true)). */
  jsonBody: unknown;
}

/**
 * May this admin caller read (or, with `write`, change) `org`? One call per endpoint: the
 * root token may act for every org; an org-scoped token (admin/tokens.ts) for its own orgs
 * (or every org with "*"), and change them only with the write role.
 */
export function mayActForOrg(c: Ctx, org: string, write: boolean): boolean {
  const caller = c.get("adminCaller");
  if (caller.kind === "root") return true;
  if (write && caller.role !== "write") return false;
  return orgInScope(org, callerScope(caller));
}

function orgContext(c: Ctx): OrgContext {
  const config = c.get("config");
  const feed = c.env.REVOCATION_FEED;
  return {
    kv: c.env.KEYS,
    now: clock.now(),
    purge: (org, rateLimit) => {
      const isolate = isolateOf(c.env, config.cache.maxEntries);
      isolate.orgs.delete(org);
      const follower = isolate.feed;
      if (rateLimit) follower.orgLimits.set(org, rateLimit);
      else follower.orgLimits.delete(org);
    },
    ...(feed
      ? {
          publish: async (org, rateLimit) => {
            try {
              await publishOrgLimit(feed, org, rateLimit);
            } catch (err) {
              throw new FeedUnavailable(err instanceof Error ? err.message : String(err));
            }
          },
        }
      : {}),
  };
}

export function orgRoutes(admin: Hono<AppEnv>, h: AdminHelpers): void {
  admin.get("/orgs/:org", async (c) => {
    const org = c.req.param("org");
    if (!mayActForOrg(c, org, false)) return h.forbidden(c, `this token may not act for org "${org}"`);
    return h.answer(c, await showOrg(orgContext(c), org));
  });
  // jsonBody is Hono's validator middleware from app.ts; typed loosely to keep this hook small.
  admin.put("/orgs/:org", h.jsonBody as never, async (c: Ctx) => {
    const org = c.req.param("org")!;
    if (!mayActForOrg(c, org, true)) return h.forbidden(c, `this token may not act for org "${org}"`);
    const body = (c.req.valid as (t: "json") => unknown)("json");
    return h.answer(c, await setOrg(orgContext(c), org, body));
  });
}

/** For app.ts's 405 answers. */
export const ORG_ENDPOINTS: [RegExp, string][] = [[/^\/orgs\/[^/]+$/, "GET, HEAD, PUT"]];
