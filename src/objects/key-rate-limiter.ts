/**
 * The per-key rate-limit Durable Object (edge/abuse/key-rate-limiter.ts states the policy):
 * one instance per key id, counting requests in fixed windows aligned on the epoch. The
 * same class keeps a key's credit balance (edge/abuse/credits.ts, addressed by
 * `balance_id`), an org's rate limit ("@org/<org>"), and the holders' creation bounds
 * (manage/bounds.ts: "holder-creates:<actor>" windows and "holder-keys:<org>" member sets).
 *
 * Near the client (issue 25, docs/limits.md), the same class plays two regional roles, each
 * an object named regionalName(name, region) and created in that region:
 * - a **regional bucket** of a `regional` limit (`hitRegional`): it admits while its own
 *   count plus the other regions' (as of its last exchange) is under the limit, and
 *   exchanges counts with the limit's own object — the **coordinator** (`report`) — in the
 *   background, at most every syncIntervalMs of the window;
 * - a **credit lease** (`spendLeased`): a small block of the key's balance, taken from the
 *   balance's own object (`lease`), spent here, refilled in the background before it runs
 *   out, and what is left returned (`settle`) when the region stops spending. At each
 *   exchange the lease reports what it still holds, so the balance knows what was spent
 *   (to one block per region) and decides credits.low / credits.exhausted once per fill.
 * Object-to-object calls go through objects/link.ts.
 */
import { DurableObject } from "cloudflare:workers";
import type { Credits } from "../keys/record";
import { clock } from "../lib/clock";
import { link } from "./link";
import type { CreditCrossing, CreditOutcome, KeyRateOutcome, LeaseGrant, LeaseReport, Region } from "./protocol";
import { LEASE_BLOCK, LEASE_IDLE_MS, LEASE_SHARE, refillPeriod, regionalName, syncIntervalMs } from "./protocol";

interface Balance {
  set_at: string;
  remaining: number;
  /** The refill period the balance was last filled for (protocol.ts refillPeriod). */
  period: number;
  /**
   * Credits leased to each region and, as far as this object knows, not yet spent: what the
   * region's lease held at its last exchange (its report) plus what it was granted then.
   * Part of the balance until spent or returned.
   */
  leased?: Partial<Record<Region, number>>;
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

/** A regional bucket's window: its own count, and the other regions' as of its last exchange. */
interface BucketState {
  /** The limit's own object (the coordinator) and this bucket's region. */
  name: string;
  region: Region;
  period: number;
  window: number;
  count: number;
  others: number;
  /** When it last exchanged counts with the coordinator (clock ms). */
  syncedAt: number;
  /** Its count as of that exchange: anything above it is not yet reported (nor stored). */
  reported: number;
}

/** A region's lease of a balance. */
interface Lease {
  /** The balance's object (the key's balance_id). */
  balance: string;
  region: Region;
  set_at: string;
  period: number;
  /** Credits of the lease not yet spent. */
  left: number;
  /** The balance's own remaining when the lease was last taken (for x-credits-remaining). */
  beyond: number;
  lastSpend: number;
  /** Thresholds the balance decided at an exchange and not yet told (taken once: a spend's answer, or crossings()). */
  tell?: CreditCrossing;
}

const STATE_KEY = "window";
const BALANCE_KEY = "credits";
const BUCKET_KEY = "bucket";
const LEASE_KEY = "lease";
/** A member of a holder-keys set: "member:<key id>" → when it was added (ms). */
const MEMBER_PREFIX = "member:";

/** The balance as its object knows it: its own credits and what each region's lease held at its last report. */
function known(b: Balance): number {
  return b.remaining + Object.values(b.leased ?? {}).reduce((a, n) => a + (n ?? 0), 0);
}

/** A decision as a spend's answer carries it. */
function told(c: CreditCrossing | null): Pick<CreditOutcome, "crossed" | "basis"> {
  return c ? { crossed: c.crossed, basis: c.basis } : {};
}

/** Thresholds not yet told, and new ones: one decision to tell (the latest balance). */
function mergeTell(held: CreditCrossing | undefined, added: CreditCrossing | undefined): CreditCrossing | undefined {
  if (!held) return added;
  if (!added) return held;
  return { crossed: [...new Set([...held.crossed, ...added.crossed])], basis: added.basis, remaining: added.remaining };
}

/** The one binding the object reads: its own namespace, to reach a coordinator or a balance. */
interface LimiterEnv {
  KEY_RATE_LIMITER?: DurableObjectNamespace<KeyRateLimiter>;
}

export class KeyRateLimiter extends DurableObject<LimiterEnv> {
  #state: WindowState | undefined;
  #balance: Balance | null | undefined;
  #members: Promise<Map<string, number>> | undefined;
  #bucket: BucketState | null | undefined;
  /** The alarm is set for this bucket's unreported counts. */
  #bucketArmed = false;
  #syncing: Promise<void> | null = null;
  #lease: Lease | null | undefined;
  #refilling: Promise<void> | null = null;
  /** Coordinator: each region's reported count for the current window. */
  #reports: { window: number; period: number; counts: Map<Region, number> } | undefined;

  // ------------------------------------------------------------------ credits: the balance

  /**
   * The balance this object keeps, as `spend` would see it, without spending: whether a
   * credit is left (a self-service call of a key at zero is refused like a gateway call).
   * Credits leased to regions count as left until their lease reports them spent (at its
   * next exchange: at most about one lease block per region over the true balance).
   */
  async balance(credits: Credits): Promise<CreditOutcome> {
    const left = known(await this.#current(credits));
    return { allowed: left > 0, remaining: Math.max(0, left) };
  }

  async #current(credits: Credits): Promise<Balance> {
    if (this.#balance === undefined) this.#balance = (await this.ctx.storage.get<Balance>(BALANCE_KEY)) ?? null;
    const now = clock.now();
    const period = credits.refill ? refillPeriod(credits.refill.interval, now) : 0;
    let b = this.#balance;
    // A new setting or a new refill period starts over: leases of the old one are void.
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
   * the balance is reset to `refill.amount` at the start of each UTC day or month. The
   * gateway spends through its region's lease (spendLeased); this is its fallback when the
   * lease cannot be asked.
   * `lowPercent` (CREDITS_LOW_PERCENT; the gateway always gives it, 0 when off): the outcome
   * then says which thresholds this spend crossed (`crossed`), each once per fill.
   */
  async spend(credits: Credits, lowPercent?: number): Promise<CreditOutcome> {
    const b = await this.#current(credits);
    if (b.remaining <= 0) {
      const crossed = lowPercent === undefined ? null : this.#crossed(b, lowPercent);
      void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
      return { allowed: false, remaining: 0, ...told(crossed) };
    }
    b.remaining--;
    const crossed = lowPercent === undefined ? null : this.#crossed(b, lowPercent);
    void this.ctx.storage.put(BALANCE_KEY, b, { allowUnconfirmed: true });
    return { allowed: true, remaining: b.remaining, ...told(crossed) };
  }

  /**
   * The thresholds this spend (or a lease's exchange) crossed, each once per fill (a new
   * setting or a refill): low, below `lowPercent` % of what the balance was last filled to
   * (0: never); exhausted, at 0 — on the balance as this object knows it (its own credits and
   * the regions' leases as last reported: `known`), so never before the true balance
   * crossed. The caller tells the webhooks (credits.low, credits.exhausted); this object
   * only decides once, for every isolate and region.
   */
  #crossed(b: Balance, lowPercent: number): CreditCrossing | null {
    const left = known(b);
    const basis = b.basis ?? left;
    const crossed: ("low" | "exhausted")[] = [];
    if (lowPercent > 0 && !b.low && left * 100 < basis * lowPercent) {
      b.low = true;
      crossed.push("low");
    }
    if (!b.out && left <= 0) {
      b.out = true;
      crossed.push("exhausted");
    }
    return crossed.length ? { crossed, basis, remaining: Math.max(0, left) } : null;
  }

  /**
   * Lease up to `want` credits of this balance to `region`: at most LEASE_SHARE of what is
   * left (so a small balance is not stranded in one region), at least one while any is left.
   * Taken from the balance at once (exact: no credit is ever spent twice). `report`: what
   * the region's lease still holds of this fill — the rest of what it was leased is spent.
   * `lowPercent` (CREDITS_LOW_PERCENT): the grant then says which thresholds the balance,
   * as it now knows it, crossed (`crossing`, once per fill), for the lease to tell.
   */
  async lease(
    credits: Credits,
    region: Region,
    want: number,
    report?: LeaseReport,
    lowPercent?: number,
  ): Promise<LeaseGrant> {
    const b = await this.#current(credits);
    const held = b.leased?.[region];
    if (report && held !== undefined && report.set_at === b.set_at && report.period === b.period)
      b.leased = { ...b.leased, [region]: Math.max(0, Math.min(held, report.left)) };
    const granted = Math.max(0, Math.min(want, b.remaining, Math.max(1, Math.ceil(b.remaining * LEASE_SHARE))));
    b.remaining -= granted;
    if (granted > 0) b.leased = { ...b.leased, [region]: (b.leased?.[region] ?? 0) + granted };
    const crossing = lowPercent === undefined ? null : this.#crossed(b, lowPercent);
    await this.ctx.storage.put(BALANCE_KEY, b);
    return { granted, remaining: b.remaining, set_at: b.set_at, period: b.period, ...(crossing ? { crossing } : {}) };
  }

  /**
   * A region's lease ends: `left` credits it did not spend come back to the balance — unless
   * the balance was set anew or refilled since (the lease belonged to a balance that is gone).
   * `untold`: thresholds decided for the lease that it never told (no spend's answer or
   * crossings() took them): undecided again, so the next spend or exchange tells them.
   */
  async settle(
    region: Region,
    setAt: string,
    period: number,
    left: number,
    untold: CreditCrossing["crossed"] = [],
  ): Promise<void> {
    if (this.#balance === undefined) this.#balance = (await this.ctx.storage.get<Balance>(BALANCE_KEY)) ?? null;
    const b = this.#balance;
    if (b === null || b.set_at !== setAt || b.period !== period) return;
    const back = Math.max(0, Math.min(left, b.leased?.[region] ?? 0));
    b.remaining += back;
    if (b.leased) {
      const { [region]: _, ...rest } = b.leased;
      b.leased = rest;
    }
    if (untold.includes("low")) b.low = false;
    if (untold.includes("exhausted")) b.out = false;
    await this.ctx.storage.put(BALANCE_KEY, b);
  }

  // ------------------------------------------------------------------ credits: a region's lease

  async #leaseOf(): Promise<Lease | null> {
    if (this.#lease === undefined) this.#lease = (await this.ctx.storage.get<Lease>(LEASE_KEY)) ?? null;
    return this.#lease;
  }

  /**
   * Spend one credit of `credits` from this region's lease (this object is
   * regionalName(balance_id, region)): at once while the lease has credits, refilled in the
   * background when it runs low; a spend that finds it empty waits for the next block from
   * the balance. `remaining`: the balance as this region knows it (its lease plus what the
   * balance had left when it last leased). `lowPercent` (CREDITS_LOW_PERCENT): thresholds
   * the balance decided at an exchange come back in a spend's answer (`crossed`, once): at
   * once for an exchange the spend waited for; for one in the background the spend that
   * started it says `pending`, and `crossings()` answers them when it is done. A lease that
   * runs empty reports it at once (in the background), so the spend of the last credit is
   * the one that learns `exhausted`.
   */
  async spendLeased(credits: Credits, region: Region, lowPercent?: number): Promise<CreditOutcome> {
    const now = clock.now();
    const period = credits.refill ? refillPeriod(credits.refill.interval, now) : 0;
    let lease = await this.#leaseOf();
    // A newer setting, or a new refill period: the old lease is void (the balance starts over).
    if (lease && (Date.parse(credits.set_at) > Date.parse(lease.set_at) || period > lease.period)) {
      lease = this.#lease = null;
      await this.ctx.storage.delete(LEASE_KEY);
    }
    // Empty: wait for the next block (concurrent spends share each refill; each credit
    // granted is spent by one of them). Ends when a credit is got or the balance has none.
    while (lease === null || lease.left <= 0) {
      await this.#refill(credits, region, now, lowPercent);
      lease = this.#lease ?? null;
      if (lease === null || (lease.left <= 0 && lease.beyond <= 0)) break;
    }
    if (lease === null || lease.left <= 0) return { allowed: false, remaining: 0, ...this.#takeTell() };
    lease.left--;
    lease.lastSpend = now;
    // Credits are money: the lease's count is stored at every spend, as the balance's is.
    void this.ctx.storage.put(LEASE_KEY, lease, { allowUnconfirmed: true });
    // Running low: the next block, in the background. Run empty: report it (the balance may now be exhausted).
    let pending = false;
    if (lease.left < Math.ceil(LEASE_BLOCK / 4) && (lease.beyond > 0 || lease.left === 0) && this.#refilling === null) {
      void this.#refill(credits, region, now, lowPercent).catch(() => {});
      pending = true;
    }
    return {
      allowed: true,
      remaining: lease.left + lease.beyond,
      ...this.#takeTell(),
      ...(pending ? { pending } : {}),
    };
  }

  /** Thresholds decided for this lease and not yet told: taken once (a spend's answer, or crossings()). */
  #takeTell(): Pick<CreditOutcome, "crossed" | "basis"> {
    const tell = this.#lease?.tell;
    if (!tell || !this.#lease) return {};
    delete this.#lease.tell;
    void this.ctx.storage.put(LEASE_KEY, this.#lease, { allowUnconfirmed: true });
    return { crossed: tell.crossed, basis: tell.basis };
  }

  /**
   * Wait for the lease's exchange with the balance under way (if any) and answer the
   * thresholds it decided, once (null: none): the gateway asks in waitUntil after a spend
   * that said `pending`, and tells the webhooks.
   */
  async crossings(): Promise<CreditCrossing | null> {
    await this.#refilling?.catch(() => {});
    const tell = (await this.#leaseOf())?.tell ?? null;
    if (tell) this.#takeTell();
    return tell;
  }

  /**
   * One exchange with the balance at a time; a spend that needs it shares the one in flight.
   * If spends emptied the lease while it was under way, one more reports that it is empty.
   */
  #refill(credits: Credits, region: Region, now: number, lowPercent: number | undefined): Promise<void> {
    this.#refilling ??= (async () => {
      let reported = await this.#takeBlock(credits, region, now, lowPercent);
      while (reported > 0 && this.#lease?.left === 0)
        reported = await this.#takeBlock(credits, region, now, lowPercent);
    })().finally(() => {
      this.#refilling = null;
    });
    return this.#refilling;
  }

  /** Report what the lease holds and take the next block (perhaps none); what it reported. */
  async #takeBlock(credits: Credits, region: Region, now: number, lowPercent: number | undefined): Promise<number> {
    const ns = this.env.KEY_RATE_LIMITER;
    if (!ns) throw new Error("no KEY_RATE_LIMITER binding in the lease's object");
    const self = regionalName(credits.balance_id, region);
    const before = this.#lease;
    const report = before ? { set_at: before.set_at, period: before.period, left: before.left } : undefined;
    const grant = await link.to(ns, credits.balance_id, self).lease(credits, region, LEASE_BLOCK, report, lowPercent);
    const held = this.#lease;
    const same = held !== null && held !== undefined && held.set_at === grant.set_at && held.period === grant.period;
    const tell = mergeTell(same ? held.tell : undefined, grant.crossing);
    this.#lease = {
      balance: credits.balance_id,
      region,
      set_at: grant.set_at,
      period: grant.period,
      left: (same ? held.left : 0) + grant.granted,
      beyond: grant.remaining,
      lastSpend: same ? held.lastSpend : now,
      ...(tell ? { tell } : {}),
    };
    await this.ctx.storage.put(LEASE_KEY, this.#lease);
    // What is left of the lease goes back once the region stops spending.
    await this.#armAt(Date.now() + LEASE_IDLE_MS);
    return report?.left ?? 0;
  }

  /** One alarm for both regional roles: set it for `at` unless it is due sooner. */
  async #armAt(at: number): Promise<void> {
    const armed = await this.ctx.storage.getAlarm();
    if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * A bucket with counts not yet reported exchanges them (so they are stored and known
   * even if no request comes); a lease idle for LEASE_IDLE_MS returns what is left of it.
   */
  override async alarm(): Promise<void> {
    if (this.#bucket === undefined) this.#bucket = (await this.ctx.storage.get<BucketState>(BUCKET_KEY)) ?? null;
    this.#bucketArmed = false;
    const b = this.#bucket;
    if (b !== null && b.count > b.reported) {
      await this.#syncing;
      if (b.count > b.reported) await this.#exchange(b, clock.now()).catch(() => this.#armAt(Date.now() + 1_000));
    }
    const lease = await this.#leaseOf();
    if (lease === null) return;
    const idle = clock.now() - lease.lastSpend;
    if (idle < LEASE_IDLE_MS) {
      await this.#armAt(Date.now() + (LEASE_IDLE_MS - idle));
      return;
    }
    await this.returnLease();
  }

  /** Give what is left of this region's lease back to the balance (the lease's alarm; tests). */
  async returnLease(): Promise<number> {
    await this.#refilling?.catch(() => {}); // a block on its way is part of what goes back
    const lease = await this.#leaseOf();
    const ns = this.env.KEY_RATE_LIMITER;
    if (lease === null || !ns) return 0;
    await link
      .to(ns, lease.balance, regionalName(lease.balance, lease.region))
      .settle(lease.region, lease.set_at, lease.period, lease.left, lease.tell?.crossed ?? []);
    this.#lease = null;
    await this.ctx.storage.delete(LEASE_KEY);
    return lease.left;
  }

  // ------------------------------------------------------------------ rate limits: exact

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

  // ------------------------------------------------------------------ rate limits: regional

  /**
   * Count one request of a `regional` limit in this region's bucket (this object is
   * regionalName(name, region)): admitted while this region's count plus the other regions'
   * (as of the last exchange with `name`'s coordinator) is under the limit. The exchange
   * runs after the answer, at most every syncIntervalMs(periodSeconds): no request waits
   * for the coordinator. Counts are kept in memory and stored at each exchange.
   */
  async hitRegional(name: string, region: Region, limit: number, periodSeconds: number): Promise<KeyRateOutcome> {
    if (this.#bucket === undefined) {
      // After an eviction: the count as of the last exchange, and an exchange at once.
      const stored = await this.ctx.storage.get<BucketState>(BUCKET_KEY);
      this.#bucket = stored ? { ...stored, syncedAt: -Infinity } : null;
    }
    const now = clock.now();
    const periodMs = periodSeconds * 1000;
    const window = Math.floor(now / periodMs);
    let b = this.#bucket;
    if (b === null || b.window !== window || b.period !== periodSeconds) {
      b = {
        name,
        region,
        period: periodSeconds,
        window,
        count: 0,
        others: 0,
        syncedAt: b?.syncedAt ?? -Infinity,
        reported: 0,
      };
      this.#bucket = b;
    }
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * periodMs - now) / 1000));
    const allowed = b.count + b.others < limit;
    if (allowed) b.count++;
    const interval = syncIntervalMs(periodSeconds);
    if (this.#syncing === null && now - b.syncedAt >= interval)
      this.#syncing = this.#exchange(b, now)
        .catch(() => {})
        .finally(() => {
          this.#syncing = null;
        });
    // Counts not reported by the next interval are reported by the alarm (no request needed).
    else if (b.count > b.reported && !this.#bucketArmed) {
      this.#bucketArmed = true;
      void this.#armAt(Date.now() + interval).catch(() => {
        this.#bucketArmed = false;
      });
    }
    const remaining = Math.max(0, limit - b.count - b.others);
    return { allowed, limit, periodSeconds, remaining, resetSeconds };
  }

  /** Tell the coordinator this region's count for the window; learn the other regions'. */
  async #exchange(b: BucketState, now: number): Promise<void> {
    const ns = this.env.KEY_RATE_LIMITER;
    if (!ns) return;
    b.syncedAt = now;
    const count = b.count;
    const known = await link.to(ns, b.name, regionalName(b.name, b.region)).report(b.region, b.period, b.window, count);
    if (this.#bucket === b) {
      b.others = known.others;
      // After an eviction this bucket may have counted less than it had reported.
      b.count = Math.max(b.count, known.own);
      b.reported = Math.max(b.reported, count, known.own);
    }
    await this.ctx.storage.put(BUCKET_KEY, b);
  }

  /** Run the pending exchange now, whatever its interval (tests: a bucket's background work, awaited). */
  async syncNow(): Promise<void> {
    await this.#syncing;
    if (this.#bucket) await this.#exchange(this.#bucket, clock.now());
  }

  /**
   * The coordinator of a regional limit: `region`'s count in `window` (of `periodSeconds`);
   * answers the sum of the other regions' counts in that window, and the most this region
   * has reported (a bucket evicted since counts on from there). Kept in memory only: after
   * an eviction every bucket reports its whole count again at its next exchange.
   */
  report(region: Region, periodSeconds: number, window: number, count: number): { others: number; own: number } {
    let r = this.#reports;
    if (r === undefined || r.window < window || r.period !== periodSeconds) {
      r = { window, period: periodSeconds, counts: new Map() };
      this.#reports = r;
    }
    if (r.window !== window) return { others: 0, own: count }; // a report of a window already over
    const own = Math.max(count, r.counts.get(region) ?? 0);
    r.counts.set(region, own);
    let others = 0;
    for (const [g, n] of r.counts) if (g !== region) others += n;
    return { others, own };
  }

  // ------------------------------------------------------------------ holder-keys sets

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
