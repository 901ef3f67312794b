/**
 * Usage per key and organization (docs/usage.md), the isolate side.
 *
 * Every request with a known key (or, at merge, a session) is counted here, in memory:
 * forwarded, or rejected with its status, per org, key and UTC minute. No I/O per request.
 * At most every USAGE_FLUSH_MS, a request that finds counts pending hands them to
 * waitUntil, which sends one batch per org to that org's UsageStore Durable Object. A batch
 * carries an id the object remembers, so a batch resent after a lost answer is not counted
 * twice; a batch that fails goes back into the pending counts for the next flush.
 *
 * A flush never waits for a later request: a request that leaves counts pending before a
 * flush is due arms a deferred flush in its own waitUntil — at most one per isolate at a
 * time — which sleeps until the flush is due (≤ USAGE_FLUSH_MS) and sends them. So every
 * count is flushed within USAGE_FLUSH_MS (+ one round trip) of its request, traffic or
 * not. waitUntil keeps work alive WAIT_UNTIL_MS after the response: a deferred flush may
 * sleep USAGE_FLUSH_MS, wait for a flush under way, then send its own (each ≤
 * FLUSH_TIMEOUT_MS), so USAGE_FLUSH_MS is capped at WAIT_UNTIL_MS − 2 × FLUSH_TIMEOUT_MS
 * (config/variables.ts).
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

/** Who a request is counted for: an org and a key (null: a session, counted for the org). */
export interface UsageSubject {
  org: string;
  keyId: string | null;
}

/** Sessions (no key id) are counted under this key id. */
export const SESSION_KEY_ID = "(session)";
/** A flush's wait for the usage store; past it the batch is kept for the next flush. */
export const FLUSH_TIMEOUT_MS = 5_000;
/** How long Workers keep waitUntil work alive after the response. */
export const WAIT_UNTIL_MS = 30_000;
/** Distinct (org, key, minute, status) counters kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered batches kept per org for the next flushes. */
const MAX_RETRY_BATCHES = 60;

export class UsageCounter {
  /** org → "minute|key|status|f" → count */
  pending = new Map<string, Map<string, number>>();
  size = 0;
  lastFlush = 0;
  flushing: Promise<void> | null = null;
  /** The deferred flush armed by a request and still asleep (at most one per isolate). */
  armed: Promise<void> | null = null;

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

  /** Flush due: counts pending, and USAGE_FLUSH_MS since the last one (or too many counters). */
  due(now: number, flushMs: number): boolean {
    return this.size > 0 && this.flushing === null && (now - this.lastFlush >= flushMs || this.size >= MAX_PENDING);
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`usage store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** Send every pending batch (and earlier failed ones); failures are kept for the next flush. */
export function flushUsage(
  ns: DurableObjectNamespace<UsageStore>,
  counter: UsageCounter,
  now: number,
  onError: (org: string, cause: string) => void,
): Promise<void> {
  counter.lastFlush = now;
  const batches = counter.take();
  const retries = counter.retry;
  counter.retry = new Map();
  const work: Promise<void>[] = [];
  const send = (org: string, batch: UsageBatch) =>
    work.push(
      withTimeout(Promise.resolve(ns.get(ns.idFromName(org)).add(batch)), FLUSH_TIMEOUT_MS).then(
        () => undefined,
        (err: unknown) => {
          counter.restore(org, batch);
          onError(org, err instanceof Error ? err.message : String(err));
        },
      ),
    );
  for (const [org, list] of retries) for (const b of list) send(org, b);
  for (const [org, batch] of batches) send(org, batch);
  const done = Promise.all(work).then(() => {
    counter.flushing = null;
  });
  counter.flushing = done;
  return done;
}

/**
 * Count a request made with a known key or session (log.usage, from the Admission's facts
 * once the key is known) after its response is decided, and start a background flush when
 * one is due. The gateway calls it itself (gateway/handler.ts); the management app for the
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
  if (counter.due(now, flushMs)) waitUntil(flushUsage(ns, counter, now, flushFailed));
  else if (counter.armed === null) waitUntil(armFlush(ns, counter, now, flushMs));
}

function flushFailed(org: string, cause: string): void {
  logLine("warn", "usage flush failed: kept for the next flush", { org, cause });
}

/**
 * A deferred flush: asleep until a flush is due (USAGE_FLUSH_MS after the last one, at
 * most), then everything pending is sent — after any flush already under way. Held by the
 * waitUntil of the request that armed it; while it sleeps no other is armed, and a count
 * made once it woke arms the next one.
 */
export function armFlush(
  ns: DurableObjectNamespace<UsageStore>,
  counter: UsageCounter,
  now: number,
  flushMs: number,
): Promise<void> {
  const wait = Math.min(flushMs, Math.max(0, counter.lastFlush + flushMs - now));
  const armed: Promise<void> = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(async () => {
    if (counter.armed === armed) counter.armed = null;
    if (counter.flushing !== null) await counter.flushing;
    if (counter.size > 0) await flushUsage(ns, counter, clock.now(), flushFailed);
  });
  counter.armed = armed;
  return armed;
}
