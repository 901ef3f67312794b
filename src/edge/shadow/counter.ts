/**
 * Report mode's comparisons (docs/migrating.md), the isolate side: counted in memory per
 * UTC minute, route, org, key, class, body comparison and origin status, with the last
 * SHADOW_SAMPLES request ids per route and class — no I/O per request. At most every
 * USAGE_FLUSH_MS (like usage: edge/usage/counter.ts), a request that finds counts pending
 * hands them to waitUntil as one batch for the ShadowStore object; a batch carries an id
 * the object remembers (a resend counts once) and goes back for the next flush when it
 * fails. Lost: what an isolate counted since its last flush when it is evicted.
 */
import type { Env } from "../../env";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import type { ShadowBatch, ShadowRow, ShadowSample } from "../../objects/protocol";
import { SHADOW_OBJECT_NAME, SHADOW_SAMPLES } from "../../objects/protocol";
import type { ShadowStore } from "../../objects/shadow-store";

const FLUSH_TIMEOUT_MS = 5_000;
/** Distinct rows kept per isolate before a flush is forced. */
const MAX_PENDING = 10_000;
/** Undelivered batches kept for the next flushes (older ones are dropped, and the flush's log says so). */
const MAX_RETRY_BATCHES = 30;

/** One comparison: its row's dimensions (count 1) and its sample. */
export type Comparison = Omit<ShadowRow, "minute" | "count"> & { sample: Omit<ShadowSample, "route" | "at"> };

export class ShadowCounter {
  /** JSON of a row's dimensions → its row. */
  pending = new Map<string, ShadowRow>();
  /** JSON of [route, class] → the last samples, oldest first. */
  samples = new Map<string, ShadowSample[]>();
  lastFlush = 0;
  flushing: Promise<void> | null = null;
  retry: ShadowBatch[] = [];

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

  due(now: number, flushMs: number): boolean {
    return (
      this.pending.size > 0 &&
      this.flushing === null &&
      (now - this.lastFlush >= flushMs || this.pending.size >= MAX_PENDING)
    );
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`shadow store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** Send what is pending (and the batches that failed before); failures are kept for the next flush. */
export function flushShadow(
  ns: DurableObjectNamespace<ShadowStore>,
  counter: ShadowCounter,
  now: number,
  onError: (cause: string, dropped: number) => void,
): Promise<void> {
  counter.lastFlush = now;
  const batches = [...counter.retry, counter.take()];
  counter.retry = [];
  const stub = ns.get(ns.idFromName(SHADOW_OBJECT_NAME));
  const done = (async () => {
    for (const batch of batches) {
      try {
        await withTimeout(Promise.resolve(stub.add(batch)), FLUSH_TIMEOUT_MS);
      } catch (err) {
        counter.retry.push(batch);
        const dropped = Math.max(0, counter.retry.length - MAX_RETRY_BATCHES);
        counter.retry = counter.retry.slice(dropped);
        onError(err instanceof Error ? err.message : String(err), dropped);
      }
    }
  })().finally(() => {
    counter.flushing = null;
  });
  counter.flushing = done;
  return done;
}

/**
 * Count one comparison and, when a flush is due, start one (handed to `waitUntil`). No
 * SHADOW_STORE binding: nothing would ever be flushed, so nothing is counted.
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
  if (counter.due(now, flushMs))
    waitUntil(
      flushShadow(ns, counter, now, (cause, dropped) =>
        logLine("warn", "shadow flush failed: kept for the next flush", { cause, dropped_batches: dropped }),
      ),
    );
}
