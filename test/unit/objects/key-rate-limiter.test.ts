/**
 * The per-key rate-limit Durable Object (src/objects/key-rate-limiter.ts) on its own:
 * the real object in workerd through its stub (`env.KEY_RATE_LIMITER`), time moved through
 * clock.now, storage inspected with runInDurableObject. Fixed windows aligned on the epoch,
 * a full window refused until the next one, a new period restarting the count; credits
 * spent exactly, a newer setting restarting the balance, an older one ignored, refills at
 * the UTC day or month boundary; and both survive the object being evicted from memory
 * (their state is read back from storage).
 */

import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Credits } from "../../../src/keys/record";
import { clock } from "../../../src/lib/clock";
import type { KeyRateLimiter } from "../../../src/objects/key-rate-limiter";
import { LEASE_BLOCK, regionalName } from "../../../src/objects/protocol";

afterEach(() => vi.restoreAllMocks());

const ns = () => (env as unknown as { KEY_RATE_LIMITER: DurableObjectNamespace<KeyRateLimiter> }).KEY_RATE_LIMITER;
const fresh = () => ns().get(ns().idFromName(`do-test-${crypto.randomUUID()}`));

let now = 0;
function at(ms: number): void {
  now = ms;
  vi.spyOn(clock, "now").mockImplementation(() => now);
}

/**
 * Run `use` on a fresh instance of the same object, as after eviction: only its storage is
 * kept (the class reads its state from storage when its in-memory copy is empty).
 */
async function afterEviction<T>(
  stub: DurableObjectStub<KeyRateLimiter>,
  use: (again: KeyRateLimiter) => Promise<T>,
): Promise<T> {
  return runInDurableObject(stub, (instance: KeyRateLimiter, state) => {
    const Ctor = instance.constructor as new (ctx: DurableObjectState, env: unknown) => KeyRateLimiter;
    return use(new Ctor(state, env));
  });
}

describe("KeyRateLimiter.hit: fixed windows", () => {
  const minute = 60_000;
  const t0 = Math.floor(Date.UTC(2030, 0, 1) / minute) * minute; // a window start

  it("allows `limit` requests per window, counting down remaining, then refuses until the next window", async () => {
    at(t0 + 10_000);
    const s = fresh();
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await s.hit(3, 60));
    expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, false]);
    expect(outcomes.map((o) => o.remaining)).toEqual([2, 1, 0, 0]);
    expect(outcomes[3]).toEqual({ allowed: false, limit: 3, periodSeconds: 60, remaining: 0, resetSeconds: 50 });
    at(t0 + 59_999);
    expect(await s.hit(3, 60)).toMatchObject({ allowed: false, resetSeconds: 1 });
    at(t0 + minute); // the next window starts exactly on the boundary
    expect(await s.hit(3, 60)).toEqual({ allowed: true, limit: 3, periodSeconds: 60, remaining: 2, resetSeconds: 60 });
  });

  it("windows are aligned on the epoch, not on the first request", async () => {
    at(t0 + 59_000);
    const s = fresh();
    expect(await s.hit(1, 60)).toMatchObject({ allowed: true, resetSeconds: 1 });
    expect((await s.hit(1, 60)).allowed).toBe(false);
    at(t0 + minute + 1_000); // 2 s after the first request, but a new window
    expect((await s.hit(1, 60)).allowed).toBe(true);
  });

  it("a changed period restarts the count; a changed limit applies to the current count", async () => {
    at(t0);
    const s = fresh();
    expect((await s.hit(2, 60)).allowed).toBe(true);
    expect((await s.hit(2, 60)).allowed).toBe(true);
    expect((await s.hit(2, 60)).allowed).toBe(false);
    expect(await s.hit(5, 60)).toMatchObject({ allowed: true, remaining: 2 }); // count 2 of 5 → 3rd allowed
    expect(await s.hit(2, 3600)).toMatchObject({ allowed: true, remaining: 1, periodSeconds: 3600 });
  });

  it("the count is kept in storage: an evicted object resumes the same window", async () => {
    at(t0 + 1_000);
    const s = fresh();
    await s.hit(2, 60);
    await s.hit(2, 60);
    await afterEviction(s, async (again) => {
      expect((await again.hit(2, 60)).allowed).toBe(false);
      at(t0 + minute);
      expect(await again.hit(2, 60)).toMatchObject({ allowed: true, remaining: 1 });
    });
  });

  it("separate keys (objects) have separate windows", async () => {
    at(t0);
    const a = fresh();
    const b = fresh();
    expect((await a.hit(1, 60)).allowed).toBe(true);
    expect((await a.hit(1, 60)).allowed).toBe(false);
    expect((await b.hit(1, 60)).allowed).toBe(true);
  });
});

describe("KeyRateLimiter.spend: credits", () => {
  const day = 86_400_000;
  const t0 = Date.UTC(2030, 0, 15, 12); // mid-day, mid-month
  const set = (remaining: number, setAt: number, refill?: Credits["refill"]): Credits =>
    ({ remaining, set_at: new Date(setAt).toISOString(), balance_id: "b", ...(refill ? { refill } : {}) }) as Credits;

  it("spends exactly the balance, then refuses with remaining 0 (and stays refused)", async () => {
    at(t0);
    const s = fresh();
    const c = set(2, t0 - 1_000);
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 1 });
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 0 });
    expect(await s.spend(c)).toEqual({ allowed: false, remaining: 0 });
    expect(await s.spend(c)).toEqual({ allowed: false, remaining: 0 });
  });

  it("a zero balance refuses the first request", async () => {
    at(t0);
    expect(await fresh().spend(set(0, t0))).toEqual({ allowed: false, remaining: 0 });
  });

  it("a setting with a later set_at restarts the balance; an older copy of the record is ignored", async () => {
    at(t0);
    const s = fresh();
    expect(await s.spend(set(1, t0 - 10_000))).toEqual({ allowed: true, remaining: 0 });
    expect((await s.spend(set(1, t0 - 10_000))).allowed).toBe(false);
    expect(await s.spend(set(3, t0 - 5_000))).toEqual({ allowed: true, remaining: 2 }); // update
    expect(await s.spend(set(100, t0 - 10_000))).toEqual({ allowed: true, remaining: 1 }); // stale isolate: ignored
  });

  it("a daily refill resets the balance to the amount at the next UTC midnight, not before", async () => {
    at(t0);
    const s = fresh();
    const c = set(1, t0 - 1_000, { amount: 2, interval: "day" });
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 0 });
    expect((await s.spend(c)).allowed).toBe(false);
    at(Math.ceil(t0 / day) * day - 1); // 23:59:59.999 the same day
    expect((await s.spend(c)).allowed).toBe(false);
    at(Math.ceil(t0 / day) * day); // 00:00 the next day
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 1 });
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 0 });
    expect((await s.spend(c)).allowed).toBe(false);
  });

  it("a monthly refill waits for the first of the next UTC month", async () => {
    at(t0);
    const s = fresh();
    const c = set(1, t0 - 1_000, { amount: 5, interval: "month" });
    expect((await s.spend(c)).allowed).toBe(true);
    at(Date.UTC(2030, 0, 31, 23, 59));
    expect((await s.spend(c)).allowed).toBe(false);
    at(Date.UTC(2030, 1, 1));
    expect(await s.spend(c)).toEqual({ allowed: true, remaining: 4 });
  });

  it("with CREDITS_LOW_PERCENT: the spend that crosses it says low, the one reaching 0 exhausted, each once per fill", async () => {
    at(t0);
    const s = fresh();
    const c = set(10, t0 - 1_000, { amount: 20, interval: "day" });
    const crossed = [];
    for (let i = 0; i < 12; i++) crossed.push((await s.spend(c, 25)).crossed ?? []);
    // 25 % of 10 = 2.5: low when 2 are left (the 8th spend); exhausted at 0 (the 10th); refusals after say nothing.
    expect(crossed).toEqual([[], [], [], [], [], [], [], ["low"], [], ["exhausted"], [], []]);
    expect(await fresh().spend(set(0, t0), 25)).toEqual({
      allowed: false,
      remaining: 0,
      crossed: ["exhausted"],
      basis: 0,
    });
    // Survives eviction: told already, not told again.
    await afterEviction(s, async (again) => expect((await again.spend(c, 25)).crossed).toBeUndefined());
    // A refill is a new fill, of the refill's amount: 25 % of 20 = 5.
    at(Math.ceil(t0 / day) * day);
    const after = [];
    for (let i = 0; i < 21; i++) after.push((await s.spend(c, 25)).crossed ?? []);
    expect(after.flatMap((x, i) => x.map((w) => `${w}@${i + 1}`))).toEqual(["low@16", "exhausted@20"]);
    // A new setting too; 0 % never says low; without the argument, nothing is decided.
    const again = set(4, t0 + day + 1);
    expect((await s.spend(again, 0)).crossed).toBeUndefined();
    expect(await s.spend(again)).toEqual({ allowed: true, remaining: 2 });
  });

  it("the balance is kept in storage: an evicted object does not hand out its credits again", async () => {
    at(t0);
    const s = fresh();
    const c = set(2, t0 - 1_000);
    await s.spend(c);
    await s.spend(c);
    await afterEviction(s, async (again) => expect(await again.spend(c)).toEqual({ allowed: false, remaining: 0 }));
    const stored = await runInDurableObject(s, (_o: KeyRateLimiter, state) =>
      state.storage.get<{ remaining: number }>("credits"),
    );
    expect(stored).toMatchObject({ remaining: 0 });
  });

  it("credits and the rate-limit window live side by side in one object", async () => {
    at(t0);
    const s = fresh();
    expect((await s.hit(1, 60)).allowed).toBe(true);
    expect(await s.spend(set(1, t0 - 1_000))).toEqual({ allowed: true, remaining: 0 });
    expect((await s.hit(1, 60)).allowed).toBe(false);
    expect((await s.spend(set(1, t0 - 1_000))).allowed).toBe(false);
  });
});

describe("KeyRateLimiter.balance: the balance without spending (the self-service API)", () => {
  const t0 = Date.UTC(2030, 0, 1, 12);
  const set = (remaining: number, setAt: number, refill?: Credits["refill"]): Credits => ({
    remaining,
    set_at: new Date(setAt).toISOString(),
    balance_id: "key_balancebalancebal00",
    ...(refill ? { refill } : {}),
  });

  it("answers what spend would see, spends nothing, and follows the same setting and refill rules", async () => {
    at(t0);
    const s = fresh();
    const c = set(2, t0 - 1_000, { amount: 2, interval: "day" });
    expect(await s.balance(c)).toEqual({ allowed: true, remaining: 2 });
    expect(await s.balance(c)).toEqual({ allowed: true, remaining: 2 });
    await s.spend(c);
    await s.spend(c);
    expect(await s.balance(c)).toEqual({ allowed: false, remaining: 0 });
    at(Date.UTC(2030, 0, 2));
    expect(await s.balance(c)).toEqual({ allowed: true, remaining: 2 });
  });
});

describe("KeyRateLimiter holder-keys sets (manage/bounds.ts)", () => {
  it("admits ids while fewer than max are held, exactly under concurrency, then answers the members", async () => {
    at(Date.UTC(2030, 0, 1));
    const s = fresh();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => s.admitMember(`key_${i}`, 4)));
    expect(answers.filter((a) => a.admitted)).toHaveLength(4);
    const refused = answers.find((a) => !a.admitted) as { admitted: false; members: [string, number][] };
    expect(refused.members).toHaveLength(4);
    expect(refused.members.every(([, at]) => at === Date.UTC(2030, 0, 1))).toBe(true);
    // An id already held is admitted again without a second slot.
    expect(await s.admitMember(refused.members[0]![0], 4)).toEqual({ admitted: true });
  });

  it("settle drops members and passes a member's slot to its successor; the set survives eviction", async () => {
    at(Date.UTC(2030, 0, 1));
    const s = fresh();
    for (const id of ["key_a", "key_b", "key_c"]) await s.admitMember(id, 3);
    expect((await s.admitMember("key_d", 3)).admitted).toBe(false);
    await s.settleMembers(
      ["key_a"],
      [
        ["key_b", "key_b2"],
        ["key_unknown", "key_x"],
      ],
    );
    const after = (await s.admitMember("key_e", 2)) as { admitted: false; members: [string, number][] };
    expect(after.admitted).toBe(false);
    expect(after.members.map(([id]) => id).sort()).toEqual(["key_b2", "key_c"]);
    await afterEviction(s, async (again) => {
      const answer = (await again.admitMember("key_f", 2)) as { admitted: false; members: [string, number][] };
      expect(answer.members.map(([id]) => id).sort()).toEqual(["key_b2", "key_c"]);
    });
    expect(await s.admitMember("key_g", 3)).toEqual({ admitted: true });
  });
});

describe("KeyRateLimiter, regional (issue 25): a bucket per region and the limit's coordinator", () => {
  const t0 = Date.UTC(2030, 0, 1, 12);
  const limiter = (name: string) => ns().get(ns().idFromName(name));
  const bucket = (name: string, region: "weur" | "apac") =>
    ns().get(ns().idFromName(regionalName(name, region)), { locationHint: region });

  it("a bucket admits up to the limit on its own, then learns the other regions' counts at its exchange", async () => {
    at(t0);
    const name = `key_regional${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
    const weur = bucket(name, "weur");
    const apac = bucket(name, "apac");
    for (let i = 0; i < 6; i++) expect((await weur.hitRegional(name, "weur", 10, 3600)).allowed).toBe(true);
    await weur.syncNow();
    // apac's first request: its bucket has not exchanged yet (others 0); its exchange brings weur's 6.
    expect(await apac.hitRegional(name, "apac", 10, 3600)).toMatchObject({ allowed: true, remaining: 9 });
    await apac.syncNow();
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await apac.hitRegional(name, "apac", 10, 3600));
    expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, false, false]);
    expect(outcomes[2]!.remaining).toBe(0);
    // The coordinator's arithmetic: each region's count as last reported (apac: 1), the others' sum.
    expect(await limiter(name).report("weur", 3600, Math.floor(t0 / 3_600_000), 6)).toMatchObject({
      others: 1,
      own: 6,
    });
  });

  it("a new window starts every bucket over; a report of a past window is ignored", async () => {
    at(t0);
    const name = `key_window${crypto.randomUUID().replace(/-/g, "").slice(0, 14)}`;
    const weur = bucket(name, "weur");
    expect((await weur.hitRegional(name, "weur", 1, 60)).allowed).toBe(true);
    expect((await weur.hitRegional(name, "weur", 1, 60)).allowed).toBe(false);
    at(t0 + 60_000);
    expect((await weur.hitRegional(name, "weur", 1, 60)).allowed).toBe(true);
    const window = Math.floor((t0 + 60_000) / 60_000);
    // weur's bucket reported the new window's 1 (its exchange is due again): apac sees it.
    expect(await limiter(name).report("apac", 60, window, 1)).toMatchObject({ others: 1, own: 1 });
    expect(await limiter(name).report("weur", 60, window - 1, 5)).toMatchObject({ others: 0, own: 5 });
  });

  it("counts not yet reported are reported by the bucket's alarm, with no further request", async () => {
    at(t0);
    const name = `key_alarmed${crypto.randomUUID().replace(/-/g, "").slice(0, 13)}`;
    const weur = bucket(name, "weur");
    await weur.hitRegional(name, "weur", 100, 3600); // exchanges at once (its first)
    await weur.syncNow();
    for (let i = 0; i < 4; i++) await weur.hitRegional(name, "weur", 100, 3600); // within the interval: not reported
    const window = Math.floor(t0 / 3_600_000);
    expect(await limiter(name).report("apac", 3600, window, 0)).toMatchObject({ others: 1 });
    expect(await runDurableObjectAlarm(weur)).toBe(true);
    expect(await limiter(name).report("apac", 3600, window, 0)).toMatchObject({ others: 5 });
  });

  it("after an eviction a bucket resumes from its last exchange, and the coordinator gives back what it had reported", async () => {
    at(t0);
    const name = `key_evicted${crypto.randomUUID().replace(/-/g, "").slice(0, 13)}`;
    const weur = bucket(name, "weur");
    for (let i = 0; i < 3; i++) await weur.hitRegional(name, "weur", 4, 3600);
    await weur.syncNow();
    await afterEviction(weur, async (again) => {
      // Stored at the exchange: 3 counted; and it exchanges at once after an eviction.
      expect(await again.hitRegional(name, "weur", 4, 3600)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await again.hitRegional(name, "weur", 4, 3600)).allowed).toBe(false);
    });
  });
});

describe("KeyRateLimiter, credit leases (issue 25)", () => {
  const t0 = Date.UTC(2030, 0, 15, 12);
  const setting = (remaining: number, setAt: number, balance: string, refill?: Credits["refill"]): Credits => ({
    remaining,
    set_at: new Date(setAt).toISOString(),
    balance_id: balance,
    ...(refill ? { refill } : {}),
  });
  const balanceId = () => `key_${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;

  it("a lease takes at most an eighth of what is left (at least one), from the balance at once; settle gives back what was not spent", async () => {
    at(t0);
    const id = balanceId();
    const c = setting(800, t0 - 1_000, id);
    const balance = ns().get(ns().idFromName(id));
    expect(await balance.lease(c, "weur", LEASE_BLOCK)).toMatchObject({ granted: 100, remaining: 700 });
    expect(await balance.lease(c, "apac", 1_000)).toMatchObject({ granted: 88, remaining: 612 }); // ⌈700/8⌉
    expect(await balance.balance(c)).toEqual({ allowed: true, remaining: 800 }); // leases count as left
    await balance.settle("weur", c.set_at, 0, 60);
    expect(await balance.balance(c)).toEqual({ allowed: true, remaining: 760 });
    expect(await balance.spend(c)).toEqual({ allowed: true, remaining: 671 }); // 612 + 60 − 1
    // A settle for a balance set anew since is ignored: those credits belonged to the old setting.
    const newer = setting(10, t0, id);
    expect(await balance.spend(newer)).toEqual({ allowed: true, remaining: 9 });
    await balance.settle("apac", c.set_at, 0, 88);
    expect(await balance.balance(newer)).toEqual({ allowed: true, remaining: 9 });
  });

  it("spendLeased: exact from the region's lease; a newer setting voids the lease; the lease goes back when returned", async () => {
    at(t0);
    const id = balanceId();
    const c = setting(16, t0 - 1_000, id);
    const lease = ns().get(ns().idFromName(regionalName(id, "weur")));
    const spent = [];
    for (let i = 0; i < 17; i++) spent.push(await lease.spendLeased(c, "weur"));
    expect(spent.map((s) => s.allowed)).toEqual([...Array(16).fill(true), false]);
    expect(spent.slice(0, 16).map((s) => s.remaining)).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const renewed = setting(3, t0, id);
    // Its lease (1) spent: the spend starts the next exchange in the background and says so.
    expect(await lease.spendLeased(renewed, "weur")).toEqual({ allowed: true, remaining: 2, pending: true });
    const balance = ns().get(ns().idFromName(id));
    // A lease of ⌈3/8⌉ = 1, spent, and the next one (1) taken before it is needed: it goes back.
    expect(await lease.returnLease()).toBe(1);
    expect(await balance.balance(renewed)).toEqual({ allowed: true, remaining: 2 });
  });

  /** Spend through `region`'s lease as the gateway does: the answer, then (when it says pending) what the exchange decided. */
  async function spendVia(c: Credits, region: "weur" | "apac" | "wnam", lowPercent: number) {
    const lease = ns().get(ns().idFromName(regionalName(c.balance_id, region)));
    const out = await lease.spendLeased(c, region, lowPercent);
    const crossed = [...(out.crossed ?? [])];
    let remaining: number | undefined;
    if (out.pending) {
      const later = await lease.crossings();
      if (later) [crossed.push(...later.crossed), (remaining = later.remaining)];
    }
    return { allowed: out.allowed, crossed, remaining };
  }

  it("through leases in three regions: credits.low once, never before the true balance is below it; credits.exhausted once, with the spend of the last credit", async () => {
    at(t0);
    const id = balanceId();
    const c = setting(40, t0 - 1_000, id);
    const regions = ["weur", "apac", "wnam"] as const;
    const told: { what: string; at: number; spentBefore: number; remaining: number | undefined }[] = [];
    let spent = 0;
    let lastCredit = -1;
    for (let i = 0; i < 60; i++) {
      const out = await spendVia(c, regions[i % 3]!, 25);
      if (out.allowed) [spent++, (lastCredit = i)];
      for (const what of out.crossed) told.push({ what, at: i, spentBefore: spent, remaining: out.remaining });
    }
    expect(spent).toBe(40); // exact across the regions
    expect(told.map((t) => t.what)).toEqual(["low", "exhausted"]);
    const [low, exhausted] = told;
    // 25 % of 40 = 10: decided on the balance as its object knew it (≥ the true one), so the
    // true balance was below 10 when low was told; and the balance it tells is below 10 too.
    expect(40 - low!.spentBefore).toBeLessThan(10);
    expect(low!.remaining).toBeLessThan(10);
    // Exhausted: told by the spend of the 40th credit (its region reported the lease empty).
    expect(exhausted!.at).toBe(lastCredit);
    expect(exhausted!.remaining).toBe(0);
    // Refused spends after it tell nothing more.
    for (const r of regions) expect((await spendVia(c, r, 25)).crossed).toEqual([]);
  });

  it("the balance knows what a lease reported at its last exchange (never less than the true balance); a threshold a lease never told is decided again after it returns", async () => {
    at(t0);
    const id = balanceId();
    const c = setting(16, t0 - 1_000, id);
    const balance = ns().get(ns().idFromName(id));
    const lease = ns().get(ns().idFromName(regionalName(id, "weur")));
    // Lease 2 (⌈16/8⌉), spend both; each spend that runs the lease low exchanges in the background.
    expect((await lease.spendLeased(c, "weur", 50)).allowed).toBe(true);
    await lease.crossings();
    expect((await lease.spendLeased(c, "weur", 50)).allowed).toBe(true);
    await lease.crossings();
    // 2 spent and reported: exact.
    expect(await balance.balance(c)).toEqual({ allowed: true, remaining: 14 });
    // Down to 8 (50 %), each exchange awaited: nothing decided yet.
    for (let i = 0; i < 6; i++) {
      expect(await lease.spendLeased(c, "weur", 50)).not.toHaveProperty("crossed");
      expect(await lease.crossings()).toBeNull();
    }
    // The 9th spend's exchange finds 7 left and decides low; nobody asks: it waits in the lease, untold.
    expect(await lease.spendLeased(c, "weur", 50)).toMatchObject({ allowed: true, pending: true });
    const stored = () =>
      runInDurableObject(lease, (_o: KeyRateLimiter, state) => state.storage.get<{ tell?: unknown }>("lease"));
    for (let i = 0; i < 100 && (await stored())?.tell === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await stored())?.tell).toMatchObject({ crossed: ["low"], basis: 16, remaining: 7 });
    // The lease goes back (its alarm, when the region stops spending) with low untold…
    await lease.returnLease();
    expect(await balance.balance(c)).toEqual({ allowed: true, remaining: 7 });
    // …so the balance decides it again at the next spend, once.
    expect(await balance.spend(c, 50)).toEqual({ allowed: true, remaining: 6, crossed: ["low"], basis: 16 });
    expect((await balance.spend(c, 50)).crossed).toBeUndefined();
  });

  it("a daily refill starts a new lease at the next UTC midnight (the old one is void)", async () => {
    at(t0);
    const id = balanceId();
    const c = setting(1, t0 - 1_000, id, { amount: 2, interval: "day" });
    const lease = ns().get(ns().idFromName(regionalName(id, "apac")));
    expect((await lease.spendLeased(c, "apac")).allowed).toBe(true);
    expect((await lease.spendLeased(c, "apac")).allowed).toBe(false);
    at(Math.ceil(t0 / 86_400_000) * 86_400_000);
    expect(await lease.spendLeased(c, "apac")).toEqual({ allowed: true, remaining: 1, pending: true });
  });
});
