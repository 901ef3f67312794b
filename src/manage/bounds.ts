/**
 * Holder creation is bounded (operators are not): each creator — an API key, a session's
 * user, an org's portal sessions — mints at most SELF_SERVICE_CREATE_PER_MINUTE keys per
 * minute (creations and regenerations; the keys a creator makes count as that creator:
 * `creatorOf`), and an org holds at most
 * SELF_SERVICE_MAX_KEYS_PER_ORG active keys created by holders. One key minting keys as fast
 * as it can would otherwise flood the revocation feed's window (docs/revocation.md) and
 * the org's listing.
 *
 * Both counts are exact across isolates and locations: each lives in one Durable Object
 * (the KeyRateLimiter class, addressed by name):
 * - `holder-creates:<actor>`: a fixed window of 60 s, like a key's rate limit;
 * - `holder-keys:<org>`: the ids of the org's keys created by holders. A creation is
 *   admitted (its id added) only while fewer than the cap are held, in one step of the
 *   object, so concurrent creations cannot overshoot. Ids leave the set when the key is
 *   revoked through a management surface (at once), and otherwise when the cap is reached:
 *   the org's listing is read and ids of keys positively gone (revoked, expired, or moved
 *   out of the org long enough ago for KV to show it) leave, while a regenerated key's slot
 *   passes to the key that replaced it once it has stopped — a regeneration without a grace
 *   period never needs a free slot, and never frees one; one with a grace period keeps the
 *   old key working, so its new key takes a slot of its own (manage/keys.ts rotateKey).
 *
 * When an object cannot be asked, a holder's creation is refused (503), never let through
 * unbounded.
 */

import type { KeySummary } from "../keys/fields";
import type { Outcome } from "../keys/lifecycle";
import { statusOf } from "../keys/record";
import type { KvLike } from "../keys/store/kv";
import { KV_LIST_MAX, StoreFault } from "../keys/store/kv";
import { listOrg } from "../keys/store/listings";
import type { Holder } from "./principal";
import { actorOf } from "./principal";

/** What the bounds need from the objects that keep them (manage/worker.ts wraps the KEY_RATE_LIMITER namespace). */
export interface HolderBounds {
  /** SELF_SERVICE_CREATE_PER_MINUTE. */
  createPerMinute: number;
  /** SELF_SERVICE_MAX_KEYS_PER_ORG. */
  maxKeysPerOrg: number;
  /** Count one creation by `creator` in the current minute, unless the limit is reached. */
  hit(creator: string, limit: number): Promise<{ allowed: boolean; resetSeconds: number }>;
  /** Add `id` to the org's set when it holds fewer than `max`; else its members (id, when added: ms). */
  admit(
    org: string,
    id: string,
    max: number,
  ): Promise<{ admitted: true } | { admitted: false; members: [string, number][] }>;
  /** Drop members, and pass a member's slot to the key that replaced it. */
  settle(org: string, drop: string[], swap: [string, string][]): Promise<void>;
}

/**
 * How long a member missing from its org's listing is still counted (KV's list may lag a new key by about a minute).
 */
const MISSING_GRACE_MS = 5 * 60_000;
/** Pages of the org's listing read to settle the set at the cap. */
const SETTLE_PAGES = 10;
/** Longest chain of regenerations followed in one settle. */
const MAX_CHAIN = 32;

function unbounded(): never {
  throw new StoreFault(
    "holder creation bounds cannot be counted (no KEY_RATE_LIMITER binding): creation by key holders is refused",
  );
}

/**
 * The creator a holder's creations and regenerations count against: a session's user, an
 * org's portal sessions, or an API key — and a key a holder made (created or regenerated)
 * is that holder again (its record's `created_by`, kept by every rotation). Otherwise each
 * new key would bring a fresh minute: a key regenerating itself, or minting a key that
 * mints the next, would go as fast as requests go.
 */
export function creatorOf(p: Holder): string {
  return p.kind === "key" ? (p.record.created_by ?? actorOf(p)) : actorOf(p);
}

/** The creator's per-minute bound (creations and regenerations): 429 past it. */
export async function creationRate(bounds: HolderBounds | undefined, p: Holder): Promise<Outcome<null>> {
  if (!bounds) unbounded();
  const limit = bounds.createPerMinute;
  const hit = await bounds.hit(creatorOf(p), limit);
  if (hit.allowed) return { ok: true, value: null };
  return {
    ok: false,
    error: "rate_limited",
    message: `Key holders may create or regenerate at most ${limit} keys per minute each (SELF_SERVICE_CREATE_PER_MINUTE); retry in ${hit.resetSeconds} s.`,
    retryAfter: hit.resetSeconds,
  };
}

/**
 * A holder repeating a change already made — revoking a revoked key, disabling a disabled
 * one — publishes it again on the revocation feed (so a repeat after a 503 is told
 * everywhere), and such repeats count against the same per-minute bound, in a count of
 * their own: one key could otherwise fill the feed with as many changes as it can send
 * requests, and slow every isolate's catch-up (docs/revocation.md).
 */
export async function repeatRate(bounds: HolderBounds | undefined, p: Holder): Promise<Outcome<null>> {
  if (!bounds) unbounded();
  const limit = bounds.createPerMinute;
  const hit = await bounds.hit(`repeats:${creatorOf(p)}`, limit);
  if (hit.allowed) return { ok: true, value: null };
  return {
    ok: false,
    error: "rate_limited",
    message: `Key holders may repeat a change already made (revoking a revoked key, disabling a disabled one) at most ${limit} times per minute each (SELF_SERVICE_CREATE_PER_MINUTE); retry in ${hit.resetSeconds} s.`,
    retryAfter: hit.resetSeconds,
  };
}

/** Reserve a slot of the org's cap for the key `id` about to be created: 403 when the org is at it. */
export async function reserveSlot(
  bounds: HolderBounds | undefined,
  kv: KvLike,
  org: string,
  id: string,
  now: number,
): Promise<Outcome<null>> {
  if (!bounds) unbounded();
  const max = bounds.maxKeysPerOrg;
  let answer = await bounds.admit(org, id, max);
  if (!answer.admitted) {
    const { drop, swap } = await settlement(kv, org, answer.members, now);
    if (drop.length || swap.length) {
      await bounds.settle(org, drop, swap);
      answer = await bounds.admit(org, id, max);
    }
  }
  if (answer.admitted) return { ok: true, value: null };
  return {
    ok: false,
    error: "forbidden",
    message: `This organization already has ${max} active keys created by key holders (SELF_SERVICE_MAX_KEYS_PER_ORG); revoke one first, or ask the operator.`,
  };
}

/**
 * Which members are gone, from the org's listing: only positive evidence counts (a
 * revoked or expired key; a regenerated one passes its slot on), so KV's lag can only
 * keep a key counted, never drop a live one.
 */
async function settlement(
  kv: KvLike,
  org: string,
  members: [string, number][],
  now: number,
): Promise<{ drop: string[]; swap: [string, string][] }> {
  const listed = new Map<string, KeySummary>();
  let cursor: string | null = null;
  let complete = false;
  for (let page = 0; page < SETTLE_PAGES; page++) {
    const found = await listOrg(kv, org, KV_LIST_MAX, cursor);
    for (const item of found.items) listed.set(item.summary.id, item.summary);
    cursor = found.cursor;
    if (cursor === null) {
      complete = true;
      break;
    }
  }
  const held = new Set(members.map(([id]) => id));
  const drop: string[] = [];
  const swap: [string, string][] = [];
  for (const [id, added] of members) {
    let last = id;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const s = listed.get(last);
      // A key in its grace period still works: it keeps its slot (its replacement took one of its own).
      if (s?.replaced_by === undefined || statusOf(s, now) === "rotating") break;
      last = s.replaced_by;
    }
    const s = listed.get(last);
    const gone =
      s === undefined
        ? complete && last === id && now - added > MISSING_GRACE_MS
        : s.revoked_at !== null || statusOf(s, now) === "expired";
    if (gone) drop.push(id);
    else if (last !== id) {
      if (held.has(last)) drop.push(id);
      else {
        swap.push([id, last]);
        held.add(last);
      }
    }
  }
  return { drop, swap };
}
