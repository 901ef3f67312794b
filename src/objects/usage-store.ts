/**
 * The usage store (docs/usage.md), SQLite storage, in two roles by name:
 * - an **org's store** (named by the org): counts per UTC minute, key, status and outcome,
 *   added in batches (`add`, exactly once per batch id) and summed per minute, hour or day
 *   by GET /usage (`query`, `statuses`);
 * - a **location's aggregator** (usageLocationName(colo, region), created in that region):
 *   every isolate of the location hands it its counts (`collect`, exactly once per batch id,
 *   stored before it answers), and it forwards each org's counts, merged into one batch, to
 *   that org's store at most once per flush interval — so an org's store receives at most
 *   one batch per location per interval, whatever the number of isolates (issue 25). A
 *   forward that fails stays in its outbox and is resent (same id) by its alarm.
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../lib/clock";
import { link } from "./link";
import type { LocatedBatch, Region, UsageBatch, UsageBucket, UsageRow } from "./protocol";
import { usageLocationName } from "./protocol";

/** Batch ids are remembered this long (a resend comes within minutes). */
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`usage store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
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

export class UsageStore extends DurableObject<UsageEnv> {
  /** Aggregator: when each org was last forwarded (clock ms). */
  #forwardedAt: Map<string, number> | undefined;
  /** Aggregator: the flush interval its isolates last gave (stored for the alarm). */
  #flushMs: number | undefined;
  /** Aggregator: its own name (usageLocationName), which it calls the orgs' stores as. */
  #self: string | undefined;
  /** Aggregator: outbox batches being sent (one send per batch at a time). */
  readonly #sending = new Set<string>();

  constructor(ctx: DurableObjectState, env: UsageEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS usage (minute INTEGER NOT NULL, key_id TEXT NOT NULL, status INTEGER NOT NULL, forwarded INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, key_id, status, forwarded))",
    );
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    // Aggregator: counts received and not yet forwarded (one row per isolate batch), the
    // merged batches being forwarded, and when each org was last forwarded.
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, org TEXT NOT NULL, rows TEXT NOT NULL)",
    );
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, org TEXT NOT NULL, rows TEXT NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS forwarded (org TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  #seen(id: string): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM batches WHERE id = ?", id).toArray().length > 0;
  }

  /** Add a batch of counts; a batch id already added is ignored (exactly once). */
  add(batch: UsageBatch): boolean {
    const sql = this.ctx.storage.sql;
    if (this.#seen(batch.id)) return false;
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

  #forwardedOf(): Map<string, number> {
    if (!this.#forwardedAt) {
      this.#forwardedAt = new Map();
      for (const r of this.ctx.storage.sql.exec<{ org: string; at: number }>("SELECT org, at FROM forwarded"))
        this.#forwardedAt.set(r.org, r.at);
    }
    return this.#forwardedAt;
  }

  /**
   * An isolate of this location hands over its counts (one batch per org; a batch id already
   * taken is ignored). They are stored before the answer; each org whose last forward is at
   * least `flushMs` old is forwarded now, the others when their interval ends (alarm).
   */
  async collect(batches: LocatedBatch[], flushMs: number, location: { colo: string; region: Region }): Promise<void> {
    const sql = this.ctx.storage.sql;
    const now = clock.now();
    this.#self = usageLocationName(location.colo, location.region);
    this.ctx.storage.transactionSync(() => {
      for (const { org, batch } of batches) {
        if (this.#seen(batch.id)) continue;
        sql.exec("INSERT INTO batches (id, at) VALUES (?, ?)", batch.id, now);
        sql.exec("INSERT INTO pending (id, org, rows) VALUES (?, ?, ?)", batch.id, org, JSON.stringify(batch.rows));
      }
      sql.exec("DELETE FROM batches WHERE at < ?", now - BATCH_MEMORY_MS);
    });
    await this.#forwardDue(now, flushMs);
  }

  /** Forward every org due at `now` (and resend the outbox); arm the alarm for the rest. */
  async #forwardDue(now: number, flushMs: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    const forwardedAt = this.#forwardedOf();
    const orgs = sql.exec<{ org: string }>("SELECT DISTINCT org FROM pending").toArray();
    let next = Infinity;
    for (const { org } of orgs) {
      const due = (forwardedAt.get(org) ?? -Infinity) + flushMs;
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      // One merged batch per org and interval, in the outbox before the pending rows go.
      this.ctx.storage.transactionSync(() => {
        const rows = sql.exec<{ rows: string }>("SELECT rows FROM pending WHERE org = ?", org).toArray();
        const batch = { id: crypto.randomUUID(), rows: merged(rows.map((r) => JSON.parse(r.rows) as UsageRow[])) };
        sql.exec("INSERT INTO outbox (id, org, rows) VALUES (?, ?, ?)", batch.id, org, JSON.stringify(batch.rows));
        sql.exec("DELETE FROM pending WHERE org = ?", org);
        sql.exec("INSERT OR REPLACE INTO forwarded (org, at) VALUES (?, ?)", org, now);
      });
      forwardedAt.set(org, now);
    }
    const failed = await this.#sendOutbox();
    if (failed) next = Math.min(next, now + RETRY_MS);
    if (next < Infinity) {
      const at = Date.now() + Math.max(0, next - now);
      const armed = await this.ctx.storage.getAlarm();
      if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
    }
    // Remember the interval for the alarm (it has no caller to say it).
    if (flushMs > 0 && flushMs !== this.#flushMs) {
      this.#flushMs = flushMs;
      await this.ctx.storage.put("flushMs", flushMs);
    }
  }

  /** Send every outbox batch to its org's store; whether any failed (kept, same id, for the next try). */
  async #sendOutbox(): Promise<boolean> {
    const ns = this.env.USAGE_STORE;
    if (!ns) return true;
    const sql = this.ctx.storage.sql;
    const out = sql
      .exec<{ id: string; org: string; rows: string }>("SELECT id, org, rows FROM outbox")
      .toArray()
      .filter((o) => !this.#sending.has(o.id));
    const results = await Promise.all(
      out.map(async (o) => {
        this.#sending.add(o.id);
        try {
          await withTimeout(
            Promise.resolve(link.to(ns, o.org, this.#self).add({ id: o.id, rows: JSON.parse(o.rows) as UsageRow[] })),
            FORWARD_TIMEOUT_MS,
          );
          sql.exec("DELETE FROM outbox WHERE id = ?", o.id);
          return true;
        } catch {
          return false;
        } finally {
          this.#sending.delete(o.id);
        }
      }),
    );
    return results.some((ok) => !ok);
  }

  /** The aggregator's alarm: forward what is due, resend what failed. */
  override async alarm(): Promise<void> {
    const flushMs = this.#flushMs ?? (await this.ctx.storage.get<number>("flushMs")) ?? 10_000;
    await this.#forwardDue(clock.now(), flushMs);
  }

  /** Forward everything pending now, whatever the interval (tests: a location's counts, delivered). */
  async forwardNow(): Promise<void> {
    this.#forwardedOf().clear();
    this.ctx.storage.sql.exec("DELETE FROM forwarded");
    await this.#forwardDue(clock.now(), 0);
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
