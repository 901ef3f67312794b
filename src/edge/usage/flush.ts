/**
 * When a per-isolate counter sends what it counted — one schedule for every such counter:
 * usage (counter.ts) and report mode's comparisons (shadow/counter.ts, "flushed like usage").
 * Each counter gives its interval: usage the isolate's share of USAGE_FLUSH_MS (a fifth, or
 * three fifths while its location's aggregator says it is alone there: the aggregator
 * forwards by a deadline from the oldest count, config/usage-flush.ts), report mode
 * USAGE_FLUSH_MS itself (its store is the comparisons' one object, no hop after it).
 *
 * Counting does no I/O. At most every interval, a request that finds counts pending hands a
 * flush to its waitUntil. A flush never waits for a later request: a request that leaves
 * counts pending before a flush is due arms a deferred flush in its own waitUntil — at most
 * one per counter at a time — which sleeps until the flush is due (≤ the interval) and
 * sends them. So every count is sent within the interval (+ one round trip) of its request,
 * traffic or not. waitUntil keeps work alive WAIT_UNTIL_MS after the response: a deferred
 * flush may sleep the interval (≤ USAGE_FLUSH_MS), wait for a flush under way, then send its
 * own (each ≤ FLUSH_TIMEOUT_MS), so USAGE_FLUSH_MS is capped at WAIT_UNTIL_MS − 2 ×
 * FLUSH_TIMEOUT_MS (config/variables.ts).
 */
import { clock } from "../../lib/clock";
import { withDeadline } from "../../lib/deadline";

/** A flush's wait for its Durable Object; past it the batch is kept for the next flush. */
export const FLUSH_TIMEOUT_MS = 5_000;
/** How long Workers keep waitUntil work alive after the response. */
export const WAIT_UNTIL_MS = 30_000;

/** A flush's call to its Durable Object (`what` names it in the error), bounded by FLUSH_TIMEOUT_MS. */
export function withinFlushTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return withDeadline(p, FLUSH_TIMEOUT_MS, () => new Error(`${what} did not answer within ${FLUSH_TIMEOUT_MS} ms`));
}

/** A counter's flush state; the counter says how much is pending and when that forces a flush. */
export abstract class FlushSchedule {
  lastFlush = 0;
  /** The flush under way, if any. */
  flushing: Promise<void> | null = null;
  /** The deferred flush armed by a request and still asleep (at most one per counter). */
  armed: Promise<void> | null = null;

  /** Distinct counters waiting for a flush. */
  abstract pendingSize(): number;
  /** This many pending counters force a flush before the interval is over. */
  abstract readonly maxPending: number;

  /** Flush due: counts pending, and `flushMs` (the counter's interval) since the last one (or too many counters). */
  due(now: number, flushMs: number): boolean {
    const size = this.pendingSize();
    return size > 0 && this.flushing === null && (now - this.lastFlush >= flushMs || size >= this.maxPending);
  }
}

/**
 * One flush of `counter`: `send` (which takes what is pending at once, then sends it) runs as
 * the counter's flush under way until it settles.
 */
export function runFlush(counter: FlushSchedule, now: number, send: () => Promise<void>): Promise<void> {
  counter.lastFlush = now;
  const done = send().finally(() => {
    counter.flushing = null;
  });
  counter.flushing = done;
  return done;
}

/**
 * After a count: a flush when one is due, else a deferred flush unless one is armed — either
 * handed to `waitUntil`. `flush` sends everything pending (through runFlush).
 */
export function scheduleFlush(
  counter: FlushSchedule,
  waitUntil: (p: Promise<unknown>) => void,
  now: number,
  flushMs: number,
  flush: (now: number) => Promise<void>,
): void {
  if (counter.due(now, flushMs)) waitUntil(flush(now));
  else if (counter.armed === null) waitUntil(armFlush(counter, now, flushMs, flush));
}

/**
 * A deferred flush: asleep until a flush is due (the interval after the last one, at
 * most), then everything pending is sent — after any flush already under way. Held by the
 * waitUntil of the request that armed it; while it sleeps no other is armed, and a count
 * made once it woke arms the next one.
 */
export function armFlush(
  counter: FlushSchedule,
  now: number,
  flushMs: number,
  flush: (now: number) => Promise<void>,
): Promise<void> {
  const wait = Math.min(flushMs, Math.max(0, counter.lastFlush + flushMs - now));
  const armed: Promise<void> = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(async () => {
    if (counter.armed === armed) counter.armed = null;
    if (counter.flushing !== null) await counter.flushing;
    if (counter.pendingSize() > 0) await flush(clock.now());
  });
  counter.armed = armed;
  return armed;
}
