/**
 * The usage store (docs/usage.md): one Durable Object per organization, SQLite storage.
 * Counts per UTC minute, key, status and outcome, added in batches by the isolates
 * (edge/usage/counter.ts) and summed per minute, hour or day by GET /usage.
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../lib/clock";
import type { UsageBatch, UsageBucket } from "./protocol";

/** Batch ids are remembered this long (a resend comes within minutes). */
const BATCH_MEMORY_MS = 24 * 3_600_000;

// Its bindings are not read (DurableObject<unknown>): nothing here imports the Env type.
export class UsageStore extends DurableObject<unknown> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS usage (minute INTEGER NOT NULL, key_id TEXT NOT NULL, status INTEGER NOT NULL, forwarded INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, key_id, status, forwarded))",
    );
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
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
