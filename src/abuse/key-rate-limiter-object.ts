/**
 * The per-key rate-limit Durable Object (see key-rate-limiter.ts for the policy): one
 * instance per key id, counting requests in fixed windows aligned on the epoch.
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../clock";
import type { Env } from "../config";
import type { KeyRateOutcome } from "./key-rate-limiter";
import type { CreditOutcome } from "./credits";
import { refillPeriod } from "./credits";
import type { Credits } from "../keys/record";

interface Balance {
  set_at: string;
  remaining: number;
  /** The refill period the balance was last filled for (see credits.ts). */
  period: number;
}

interface WindowState {
  period: number;
  window: number;
  count: number;
}

const STATE_KEY = "window";
const BALANCE_KEY = "credits";

export class KeyRateLimiter extends DurableObject<Env> {
  #state: WindowState | undefined;
  #balance: Balance | null | undefined;

  /**
   * Spend one credit of the balance this object keeps (addressed by the key's balance_id).
   * A setting with a later set_at than the balance's restarts it from `remaining`; an
   * earlier one (an isolate with an older copy of the record) is ignored. With a refill,
   * the balance is reset to `refill.amount` at the start of each UTC day or month.
   */
  async spend(credits: Credits): Promise<CreditOutcome> {
    if (this.#balance === undefined) this.#balance = (await this.ctx.storage.get<Balance>(BALANCE_KEY)) ?? null;
    const now = clock.now();
    const period = credits.refill ? refillPeriod(credits.refill.interval, now) : 0;
    let b = this.#balance;
    if (b === null || Date.parse(credits.set_at) > Date.parse(b.set_at)) {
      b = { set_at: credits.set_at, remaining: credits.remaining, period };
    } else if (credits.refill && period > b.period) {
      b = { ...b, remaining: credits.refill.amount, period };
    }
    this.#balance = b;
    if (b.remaining <= 0) {
      void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
      return { allowed: false, remaining: 0 };
    }
    b.remaining--;
    void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
    return { allowed: true, remaining: b.remaining };
  }

  /** Count one request against `limit` per `periodSeconds`, unless the window is full. */
  async hit(limit: number, periodSeconds: number): Promise<KeyRateOutcome> {
    this.#state ??= (await this.ctx.storage.get<WindowState>(STATE_KEY)) ?? { period: periodSeconds, window: -1, count: 0 };
    const now = clock.now();
    const periodMs = periodSeconds * 1000;
    const window = Math.floor(now / periodMs);
    const state = this.#state;
    if (state.window !== window || state.period !== periodSeconds) {
      state.period = periodSeconds;
      state.window = window;
      state.count = 0;
    }
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * periodMs - now) / 1000));
    if (state.count >= limit) return { allowed: false, limit, periodSeconds, remaining: 0, resetSeconds };
    state.count++;
    void this.ctx.storage.put(STATE_KEY, state, { allowUnconfirmed: true });
    return { allowed: true, limit, periodSeconds, remaining: limit - state.count, resetSeconds };
  }
}
