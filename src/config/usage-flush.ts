/**
 * USAGE_FLUSH_MS, shared out between the two hops a count takes to `GET /_keygate/usage`
 * (docs/usage.md) — the one place these numbers come from (the gateway, the location's
 * aggregator, the scale model):
 *
 * 1. the isolate's flush to its location's aggregator: at most every `isolateMs`, and at
 *    the latest `isolateMs` after a count (the deferred flush, edge/usage/flush.ts);
 * 2. the aggregator's forward to each org's store: at most once per `forwardMs` — at once
 *    when its last forward is that old, else when that interval ends (its alarm).
 *
 * isolateMs + forwardMs = USAGE_FLUSH_MS, so a count is in GET /usage within USAGE_FLUSH_MS
 * and two round trips of its request (each cut at 5 s), traffic or not.
 *
 * The isolate takes a fifth (2 s of the default 10 s), the aggregator the rest (8 s). A
 * forward is one batch per org per location and interval, an isolate's flush one call per
 * isolate and interval: where traffic is spread over many orgs, forwards outnumber the
 * isolates' flushes (10× and more in docs/scale.md's busy and large deployments) and write
 * more rows each, so the aggregator gets the longer interval — which is also what bounds
 * the writes one org's store receives (a batch per location per 8 s). And a short isolate
 * interval is what bounds the counts an isolate killed before its flush can lose.
 *
 * Plain arithmetic, no imports: Node code (bench/scale/) reads it too.
 */

/** USAGE_FLUSH_MS's default (declared with the variable in variables.ts, from here: the edge reads it without the declaration). */
export const USAGE_FLUSH_MS_DEFAULT = 10_000;

/** An isolate flushes at most every USAGE_FLUSH_MS / ISOLATE_DIVISOR (2 s with the default 10 s). */
export const ISOLATE_DIVISOR = 5;

/** How often, at most, an isolate flushes its counts — and how long a count waits in it at the latest. */
export function usageIsolateFlushMs(flushMs: number): number {
  return Math.round(flushMs / ISOLATE_DIVISOR);
}

/** How often, at most, a location's aggregator forwards to the orgs' stores: the rest of USAGE_FLUSH_MS. */
export function usageForwardMs(flushMs: number): number {
  return flushMs - usageIsolateFlushMs(flushMs);
}
