/**
 * The usage store (docs/usage.md), SQLite storage, in two roles by name:
 * - an **org's store** (named by the org): counts per UTC minute, key, status and outcome,
 *   added in batches (`add`, exactly once per batch id) and summed per minute, hour or day
 *   by GET /usage (`query`, `statuses`);
 * - a **location's aggregator** (usageLocationName(colo, region), created in that region):
 *   every isolate of the location hands it its flushes (`collect`: one row per flush,
 *   stored before it answers, a flush id taken once) and it forwards everything it holds,
 *   merged into one batch per org, to the orgs' stores: at most once per forward interval
 *   (the timing its isolates give, config/usage-flush.ts: four fifths of USAGE_FLUSH_MS) —
 *   at once when its last forward is that old — and by the deadline of every flush it holds
 *   (the flush's oldest request + USAGE_FLUSH_MS − a round-trip allowance), whichever comes
 *   first; else from its alarm. So a count is forwarded within USAGE_FLUSH_MS of its request
 *   whatever interval its isolate flushed at, and an org's store receives a bounded number
 *   of batches per location, whatever the number of isolates (issue 25). Its answer tells
 *   the isolate which interval to flush at next: the short one while other isolates flushed
 *   here recently, the long one while it is alone. A forward that fails stays in its outbox
 *   and is resent (same id) by its alarm.
 *
 * Rows written, which Cloudflare bills: an aggregator writes two per flush (stored, then
 * deleted once forwarded) and two per forward (the forward's note, and its end); an org's
 * store, one per row of a batch and two for its id (stored, pruned a day later).
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../lib/clock";
import { withDeadline } from "../lib/deadline";
import { link } from "./link";
import type { Region, UsageBatch, UsageBucket, UsageCollect, UsageCollected, UsageRow, UsageTiming } from "./protocol";
import { usageLocationName } from "./protocol";

/** Batch and flush ids are remembered this long (a resend comes within minutes). */
const BATCH_MEMORY_MS = 24 * 3_600_000;
/** How long a forward waits for an org's store. */
const FORWARD_TIMEOUT_MS = 5_000;
/** A failed forward is retried after this (its alarm). */
const RETRY_MS = 10_000;

/** The one binding the store reads: its own namespace, for an aggregator to reach the orgs' stores. */
interface UsageEnv {
  USAGE_STORE?: DurableObjectNamespace<UsageStore>;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return withDeadline(p, ms, () => new Error(`usage store did not answer within ${ms} ms`));
}

/** Rows merged: one per (minute, key, status, outcome), counts summed. */
function merged(lists: UsageRow[][]): UsageRow[] {
  const out = new Map<string, UsageRow>();
  for (const rows of lists)
    for (const r of rows) {
      const k = `${r.minute}|${r.key_id}|${r.status}|${r.forwarded ? 1 : 0}`;
      const had = out.get(k);
      if (had) had.count += r.count;
      else out.set(k, { ...r });
    }
  return [...out.values()];
}

/** A forward in progress: the flushes it covers (seq ≤ upto) and the orgs whose store has not yet taken its batch. */
interface Forward {
  id: string;
  at: number;
  upto: number;
  orgs: string[];
}

/** Flush ids an aggregator remembers after forwarding them (a resend after a lost answer is taken once). */
const FORWARDED_IDS_KEPT = 100_000;

/** A positive finite number, or undefined (a field an isolate of another version did not send). */
const positive = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined;

export class UsageStore extends DurableObject<UsageEnv> {
  /** Aggregator: its own name (usageLocationName), which it calls the orgs' stores as. */
  #self: string | undefined;
  /** Aggregator: when it last forwarded (clock ms), and the forward interval its isolates gave. */
  #forwardedAt: number | undefined;
  #forwardMs: number | undefined;
  /** Aggregator: ids of flushes already forwarded (and deleted), newest last. */
  readonly #forwardedIds = new Set<string>();
  /** Aggregator: a forward is being sent. */
  #forwarding: Promise<boolean> | null = null;
  /** Aggregator: when each isolate of the location last flushed here (clock ms), by the id it gives (memory only: a hint). */
  readonly #seen = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: UsageEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS usage (minute INTEGER NOT NULL, key_id TEXT NOT NULL, status INTEGER NOT NULL, forwarded INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, key_id, status, forwarded))",
    );
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    // Aggregator: the flushes taken and not yet forwarded, and its settings and forward in progress.
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS flushes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, batches TEXT NOT NULL, due INTEGER)",
    );
    // An aggregator created before flushes had a deadline (`due`: forward by then; null: none) gets the column.
    if (!ctx.storage.sql.exec("SELECT * FROM flushes LIMIT 0").columnNames.includes("due"))
      ctx.storage.sql.exec("ALTER TABLE flushes ADD COLUMN due INTEGER");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  }

  /** Add a batch of counts; a batch id already added is ignored (exactly once). */
  add(batch: UsageBatch): boolean {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM batches WHERE id = ?", batch.id).toArray().length > 0) return false;
    const now = clock.now();
    this.ctx.storage.transactionSync(() => {
      sql.exec("INSERT INTO batches (id, at) VALUES (?, ?)", batch.id, now);
      for (const r of batch.rows) {
        sql.exec(
          "INSERT INTO usage (minute, key_id, status, forwarded, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (minute, key_id, status, forwarded) DO UPDATE SET count = count + excluded.count",
          r.minute,
          r.key_id,
          r.status,
          r.forwarded ? 1 : 0,
          r.count,
        );
      }
      sql.exec("DELETE FROM batches WHERE at < ?", now - BATCH_MEMORY_MS);
    });
    return true;
  }

  // ------------------------------------------------------------------ a location's aggregator

  #meta(k: string): string | null {
    return this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  #setMeta(k: string, v: string | null): void {
    if (v === null) this.ctx.storage.sql.exec("DELETE FROM meta WHERE k = ?", k);
    else this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
  }

  /**
   * The isolate `isolate` of this location hands over its flushes (a flush id already taken
   * is ignored). They are stored before the answer, each with its deadline (its oldest
   * request + `timing.deadlineMs`); everything held is forwarded now when the last forward
   * is at least `timing.forwardMs` old or a deadline has come, else then (alarm). The answer:
   * the interval the isolate should flush at next — short when another isolate flushed here
   * within `timing.recentMs`, long when it is alone (no id: short, as when it starts).
   */
  async collect(
    flushes: UsageCollect[],
    timing: UsageTiming,
    location: { colo: string; region: Region },
    isolate?: string,
  ): Promise<UsageCollected> {
    const sql = this.ctx.storage.sql;
    const now = clock.now();
    const self = usageLocationName(location.colo, location.region);
    if (this.#self !== self) {
      this.#self = self;
      this.#setMeta("self", self);
    }
    const forwardMs = positive(timing?.forwardMs);
    if (forwardMs !== undefined && forwardMs !== this.#forwardMs) {
      this.#forwardMs = forwardMs;
      this.#setMeta("forwardMs", String(forwardMs));
    }
    const deadlineMs = positive(timing?.deadlineMs);
    this.ctx.storage.transactionSync(() => {
      for (const f of flushes) {
        if (this.#forwardedIds.has(f.id)) continue;
        const oldest = typeof f.oldest === "number" && Number.isFinite(f.oldest) ? f.oldest : undefined;
        const due = oldest === undefined || deadlineMs === undefined ? null : oldest + deadlineMs;
        sql.exec(
          "INSERT OR IGNORE INTO flushes (id, batches, due) VALUES (?, ?, ?)",
          f.id,
          JSON.stringify(f.batches),
          due,
        );
      }
    });
    const interval = this.#intervalFor(isolate, now, positive(timing?.recentMs) ?? 0);
    await this.#forwardIfDue(now);
    return { interval };
  }

  /** Short when another isolate flushed here within `recentMs` (the location has something to merge), else long. */
  #intervalFor(isolate: string | undefined, now: number, recentMs: number): UsageCollected["interval"] {
    let others = false;
    for (const [id, at] of this.#seen) {
      if (at < now - recentMs) this.#seen.delete(id);
      else if (id !== isolate) others = true;
    }
    if (isolate === undefined) return "short";
    this.#seen.set(isolate, now);
    return others ? "short" : "long";
  }

  #load(): void {
    this.#forwardedAt ??= Number(this.#meta("forwardedAt") ?? -Infinity);
    // Always set by the collect that stored the first flush; before one, nothing to forward.
    this.#forwardMs ??= Number(this.#meta("forwardMs") ?? 0);
    this.#self ??= this.#meta("self") ?? undefined;
  }

  /**
   * When everything held must be forwarded: the end of the forward interval, or the earliest
   * deadline of a flush held, whichever comes first (Infinity: nothing held).
   */
  #dueAt(): number {
    const { n, due } = this.ctx.storage.sql
      .exec<{ n: number; due: number | null }>("SELECT COUNT(*) AS n, MIN(due) AS due FROM flushes")
      .one();
    if (n === 0) return Infinity;
    return Math.min(this.#forwardedAt! + this.#forwardMs!, due ?? Infinity);
  }

  /** Finish a forward in progress, or start one when it is due; else arm the alarm for when it is. */
  async #forwardIfDue(now: number): Promise<void> {
    this.#load();
    let retry = false;
    if (this.#forwarding === null) {
      const pending = this.#meta("forward");
      let forward = pending === null ? null : (JSON.parse(pending) as Forward);
      if (forward === null && this.#dueAt() <= now) forward = this.#startForward(now);
      if (forward !== null) {
        this.#forwarding = this.#send(forward).finally(() => {
          this.#forwarding = null;
        });
        retry = !(await this.#forwarding);
      }
    }
    // During another call's forward, what arrived since waits for the alarm, which waits for that forward.
    const after = clock.now(); // a forward took its round trip: a deadline is that much nearer
    const next = retry ? after + RETRY_MS : this.#dueAt();
    if (next < Infinity) {
      const at = Date.now() + Math.max(0, next - after);
      const armed = await this.ctx.storage.getAlarm();
      if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
    }
  }

  /** A new forward of every flush held now (none held: nothing to do). */
  #startForward(now: number): Forward | null {
    const sql = this.ctx.storage.sql;
    const upto = sql.exec<{ v: number | null }>("SELECT MAX(seq) AS v FROM flushes").one().v;
    if (upto === null) return null;
    const orgs = new Set<string>();
    for (const f of sql.exec<{ batches: string }>("SELECT batches FROM flushes WHERE seq <= ?", upto))
      for (const { org } of JSON.parse(f.batches) as UsageCollect["batches"]) orgs.add(org);
    const forward: Forward = { id: crypto.randomUUID(), at: now, upto, orgs: [...orgs] };
    this.ctx.storage.transactionSync(() => {
      this.#setMeta("forward", JSON.stringify(forward));
      this.#setMeta("forwardedAt", String(now));
    });
    this.#forwardedAt = now;
    return forward;
  }

  /**
   * Send a forward's batch to each org's store still owed one (batch id: the forward's id and
   * the org: a resend counts once); when all have it, its flushes go. Whether it completed.
   */
  async #send(forward: Forward): Promise<boolean> {
    const ns = this.env.USAGE_STORE;
    if (!ns) return false;
    const sql = this.ctx.storage.sql;
    const rowsOf = new Map<string, UsageRow[][]>();
    const ids: string[] = [];
    for (const f of sql.exec<{ id: string; batches: string }>(
      "SELECT id, batches FROM flushes WHERE seq <= ?",
      forward.upto,
    )) {
      ids.push(f.id);
      for (const { org, batch } of JSON.parse(f.batches) as UsageCollect["batches"])
        rowsOf.set(org, [...(rowsOf.get(org) ?? []), batch.rows]);
    }
    const results = await Promise.all(
      forward.orgs.map(async (org) => {
        try {
          const batch = { id: `${forward.id}:${org}`, rows: merged(rowsOf.get(org) ?? []) };
          await withTimeout(Promise.resolve(link.to(ns, org, this.#self).add(batch)), FORWARD_TIMEOUT_MS);
          return org;
        } catch {
          return null;
        }
      }),
    );
    const left = forward.orgs.filter((org) => !results.includes(org));
    if (left.length > 0) {
      this.#setMeta("forward", JSON.stringify({ ...forward, orgs: left }));
      return false;
    }
    this.ctx.storage.transactionSync(() => {
      sql.exec("DELETE FROM flushes WHERE seq <= ?", forward.upto);
      this.#setMeta("forward", null);
    });
    for (const id of ids) this.#forwardedIds.add(id);
    for (const id of this.#forwardedIds) {
      if (this.#forwardedIds.size <= FORWARDED_IDS_KEPT) break;
      this.#forwardedIds.delete(id);
    }
    return true;
  }

  /** The aggregator's alarm: forward what is due, resend what failed (after any forward under way). */
  override async alarm(): Promise<void> {
    await this.#forwarding;
    await this.#forwardIfDue(clock.now());
  }

  /** Forward everything held now, whatever the interval (tests: a location's counts, delivered). */
  async forwardNow(): Promise<void> {
    this.#load();
    await this.#forwarding;
    this.#forwardedAt = -Infinity;
    await this.#forwardIfDue(clock.now());
  }

  // ------------------------------------------------------------------ an org's store: reads

  /** Sums per bucket of `bucketMinutes` over [fromMinute, toMinute), for one key or all. */
  query(keyId: string | null, fromMinute: number, toMinute: number, bucketMinutes: number): UsageBucket[] {
    const rows = this.ctx.storage.sql
      .exec<{ b: number; f: number; r: number }>(
        `SELECT CAST(minute / ? AS INTEGER) * ? AS b, SUM(CASE WHEN forwarded = 1 THEN count ELSE 0 END) AS f, SUM(CASE WHEN forwarded = 0 THEN count ELSE 0 END) AS r
         FROM usage WHERE minute >= ? AND minute < ? ${keyId === null ? "" : "AND key_id = ?"} GROUP BY b ORDER BY b`,
        bucketMinutes,
        bucketMinutes,
        fromMinute,
        toMinute,
        ...(keyId === null ? [] : [keyId]),
      )
      .toArray();
    return rows.map((r) => ({ start: r.b * 60_000, requests: r.f + r.r, forwarded: r.f, rejected: r.r }));
  }

  /** Rejections by status over [fromMinute, toMinute). */
  statuses(keyId: string | null, fromMinute: number, toMinute: number): Record<string, number> {
    const rows = this.ctx.storage.sql
      .exec<{ status: number; n: number }>(
        `SELECT status, SUM(count) AS n FROM usage WHERE forwarded = 0 AND minute >= ? AND minute < ? ${keyId === null ? "" : "AND key_id = ?"} GROUP BY status ORDER BY status`,
        fromMinute,
        toMinute,
        ...(keyId === null ? [] : [keyId]),
      )
      .toArray();
    return Object.fromEntries(rows.map((r) => [String(r.status), r.n]));
  }
}
