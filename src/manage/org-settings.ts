/**
 * Organization settings (docs/limits.md): today one rate limit shared by every key of the
 * org, exact and global like the per-key one (a KeyRateLimiter object named "org:<org>").
 *
 * Admin side (API and CLI local mode): showOrg / setOrg, with the lifecycle's Outcome shape.
 * Hot path (limit.ts, orgLimitFor): every org's limit comes with the revocation feed (a new isolate
 * gets them all with its first poll, changes arrive with later polls), so an org without a
 * limit costs one Map lookup: no KV read, no Durable Object call. A change reaches every
 * isolate within the revocation bound (docs/revocation.md). Without the feed (no binding,
 * or it has not answered yet) the org's settings are read from KV through an in-isolate
 * cache (positive and negative for CACHE_TTL_MS): one KV read per org per isolate per
 * CACHE_TTL_MS, and a change takes up to CACHE_TTL_MS + KV_CACHE_TTL_SECONDS.
 */
import type { GatewayEvent } from "../events/types";
import { orgEvent } from "../events/types";
import type { FieldError, Validated } from "../keys/issue";
import type { Outcome } from "../keys/lifecycle";
import type { RateLimit } from "../keys/record";
import { isRateLimit, ORG_RE, RATE_LIMIT_SHAPE } from "../keys/record";
import type { KvLike } from "../keys/store/kv";
import type { OrgSettings } from "../keys/store/org-settings";
import { readOrgSettings, writeOrgSettings } from "../keys/store/org-settings";

export interface OrgView {
  org: string;
  rate_limit: RateLimit | null;
  updated_at: string | null;
}

export interface OrgContext {
  kv: KvLike;
  now: number;
  /** Apply the change in this isolate at once (the admin API). */
  purge?: (org: string, rateLimit: RateLimit | null) => void;
  /** Tell every isolate (the revocation feed), after the change is stored. */
  publish?: (org: string, rateLimit: RateLimit | null) => Promise<void>;
  /** Who acts, for the org.limit_changed event, and the webhooks to tell (events/emit.ts; never throws). */
  actor?: string;
  emit?: (event: GatewayEvent) => Promise<void>;
}

function viewOf(org: string, s: OrgSettings | null): OrgView {
  return { org, rate_limit: s?.rate_limit ?? null, updated_at: s?.updated_at ?? null };
}

function badOrg(org: string): FieldError[] | null {
  return ORG_RE.test(org)
    ? null
    : [{ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" }];
}

/** GET /orgs/:org: its settings (an org never set answers with nulls: every org exists). */
export async function showOrg(ctx: OrgContext, org: string): Promise<Outcome<OrgView>> {
  const bad = badOrg(org);
  if (bad) return { ok: false, error: "invalid", errors: bad };
  return { ok: true, value: viewOf(org, await readOrgSettings(ctx.kv, org)) };
}

/** Validate `{"rate_limit": {"limit", "period_seconds"} | null}`. */
export function validateOrgSettings(input: unknown): Validated<{ rate_limit: RateLimit | null }> {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    return { ok: false, errors: [{ field: "(body)", message: "must be a JSON object" }] };
  const o = input as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o)) if (k !== "rate_limit") errors.push({ field: k, message: "unknown field" });
  if (!("rate_limit" in o)) errors.push({ field: "rate_limit", message: "is required (null removes the org's limit)" });
  else if (o.rate_limit !== null && !isRateLimit(o.rate_limit)) {
    errors.push({
      field: "rate_limit",
      message: `must be ${RATE_LIMIT_SHAPE} or null`,
    });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: { rate_limit: o.rate_limit as RateLimit | null } };
}

/** PUT /orgs/:org: replace the org's settings. */
export async function setOrg(ctx: OrgContext, org: string, body: unknown): Promise<Outcome<OrgView>> {
  const checked = validateOrgSettings(body);
  const bad = badOrg(org);
  if (bad || !checked.ok)
    return { ok: false, error: "invalid", errors: [...(bad ?? []), ...(checked.ok ? [] : checked.errors)] };
  const settings: OrgSettings = { rate_limit: checked.value.rate_limit, updated_at: new Date(ctx.now).toISOString() };
  const before = await readOrgSettings(ctx.kv, org);
  await writeOrgSettings(ctx.kv, org, settings);
  ctx.purge?.(org, settings.rate_limit);
  if (JSON.stringify(before?.rate_limit ?? null) !== JSON.stringify(settings.rate_limit))
    await ctx.emit?.(orgEvent(org, settings.rate_limit, ctx.actor ?? "root", ctx.now));
  await ctx.publish?.(org, settings.rate_limit);
  return { ok: true, value: viewOf(org, settings.rate_limit ? settings : null) };
}
