/**
 * The management core's dependencies inside the Worker, built once per request in one
 * place for the admin API, the self-service API and the console: the KEYS namespace, the
 * key settings, this isolate's caches to purge, the revocation feed to publish to (keys,
 * tokens, org limits), the console's session store (portal links), the usage store, and
 * the holders' creation bounds kept by KeyRateLimiter objects.
 */

import type { Config } from "../config/config";
import { creditLeft } from "../edge/abuse/credits";
import { isolateOf } from "../edge/gateway/isolate";
import type { Env } from "../env";
import { emitterFor, webhookHub } from "../events/emit";
import { StoreFault } from "../keys/store/kv";
import { clock } from "../lib/clock";
import type { KeyRateLimiter } from "../objects/key-rate-limiter";
import type { DeliveriesView, HookView, ShadowSums, UsageBucket } from "../objects/protocol";
import { SHADOW_OBJECT_NAME } from "../objects/protocol";
import type { ShadowStore } from "../objects/shadow-store";
import type { UsageStore } from "../objects/usage-store";
import type { WebhookHub } from "../objects/webhooks";
import type { HolderBounds } from "./bounds";
import { createLinkRow, revokeLinkRow } from "./console/sessions";
import type { ManageDeps, WebhookStore } from "./context";
import { orgPublisherFor, publisherFor, publishLegacy, tokenPublisher } from "./publish";
import type { ShadowQuery } from "./shadow";
import type { UsageAnswer, UsageQuery } from "./usage";
import { GRANULARITY_MINUTES, usageAnswer } from "./usage";
import { keyLeakedTo, localRequest } from "./webhooks";

/** A creation bound's object answers within this, or the creation is refused (503). */
const BOUNDS_TIMEOUT_MS = 2_000;

/**
 * `requestUrl`: the management request's URL — a request to a loopback host is `wrangler
 * dev` (Cloudflare serves no such host), where webhook URLs may be http:// and loopback.
 */
export function workerDeps(env: Env, config: Config, requestId: string, requestUrl?: string): ManageDeps {
  const isolate = () => isolateOf(env, config.cache.maxEntries);
  const feed = env.REVOCATION_FEED;
  const store = env.USAGE_STORE;
  const bounds = holderBounds(env.KEY_RATE_LIMITER, config);
  const shadow = env.SHADOW_STORE;
  return {
    kv: env.KEYS,
    settings: {
      prefix: config.keyPrefix,
      ...(config.pepper ? { pepper: config.pepper } : {}),
      ...(config.legacyPepper ? { legacyPepper: config.legacyPepper } : {}),
    },
    now: clock.now(),
    requestId,
    purge: (hash) => isolate().cache.delete(hash),
    // Every isolate learns of a change through the revocation feed (docs/revocation.md).
    ...publisherFor(feed),
    purgeToken: (hash) => isolate().tokens.delete(hash),
    // A token's change goes on the feed; its revocation ends the console sessions it opened.
    tokenChanged: tokenPublisher(env),
    portalLinks: {
      create: (row) => createLinkRow(env.CONSOLE_SESSIONS, row, clock.now()),
      revoke: (id, orgs) => revokeLinkRow(env.CONSOLE_SESSIONS, id, orgs === null ? null : [...orgs], clock.now()),
    },
    orgPurge: (org, rateLimit) => {
      const state = isolate();
      state.orgs.delete(org);
      if (rateLimit) state.feed.orgLimits.set(org, rateLimit);
      else state.feed.orgLimits.delete(org);
    },
    ...orgPublisherFor(feed),
    ...(store ? { usage: (q: UsageQuery) => readUsage(store, q) } : {}),
    ...(bounds ? { bounds } : {}),
    ...(shadow ? { shadow: (q: ShadowQuery) => readShadow(shadow, q) } : {}),
    legacyPublish: async (algorithms) => {
      // This isolate at once (edge/auth/legacy.ts), every other through the feed.
      const state = isolate();
      state.feed.legacy = [...algorithms];
      state.legacyFlag = { algorithms: [...algorithms], freshUntil: clock.now() + config.cache.negativeTtlMs };
      if (feed) await publishLegacy(feed, algorithms);
    },
    importBudget: IMPORT_KV_OPERATIONS,
    balance: async (credits) => {
      const read = await creditLeft(env.KEY_RATE_LIMITER, credits);
      if (!read.ok) throw new Error(read.error);
      return read.value.remaining;
    },
    ...(env.WEBHOOKS ? { emit: emitterFor(env.WEBHOOKS, requestId)!, webhooks: webhookStore(env.WEBHOOKS) } : {}),
    webhookLoopback: config.webhooks.allowLoopback || (requestUrl !== undefined && localRequest(requestUrl)),
    leakAction: config.leaks.action,
    // The leak intake's key.leaked (manage/leaks.ts), told to the key's webhooks like every key event.
    ...(env.WEBHOOKS ? { onKeyLeaked: keyLeakedTo(emitterFor(env.WEBHOOKS, requestId)!) } : {}),
  };
}

/** The webhook hub as the core's WebhookStore: each call answers within BOUNDS_TIMEOUT_MS, else 503. */
export function webhookStore(ns: DurableObjectNamespace<WebhookHub>): WebhookStore {
  const hub = () => webhookHub(ns);
  return {
    create: (row) => within("the webhook hub", async () => (await hub().create(row)) as HookView | null),
    list: () => within("the webhook hub", async () => (await hub().list()) as HookView[]),
    get: (id) => within("the webhook hub", async () => (await hub().get(id)) as HookView | null),
    remove: (id) => within("the webhook hub", async () => (await hub().remove(id)) as HookView | null),
    test: (id) =>
      within("the webhook hub", async () => (await hub().sendTest(id)) as { event_id: string } | "disabled" | null),
    deliveries: (id, limit) =>
      within("the webhook hub", async () => (await hub().deliveries(id, limit)) as DeliveriesView),
  };
}

/**
 * KV operations a bulk import may spend in one call: a Worker's invocation allows 1,000
 * (operations to external services), and the call's own reads (the admin token, the feed,
 * `legacy-algorithms`) need a few.
 */
const IMPORT_KV_OPERATIONS = 900;

/** The shadow report's sums from the ShadowStore object. */
function readShadow(ns: DurableObjectNamespace<ShadowStore>, q: ShadowQuery): Promise<ShadowSums> {
  const stub = ns.get(ns.idFromName(SHADOW_OBJECT_NAME));
  return Promise.resolve(stub.sums(q.fromMinute, q.toMinute, q.route, q.org)) as Promise<ShadowSums>;
}

/** One usage answer from the org's UsageStore object. */
export async function readUsage(ns: DurableObjectNamespace<UsageStore>, uq: UsageQuery): Promise<UsageAnswer> {
  const stub = ns.get(ns.idFromName(uq.org));
  const g = GRANULARITY_MINUTES[uq.granularity];
  const [buckets, statuses] = await Promise.all([
    stub.query(uq.key, uq.fromMinute, uq.toMinute, g),
    stub.statuses(uq.key, uq.fromMinute, uq.toMinute),
  ]);
  return usageAnswer(uq, buckets as UsageBucket[], statuses as Record<string, number>);
}

/** A bound's object, answering within BOUNDS_TIMEOUT_MS; any failure is a StoreFault (503: the creation is refused). */
async function within<T>(what: string, call: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not answer within ${BOUNDS_TIMEOUT_MS} ms`)), BOUNDS_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    throw new StoreFault(`${what} unavailable: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The holders' creation bounds (manage/bounds.ts), on KeyRateLimiter objects; none without the binding. */
function holderBounds(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  config: Config,
): HolderBounds | undefined {
  if (!ns) return undefined;
  const object = (name: string) => ns.get(ns.idFromName(name));
  return {
    createPerMinute: config.holders.createPerMinute,
    maxKeysPerOrg: config.holders.maxKeysPerOrg,
    hit: async (creator, limit) => {
      const o = await within("the creation rate", () => object(`holder-creates:${creator}`).hit(limit, 60));
      return { allowed: o.allowed, resetSeconds: o.resetSeconds };
    },
    admit: async (org, id, max) =>
      (await within(
        "the org's key count",
        () => object(`holder-keys:${org}`).admitMember(id, max) as Promise<unknown>,
      )) as Awaited<ReturnType<HolderBounds["admit"]>>,
    settle: async (org, drop, swap) => {
      await within("the org's key count", () => object(`holder-keys:${org}`).settleMembers(drop, swap));
    },
  };
}
