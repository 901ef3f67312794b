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
 * Lost: the counts of an isolate evicted (or a waitUntil cut) before its next flush, i.e.
 * at most USAGE_FLUSH_MS of that isolate's traffic.
 */
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

/** Who a request is counted for: an org and a key (null: a session, counted for the org). */
export interface UsageSubject {
  org: string;
  keyId: string | null;
}

/** Sessions (no key id) are counted under this key id. */
export const SESSION_KEY_ID = "(session)";
const FLUSH_TIMEOUT_MS = 5_000;
/** USAGE_FLUSH_MS's default, for a flush that does not say its interval. */
const DEFAULT_FLUSH_MS = 10_000;
/** Distinct (org, key, minute, status) counters kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered flushes kept for the next ones. */
const MAX_RETRY_FLUSHES = 60;

export class UsageCounter {
  /** org → "minute|key|status|f" → count */
  pending = new Map<string, Map<string, number>>();
  size = 0;
  lastFlush = 0;
  flushing: Promise<void> | null = null;

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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`usage store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** Where a flush goes: the aggregator of the isolate's location, which forwards to each org at most once per interval. */
export interface FlushDestination {
  /** The isolate's location (edge/location.ts). */
  where?: Location;
  /** USAGE_FLUSH_MS: the aggregator forwards an org's counts at most this often. */
  flushMs?: number;
}

/**
 * Send everything pending as one flush (a batch per org), with earlier failed flushes, in
 * one call to the location's usage aggregator (objects/usage-store.ts): it stores them
 * before it answers, and forwards the whole location's counts, one batch per org, to the
 * orgs' stores at most once per `flushMs` — so an org's store receives a bounded number of
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
  counter.lastFlush = now;
  const batches = counter.take();
  const sending = counter.retry;
  counter.retry = [];
  if (batches.size > 0)
    sending.push({ id: crypto.randomUUID(), batches: [...batches].map(([org, batch]) => ({ org, batch })) });
  const where = to.where ?? DEFAULT_LOCATION;
  const aggregator = link.to(ns, usageLocationName(where.colo, where.region));
  const done = (
    sending.length === 0
      ? Promise.resolve()
      : withTimeout(
          Promise.resolve().then(() => aggregator.collect(sending, to.flushMs ?? DEFAULT_FLUSH_MS, where)),
          FLUSH_TIMEOUT_MS,
        ).then(
          () => undefined,
          (err: unknown) => {
            for (const flush of sending) counter.restore(flush);
            const cause = err instanceof Error ? err.message : String(err);
            const orgs = new Set(sending.flatMap((f) => f.batches.map((b) => b.org)));
            for (const org of orgs) onError(org, cause);
          },
        )
  ).then(() => {
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
 * not counted. `where`: the request's location, where a flush goes (computed only then).
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
  if (counter.due(now, flushMs)) {
    waitUntil(
      flushUsage(
        ns,
        counter,
        now,
        (org, cause) => logLine("warn", "usage flush failed: kept for the next flush", { org, cause }),
        { where: where(), flushMs },
      ),
    );
  }
}
