/**
 * What the Worker — and the keys CLI, on Node — exchanges with the four Durable Objects:
 * their names, the messages they take and answer, and the bounds both sides agree on.
 * No runtime import (no `cloudflare:workers`), so the hot path, the CLI and the objects
 * themselves all import it; the classes are the other modules of this folder.
 */
import type { KeyRecord, RateLimit, TokenRecord } from "../keys/record";

// ---- KeyRateLimiter (key-rate-limiter.ts): rate-limit windows, credit balances, holder-key sets ----

/** One request counted against a fixed window (a key's `rate_limit`, an org's, a holder's creations). */
export interface KeyRateOutcome {
  allowed: boolean;
  limit: number;
  periodSeconds: number;
  /** Requests left in the current window after this one. */
  remaining: number;
  /** Seconds until the current window ends (≥ 1). */
  resetSeconds: number;
}

export interface CreditOutcome {
  allowed: boolean;
  /** Credits left after this request. */
  remaining: number;
  /** Thresholds this very spend crossed, each once per fill of the balance (credits.low, credits.exhausted). */
  crossed?: ("low" | "exhausted")[];
  /** With `crossed`: what the balance was last filled to (the low threshold's 100 %). */
  basis?: number;
}

/** The refill period containing `now`: UTC days since the epoch, or UTC months since year 0. */
export function refillPeriod(interval: "day" | "month", now: number): number {
  if (interval === "day") return Math.floor(now / 86_400_000);
  const d = new Date(now);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** Start (ms) of refill period `p` (see refillPeriod). */
export function periodStart(interval: "day" | "month", p: number): number {
  return interval === "day" ? p * 86_400_000 : Date.UTC(Math.floor(p / 12), p % 12, 1);
}

// ---- RevocationFeed (revocation-feed.ts): the short, versioned log of changes ----

/** The revocation feed is one Durable Object, addressed by this name. */
export const FEED_OBJECT_NAME = "revocation-feed";
/** How long the object keeps an entry: far longer than any override window. */
export const FEED_RETENTION_MS = 24 * 3_600_000;
/** Entries per answer; a poll reads up to a few pages (edge/revocation/follower.ts). */
export const FEED_PAGE_SIZE = 500;

/** A key's change (its hash and record as written), or a scoped admin token's (`kind: "token"`). */
export type FeedChange =
  | { kind?: undefined; hash: string; record: KeyRecord }
  | { kind: "token"; hash: string; record: TokenRecord };

export interface FeedEntry {
  version: number;
  /** When the object stored it (ms since epoch). */
  at: number;
  /**
   * Absent: a key change (hash, record). "org": an org's rate limit (hash = the org, record
   * = the limit or null). "token": a scoped admin token's change (its hash and record).
   */
  kind?: "org" | "token";
  hash: string;
  record: unknown;
}

export interface FeedPage {
  /** The cursor to send next. */
  version: number;
  entries: FeedEntry[];
  /** More entries follow: ask again from `version`. */
  more: boolean;
  /** The cursor could not be continued: drop every cached key before applying `entries`. */
  reset: boolean;
  /** With a new or reset cursor: every org's settings (replacing what the isolate knew). */
  orgs?: { org: string; rate_limit: RateLimit }[];
}

// ---- UsageStore (usage-store.ts): one object per org ----

export interface UsageRow {
  minute: number;
  key_id: string;
  /** The response status; forwarded responses are counted under the origin's status. */
  status: number;
  forwarded: boolean;
  count: number;
}

/** One org's counts in one flush. */
export interface UsageBatch {
  id: string;
  rows: UsageRow[];
}

export interface UsageBucket {
  start: number;
  requests: number;
  forwarded: number;
  rejected: number;
}

// ---- ConsoleSessions (console-sessions.ts): the web console's sessions and portal links ----

/** The console's session store is one Durable Object, addressed by this name. */
export const SESSIONS_OBJECT_NAME = "console-sessions";

/** A session to store. */
export interface NewSessionRow {
  /** SHA-256 (hex) of the session id. */
  key: string;
  /** The principal, JSON (opaque to the object). */
  principal: string;
  /** Who or what opened it: "root", "token:<id>", "portal-link:<id>", "session:<sub>". */
  opener: string;
  csrf: string;
  back: string | null;
  /** ms since epoch. */
  expiresAt: number;
}

/** What a console request learns of its session. */
export interface SessionRow {
  principal: string;
  opener: string;
  csrf: string;
  back: string | null;
  expiresAt: number;
  /** POST only: whether the presented CSRF token is the session's (constant time). */
  csrfOk?: boolean;
  /** POST with a form id and the right CSRF token: "fresh" the first time, "used" after. */
  form?: "fresh" | "used";
}

/** A portal link to store. */
export interface NewLinkRow {
  id: string;
  /** SHA-256 (hex) of the link's token. */
  token: string;
  org: string;
  /** The link as the admin API issued it, JSON (opaque to the object). */
  link: string;
  /** The audit actor who issued it ("root", "token:<id>"). */
  issuer: string;
  expiresAt: number;
}

/** A portal link as the admin API shows it (never its token). */
export interface LinkView {
  id: string;
  org: string;
  issuer: string;
  status: "active" | "used" | "expired" | "revoked";
  created_at: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

// ---- WebhookHub (webhooks.ts): the webhooks, their queue and their delivery log ----

/** The webhook hub is one Durable Object, addressed by this name. */
export const WEBHOOKS_OBJECT_NAME = "webhooks";

/** A webhook to store (manage/webhooks.ts validated it). */
export interface NewHookRow {
  id: string;
  url: string;
  events: string[];
  /** The orgs it serves; null: every org. */
  orgs: string[] | null;
  /** whsec_… (kept to sign; never shown again). */
  secret: string;
  /** The audit actor who made it ("root", "token:<id>", "cli"). */
  created_by: string;
  /** The scoped admin token that made it (null: the root): revoking that token disables it. */
  owner_token: string | null;
}

/** A webhook as the API shows it: never its secret. */
export interface HookView {
  id: string;
  url: string;
  events: string[];
  orgs: string[] | null;
  status: "active" | "disabled";
  created_at: string;
  created_by: string;
  disabled_at: string | null;
  disabled_reason: string | null;
  /** Since when every attempt has failed (null: the last one succeeded, or none failed). */
  failing_since: string | null;
}

/** One delivery attempt, as GET /webhooks/:id/deliveries shows it: what the receiver answered is never shown, only its status. */
export interface AttemptView {
  event_id: string;
  type: string;
  attempt: number;
  at: string;
  /** The receiver's HTTP status; null when no answer came (see `error`). */
  status: number | null;
  /** "timeout", "connection failed" (no answer), or null. */
  error: string | null;
  duration_ms: number;
  /** delivered, retrying (next_retry_at says when), failed (no retry left, or the webhook was disabled). */
  outcome: "delivered" | "retrying" | "failed";
  next_retry_at: string | null;
}

export interface DeliveriesView {
  webhook_id: string;
  /** Events waiting for their first attempt, or for an earlier event of the same subject. */
  pending: number;
  attempts: AttemptView[];
}
