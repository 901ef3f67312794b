/**
 * The events keygate sends out (docs/webhooks.md): their types, and the one shape every
 * change is told in. Builders pick each event's fields from what changed — a key's id,
 * orgs and name, an org, a token's id — so no payload can carry a plaintext key or a
 * key's hash. Shared by both planes and the webhook hub (objects/webhooks.ts); emit.ts
 * hands an event to the hub.
 */
import type { KeyRecord, RateLimit, TokenRecord } from "../keys/record";

/** Every event type a webhook may subscribe to, exactly as the API names them. */
export const EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.rotated",
  "key.revoked",
  "key.disabled",
  "key.enabled",
  "key.expiring",
  "key.leaked",
  "credits.low",
  "credits.exhausted",
  "org.limit_changed",
  "token.created",
  "token.revoked",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Sent only by POST /webhooks/:id/test, to that webhook alone; not subscribable. */
export const TEST_EVENT_TYPE = "webhook.test";

export function isEventType(v: unknown): v is EventType {
  return typeof v === "string" && (EVENT_TYPES as readonly string[]).includes(v);
}

/** What every payload's `data` carries, plus each type's own fields. */
export interface EventData {
  /** Who acted: "root", "token:<id>", "key:<id>", "session:<sub>", "portal:<org>", "cli", or "keygate" (itself). */
  actor: string;
  [field: string]: unknown;
}

/** A change to tell the webhooks of: the payload (`type`, `timestamp`, `data`) and how to route it. */
export interface GatewayEvent {
  type: EventType | typeof TEST_EVENT_TYPE;
  /** When it happened (ISO 8601). */
  timestamp: string;
  data: EventData;
  /** The orgs it concerns: a webhook limited to orgs gets it when one of them is the webhook's. */
  orgs: string[];
  /** Only for webhooks the root made (admin tokens are root's business, like their audit events). */
  rootOnly?: boolean;
  /** Events with the same subject (key/<id>, org/<org>, token/<id>) reach each webhook in the order emitted. */
  subject: string;
  /** An event to send once: a webhook that already got one with this value gets no other. */
  once?: string;
}

/**
 * Tell the webhooks of one change, or of several in one call to the hub (a bulk import's
 * batch: objects/webhooks.ts enqueueAll); resolves when queued, never throws (emit.ts).
 */
export type Emit = (events: GatewayEvent | readonly GatewayEvent[]) => Promise<void>;

/** A batch of events rather than one. */
export function isBatch(events: GatewayEvent | readonly GatewayEvent[]): events is readonly GatewayEvent[] {
  return Array.isArray(events);
}

/** The payload as sent (Standard Webhooks: type, timestamp, data). */
export function payloadOf(e: GatewayEvent): { type: string; timestamp: string; data: EventData } {
  return { type: e.type, timestamp: e.timestamp, data: e.data };
}

const iso = (now: number) => new Date(now).toISOString();

/** What a key event says of the key: never its plaintext, never its hash. */
type KeyFacts = Pick<KeyRecord, "id" | "orgs" | "name">;

/** The events about one key (its credits included). */
export type KeyEventType = Extract<EventType, `key.${string}` | `credits.${string}`>;

/** A key event: key.created, key.updated, key.rotated, key.revoked, key.disabled, key.enabled, key.expiring, key.leaked. */
export function keyEvent(
  type: KeyEventType,
  key: KeyFacts,
  actor: string,
  now: number,
  extra: Record<string, unknown> = {},
  once?: string,
): GatewayEvent {
  return {
    type,
    timestamp: iso(now),
    data: { key_id: key.id, org: key.orgs[0] ?? null, orgs: [...key.orgs], name: key.name, actor, ...extra },
    orgs: [...key.orgs],
    subject: `key/${key.id}`,
    ...(once ? { once } : {}),
  };
}

/** credits.low / credits.exhausted: a key's balance crossed its threshold (once per refill period). */
export function creditsEvent(
  type: "credits.low" | "credits.exhausted",
  key: KeyFacts,
  balance: { remaining: number; basis: number; threshold_percent: number; period: string },
  now: number,
): GatewayEvent {
  return keyEvent(
    type,
    key,
    "keygate",
    now,
    { remaining: balance.remaining, of: balance.basis, threshold_percent: balance.threshold_percent },
    `${type}:${key.id}:${balance.period}`,
  );
}

/** org.limit_changed: an org's rate limit set or removed. */
export function orgEvent(org: string, rateLimit: RateLimit | null, actor: string, now: number): GatewayEvent {
  return {
    type: "org.limit_changed",
    timestamp: iso(now),
    data: { org, rate_limit: rateLimit, actor },
    orgs: [org],
    subject: `org/${org}`,
  };
}

/** token.created / token.revoked: a scoped admin token (never its plaintext or hash). */
export function tokenEvent(
  type: "token.created" | "token.revoked",
  token: Pick<TokenRecord, "id" | "name" | "orgs" | "role">,
  actor: string,
  now: number,
): GatewayEvent {
  return {
    type,
    timestamp: iso(now),
    data: { token_id: token.id, name: token.name, orgs: [...token.orgs], role: token.role, actor },
    orgs: [...token.orgs],
    rootOnly: true,
    subject: `token/${token.id}`,
  };
}
