/**
 * `usage --org ORG [--key ID] [--since 1h|7d|…] [--granularity minute|hour|day]`
 * (docs/usage.md): requests, forwarded, rejected. Remote: GET /usage; local: the running
 * `wrangler dev`'s UsageStore objects (cli/backends/local.ts).
 */
import { validateUsageQuery } from "../../src/manage/usage";
import type { Json, Options, Values } from "../args";
import { precheck, sinceMs, UsageError } from "../args";
import { usageHuman } from "../render";
import type { Verb } from "../run";

export const USAGE_FLAGS = {
  org: { type: "string" },
  key: { type: "string" },
  since: { type: "string" },
  granularity: { type: "string" },
} as const satisfies Options;

/** The API query from the flags: from = now − since (default 24 h); granularity by span unless given. */
export function usageQuery(values: Values, now = Date.now()): Json {
  if (values.org === undefined) throw new UsageError("--org is required");
  const span = values.since === undefined ? 86_400_000 : sinceMs(values.since as string);
  const granularity =
    (values.granularity as string | undefined) ??
    (span <= 3 * 3_600_000 ? "minute" : span <= 14 * 86_400_000 ? "hour" : "day");
  return {
    org: values.org,
    ...(values.key !== undefined ? { key: values.key } : {}),
    from: new Date(now - span).toISOString(),
    to: new Date(now).toISOString(),
    granularity,
  };
}

export const USAGE_VERB: Verb = {
  options: USAGE_FLAGS,
  positionals: false,
  plan({ values }) {
    const query = usageQuery(values);
    precheck(validateUsageQuery(query, Date.now()));
    return { call: (b) => b.usage(query), human: usageHuman };
  },
};
