/**
 * The migration's read endpoints (docs/migrating.md), registered by api.ts next to the org
 * and usage endpoints; the operations are the management core's (manage/migration.ts),
 * authorized by the authority table:
 *
 *   GET /migration[?org=ORG]                            {imported, migrated, pending, retired} per org
 *   GET /shadow[?from=ISO&to=ISO][&route=…][&org=ORG]   report mode's comparisons and whether it is safe to switch
 *
 * (Importing is POST /keys/import, one key or an array: api.ts.)
 */
import type { Hono } from "hono";
import type { AppEnv } from "../http/context";
import { migrationStatus, shadowReport } from "../migration";
import type { AdminHelpers } from "./orgs";

export function migrationRoutes(admin: Hono<AppEnv>, h: AdminHelpers): void {
  admin.get("/migration", async (c) => {
    const q = h.query(c);
    return Array.isArray(q) ? h.invalid(c, q) : h.answer(c, await migrationStatus(...h.core(c), q));
  });
  admin.get("/shadow", async (c) => {
    const q = h.query(c);
    return Array.isArray(q) ? h.invalid(c, q) : h.answer(c, await shadowReport(...h.core(c), q));
  });
}

export const MIGRATION_ENDPOINTS: [RegExp, string][] = [
  [/^\/migration$/, "GET, HEAD"],
  [/^\/shadow$/, "GET, HEAD"],
];
