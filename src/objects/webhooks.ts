/**
 * The webhook hub (docs/webhooks.md): one Durable Object for the account, SQLite storage,
 * holding the webhooks, the events queued for each, and the log of delivery attempts. An
 * event is enqueued (stored, one delivery per webhook that wants it) before the enqueue
 * answers, and delivered from the object's alarm — never on a request's path:
 *
 * - at least once: a delivery stays queued until the receiver answers 2xx, or its retries
 *   run out (RETRY_SCHEDULE_MS: ≈ 27.6 h after the first attempt), then it is marked failed
 *   and stays visible in the attempts log;
 * - in order per subject (a key, an org, a token): a webhook gets an event about a key only
 *   once the earlier events about that key were delivered or failed; subjects do not wait
 *   for each other;
 * - signed as Standard Webhooks say (verifier/index.js signWebhook), with the same
 *   webhook-id on every attempt;
 * - a webhook whose receiver has failed every attempt for DISABLE_AFTER_MS (5 days), or that
 *   answered 410 Gone, is disabled, and an audit event says so (the one binding this object
 *   reads: KEYS); so are the webhooks of a scoped admin token that is revoked.
 *
 * What a receiver answered is never kept or shown beyond its status and the time it took.
 */
import { DurableObject } from "cloudflare:workers";
import { signWebhook } from "../../verifier/index.js";
import type { GatewayEvent } from "../events/types";
import { payloadOf, TEST_EVENT_TYPE } from "../events/types";
import { randomBase62 } from "../keys/format";
import { appendAudit } from "../keys/store/audit";
import type { KvLike } from "../keys/store/kv";
import { clock } from "../lib/clock";
import { logLine } from "../lib/log";
import type { AttemptView, DeliveriesView, HookView, NewHookRow } from "./protocol";

/** Waits before each retry after a failed attempt (the first attempt is immediate): 5 s … 10 h, ≈ 27.6 h in all. */
export const RETRY_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
/** A webhook failing every attempt this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 86_400_000;
/** One attempt's wait for the receiver's answer (the specification suggests 15–30 s). */
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** Attempts in flight at once (a Worker keeps six connections open at a time). */
const CONCURRENCY = 6;
/** Attempts per alarm run; more due: the alarm runs again at once. */
const MAX_PER_RUN = 60;
/** Attempts kept per webhook in its log. */
const ATTEMPTS_KEPT = 200;
/** Delivered or failed events are forgotten after this (the attempts log keeps its own). */
const DONE_KEPT_MS = 7 * 86_400_000;
/** The most webhooks one account may have. */
export const MAX_WEBHOOKS = 100;

type HookRow = {
  id: string;
  url: string;
  events: string;
  orgs: string | null;
  secret: string;
  created_by: string;
  owner_token: string | null;
  owner_expires_at: number | null;
  created_at: number;
  status: "active" | "disabled";
  disabled_at: number | null;
  disabled_reason: string | null;
  failing_since: number | null;
};

type DeliveryRow = {
  seq: number;
  hook_id: string;
  event_id: string;
  type: string;
  subject: string;
  body: string;
  attempts: number;
  next_at: number;
};

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function viewOf(h: HookRow): HookView {
  return {
    id: h.id,
    url: h.url,
    events: JSON.parse(h.events) as string[],
    orgs: h.orgs === null ? null : (JSON.parse(h.orgs) as string[]),
    status: h.status,
    created_at: new Date(h.created_at).toISOString(),
    created_by: h.created_by,
    disabled_at: isoOrNull(h.disabled_at),
    disabled_reason: h.disabled_reason,
    failing_since: isoOrNull(h.failing_since),
  };
}

/** The one binding the hub reads: the key store, to audit a webhook it disables. */
export interface WebhookHubEnv {
  KEYS?: KVNamespace;
}

export class WebhookHub extends DurableObject<WebhookHubEnv> {
  constructor(ctx: DurableObjectState, env: WebhookHubEnv) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      `CREATE TABLE IF NOT EXISTS hooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, orgs TEXT,
        secret TEXT NOT NULL, created_by TEXT NOT NULL, owner_token TEXT, created_at INTEGER NOT NULL,
        status TEXT NOT NULL, disabled_at INTEGER, disabled_reason TEXT, failing_since INTEGER)`,
    );
    sql.exec(
      `CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, hook_id TEXT NOT NULL,
        event_id TEXT NOT NULL, type TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, done_at INTEGER)`,
    );
    // Added after the first release: a hub made before it gains the column (null: its webhooks' tokens never expire).
    const columns = sql.exec<{ name: string }>("PRAGMA table_info(hooks)").toArray();
    if (!columns.some((c) => c.name === "owner_expires_at"))
      sql.exec("ALTER TABLE hooks ADD COLUMN owner_expires_at INTEGER");
    sql.exec("CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (hook_id, subject, state, seq)");
    sql.exec("CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, next_at)");
    sql.exec(
      `CREATE TABLE IF NOT EXISTS attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, hook_id TEXT NOT NULL,
        event_id TEXT NOT NULL, type TEXT NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL, status INTEGER,
        error TEXT, duration_ms INTEGER NOT NULL, outcome TEXT NOT NULL, next_retry_at INTEGER)`,
    );
    sql.exec("CREATE INDEX IF NOT EXISTS attempts_hook ON attempts (hook_id, id)");
    sql.exec(
      "CREATE TABLE IF NOT EXISTS sent_once (hook_id TEXT NOT NULL, once TEXT NOT NULL, PRIMARY KEY (hook_id, once))",
    );
  }

  #hook(id: string): HookRow | null {
    return this.ctx.storage.sql.exec<HookRow>("SELECT * FROM hooks WHERE id = ?", id).toArray()[0] ?? null;
  }

  /** Store a webhook; null when the account already has MAX_WEBHOOKS. */
  create(row: NewHookRow): HookView | null {
    const sql = this.ctx.storage.sql;
    const count = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM hooks").one().n;
    if (count >= MAX_WEBHOOKS) return null;
    sql.exec(
      "INSERT INTO hooks (id, url, events, orgs, secret, created_by, owner_token, owner_expires_at, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
      row.id,
      row.url,
      JSON.stringify(row.events),
      row.orgs === null ? null : JSON.stringify(row.orgs),
      row.secret,
      row.created_by,
      row.owner_token,
      row.owner_expires_at ?? null,
      clock.now(),
    );
    return viewOf(this.#hook(row.id)!);
  }

  /** Every webhook, oldest first (the caller keeps those its principal may see). */
  list(): HookView[] {
    return this.ctx.storage.sql.exec<HookRow>("SELECT * FROM hooks ORDER BY created_at, id").toArray().map(viewOf);
  }

  get(id: string): HookView | null {
    const h = this.#hook(id);
    return h === null ? null : viewOf(h);
  }

  /** Delete a webhook, its queue and its log; the webhook as it was, or null. */
  remove(id: string): HookView | null {
    const h = this.#hook(id);
    if (h === null) return null;
    this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql;
      sql.exec("DELETE FROM hooks WHERE id = ?", id);
      sql.exec("DELETE FROM deliveries WHERE hook_id = ?", id);
      sql.exec("DELETE FROM attempts WHERE hook_id = ?", id);
      sql.exec("DELETE FROM sent_once WHERE hook_id = ?", id);
    });
    return viewOf(h);
  }

  /** Whether an active webhook subscribes to `type` (the cron asks before it looks for expiring keys). */
  wants(type: string): boolean {
    return this.#active().some((h) => (JSON.parse(h.events) as string[]).includes(type));
  }

  #active(): HookRow[] {
    return this.ctx.storage.sql.exec<HookRow>("SELECT * FROM hooks WHERE status = 'active'").toArray();
  }

  /**
   * Queue an event for every active webhook that wants it: its type subscribed, one of its
   * orgs the webhook's (a webhook for every org: any), root's webhooks only for root-only
   * events, and not already sent to that webhook when it is a `once` event. Stored before
   * this answers; delivered by the alarm. The number of deliveries queued.
   */
  async enqueue(event: GatewayEvent): Promise<number> {
    const now = clock.now();
    if (event.type === "token.revoked") await this.#disableTokenHooks(String(event.data.token_id), now);
    await this.#disableExpiredOwners(now);
    const targets = this.#active().filter((h) => {
      if (!(JSON.parse(h.events) as string[]).includes(event.type)) return false;
      if (event.rootOnly && h.owner_token !== null) return false;
      if (h.orgs === null || event.orgs.includes("*")) return true; // a webhook for every org; an every-org token
      const orgs = JSON.parse(h.orgs) as string[];
      return event.orgs.some((o) => orgs.includes(o));
    });
    return this.#queue(event, targets, now);
  }

  /** Queue several events in one call (the scheduled handler's key.expiring, a bulk import's key.created): the deliveries queued. */
  async enqueueAll(events: GatewayEvent[]): Promise<number> {
    let queued = 0;
    for (const e of events) queued += await this.enqueue(e);
    return queued;
  }

  /** Queue a webhook.test event for one webhook: its id, or null (no such webhook), or "disabled". */
  async sendTest(id: string): Promise<{ event_id: string } | "disabled" | null> {
    const h = this.#hook(id);
    if (h === null) return null;
    await this.#disableExpiredOwners(clock.now());
    if (this.#hook(id)?.status !== "active") return "disabled";
    const now = clock.now();
    const event: GatewayEvent = {
      type: TEST_EVENT_TYPE,
      timestamp: new Date(now).toISOString(),
      data: { webhook_id: id, actor: "keygate" },
      orgs: [],
      subject: `test/${id}`,
    };
    const eventId = newEventId();
    await this.#queue(event, [h], now, eventId);
    return { event_id: eventId };
  }

  async #queue(event: GatewayEvent, targets: HookRow[], now: number, eventId = newEventId()): Promise<number> {
    const sql = this.ctx.storage.sql;
    const body = JSON.stringify(payloadOf(event));
    let queued = 0;
    this.ctx.storage.transactionSync(() => {
      for (const h of targets) {
        if (event.once !== undefined) {
          const fresh = sql
            .exec("INSERT OR IGNORE INTO sent_once (hook_id, once) VALUES (?, ?) RETURNING once", h.id, event.once)
            .toArray();
          if (fresh.length === 0) continue;
        }
        sql.exec(
          "INSERT INTO deliveries (hook_id, event_id, type, subject, body, state, attempts, next_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)",
          h.id,
          eventId,
          event.type,
          event.subject,
          body,
          now,
        );
        queued++;
      }
    });
    if (queued > 0) await this.#wake(now);
    return queued;
  }

  /** The alarm at `at` unless one is set earlier. */
  async #wake(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** The last attempts of one webhook, newest first, and how many events wait. */
  deliveries(id: string, limit = 50): DeliveriesView {
    const sql = this.ctx.storage.sql;
    const rows = sql
      .exec<{
        event_id: string;
        type: string;
        attempt: number;
        at: number;
        status: number | null;
        error: string | null;
        duration_ms: number;
        outcome: AttemptView["outcome"];
        next_retry_at: number | null;
      }>(
        "SELECT event_id, type, attempt, at, status, error, duration_ms, outcome, next_retry_at FROM attempts WHERE hook_id = ? ORDER BY id DESC LIMIT ?",
        id,
        Math.max(1, Math.min(limit, ATTEMPTS_KEPT)),
      )
      .toArray();
    const pending = sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM deliveries WHERE hook_id = ? AND state = 'pending' AND attempts = 0",
        id,
      )
      .one().n;
    return {
      webhook_id: id,
      pending,
      attempts: rows.map((r) => ({
        ...r,
        at: new Date(r.at).toISOString(),
        next_retry_at: isoOrNull(r.next_retry_at),
      })),
    };
  }

  /** The first queued delivery of each (webhook, subject) of the active webhooks: the only ones that may go. */
  #heads(): DeliveryRow[] {
    return this.ctx.storage.sql
      .exec<DeliveryRow>(
        `SELECT d.seq, d.hook_id, d.event_id, d.type, d.subject, d.body, d.attempts, d.next_at
         FROM deliveries d JOIN hooks h ON h.id = d.hook_id
         WHERE d.state = 'pending' AND h.status = 'active' AND d.seq = (
           SELECT MIN(e.seq) FROM deliveries e WHERE e.hook_id = d.hook_id AND e.subject = d.subject AND e.state = 'pending')
         ORDER BY d.next_at, d.seq`,
      )
      .toArray();
  }

  override async alarm(): Promise<void> {
    let done = 0;
    for (;;) {
      const now = clock.now();
      const due = this.#heads().filter((d) => d.next_at <= now);
      if (due.length === 0 || done >= MAX_PER_RUN) break;
      const batch = due.slice(0, MAX_PER_RUN - done);
      for (let i = 0; i < batch.length; i += CONCURRENCY)
        await Promise.all(batch.slice(i, i + CONCURRENCY).map((d) => this.#attempt(d)));
      done += batch.length;
    }
    const now = clock.now();
    this.ctx.storage.sql.exec("DELETE FROM deliveries WHERE state != 'pending' AND done_at < ?", now - DONE_KEPT_MS);
    const next = this.#heads()[0]?.next_at;
    if (next !== undefined) await this.ctx.storage.setAlarm(Math.max(next, now));
  }

  /** One attempt of one delivery: sent, answered (or not), and its outcome recorded. */
  async #attempt(d: DeliveryRow): Promise<void> {
    const hook = this.#hook(d.hook_id);
    if (hook === null || hook.status !== "active") return;
    const started = clock.now();
    const timestamp = Math.floor(started / 1000);
    let status: number | null = null;
    let error: string | null = null;
    const t0 = Date.now();
    try {
      const res = await fetch(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "keygate-webhooks/1",
          "webhook-id": d.event_id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": await signWebhook(hook.secret, { id: d.event_id, timestamp, body: d.body }),
        },
        body: d.body,
        // A 3xx is a failure (the specification: update the URL rather than follow it).
        redirect: "manual",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      status = res.status;
      // The answer's body is never read or kept.
      await res.body?.cancel();
    } catch (err) {
      error = (err as Error)?.name === "TimeoutError" ? "timeout" : "connection failed";
    }
    const duration = Math.max(0, Date.now() - t0);
    const now = clock.now();
    const attempt = d.attempts + 1;
    const ok = status !== null && status >= 200 && status < 300;
    const sql = this.ctx.storage.sql;
    let outcome: AttemptView["outcome"];
    let nextAt: number | null = null;
    if (ok) {
      outcome = "delivered";
      sql.exec(
        "UPDATE deliveries SET state = 'delivered', attempts = ?, done_at = ? WHERE seq = ?",
        attempt,
        now,
        d.seq,
      );
      sql.exec("UPDATE hooks SET failing_since = NULL WHERE id = ?", hook.id);
    } else if (attempt > RETRY_SCHEDULE_MS.length) {
      outcome = "failed";
      sql.exec("UPDATE deliveries SET state = 'failed', attempts = ?, done_at = ? WHERE seq = ?", attempt, now, d.seq);
    } else {
      outcome = "retrying";
      nextAt = now + RETRY_SCHEDULE_MS[attempt - 1]!;
      sql.exec("UPDATE deliveries SET attempts = ?, next_at = ? WHERE seq = ?", attempt, nextAt, d.seq);
    }
    sql.exec(
      "INSERT INTO attempts (hook_id, event_id, type, attempt, at, status, error, duration_ms, outcome, next_retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      hook.id,
      d.event_id,
      d.type,
      attempt,
      started,
      status,
      error,
      duration,
      outcome,
      nextAt,
    );
    sql.exec(
      "DELETE FROM attempts WHERE hook_id = ? AND id <= (SELECT id FROM attempts WHERE hook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
      hook.id,
      hook.id,
      ATTEMPTS_KEPT,
    );
    if (ok) return;
    // 410 Gone: the receiver wants no more (the specification: disable the endpoint).
    if (status === 410) return this.#disable(hook, now, "the receiver answered 410 Gone");
    // The first failure since the last success starts the clock (attempts in flight together keep the earliest).
    sql.exec("UPDATE hooks SET failing_since = COALESCE(failing_since, ?) WHERE id = ?", started, hook.id);
    const since = this.#hook(hook.id)?.failing_since ?? started;
    if (now - since >= DISABLE_AFTER_MS)
      await this.#disable(hook, now, `every attempt failed for ${DISABLE_AFTER_MS / 86_400_000} days`);
  }

  /** Disable a webhook: nothing more is sent to it, its queued events are marked failed, and the audit log says why. */
  async #disable(hook: HookRow, now: number, reason: string): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec(
      "UPDATE hooks SET status = 'disabled', disabled_at = ?, disabled_reason = ? WHERE id = ? AND status = 'active'",
      now,
      reason,
      hook.id,
    );
    sql.exec(
      "UPDATE deliveries SET state = 'failed', done_at = ? WHERE hook_id = ? AND state = 'pending'",
      now,
      hook.id,
    );
    const kv = this.env.KEYS as KvLike | undefined;
    try {
      if (!kv) throw new Error("no KEYS binding");
      await appendAudit(kv, {
        id: `evt_${randomBase62(16)}`,
        at: new Date(now).toISOString(),
        actor: "keygate",
        action: "webhook_disable",
        webhook_id: hook.id,
        ...(hook.orgs === null ? {} : { orgs: JSON.parse(hook.orgs) as string[] }),
        reason,
      });
    } catch (err) {
      logLine("error", "webhook disabled, but its audit event could not be written", {
        webhook_id: hook.id,
        reason,
        cause: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Scoped admin tokens that have expired: the webhooks they made stop, as when a token is revoked. */
  async #disableExpiredOwners(now: number): Promise<void> {
    const expired = this.ctx.storage.sql
      .exec<HookRow>(
        "SELECT * FROM hooks WHERE status = 'active' AND owner_expires_at IS NOT NULL AND owner_expires_at <= ?",
        now,
      )
      .toArray();
    for (const h of expired) await this.#disable(h, now, `the admin token ${h.owner_token} that made it expired`);
  }

  /** A scoped admin token was revoked: the webhooks it made stop (a token's webhooks see only what it may). */
  async #disableTokenHooks(tokenId: string, now: number): Promise<void> {
    const owned = this.ctx.storage.sql
      .exec<HookRow>("SELECT * FROM hooks WHERE owner_token = ? AND status = 'active'", tokenId)
      .toArray();
    for (const h of owned) await this.#disable(h, now, `the admin token ${tokenId} that made it was revoked`);
  }
}

/** An event's id: the webhook-id of every attempt of it (Standard Webhooks: no "."). */
function newEventId(): string {
  return `msg_${randomBase62(24)}`;
}
