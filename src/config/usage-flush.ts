/**
 * USAGE_FLUSH_MS, shared out between the two hops a count takes to `GET /_keygate/usage`
 * (docs/usage.md) — the one place these numbers come from (the gateway, the location's
 * aggregator through the timing each flush hands it, the scale model):
 *
 * 1. the isolate's flush to its location's aggregator: at most every `usageIsolateFlushMs`
 *    of its interval, and at the latest that long after a count (the deferred flush,
 *    edge/usage/flush.ts). Two intervals, the aggregator's answer to each flush saying which
 *    to use next: the **short** one, a fifth (2 s by default), while other isolates of the
 *    location flush to it (it has something to merge); the **long** one, three fifths (6 s),
 *    while the isolate is alone there. An isolate starts with the short one.
 * 2. the aggregator's forward to each org's store: at most once per `usageForwardMs` (the
 *    other four fifths, 8 s) — at once when its last forward is that old — and, whatever
 *    interval an isolate used, by each flush's **deadline**: the arrival of the flush's
 *    oldest request + USAGE_FLUSH_MS − a round-trip allowance (a twentieth, 0.5 s).
 *
 * So a count is in GET /usage within USAGE_FLUSH_MS and two round trips of its request
 * (each cut at 5 s), traffic or not, whichever interval its isolate used: the deadline
 * holds it, not the intervals. A hint that is stale or lost changes what a flush costs,
 * never the bound.
 *
 * Why these numbers:
 * - Short, a fifth: where traffic is spread over many orgs, forwards outnumber the isolates'
 *   flushes (10× and more in docs/scale.md's busy and large deployments) and write more rows
 *   each, so the aggregator gets the longer share — which also bounds the writes one org's
 *   store receives: a batch per location per 8 s while its isolates flush every 2 s (7.5 s
 *   at the least, when a flush's deadline comes first).
 * - Long, three fifths: a lone isolate's flush is forwarded by itself whatever its interval
 *   (nothing to merge it with), so a longer interval saves both calls; it stays short enough
 *   that a flush reaches the aggregator before its deadline with time to spare (6 s + 0.5 s
 *   leaves 3.5 s, far above a round trip): the deadline never forces a forward as each flush
 *   arrives, so where several isolates still use the long interval (a stale hint) their
 *   flushes are merged too, at most one batch per location per 3.5 s. And it bounds what an
 *   isolate killed before its flush can lose: 6 s + 5 s of counts.
 * - Starting short: a new isolate in a busy location would, on the long interval, hand its
 *   aggregator a deadline earlier than its own interval's end and force a forward (one
 *   batch to every org) per isolate start; on the short one, a lone isolate pays one extra
 *   flush (one call) before its first answer.
 * - The allowance, a twentieth (0.5 s): the forward's own round trip to an org's store
 *   anywhere (docs/scale.md's slowest published pair is ≈ 350 ms) and the clocks of the
 *   isolate and its aggregator, so a count is usually stored within USAGE_FLUSH_MS itself.
 * - "Other isolates recently": another isolate's flush within USAGE_FLUSH_MS — longer than
 *   the long interval, so two isolates with steady traffic always see each other.
 *
 * Plain arithmetic, no imports: Node code (bench/scale/) reads it too.
 */

/** USAGE_FLUSH_MS's default (declared with the variable in variables.ts, from here: the edge reads it without the declaration). */
export const USAGE_FLUSH_MS_DEFAULT = 10_000;

/** Which of its two intervals an isolate flushes at (the aggregator's answer to its last flush). */
export type UsageInterval = "short" | "long";

/** The short interval is USAGE_FLUSH_MS / ISOLATE_DIVISOR (2 s with the default 10 s)… */
export const ISOLATE_DIVISOR = 5;
/** …the long one LONG_FIFTHS of it (6 s). */
export const LONG_FIFTHS = 3;
/** A flush's deadline at the aggregator leaves USAGE_FLUSH_MS / ALLOWANCE_DIVISOR for a round trip (0.5 s). */
export const ALLOWANCE_DIVISOR = 20;

/** How often, at most, an isolate flushes its counts at `interval` — and how long a count waits in it at the latest. */
export function usageIsolateFlushMs(flushMs: number, interval: UsageInterval = "short"): number {
  return Math.round(interval === "long" ? (flushMs * LONG_FIFTHS) / ISOLATE_DIVISOR : flushMs / ISOLATE_DIVISOR);
}

/** How often, at most, a location's aggregator forwards to the orgs' stores: the rest of USAGE_FLUSH_MS after the short interval. */
export function usageForwardMs(flushMs: number): number {
  return flushMs - usageIsolateFlushMs(flushMs);
}

/** The round trip allowed for within USAGE_FLUSH_MS: a flush's deadline is this much before its oldest request's bound. */
export function usageRoundTripAllowanceMs(flushMs: number): number {
  return Math.round(flushMs / ALLOWANCE_DIVISOR);
}

/** A flush is forwarded at the latest this long after the arrival of its oldest request. */
export function usageDeadlineMs(flushMs: number): number {
  return flushMs - usageRoundTripAllowanceMs(flushMs);
}

/** Another isolate's flush within this long means the location has something to merge: the short interval. */
export function usageRecentMs(flushMs: number): number {
  return flushMs;
}

/** What an isolate's flush tells its aggregator (objects/protocol.ts UsageTiming): the numbers above for USAGE_FLUSH_MS. */
export function usageTiming(flushMs: number): { forwardMs: number; deadlineMs: number; recentMs: number } {
  return { forwardMs: usageForwardMs(flushMs), deadlineMs: usageDeadlineMs(flushMs), recentMs: usageRecentMs(flushMs) };
}
