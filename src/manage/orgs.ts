/**
 * The org operations of the management core: an org's settings (its rate limit,
 * docs/limits.md) and its usage (docs/usage.md). Like every operation they take the
 * principal and ask the authority table (authority.ts) first.
 */
import type { Outcome } from "../keys/lifecycle";
import { findKey } from "../keys/lifecycle";
import { ORG_RE } from "../keys/record";
import { decide } from "./authority";
import type { ManageDeps } from "./context";
import { failure } from "./context";
import type { OrgContext, OrgView } from "./org-settings";
import { setOrg, showOrg } from "./org-settings";
import type { Principal } from "./principal";
import { actorOf } from "./principal";
import type { UsageAnswer } from "./usage";
import { validateUsageQuery } from "./usage";

const badOrg = (): Outcome<never> => ({
  ok: false,
  error: "invalid",
  errors: [{ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" }],
});

function orgContext(deps: ManageDeps, p: Principal): OrgContext {
  return {
    kv: deps.kv,
    now: deps.now,
    actor: deps.actor ?? actorOf(p),
    ...(deps.emit ? { emit: deps.emit } : {}),
    ...(deps.orgPurge ? { purge: deps.orgPurge } : {}),
    ...(deps.orgPublish ? { publish: deps.orgPublish } : {}),
  };
}

/** An org's settings (an org never set answers with nulls: every org exists). */
export async function orgShow(deps: ManageDeps, p: Principal, org: string): Promise<Outcome<OrgView>> {
  const allowed = decide(p, "org_show");
  if (!allowed.ok) return failure(allowed);
  if (!ORG_RE.test(org)) return badOrg();
  const d = decide(p, "org_show", { orgs: [org] });
  if (!d.ok) return failure(d);
  return showOrg(orgContext(deps, p), org);
}

/** Replace an org's settings: `{"rate_limit": {…} | null}`. */
export async function orgSet(deps: ManageDeps, p: Principal, org: string, body: unknown): Promise<Outcome<OrgView>> {
  const allowed = decide(p, "org_set");
  if (!allowed.ok) return failure(allowed);
  if (ORG_RE.test(org)) {
    const d = decide(p, "org_set", { orgs: [org] });
    if (!d.ok) return failure(d);
  }
  return setOrg(orgContext(deps, p), org, body);
}

/** An org's usage, optionally one key's (query: docs/usage.md). */
export async function usage(
  deps: ManageDeps,
  p: Principal,
  query: Record<string, unknown>,
): Promise<Outcome<UsageAnswer>> {
  const allowed = decide(p, "usage");
  if (!allowed.ok) return failure(allowed);
  const checked = validateUsageQuery(query, deps.now);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const q = checked.value;
  const d = decide(p, "usage", { orgs: [q.org] });
  if (!d.ok) return failure(d);
  if (q.key !== null && p.kind !== "root" && p.kind !== "token") {
    // A holder reads its own keys' usage only (a key shared with another org is the operator's).
    const found = await findKey(deps, q.key);
    const sees = found ? decide(p, "usage", { key: found.record }) : null;
    if (!sees?.ok) return { ok: false, error: "not_found", message: `no key with id "${q.key}"` };
  }
  if (!deps.usage)
    return {
      ok: false,
      error: "unavailable",
      message: "No USAGE_STORE Durable Object binding: usage is not recorded (see wrangler.toml).",
    };
  return { ok: true, value: await deps.usage(q) };
}
