/**
 * The shadow store (docs/migrating.md): one Durable Object, SQLite storage, holding what
 * report mode (ENFORCEMENT=report) learnt — how keygate's decisions compared with the
 * origin's answers, per UTC minute, route, org, key, class, body comparison and origin
 * status, and the last SHADOW_SAMPLES request ids per route and class. Isolates add them in
 * batches (edge/shadow/counter.ts: at most one per isolate per USAGE_FLUSH_MS, never a call
 * per request); GET /_keygate/shadow sums them (manage/shadow.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { clock } from "../lib/clock";
import type { ShadowBatch, ShadowSample, ShadowSums } from "./protocol";
import { SHADOW_RETENTION_MINUTES, SHADOW_SAMPLES } from "./protocol";

/** Batch ids are remembered this long (a resend comes within minutes). */
const BATCH_MEMORY_MS = 24 * 3_600_000;
/** Rows a query sums over at most (a range far wider than report mode's traffic needs). */
const MAX_ROWS = 20_000;

// Its bindings are not read (DurableObject<unknown>): nothing here imports the Env type.
export class ShadowStore extends DurableObject<unknown> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS counts (minute INTEGER NOT NULL, route TEXT NOT NULL, org TEXT NOT NULL, key_id TEXT NOT NULL, class TEXT NOT NULL, body TEXT NOT NULL, status INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, route, org, key_id, class, body, status))",
    );
    sql.exec(
      "CREATE TABLE IF NOT EXISTS samples (route TEXT NOT NULL, class TEXT NOT NULL, at INTEGER NOT NULL, request_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, key_id TEXT NOT NULL, org TEXT NOT NULL, verdict TEXT NOT NULL, origin_status INTEGER NOT NULL, PRIMARY KEY (route, class, request_id))",
    );
    sql.exec("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  /** Add a batch; a batch id already added is ignored (exactly once). */
  add(batch: ShadowBatch): boolean {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM batches WHERE id = ?", batch.id).toArray().length > 0) return false;
    const now = clock.now();
    this.ctx.storage.transactionSync(() => {
      sql.exec("INSERT INTO batches (id, at) VALUES (?, ?)", batch.id, now);
      for (const r of batch.rows) {
        sql.exec(
          "INSERT INTO counts (minute, route, org, key_id, class, body, status, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (minute, route, org, key_id, class, body, status) DO UPDATE SET count = count + excluded.count",
          r.minute,
          r.route,
          r.org,
          r.key_id,
          r.class,
          r.body,
          r.status,
          r.count,
        );
      }
      const touched = new Set<string>();
      for (const s of batch.samples) {
        sql.exec(
          "INSERT OR REPLACE INTO samples (route, class, at, request_id, method, path, key_id, org, verdict, origin_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          s.route,
          s.class,
          s.at,
          s.request_id,
          s.method,
          s.path,
          s.key_id,
          s.org,
          s.verdict,
          s.origin_status,
        );
        touched.add(JSON.stringify([s.route, s.class]));
      }
      // The last SHADOW_SAMPLES per route and class.
      for (const t of touched) {
        const [route, cls] = JSON.parse(t) as [string, string];
        sql.exec(
          "DELETE FROM samples WHERE route = ? AND class = ? AND request_id NOT IN (SELECT request_id FROM samples WHERE route = ? AND class = ? ORDER BY at DESC, request_id DESC LIMIT ?)",
          route,
          cls,
          route,
          cls,
          SHADOW_SAMPLES,
        );
      }
      const oldest = Math.floor(now / 60_000) - SHADOW_RETENTION_MINUTES;
      sql.exec("DELETE FROM counts WHERE minute < ?", oldest);
      sql.exec("DELETE FROM samples WHERE at < ?", oldest * 60_000);
      sql.exec("DELETE FROM batches WHERE at < ?", now - BATCH_MEMORY_MS);
    });
    return true;
  }

  /** Sums over [fromMinute, toMinute), for one route and/or org or all, and the samples in that range. */
  sums(fromMinute: number, toMinute: number, route: string | null, org: string | null): ShadowSums {
    const sql = this.ctx.storage.sql;
    const where = `minute >= ? AND minute < ?${route === null ? "" : " AND route = ?"}${org === null ? "" : " AND org = ?"}`;
    const args = [fromMinute, toMinute, ...(route === null ? [] : [route]), ...(org === null ? [] : [org])];
    const rows = sql
      .exec<{ route: string; org: string; key_id: string; class: string; body: string; status: number; count: number }>(
        `SELECT route, org, key_id, class, body, status, SUM(count) AS count FROM counts WHERE ${where} GROUP BY route, org, key_id, class, body, status LIMIT ${MAX_ROWS}`,
        ...args,
      )
      .toArray();
    const sampleWhere = `at >= ? AND at < ?${route === null ? "" : " AND route = ?"}${org === null ? "" : " AND org = ?"}`;
    const samples = sql
      .exec<Record<string, string | number>>(
        `SELECT route, class, at, request_id, method, path, key_id, org, verdict, origin_status FROM samples WHERE ${sampleWhere} ORDER BY route, class, at DESC`,
        fromMinute * 60_000,
        toMinute * 60_000,
        ...args.slice(2),
      )
      .toArray() as unknown as ShadowSample[];
    return { rows: rows as ShadowSums["rows"], samples };
  }
}
