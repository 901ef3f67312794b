/**
 * Authorization: a valid key (or session) against the matched route and the org the request acts for.
 * Returns the org to inject, or why the request is refused.
 */
import type { Config } from "../../config/config";
import type { Result } from "../../lib/result";
import { ok } from "../../lib/result";
import type { Route } from "../routes/table";

/** The org the request acts for, or why it is refused. */
export type Decision = Result<string, { code: "forbidden" | "malformed_request"; detail: string }>;

/**
 * `record`: a key's, or a verified session's org and scopes (edge/auth/session.ts), checked the
 * same way; `what` names it in the detail of a 403 ("API key", "session").
 */
export function authorize(
  record: { readonly orgs: readonly string[]; readonly scopes: readonly string[] },
  route: Route,
  config: Config,
  headers: Headers,
  what = "API key",
): Decision {
  let org = record.orgs[0]!;
  if (config.orgSource === "header") {
    // The client names the org it acts for (Artanis); the key must belong to it.
    const requested = headers.get(config.headers.org)?.trim();
    if (!requested) return { ok: false, code: "malformed_request", detail: `Missing ${config.headers.org} header` };
    if (!record.orgs.includes(requested)) {
      return {
        ok: false,
        code: "forbidden",
        detail: `The ${what} does not belong to the organization in ${config.headers.org}`,
      };
    }
    org = requested;
  }
  for (const scope of route.scopes) {
    if (!record.scopes.includes(scope)) {
      return { ok: false, code: "forbidden", detail: `The ${what} lacks the "${scope}" scope required here` };
    }
  }
  return ok(org);
}
