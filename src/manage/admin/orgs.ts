/**
 * Admin endpoints about organizations (docs/limits.md, docs/usage.md):
 *
 *   GET  /orgs/:org      the org's settings
 *   PUT  /orgs/:org      {"rate_limit": {"limit", "period_seconds"} | null}
 *
 * Registered on the admin app by app.ts (orgRoutes), behind its token check. The
 * operations are the management core's (manage/orgs.ts): which orgs a caller may see or
 * change is the authority table's (root: every org; an org-scoped token: its orgs, and
 * change them only with the write role).
 */
import type { Hono } from "hono";
import type { FieldError } from "../../keys/issue";
import type { Outcome } from "../../keys/lifecycle";
import type { ManageDeps } from "../context";
import type { AppEnv, Ctx } from "../http/context";
import { orgSet, orgShow } from "../orgs";
import type { Principal } from "../principal";

export interface AdminHelpers {
  answer<T>(c: Ctx, outcome: Outcome<T>, status?: 200 | 201): Response;
  invalid(c: Ctx, errors: FieldError[]): Response;
  /** The management core's dependencies for this request, and the caller. */
  core(c: Ctx): [ManageDeps, Principal];
  /** The query string as one value per name (or its field errors). */
  query(c: Ctx): Record<string, string> | FieldError[];
  /** Hono middleware parsing a required JSON body (app.ts's jsonBody(true)). */
  jsonBody: unknown;
}

export function orgRoutes(admin: Hono<AppEnv>, h: AdminHelpers): void {
  admin.get("/orgs/:org", async (c) => h.answer(c, await orgShow(...h.core(c), c.req.param("org"))));
  // jsonBody is Hono's validator middleware from app.ts; typed loosely to keep this hook small.
  admin.put("/orgs/:org", h.jsonBody as never, async (c: Ctx) => {
    const body = (c.req.valid as (t: "json") => unknown)("json");
    return h.answer(c, await orgSet(...h.core(c), c.req.param("org")!, body));
  });
}

/** For app.ts's 405 answers. */
export const ORG_ENDPOINTS: [RegExp, string][] = [[/^\/orgs\/[^/]+$/, "GET, HEAD, PUT"]];
