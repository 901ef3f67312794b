/**
 * Usage per key and organization (docs/usage.md), the isolate side.
 *
 * Every request with a known key (or, at merge, a session) is counted here, in memory:
 * forwarded, or rejected with its status, per org, key and UTC minute. No I/O per request.
 * A flush sends one batch per org to that org's UsageStore Durable Object, when flush.ts's
 * schedule says: at most every USAGE_FLUSH_MS, and within USAGE_FLUSH_MS (+ one round
 * trip) of every count, traffic or not (the deferred flush a request arms in its
 * waitUntil). A batch carries an id the object remembers, so a batch resent after a lost
 * answer is not counted twice; a batch that fails goes back into the pending counts for the
 * next flush.
 *
 * Lost: the counts of an isolate killed (evicted, or its waitUntil cut) before its
 * pending counts were flushed, i.e. at most USAGE_FLUSH_MS + FLUSH_TIMEOUT_MS of that
 * isolate's traffic.
 */
import type { Env } from "../../env";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import type { UsageBatch, UsageRow } from "../../objects/protocol";
import type { UsageStore } from "../../objects/usage-store";
import type { RequestLog } from "../admission";
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
/** Undelivered batches kept per org for the next flushes. */
const MAX_RETRY_BATCHES = 60;

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
   * Put a batch that could not be delivered back (it keeps its id: a resend counts once).
   * At most MAX_RETRY_BATCHES per org are kept: while an org's store stays unreachable,
   * older batches are dropped (lost, and reported by the flush's error log).
   */
  restore(org: string, batch: UsageBatch): void {
    const list = [...(this.retry.get(org) ?? []), batch];
    this.retry.set(org, list.slice(-MAX_RETRY_BATCHES));
  }

  /** Batches to resend with the next flush. */
  retry = new Map<string, UsageBatch[]>();
}

let shared: UsageCounter | undefined;
export function usageCounter(): UsageCounter {
  return (shared ??= new UsageCounter());
}

/** Send every pending batch (and earlier failed ones); failures are kept for the next flush. */
export function flushUsage(
  ns: DurableObjectNamespace<UsageStore>,
  counter: UsageCounter,
  now: number,
  onError: (org: string, cause: string) => void,
): Promise<void> {
  return runFlush(counter, now, () => {
    const batches = counter.take();
    const retries = counter.retry;
    counter.retry = new Map();
    const work: Promise<void>[] = [];
    const send = (org: string, batch: UsageBatch) =>
      work.push(
        withinFlushTimeout(Promise.resolve(ns.get(ns.idFromName(org)).add(batch)), "usage store").then(
          () => undefined,
          (err: unknown) => {
            counter.restore(org, batch);
            onError(org, err instanceof Error ? err.message : String(err));
          },
        ),
      );
    for (const [org, list] of retries) for (const b of list) send(org, b);
    for (const [org, batch] of batches) send(org, batch);
    return Promise.all(work).then(() => undefined);
  });
}

/**
 * Count a request made with a known key or session (log.usage, from the Admission's facts
 * once the key is known) after its response is decided, and schedule its flush (flush.ts:
 * now when one is due, else the deferred one). The gateway calls it itself (gateway/handler.ts); the management app for the
 * requests it answers (manage/app.ts). Admin requests and requests without a known key are
 * not counted.
 */
export function countRequest(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  flushMs: number,
  log: RequestLog,
  status: number,
): void {
  const subject = log.usage;
  const ns = env.USAGE_STORE;
  // No store: nothing would ever be flushed, so nothing is counted.
  if (subject === undefined || !ns || (log.outcome !== "forwarded" && log.outcome !== "rejected")) return;
  const now = clock.now();
  const counter = usageCounter();
  counter.count(subject, status, log.outcome === "forwarded", now);
  scheduleFlush(counter, waitUntil, now, flushMs, (at) => flushUsage(ns, counter, at, flushFailed));
}

function flushFailed(org: string, cause: string): void {
  logLine("warn", "usage flush failed: kept for the next flush", { org, cause });
}
