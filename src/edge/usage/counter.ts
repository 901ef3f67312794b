/**
 * Usage per key and organization (docs/usage.md), the isolate side.
 *
 * Every request with a known key (or, at merge, a session) is counted here, in memory:
 * forwarded, or rejected with its status, per org, key and UTC minute. No I/O per request.
 * A flush sends everything pending as one flush (a batch per org, and the arrival of its
 * oldest request) to the usage aggregator of the isolate's location
 * (objects/usage-store.ts), when flush.ts's schedule says, at the isolate's interval
 * (config/usage-flush.ts): at most that often, and within it (+ one round trip) of every
 * count, traffic or not (the deferred flush a request arms in its waitUntil). The interval
 * is the one the aggregator's last answer named: short (a fifth of USAGE_FLUSH_MS, 2 s by
 * default, and until a first answer) while other isolates of the location flush to it, long
 * (three fifths, 6 s) while this one is alone there. The aggregator stores the flush before
 * it answers and forwards the location's counts to each org's UsageStore at most once per
 * four fifths (8 s) and by each flush's deadline (its oldest request + USAGE_FLUSH_MS − a
 * round-trip allowance), so a count is in its org's store within USAGE_FLUSH_MS + two round
 * trips of its request whichever interval was used. A flush carries an id the aggregator
 * remembers, so a flush resent after a lost answer is taken once; a flush that fails is
 * kept, as it was, for the next one.
 *
 * Lost: the counts of an isolate killed (evicted, or its waitUntil cut) before its
 * pending counts reached the aggregator, i.e. at most its last interval + FLUSH_TIMEOUT_MS
 * of traffic (7 s by default, 11 s on the long interval). Once the aggregator answered,
 * they are stored.
 */

import type { UsageInterval } from "../../config/usage-flush";
import { USAGE_FLUSH_MS_DEFAULT, usageIsolateFlushMs, usageTiming } from "../../config/usage-flush";
import type { Env } from "../../env";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import { link } from "../../objects/link";
import type { UsageBatch, UsageCollect, UsageRow } from "../../objects/protocol";
import { usageLocationName } from "../../objects/protocol";
import type { UsageStore } from "../../objects/usage-store";
import type { RequestLog } from "../admission";
import type { Location } from "../location";
import { DEFAULT_LOCATION } from "../location";
import { FlushSchedule, runFlush, scheduleFlush, withinFlushTimeout } from "./flush";

/** Who a request is counted for: an org and a key (null: a session, counted for the org). */
export interface UsageSubject {
  org: string;
  keyId: string | null;
}

/** Sessions (no key id) are counted under this key id. */
export const SESSION_KEY_ID = "(session)";
/** Distinct (org, key, minute, status) counters kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered flushes kept for the next ones. */
const MAX_RETRY_FLUSHES = 60;

export class UsageCounter extends FlushSchedule {
  /** org → "minute|key|status|f" → count */
  pending = new Map<string, Map<string, number>>();
  size = 0;
  /** When the oldest pending request arrived (clock ms; null: nothing pending). */
  oldest: number | null = null;
  readonly maxPending = MAX_PENDING;
  /** The interval to flush at: the aggregator's last answer (short until the first, or without one). */
  interval: UsageInterval = "short";
  #id: string | undefined;

  /** This counter's (this isolate's) id, which its aggregator tells it apart from the location's other isolates by. */
  get id(): string {
    // Made on first use, in a request: Workers allow no randomness at an isolate's start.
    return (this.#id ??= crypto.randomUUID());
  }

  /** How long, at most, a count waits here: the interval's share of USAGE_FLUSH_MS (`flushMs`). */
  flushIntervalMs(flushMs: number): number {
    return usageIsolateFlushMs(flushMs, this.interval);
  }

  pendingSize(): number {
    return this.size;
  }

  /** Count one request. */
  count(subject: UsageSubject, status: number, forwarded: boolean, now: number): void {
    let org = this.pending.get(subject.org);
    if (org === undefined) {
      org = new Map();
      this.pending.set(subject.org, org);
    }
    const k = `${Math.floor(now / 60_000)}|${subject.keyId ?? SESSION_KEY_ID}|${status}|${forwarded ? "f" : "r"}`;
    const n = org.get(k);
    if (n === undefined) this.size++;
    org.set(k, (n ?? 0) + 1);
    if (this.oldest === null || now < this.oldest) this.oldest = now;
  }

  /** Take everything pending as one batch per org (`oldest`, read before, says since when). */
  take(): Map<string, UsageBatch> {
    const out = new Map<string, UsageBatch>();
    for (const [org, counts] of this.pending) {
      const rows: UsageRow[] = [];
      for (const [k, count] of counts) {
        const [minute, keyId, status, f] = k.split("|");
        rows.push({ minute: Number(minute), key_id: keyId!, status: Number(status), forwarded: f === "f", count });
      }
      out.set(org, { id: crypto.randomUUID(), rows });
    }
    this.pending = new Map();
    this.size = 0;
    this.oldest = null;
    return out;
  }

  /**
   * Put a flush that could not be delivered back, as it was (it keeps its id: a resend is
   * taken once). At most MAX_RETRY_FLUSHES are kept: while the aggregator stays
   * unreachable, older ones are dropped (lost, and reported by the flush's error log).
   */
  restore(flush: UsageCollect): void {
    this.retry = [...this.retry, flush].slice(-MAX_RETRY_FLUSHES);
  }

  /** Flushes to resend with the next one. */
  retry: UsageCollect[] = [];
}

let shared: UsageCounter | undefined;
export function usageCounter(): UsageCounter {
  return (shared ??= new UsageCounter());
}

/** Where a flush goes: the aggregator of the isolate's location, which forwards to each org on the timing of USAGE_FLUSH_MS. */
export interface FlushDestination {
  /** The isolate's location (edge/location.ts). */
  where?: Location;
  /** USAGE_FLUSH_MS, which the aggregator's timing comes from (config/usage-flush.ts usageTiming); its default without one. */
  flushMs?: number;
}

/**
 * Send everything pending as one flush (a batch per org, and its oldest request's arrival),
 * with earlier failed flushes, in one call to the location's usage aggregator
 * (objects/usage-store.ts): it stores them before it answers, and forwards the whole
 * location's counts, one batch per org, to the orgs' stores at most once per its interval
 * and by each flush's deadline — so an org's store receives a bounded number of writes
 * whatever the number of isolates, and a count is there within USAGE_FLUSH_MS (+ two round
 * trips) whatever the isolate's interval. Its answer sets the interval of the next flushes
 * (none, or one of another version: the short one). A failure keeps the flush as it was
 * (same id: resent, taken once) for the next one, and the interval as it was.
 */
export function flushUsage(
  ns: DurableObjectNamespace<UsageStore>,
  counter: UsageCounter,
  now: number,
  onError: (org: string, cause: string) => void,
  to: FlushDestination = {},
): Promise<void> {
  return runFlush(counter, now, () => {
    const oldest = counter.oldest ?? now;
    const batches = counter.take();
    const sending = counter.retry;
    counter.retry = [];
    if (batches.size > 0)
      sending.push({ id: crypto.randomUUID(), batches: [...batches].map(([org, batch]) => ({ org, batch })), oldest });
    if (sending.length === 0) return Promise.resolve();
    const where = to.where ?? DEFAULT_LOCATION;
    const aggregator = link.to(ns, usageLocationName(where.colo, where.region));
    const timing = usageTiming(to.flushMs ?? USAGE_FLUSH_MS_DEFAULT);
    return withinFlushTimeout(
      Promise.resolve().then(() => aggregator.collect(sending, timing, where, counter.id)),
      "usage aggregator",
    ).then(
      (answer: { interval?: unknown } | undefined) => {
        counter.interval = answer?.interval === "long" ? "long" : "short";
      },
      (err: unknown) => {
        for (const flush of sending) counter.restore(flush);
        const cause = err instanceof Error ? err.message : String(err);
        const orgs = new Set(sending.flatMap((f) => f.batches.map((b) => b.org)));
        for (const org of orgs) onError(org, cause);
      },
    );
  });
}

/**
 * Count a request made with a known key or session (log.usage, from the Admission's facts
 * once the key is known) after its response is decided, and schedule its flush (flush.ts:
 * now when one is due, else the deferred one). The gateway calls it itself (gateway/handler.ts); the management app for the
 * requests it answers (manage/app.ts). Admin requests and requests without a known key are
 * not counted. `flushMs`: USAGE_FLUSH_MS, shared out between the isolate's flush (at the
 * interval its aggregator last named) and the aggregator's forward (config/usage-flush.ts). `where`: the request's location, where a
 * flush goes (computed only then).
 */
export function countRequest(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  flushMs: number,
  log: RequestLog,
  status: number,
  where: () => Location = () => DEFAULT_LOCATION,
): void {
  const subject = log.usage;
  const ns = env.USAGE_STORE;
  // No store: nothing would ever be flushed, so nothing is counted.
  if (subject === undefined || !ns || (log.outcome !== "forwarded" && log.outcome !== "rejected")) return;
  const now = clock.now();
  const counter = usageCounter();
  counter.count(subject, status, log.outcome === "forwarded", now);
  scheduleFlush(counter, waitUntil, now, counter.flushIntervalMs(flushMs), (at) =>
    flushUsage(ns, counter, at, flushFailed, { where: where(), flushMs }),
  );
}

function flushFailed(org: string, cause: string): void {
  logLine("warn", "usage flush failed: kept for the next flush", { org, cause });
}
