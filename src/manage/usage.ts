/**
 * GET /usage (docs/usage.md): validation of the query and the answer's shape.
 *
 *   org (required), key (a key id), from / to (ISO 8601; default: the last 24 h for minute
 *   and hour, the last 30 days for day), granularity (minute | hour | day; default hour).
 *
 * Buckets are aligned on UTC minute/hour/day boundaries; `from` is rounded down and `to` up
 * to them; every bucket in the range is listed (zeros included), at most MAX_BUCKETS.
 */
import type { FieldError, Validated } from "../keys/issue";
import { KEY_ID_RE, ORG_RE } from "../keys/record";

export const GRANULARITY_MINUTES = { minute: 1, hour: 60, day: 1440 } as const;
export type Granularity = keyof typeof GRANULARITY_MINUTES;
export const MAX_BUCKETS = 2_000;

export interface UsageQuery {
  org: string;
  key: string | null;
  fromMinute: number;
  toMinute: number;
  granularity: Granularity;
}

export interface UsageAnswer {
  org: string;
  key: string | null;
  from: string;
  to: string;
  granularity: Granularity;
  totals: { requests: number; forwarded: number; rejected: number; rejected_by_status: Record<string, number> };
  series: { start: string; requests: number; forwarded: number; rejected: number }[];
}

function isoInstant(v: unknown): number | null {
  if (typeof v !== "string" || !/^\d{4}-\d\d-\d\dT/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

export function validateUsageQuery(input: Record<string, unknown>, now: number): Validated<UsageQuery> {
  const errors: FieldError[] = [];
  for (const k of Object.keys(input))
    if (!["org", "key", "from", "to", "granularity"].includes(k))
      errors.push({ field: k, message: "unknown parameter" });
  const org = input.org;
  if (typeof org !== "string" || !ORG_RE.test(org)) errors.push({ field: "org", message: "is required: an org slug" });
  const key = input.key ?? null;
  if (key !== null && (typeof key !== "string" || !KEY_ID_RE.test(key)))
    errors.push({ field: "key", message: "must be a key id (key_…)" });
  const granularity = (input.granularity ?? "hour") as Granularity;
  if (!(granularity in GRANULARITY_MINUTES))
    errors.push({ field: "granularity", message: "must be minute, hour or day" });
  const g = GRANULARITY_MINUTES[granularity] ?? 60;
  const to = input.to === undefined ? now : isoInstant(input.to);
  if (to === null) errors.push({ field: "to", message: "must be an ISO 8601 date-time" });
  const span = granularity === "day" ? 30 * 86_400_000 : 86_400_000;
  const from = input.from === undefined ? (to ?? now) - span : isoInstant(input.from);
  if (from === null) errors.push({ field: "from", message: "must be an ISO 8601 date-time" });
  if (errors.length) return { ok: false, errors };
  const fromMinute = Math.floor(Math.floor(from! / 60_000) / g) * g;
  const toMinute = Math.ceil(Math.ceil(to! / 60_000) / g) * g;
  if (toMinute <= fromMinute) return { ok: false, errors: [{ field: "from", message: "must be before to" }] };
  if ((toMinute - fromMinute) / g > MAX_BUCKETS) {
    return {
      ok: false,
      errors: [
        {
          field: "granularity",
          message: `this range has more than ${MAX_BUCKETS} ${granularity}s: narrow from/to or use a coarser granularity`,
        },
      ],
    };
  }
  return { ok: true, value: { org: org as string, key: key as string | null, fromMinute, toMinute, granularity } };
}

/** The dense series and totals from the object's sparse buckets. */
export function usageAnswer(
  q: UsageQuery,
  buckets: { start: number; requests: number; forwarded: number; rejected: number }[],
  statuses: Record<string, number>,
): UsageAnswer {
  const g = GRANULARITY_MINUTES[q.granularity];
  const byStart = new Map(buckets.map((b) => [b.start, b]));
  const series: UsageAnswer["series"] = [];
  const totals = { requests: 0, forwarded: 0, rejected: 0, rejected_by_status: statuses };
  for (let m = q.fromMinute; m < q.toMinute; m += g) {
    const b = byStart.get(m * 60_000);
    const row = {
      start: new Date(m * 60_000).toISOString(),
      requests: b?.requests ?? 0,
      forwarded: b?.forwarded ?? 0,
      rejected: b?.rejected ?? 0,
    };
    totals.requests += row.requests;
    totals.forwarded += row.forwarded;
    totals.rejected += row.rejected;
    series.push(row);
  }
  return {
    org: q.org,
    key: q.key,
    from: new Date(q.fromMinute * 60_000).toISOString(),
    to: new Date(q.toMinute * 60_000).toISOString(),
    granularity: q.granularity,
    totals,
    series,
  };
}
