/**
 * An organization's settings (PUT /orgs/:org): today one rate limit shared by all its keys.
 * The edge reads them (through a cache, or from the revocation feed: edge/abuse/org-limit.ts).
 */
import type { RateLimit } from "../record";
import { isRateLimit } from "../record";
import type { KvLike } from "./kv";
import { kvCall, kvKey, StoreFault } from "./kv";

export interface OrgSettings {
  rate_limit: RateLimit | null;
  updated_at: string;
}

function isOrgSettings(v: unknown): v is OrgSettings {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (o.rate_limit === null || isRateLimit(o.rate_limit)) && typeof o.updated_at === "string";
}

/** An org's settings, or null when it has none; StoreFault when KV fails or holds something else. */
export async function readOrgSettings(kv: KvLike, org: string, cacheTtlSeconds?: number): Promise<OrgSettings | null> {
  const value = await kvCall("get", () =>
    kv.get(kvKey.orgSettings(org), cacheTtlSeconds ? { type: "json", cacheTtl: cacheTtlSeconds } : { type: "json" }),
  );
  if (value === null) return null;
  if (!isOrgSettings(value)) throw new StoreFault(`KV value under ${kvKey.orgSettings(org)} is not org settings`);
  return value;
}

/** Store an org's settings; an org without any setting left is deleted (nothing to read). */
export async function writeOrgSettings(kv: KvLike, org: string, settings: OrgSettings): Promise<void> {
  if (settings.rate_limit === null) await kvCall("delete", () => kv.delete(kvKey.orgSettings(org)));
  else await kvCall("put", () => kv.put(kvKey.orgSettings(org), JSON.stringify(settings)));
}
