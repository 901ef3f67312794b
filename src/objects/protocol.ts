/**
 * What the Worker — and the keys CLI, on Node — exchanges with the four Durable Objects:
 * their names, the messages they take and answer, and the bounds both sides agree on.
 * No runtime import (no `cloudflare:workers`), so the hot path, the CLI and the objects
 * themselves all import it; the classes are the other modules of this folder.
 */
import type { KeyRecord, RateLimit, TokenRecord } from "../keys/record";

// ---- Regions: where an object lives (issue 25, docs/scale.md) ----

/**
 * Durable Object location hints, one per region of Cloudflare's network. The objects that
 * serve requests near the client — the revocation feed's replicas, regional rate-limit
 * buckets, regional credit leases — exist once per region and are created with that hint.
 */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type Region = (typeof REGIONS)[number];

export function isRegion(v: unknown): v is Region {
  return typeof v === "string" && (REGIONS as readonly string[]).includes(v);
}

/** The name of `name`'s object in `region` (its regional copy, bucket or lease holder). */
export function regionalName(name: string, region: Region): string {
  return `${name}@${region}`;
}

/** The region of an object named by regionalName, or null (a global object). */
export function regionOfName(name: string): Region | null {
  const at = name.lastIndexOf("@");
  const region = at < 0 ? "" : name.slice(at + 1);
  return isRegion(region) ? region : null;
}

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
  /**
   * A region's lease (spendLeased): this spend started an exchange with the balance in the
   * background, which may decide a threshold; `crossings()` on the lease waits for it and
   * answers what it decided (the gateway asks in waitUntil, edge/abuse/credits.ts).
   */
  pending?: true;
}

/** Thresholds decided for a balance, as told once (credits.low, credits.exhausted): what the balance then knew. */
export interface CreditCrossing {
  crossed: ("low" | "exhausted")[];
  basis: number;
  /** The balance as its object knew it when it decided (its own credits and the regions' leases as last reported). */
  remaining: number;
}

/**
 * A regional bucket exchanges counts with its limit's coordinator at most this often
 * (the scale model's `--rebalance-ms`), and at least four times per window for windows
 * shorter than four times this (never more often than every 250 ms).
 */
export const RATE_LIMIT_SYNC_MS = 10_000;

export function syncIntervalMs(periodSeconds: number): number {
  return Math.min(RATE_LIMIT_SYNC_MS, Math.max(250, (periodSeconds * 1000) / 4));
}

/** Credits a region's lease asks the balance for at a time (the scale model's `--lease-block`). */
export const LEASE_BLOCK = 100;
/** …but never more than this share of what the balance has left (at least one credit while any is left). */
export const LEASE_SHARE = 1 / 8;
/** A lease not spent from for this long returns what is left of it to the balance. */
export const LEASE_IDLE_MS = 30_000;

/** What the balance answers a lease: credits granted, what it has left after them, and which balance they came from. */
export interface LeaseGrant {
  granted: number;
  remaining: number;
  set_at: string;
  period: number;
  /** Thresholds this exchange crossed (asked with a lowPercent), each once per fill: the lease tells them. */
  crossing?: CreditCrossing;
}

/** What a lease tells its balance at an exchange: what it still holds of the fill it was leased from. */
export interface LeaseReport {
  set_at: string;
  period: number;
  /** Credits of the lease not yet spent. */
  left: number;
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
   * "legacy": the legacy algorithms with pending imported keys (record = the list;
   * docs/migrating.md).
   */
  kind?: "org" | "token" | "legacy";
  hash: string;
  record: unknown;
}

/** What a publish answers: the feed's version after it, and the regions whose replica did not store it in time. */
export interface PublishResult {
  version: number;
  /** Replicas that did not store the change within REPLICA_TIMEOUT_MS (the primary keeps retrying them). */
  missing: Region[];
}

/** How long the primary waits for one replica to store a change before answering without it. */
export const REPLICA_TIMEOUT_MS = 2_000;

/** What the primary sends a replica: the log after the replica's head (`from`), or a fresh copy (`reset`). */
export type ReplicaBatch =
  | { reset: false; from: number; to: number; entries: FeedEntry[] }
  | {
      reset: true;
      from: null;
      to: number;
      entries: FeedEntry[];
      orgs: { org: string; rate_limit: RateLimit }[];
      /** The legacy algorithms with pending imported keys (docs/migrating.md), as FeedPage.legacy. */
      legacy?: string[];
    };

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
  /** With a new or reset cursor: the legacy algorithms with pending imported keys ([] when none). */
  legacy?: string[];
  /** A replica that cannot serve this cursor yet (never copied, or behind it): ask the primary. Nothing else is set. */
  behind?: true;
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

/** One org's batch, as an isolate hands it to its location's aggregator. */
export interface LocatedBatch {
  org: string;
  batch: UsageBatch;
}

/** One flush of an isolate, as its location's aggregator takes it: an id (a resend is taken once) and a batch per org. */
export interface UsageCollect {
  id: string;
  batches: LocatedBatch[];
  /** When its oldest request arrived (clock ms): the aggregator forwards it by `oldest + UsageTiming.deadlineMs`. */
  oldest?: number;
}

/** What an isolate's flush tells its location's aggregator (config/usage-flush.ts usageTiming, from USAGE_FLUSH_MS). */
export interface UsageTiming {
  /** Forward at most once per this (ms): at once when the last forward is that old. */
  forwardMs: number;
  /** And forward each flush by its oldest request's arrival + this (ms), whatever interval its isolate used. */
  deadlineMs: number;
  /** Another isolate's flush within this (ms): the location has something to merge. */
  recentMs: number;
}

/** The aggregator's answer to a flush: the interval its isolate should flush at next (config/usage-flush.ts). */
export interface UsageCollected {
  /** "short" while other isolates of the location flush to it, "long" while the isolate is alone there. */
  interval: "short" | "long";
}

/** The usage aggregator of a location (a colo), created in its region; never an org's name (orgs start with a letter or digit). */
export function usageLocationName(colo: string, region: Region): string {
  return regionalName(`@location/${colo}`, region);
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

// ---- ShadowStore (shadow-store.ts): report mode's comparisons (docs/migrating.md) ----

/** The shadow store is one Durable Object, addressed by this name. */
export const SHADOW_OBJECT_NAME = "shadow";
/** Request ids kept per route and class (the last ones). */
export const SHADOW_SAMPLES = 20;
/** Minutes of counts and samples the store keeps (older ones are dropped as batches arrive). */
export const SHADOW_RETENTION_MINUTES = 35 * 1440;

/**
 * How keygate's decision compared with the origin's answer, in report mode:
 * - agree: allowed and the origin served it (status < 400), or refused with the very status the origin answered;
 * - would_break: keygate would refuse what the origin served (the dangerous one);
 * - would_admit: keygate would allow what the origin refused (status ≥ 400);
 * - status_differs: both refuse, with different statuses.
 */
export type ShadowClass = "agree" | "would_break" | "would_admit" | "status_differs";
export const SHADOW_CLASSES: readonly ShadowClass[] = ["agree", "would_break", "would_admit", "status_differs"];

/** For a refusal both sides agree on: whether keygate's body equals the origin's, byte for byte. */
export type ShadowBody = "match" | "differs";

/** The classes samples are kept under: an agreeing refusal is sampled by its body's comparison. */
export type SampleClass = Exclude<ShadowClass, "agree"> | "agree" | "body_match" | "body_differs";

export interface ShadowRow {
  minute: number;
  /** The route's pattern as configured ("(default)", "(none)": refused before its route was known). */
  route: string;
  /** "" when the request carried no known key. */
  org: string;
  key_id: string;
  class: ShadowClass;
  /** "" unless an agreeing refusal. */
  body: ShadowBody | "";
  /** The origin's status. */
  status: number;
  count: number;
}

export interface ShadowSample {
  route: string;
  class: SampleClass;
  /** ms since epoch. */
  at: number;
  request_id: string;
  method: string;
  path: string;
  key_id: string;
  org: string;
  /** What keygate would have done: `allow` or `deny; reason=…; status=…` (as sent to the origin). */
  verdict: string;
  origin_status: number;
}

/** One isolate's comparisons since its last flush. */
export interface ShadowBatch {
  id: string;
  rows: ShadowRow[];
  samples: ShadowSample[];
}

/** What the store answers for a range: sums by dimension, and the samples in range. */
export interface ShadowSums {
  /** Per route, org, key, class, body and origin status. */
  rows: Omit<ShadowRow, "minute">[];
  samples: ShadowSample[];
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
  /** When that token expires (ms; null or absent: never): from then on the webhook is disabled, as when it is revoked. */
  owner_expires_at?: number | null;
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
