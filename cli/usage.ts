/**
 * The keys CLI's `usage` verb (docs/usage.md), hooked into cli/keys.ts:
 *
 *   npm run keys -- usage --org ORG [--key ID] [--since 1h] [--granularity minute|hour|day] [--json]
 *
 * --url: GET /_keygate/usage. Local mode: usage lives in the running `wrangler dev`'s
 * UsageStore objects, reached through wrangler's dev registry like the revocation feed
 * (cli/feed.ts); without a running `wrangler dev` there is nothing to read.
 */
import type { ParseArgsConfig } from "node:util";
import type { Outcome } from "../src/keys/lifecycle";
import { GRANULARITY_MINUTES, usageAnswer, validateUsageQuery } from "../src/usage/query";
import type { UsageAnswer } from "../src/usage/query";
import type { LocalFeed } from "./feed";
import { LimitUsageError } from "./limits";

type Json = Record<string, unknown>;
type Values = Record<string, string | boolean | string[] | undefined>;

export const USAGE_FLAGS = {
  org: { type: "string" },
  key: { type: "string" },
  since: { type: "string" },
  granularity: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export interface UsageBackend {
  usage(query: Json): Promise<Outcome<Json>>;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90m", "1h", "7d" → ms. */
export function sinceMs(raw: string): number {
  const m = /^\s*(\d+)\s*([mhd])\s*$/.exec(raw);
  if (!m || Number(m[1]) === 0) throw new LimitUsageError(`--since: expected a duration such as 30m, 1h or 7d, got "${raw}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The API query from the flags: from = now − since (default 24 h); granularity by span unless given. */
export function usageQuery(values: Values, now = Date.now()): Json {
  if (values.org === undefined) throw new LimitUsageError("--org is required");
  const span = values.since === undefined ? 86_400_000 : sinceMs(values.since as string);
  const granularity = (values.granularity as string | undefined) ?? (span <= 3 * 3_600_000 ? "minute" : span <= 14 * 86_400_000 ? "hour" : "day");
  return {
    org: values.org,
    ...(values.key !== undefined ? { key: values.key } : {}),
    from: new Date(now - span).toISOString(),
    to: new Date(now).toISOString(),
    granularity,
  };
}

/** Local mode: the same validation and answer as the admin API, on the running gateway's object. */
export async function localUsage(feed: LocalFeed, query: Json): Promise<Outcome<Json>> {
  const checked = validateUsageQuery(query, Date.now());
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const q = checked.value;
  let store;
  try {
    store = await feed.usageStore(q.org);
    const g = GRANULARITY_MINUTES[q.granularity];
    const [buckets, statuses] = await Promise.all([store.query(q.key, q.fromMinute, q.toMinute, g), store.statuses(q.key, q.fromMinute, q.toMinute)]);
    return { ok: true, value: usageAnswer(q, buckets, statuses) as unknown as Json };
  } catch (err) {
    return {
      ok: false,
      error: "not_found",
      message: `usage is kept by the running gateway: start \`wrangler dev\` (same --persist-to), or use --url (${(err as Error).message.split("\n")[0]})`,
    };
  }
}

export function usageHuman(v: Json): string {
  const a = v as unknown as UsageAnswer;
  const by = Object.entries(a.totals.rejected_by_status ?? {}).map(([s, n]) => `${s}: ${n}`).join(", ");
  const lines = [
    `${a.org}${a.key ? ` / ${a.key}` : ""}, ${a.from.replace(/\.000Z$/, "Z")} → ${a.to.replace(/\.000Z$/, "Z")} (per ${a.granularity})`,
    `  requests ${a.totals.requests}, forwarded ${a.totals.forwarded}, rejected ${a.totals.rejected}${by ? ` (${by})` : ""}`,
  ];
  const busy = a.series.filter((s) => s.requests > 0);
  if (busy.length > 0) {
    const w = Math.max(...busy.map((s) => String(s.requests).length), 8);
    lines.push("", `  ${"START".padEnd(20)}  ${"REQUESTS".padStart(w)}  FORWARDED  REJECTED`);
    for (const s of busy) lines.push(`  ${s.start.replace(/\.000Z$/, "Z").padEnd(20)}  ${String(s.requests).padStart(w)}  ${String(s.forwarded).padStart(9)}  ${String(s.rejected).padStart(8)}`);
  }
  return lines.join("\n");
}
