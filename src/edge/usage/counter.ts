/**
 * Usage per key and organization (docs/usage.md), the isolate side.
 *
 * Every request with a known key (or, at merge, a session) is counted here, in memory:
 * forwarded, or rejected with its status, per org, key and UTC minute. No I/O per request.
 * A flush sends everything pending as one flush (a batch per org) to the usage aggregator of
 * the isolate's location (objects/usage-store.ts), when flush.ts's schedule says, with the
 * isolate's share of USAGE_FLUSH_MS (config/usage-flush.ts: a fifth, 2 s by default): at
 * most that often, and within it (+ one round trip) of every count, traffic or not (the
 * deferred flush a request arms in its waitUntil). The aggregator stores it before it
 * answers and forwards the location's counts to each org's UsageStore at most once per the
 * rest (four fifths, 8 s by default: at once when its last forward is that old, else from
 * its alarm), so a count is in its org's store within USAGE_FLUSH_MS + two round trips of
 * its request. A flush carries an id the aggregator remembers, so a flush resent after a lost
 * answer is taken once; a flush that fails is kept, as it was, for the next one.
 *
 * Lost: the counts of an isolate killed (evicted, or its waitUntil cut) before its
 * pending counts reached the aggregator, i.e. at most its last fifth of USAGE_FLUSH_MS +
 * FLUSH_TIMEOUT_MS of traffic (7 s by default). Once the aggregator answered, they are
 * stored.
 */

import { USAGE_FLUSH_MS_DEFAULT, usageForwardMs, usageIsolateFlushMs } from "../../config/usage-flush";
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
/** The aggregator's interval at USAGE_FLUSH_MS's default, for a flush that does not say it. */
const DEFAULT_FORWARD_MS = usageForwardMs(USAGE_FLUSH_MS_DEFAULT);
/** Distinct (org, key, minute, status) counters kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered flushes kept for the next ones. */
const MAX_RETRY_FLUSHES = 60;

export class UsageCounter extends FlushSchedule {
  /** org → "minute|key|status|f" → count */
  pending = new Map<string, Map<string, number>>();
  size = 0;
  readonly maxPending = MAX_PENDING;

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
  }

  /** Take everything pending as one batch per org. */
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

/** Where a flush goes: the aggregator of the isolate's location, which forwards to each org at most once per interval. */
export interface FlushDestination {
  /** The isolate's location (edge/location.ts). */
  where?: Location;
  /** The aggregator forwards an org's counts at most this often (config/usage-flush.ts usageForwardMs). */
  forwardMs?: number;
}

/**
 * Send everything pending as one flush (a batch per org), with earlier failed flushes, in
 * one call to the location's usage aggregator (objects/usage-store.ts): it stores them
 * before it answers, and forwards the whole location's counts, one batch per org, to the
 * orgs' stores at most once per `forwardMs` — so an org's store receives a bounded number of
 * writes whatever the number of isolates. A failure keeps the flush as it was (same id:
 * resent, taken once) for the next one.
 */
export function flushUsage(
  ns: DurableObjectNamespace<UsageStore>,
  counter: UsageCounter,
  now: number,
  onError: (org: string, cause: string) => void,
  to: FlushDestination = {},
): Promise<void> {
  return runFlush(counter, now, () => {
    const batches = counter.take();
    const sending = counter.retry;
    counter.retry = [];
    if (batches.size > 0)
      sending.push({ id: crypto.randomUUID(), batches: [...batches].map(([org, batch]) => ({ org, batch })) });
    if (sending.length === 0) return Promise.resolve();
    const where = to.where ?? DEFAULT_LOCATION;
    const aggregator = link.to(ns, usageLocationName(where.colo, where.region));
    return withinFlushTimeout(
      Promise.resolve().then(() => aggregator.collect(sending, to.forwardMs ?? DEFAULT_FORWARD_MS, where)),
      "usage aggregator",
    ).then(
      () => undefined,
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
 * not counted. `flushMs`: USAGE_FLUSH_MS, shared out between the isolate's flush and the
 * aggregator's forward (config/usage-flush.ts). `where`: the request's location, where a
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
  scheduleFlush(counter, waitUntil, now, usageIsolateFlushMs(flushMs), (at) =>
    flushUsage(ns, counter, at, flushFailed, { where: where(), forwardMs: usageForwardMs(flushMs) }),
  );
}

function flushFailed(org: string, cause: string): void {
  logLine("warn", "usage flush failed: kept for the next flush", { org, cause });
}
