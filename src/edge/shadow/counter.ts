/**
 * Report mode's comparisons (docs/migrating.md), the isolate side: counted in memory per
 * UTC minute, route, org, key, class, body comparison and origin status, with the last
 * SHADOW_SAMPLES request ids per route and class — no I/O per request. Flushed like usage,
 * on the same schedule (edge/usage/flush.ts): at most every USAGE_FLUSH_MS, and within
 * USAGE_FLUSH_MS (+ one round trip) of every comparison, traffic or not (the deferred flush
 * a request arms in its waitUntil), as one batch for the ShadowStore object; a batch carries
 * an id the object remembers (a resend counts once) and goes back for the next flush when
 * it fails. Lost: what an isolate counted in the last USAGE_FLUSH_MS + FLUSH_TIMEOUT_MS
 * before it was killed.
 */
import type { Env } from "../../env";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import type { ShadowBatch, ShadowRow, ShadowSample } from "../../objects/protocol";
import { SHADOW_OBJECT_NAME, SHADOW_SAMPLES } from "../../objects/protocol";
import type { ShadowStore } from "../../objects/shadow-store";
import { FlushSchedule, runFlush, scheduleFlush, withinFlushTimeout } from "../usage/flush";

/** Distinct rows kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered batches kept for the next flushes (older ones are dropped, and the flush's log says so). */
const MAX_RETRY_BATCHES = 30;

/** One comparison: its row's dimensions (count 1) and its sample. */
export type Comparison = Omit<ShadowRow, "minute" | "count"> & { sample: Omit<ShadowSample, "route" | "at"> };

export class ShadowCounter extends FlushSchedule {
  /** JSON of a row's dimensions → its row. */
  pending = new Map<string, ShadowRow>();
  /** JSON of [route, class] → the last samples, oldest first. */
  samples = new Map<string, ShadowSample[]>();
  retry: ShadowBatch[] = [];
  readonly maxPending = MAX_PENDING;

  pendingSize(): number {
    return this.pending.size;
  }

  count(c: Comparison, now: number): void {
    const minute = Math.floor(now / 60_000);
    const k = JSON.stringify([minute, c.route, c.org, c.key_id, c.class, c.body, c.status]);
    const row = this.pending.get(k);
    if (row) row.count++;
    else
      this.pending.set(k, {
        minute,
        route: c.route,
        org: c.org,
        key_id: c.key_id,
        class: c.class,
        body: c.body,
        status: c.status,
        count: 1,
      });
    const sk = JSON.stringify([c.route, c.sample.class]);
    const list = this.samples.get(sk) ?? [];
    list.push({ ...c.sample, route: c.route, at: now });
    if (list.length > SHADOW_SAMPLES) list.shift();
    this.samples.set(sk, list);
  }

  take(): ShadowBatch {
    const batch = {
      id: crypto.randomUUID(),
      rows: [...this.pending.values()],
      samples: [...this.samples.values()].flat(),
    };
    this.pending = new Map();
    this.samples = new Map();
    return batch;
  }
}

let shared: ShadowCounter | undefined;
export function shadowCounter(): ShadowCounter {
  return (shared ??= new ShadowCounter());
}

/** Send what is pending (and the batches that failed before); failures are kept for the next flush. */
export function flushShadow(
  ns: DurableObjectNamespace<ShadowStore>,
  counter: ShadowCounter,
  now: number,
  onError: (cause: string, dropped: number) => void,
): Promise<void> {
  return runFlush(counter, now, async () => {
    const batches = [...counter.retry, counter.take()];
    counter.retry = [];
    const stub = ns.get(ns.idFromName(SHADOW_OBJECT_NAME));
    for (const batch of batches) {
      try {
        await withinFlushTimeout(Promise.resolve(stub.add(batch)), "shadow store");
      } catch (err) {
        counter.retry.push(batch);
        const dropped = Math.max(0, counter.retry.length - MAX_RETRY_BATCHES);
        counter.retry = counter.retry.slice(dropped);
        onError(err instanceof Error ? err.message : String(err), dropped);
      }
    }
  });
}

/**
 * Count one comparison and schedule its flush (edge/usage/flush.ts: now when one is due,
 * else the deferred one; handed to `waitUntil`). No SHADOW_STORE binding: nothing would ever
 * be flushed, so nothing is counted.
 */
export function countComparison(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  flushMs: number,
  c: Comparison,
): void {
  const ns = env.SHADOW_STORE;
  if (!ns) return;
  const now = clock.now();
  const counter = shadowCounter();
  counter.count(c, now);
  scheduleFlush(counter, waitUntil, now, flushMs, (at) => flushShadow(ns, counter, at, flushFailed));
}

function flushFailed(cause: string, dropped: number): void {
  logLine("warn", "shadow flush failed: kept for the next flush", { cause, dropped_batches: dropped });
}
