/**
 * The per-key rate-limit Durable Object (edge/abuse/key-rate-limiter.ts states the policy):
 * one instance per key id, counting requests in fixed windows aligned on the epoch. The
 * same class keeps a key's credit balance (edge/abuse/credits.ts, addressed by
 * `balance_id`), an org's rate limit ("org:<org>"), and the holders' creation bounds (manage/bounds.ts:
 * "holder-creates:<actor>" windows and "holder-keys:<org>" member sets).
 */
import { DurableObject } from "cloudflare:workers";
import type { Credits } from "../keys/record";
import { clock } from "../lib/clock";
import type { CreditOutcome, KeyRateOutcome } from "./protocol";
import { refillPeriod } from "./protocol";

interface Balance {
  set_at: string;
  remaining: number;
  /** The refill period the balance was last filled for (protocol.ts refillPeriod). */
  period: number;
  /** What it was last filled to (the setting's remaining, or the refill's amount): credits.low's 100 %. */
  basis?: number;
  /** credits.low / credits.exhausted already told for this fill (once per refill period). */
  low?: boolean;
  out?: boolean;
}

interface WindowState {
  period: number;
  window: number;
  count: number;
}

const STATE_KEY = "window";
const BALANCE_KEY = "credits";
/** A member of a holder-keys set: "member:<key id>" → when it was added (ms). */
const MEMBER_PREFIX = "member:";

// Its bindings are not read (DurableObject<unknown>): nothing here imports the Env type.
export class KeyRateLimiter extends DurableObject<unknown> {
  #state: WindowState | undefined;
  #balance: Balance | null | undefined;
  #members: Promise<Map<string, number>> | undefined;

  /**
   * The balance this object keeps, as `spend` would see it, without spending: whether a
   * credit is left (a self-service call of a key at zero is refused like a gateway call).
   */
  async balance(credits: Credits): Promise<CreditOutcome> {
    const b = await this.#current(credits);
    return { allowed: b.remaining > 0, remaining: Math.max(0, b.remaining) };
  }

  async #current(credits: Credits): Promise<Balance> {
    if (this.#balance === undefined) this.#balance = (await this.ctx.storage.get<Balance>(BALANCE_KEY)) ?? null;
    const now = clock.now();
    const period = credits.refill ? refillPeriod(credits.refill.interval, now) : 0;
    let b = this.#balance;
    if (b === null || Date.parse(credits.set_at) > Date.parse(b.set_at)) {
      b = { set_at: credits.set_at, remaining: credits.remaining, period, basis: credits.remaining };
    } else if (credits.refill && period > b.period) {
      b = { set_at: b.set_at, remaining: credits.refill.amount, period, basis: credits.refill.amount };
    }
    this.#balance = b;
    return b;
  }

  /**
   * Spend one credit of the balance this object keeps (addressed by the key's balance_id).
   * A setting with a later set_at than the balance's restarts it from `remaining`; an
   * earlier one (an isolate with an older copy of the record) is ignored. With a refill,
   * the balance is reset to `refill.amount` at the start of each UTC day or month.
   * `lowPercent` (CREDITS_LOW_PERCENT; the gateway always gives it, 0 when off): the outcome
   * then says which thresholds this spend crossed (`crossed`), each once per fill.
   */
  async spend(credits: Credits, lowPercent?: number): Promise<CreditOutcome> {
    const b = await this.#current(credits);
    if (b.remaining <= 0) {
      const crossed = lowPercent === undefined ? {} : this.#crossed(b, lowPercent);
      void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
      return { allowed: false, remaining: 0, ...crossed };
    }
    b.remaining--;
    const crossed = lowPercent === undefined ? {} : this.#crossed(b, lowPercent);
    void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
    return { allowed: true, remaining: b.remaining, ...crossed };
  }

  /**
   * The thresholds this spend crossed, each once per fill (a new setting or a refill): low,
   * below `lowPercent` % of what the balance was last filled to (0: never); exhausted, at 0.
   * The caller tells the webhooks (credits.low, credits.exhausted); this object only decides
   * once, for every isolate.
   */
  #crossed(b: Balance, lowPercent: number): Pick<CreditOutcome, "crossed" | "basis"> {
    const basis = b.basis ?? b.remaining;
    const crossed: ("low" | "exhausted")[] = [];
    if (lowPercent > 0 && !b.low && b.remaining * 100 < basis * lowPercent) {
      b.low = true;
      crossed.push("low");
    }
    if (!b.out && b.remaining <= 0) {
      b.out = true;
      crossed.push("exhausted");
    }
    return crossed.length ? { crossed, basis } : {};
  }

  /** Count one request against `limit` per `periodSeconds`, unless the window is full. */
  async hit(limit: number, periodSeconds: number): Promise<KeyRateOutcome> {
    this.#state ??= (await this.ctx.storage.get<WindowState>(STATE_KEY)) ?? {
      period: periodSeconds,
      window: -1,
      count: 0,
    };
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

  #loadMembers(): Promise<Map<string, number>> {
    this.#members ??= this.ctx.storage.list<number>({ prefix: MEMBER_PREFIX }).then((stored) => {
      const members = new Map<string, number>();
      for (const [name, added] of stored) members.set(name.slice(MEMBER_PREFIX.length), added);
      return members;
    });
    return this.#members;
  }

  /**
   * A holder-keys set (manage/bounds.ts): add `id` when fewer than `max` members are held —
   * checked and added in one step, so concurrent creations cannot overshoot — else answer
   * the members, for the caller to settle.
   */
  async admitMember(
    id: string,
    max: number,
  ): Promise<{ admitted: true } | { admitted: false; members: [string, number][] }> {
    const members = await this.#loadMembers();
    if (members.has(id)) return { admitted: true };
    if (members.size >= max) return { admitted: false, members: [...members] };
    const now = clock.now();
    members.set(id, now);
    await this.ctx.storage.put(MEMBER_PREFIX + id, now);
    return { admitted: true };
  }

  /** Drop members (revoked, expired, gone) and pass regenerated ones' slots to their successors. */
  async settleMembers(drop: string[], swap: [string, string][]): Promise<void> {
    const members = await this.#loadMembers();
    const now = clock.now();
    for (const id of drop) members.delete(id);
    const puts: [string, number][] = [];
    for (const [from, to] of swap) {
      if (!members.delete(from)) continue;
      members.set(to, now);
      puts.push([MEMBER_PREFIX + to, now]);
    }
    const deletes = [...drop, ...swap.map(([from]) => from)].map((id) => MEMBER_PREFIX + id);
    // Storage takes at most 128 keys per call.
    for (let i = 0; i < deletes.length; i += 128) await this.ctx.storage.delete(deletes.slice(i, i + 128));
    for (let i = 0; i < puts.length; i += 128) await this.ctx.storage.put(Object.fromEntries(puts.slice(i, i + 128)));
  }
}
