/**
 * Last-used accounting for the hot path: decides, per isolate, whether a key's use should
 * be written now. At most one write per key per LAST_USED_INTERVAL_MS per isolate, so KV's
 * limit of one write per second per key is never approached (the interval is ≥ 1 s, and
 * 60 s by default), and the write itself runs in waitUntil, after the response. And at
 * most LAST_USED_MAX_WRITES_PER_SECOND writes per isolate whatever the number of keys in
 * use: with many distinct keys (each first use in an isolate is due), a write per request
 * would cost more than the KV read it follows, and KV writes are billed.
 *
 * Accuracy: a key's last_used_at lags its real last use by up to the interval (uses
 * inside an interval are not written), per isolate — longer when the write budget is
 * spent (the key's write waits for one of its later uses); a write is lost if the isolate
 * is evicted before waitUntil finishes, or fails (logged, not retried until the next interval).
 *
 * One throttle per isolate, held by the isolate's state (edge/gateway/isolate.ts).
 */

/** Keys tracked per isolate. When full of keys written within the interval, a new key's write is skipped. */
export const LAST_USED_MAX_TRACKED = 10_000;

export class LastUsedThrottle {
  /** Key id → when this isolate last claimed a write; insertion order is claim order. */
  readonly #claimed = new Map<string, number>();

  constructor(readonly maxTracked: number = LAST_USED_MAX_TRACKED) {}

  get size(): number {
    return this.#claimed.size;
  }

  /** Write tokens left (a token bucket of `maxPerSecond`, refilled continuously). */
  #tokens = 0;
  #refilledAt = -Infinity;

  /**
   * True when a write for `id` is due at `now` and the isolate's write budget
   * (`maxPerSecond`) allows it; the caller must then write (it is recorded as done). A due
   * write refused by the budget is not recorded: the key's next use claims again.
   */
  claim(id: string, now: number, intervalMs: number, maxPerSecond = Infinity): boolean {
    const previous = this.#claimed.get(id);
    if (previous !== undefined && now - previous < intervalMs) return false;
    this.#claimed.delete(id);
    // Forget keys whose interval is over (the oldest claims come first).
    for (const [oldId, at] of this.#claimed) {
      if (this.#claimed.size < this.maxTracked && now - at < intervalMs) break;
      if (now - at < intervalMs) return false; // full of recent writes: skip rather than write twice in one interval
      this.#claimed.delete(oldId);
    }
    if (!this.#spend(now, maxPerSecond)) return false;
    this.#claimed.set(id, now);
    return true;
  }

  #spend(now: number, maxPerSecond: number): boolean {
    if (maxPerSecond === Infinity) return true;
    // A clock that goes backwards refills nothing (and restarts from `now`).
    this.#tokens = Math.min(maxPerSecond, this.#tokens + (Math.max(0, now - this.#refilledAt) * maxPerSecond) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
