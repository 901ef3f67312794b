/**
 * The per-key rate-limit Durable Object (see key-rate-limiter.ts for the policy): one
 * instance per key id, counting requests in fixed windows aligned on the epoch.
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../clock";
import type { Env } from "../config";
import type { KeyRateOutcome } from "./key-rate-limiter";

interface WindowState {
  period: number;
  window: number;
  count: number;
}

const STATE_KEY = "window";

export class KeyRateLimiter extends DurableObject<Env> {
  #state: WindowState | undefined;

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
