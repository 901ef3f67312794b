/**
 * The local backend's link to a running `wrangler dev`: the revocation feed (docs/revocation.md).
 *
 * The feed lives in a Durable Object of the gateway itself, and getPlatformProxy() cannot
 * run a Worker's own Durable Objects. It can reach those of a Worker that `wrangler dev`
 * is running, through wrangler's local dev registry: so the CLI opens a second proxy on a
 * generated configuration whose REVOCATION_FEED binding names the gateway's Worker
 * (script_name), and publishes each change to the very object the running `wrangler dev`
 * polls. A revoked admin token also ends, in the same running gateway's console session
 * store (CONSOLE_SESSIONS, reached the same way), the console sessions it opened.
 *
 * Only the `wrangler dev` serving the same local state: the registry looked in is that
 * state's own (`<persist-to>/dev-registry`, scripts/local-platform.ts stateRegistryPath),
 * where `npm run dev` and the test helpers register it — never the machine-wide one,
 * where another checkout's gateway may hold the name. None registered there, or none
 * answering: nothing holds a cache of this state to purge; the CLI says so on stderr
 * (and how to start one it can reach) and the change, already stored, stands.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STATE_DIR, loadWrangler, stateRegistryPath, withRegistry } from "../../scripts/local-platform";
import type { Emit, GatewayEvent } from "../../src/events/types";
import { isBatch } from "../../src/events/types";
import type { Credits, RateLimit, TokenRecord } from "../../src/keys/record";
import type { WebhookStore } from "../../src/manage/context";
import type { CreditOutcome, FeedChange, PublishResult, ShadowSums, UsageBucket } from "../../src/objects/protocol";
import {
  FEED_OBJECT_NAME,
  SESSIONS_OBJECT_NAME,
  SHADOW_OBJECT_NAME,
  WEBHOOKS_OBJECT_NAME,
} from "../../src/objects/protocol";
import { Refused } from "../args";

type Change = FeedChange;
/** The console's session store (src/objects/console-sessions.ts), as far as the CLI uses it. */
type SessionsStub = { revokeOpener(opener: string, now: number): Promise<number> };

/** What the note says was not told when the legacy algorithms could not be published. */
const LEGACY_NOTE = "revocation feed (which legacy hashes to look keys up under)";

/** How long the CLI waits for the running gateway's feed. */
const CLI_PUBLISH_TIMEOUT_MS = 5_000;

/** The running gateway's usage store of one org (see src/objects/usage-store.ts). */
export interface UsageStub {
  query(keyId: string | null, fromMinute: number, toMinute: number, bucketMinutes: number): Promise<UsageBucket[]>;
  statuses(keyId: string | null, fromMinute: number, toMinute: number): Promise<Record<string, number>>;
}

/** The running gateway's shadow store (see src/objects/shadow-store.ts). */
export interface ShadowStub {
  sums(fromMinute: number, toMinute: number, route: string | null, org: string | null): Promise<ShadowSums>;
}

export interface LocalFeed {
  /** The org's usage store in the running `wrangler dev` (throws when none runs). */
  usageStore(org: string): Promise<UsageStub>;
  /** The shadow store in the running `wrangler dev` (throws when none runs). */
  shadowStore(): Promise<ShadowStub>;
  /** The legacy algorithms with pending imported keys (docs/migrating.md), on the feed. */
  publishLegacy(algorithms: readonly string[]): Promise<void>;
  /** Why the running gateway could not be reached (unreachableReason), for an error of usageStore or its calls. */
  reason(err: unknown): string;
  /** A metered key's live balance in the running `wrangler dev` (src/objects/key-rate-limiter.ts); null when none answers. */
  balance(credits: Credits): Promise<number | null>;
  /** The running `wrangler dev`'s webhook hub (src/objects/webhooks.ts); its calls throw when none runs. */
  webhooks: WebhookStore;
  /**
   * Queue an event (or a bulk import's batch, in one call) on the running `wrangler dev`'s
   * webhook hub; silently nothing when none runs (the feed's note says so).
   */
  emit: Emit;
  publish(changes: Change[]): Promise<void>;
  publishOrg(org: string, rateLimit: RateLimit | null): Promise<void>;
  /** A scoped admin token's change: on the feed, and a revocation ends the console sessions it opened. */
  publishToken(change: { hash: string; record: TokenRecord }): Promise<void>;
  close(): Promise<void>;
}

/** No `wrangler dev` of this state is registered in its dev registry. */
class NotRegistered extends Error {}
/** The registered `wrangler dev` took longer than CLI_PUBLISH_TIMEOUT_MS. */
class TimedOut extends Error {}

/**
 * Why the running gateway could not be reached, in plain words. Never the platform's own
 * error text: an entry left in the registry by a `wrangler dev` that stopped, or written
 * by another wrangler version, fails inside wrangler's proxy with texts such as
 * "Network connection lost." or an assertion's "false == true" (issue 24), which say
 * nothing a user can act on.
 */
export function unreachableReason(err: unknown, registry: string): string {
  if (err instanceof NotRegistered) return `none is registered in ${registry}`;
  if (err instanceof TimedOut)
    return `the one registered in ${registry} did not answer within ${CLI_PUBLISH_TIMEOUT_MS / 1000} s`;
  return `the one registered in ${registry} did not answer: it has stopped, or another wrangler version started it`;
}

export function localFeed(
  configPath: string,
  environment: string | undefined,
  persistTo: string = DEFAULT_STATE_DIR,
): LocalFeed {
  const registry = stateRegistryPath(persistTo);
  type Stub = {
    publish(c: Change[]): Promise<PublishResult>;
    publishOrg(org: string, rl: RateLimit | null): Promise<PublishResult>;
    publishLegacy(algorithms: string[]): Promise<PublishResult>;
  };
  type UsageNs = { idFromName(name: string): unknown; get(id: unknown): UsageStub };
  type ShadowNs = { idFromName(name: string): unknown; get(id: unknown): ShadowStub };
  type LimiterNs = {
    idFromName(name: string): unknown;
    get(id: unknown): { balance(c: Credits): Promise<CreditOutcome> };
  };
  type HubStub = Omit<WebhookStore, "test"> & {
    sendTest: WebhookStore["test"];
    enqueue(e: GatewayEvent): Promise<number>;
    enqueueAll(e: GatewayEvent[]): Promise<number>;
  };
  type HubNs = { idFromName(name: string): unknown; get(id: unknown): HubStub };
  let opened:
    | Promise<{
        stub: Stub;
        usage: UsageNs;
        shadow: ShadowNs;
        limiter: LimiterNs;
        hub: HubStub;
        sessions: SessionsStub;
        dispose: () => Promise<void>;
      }>
    | undefined;
  let dir: string | undefined;
  let hinted = false;
  const noted = new Set<string>();

  async function open() {
    const { getPlatformProxy, unstable_readConfig } = loadWrangler();
    const config = unstable_readConfig(
      { config: configPath, ...(environment ? { env: environment } : {}) },
      { hideWarnings: true },
    );
    // Said at once when no `wrangler dev` of this state ever registered (a stale entry
    // of one that stopped fails at the call instead).
    if (!config.name || !existsSync(join(registry, config.name))) throw new NotRegistered(registry);
    dir = mkdtempSync(join(tmpdir(), "keygate-cli-feed-"));
    const generated = join(dir, "wrangler.json");
    writeFileSync(
      generated,
      JSON.stringify({
        name: `${config.name}-keys-cli`,
        compatibility_date: config.compatibility_date,
        durable_objects: {
          bindings: [
            { name: "REVOCATION_FEED", class_name: "RevocationFeed", script_name: config.name },
            { name: "USAGE_STORE", class_name: "UsageStore", script_name: config.name },
            { name: "CONSOLE_SESSIONS", class_name: "ConsoleSessions", script_name: config.name },
            { name: "SHADOW_STORE", class_name: "ShadowStore", script_name: config.name },
            { name: "KEY_RATE_LIMITER", class_name: "KeyRateLimiter", script_name: config.name },
            { name: "WEBHOOKS", class_name: "WebhookHub", script_name: config.name },
          ],
        },
      }),
    );
    type Namespace = { idFromName(name: string): unknown; get(id: unknown): Stub };
    type SessionsNs = { idFromName(name: string): unknown; get(id: unknown): SessionsStub };
    const proxy = await withRegistry(registry, () =>
      getPlatformProxy<{
        REVOCATION_FEED: Namespace;
        USAGE_STORE: UsageNs;
        CONSOLE_SESSIONS: SessionsNs;
        SHADOW_STORE: ShadowNs;
        KEY_RATE_LIMITER: LimiterNs;
        WEBHOOKS: HubNs;
      }>({
        configPath: generated,
        persist: false,
      }),
    );
    const ns = proxy.env.REVOCATION_FEED;
    const stub = ns.get(ns.idFromName(FEED_OBJECT_NAME));
    const sessions = proxy.env.CONSOLE_SESSIONS.get(proxy.env.CONSOLE_SESSIONS.idFromName(SESSIONS_OBJECT_NAME));
    return {
      stub,
      usage: proxy.env.USAGE_STORE,
      shadow: proxy.env.SHADOW_STORE,
      limiter: proxy.env.KEY_RATE_LIMITER,
      hub: proxy.env.WEBHOOKS.get(proxy.env.WEBHOOKS.idFromName(WEBHOOKS_OBJECT_NAME)),
      sessions,
      dispose: () => proxy.dispose(),
    };
  }

  /** Send to the running gateway (`to`: which of its objects, for the note when none answers). */
  async function send(
    what: (stub: Stub, sessions: SessionsStub) => Promise<unknown>,
    to = "revocation feed",
  ): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      opened ??= open();
      const feed = await opened;
      const answer = await Promise.race([
        what(feed.stub, feed.sessions),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new TimedOut()), CLI_PUBLISH_TIMEOUT_MS);
        }),
      ]);
      // The feed's primary has it; a replica that did not store it in time is caught up by the primary.
      const missing = (answer as Partial<PublishResult> | undefined)?.missing;
      if (missing && missing.length > 0)
        process.stderr.write(
          `note: the revocation feed's replicas in ${missing.join(", ")} did not store the change in time; the feed catches them up by itself.\n`,
        );
    } catch (err) {
      // Said once per object a run could not tell (a bulk import publishes a batch at a time).
      if (noted.has(to)) return;
      noted.add(to);
      process.stderr.write(
        `note: the change is stored, but no running \`wrangler dev\` of this local state (${persistTo}) took it from the ${to}: ${unreachableReason(err, registry)}.\n` +
          (to === "revocation feed"
            ? "      A gateway started later reads it from the local state; one running now sees it when its cache expires (CACHE_TTL_MS).\n"
            : to === LEGACY_NOTE
              ? "      Once a gateway runs on this state, `npm run keys -- migration` tells it (keys imported by hash work there from then on).\n"
              : "      Console sessions it opened there end when they expire (at most an hour).\n") +
          // How to start one it reaches: said once (a token's revocation tells two objects).
          (hinted
            ? ""
            : `      The CLI reaches a \`wrangler dev\` started with \`npm run dev\` (same --persist-to), or with WRANGLER_REGISTRY_PATH=${registry}.\n`),
      );
      hinted = true;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * A call to the running gateway's webhook hub; none answering: refused in plain words
   * (unreachableReason, never the platform's error text), saying how to start one.
   */
  async function onHub<T>(call: (hub: HubStub) => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      opened ??= open();
      const { hub } = await opened;
      return await Promise.race([
        call(hub),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimedOut()), CLI_PUBLISH_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      throw new Refused(
        `webhooks are kept by the running gateway, and no running \`wrangler dev\` of this local state answered (${unreachableReason(err, registry)}): start it with \`npm run dev\` (same --persist-to), or use --url`,
      );
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  return {
    webhooks: {
      create: (row) => onHub((h) => h.create(row)),
      list: () => onHub((h) => h.list()),
      get: (id) => onHub((h) => h.get(id)),
      remove: (id) => onHub((h) => h.remove(id)),
      test: (id) => onHub((h) => h.sendTest(id)),
      deliveries: (id, limit) => onHub((h) => h.deliveries(id, limit)),
    },
    async emit(events: GatewayEvent | readonly GatewayEvent[]): Promise<void> {
      if (isBatch(events) && events.length === 0) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        opened ??= open();
        const { hub } = await opened;
        await Promise.race([
          isBatch(events) ? hub.enqueueAll([...events]) : hub.enqueue(events),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("no answer")), CLI_PUBLISH_TIMEOUT_MS);
          }),
        ]);
      } catch {
        // No running gateway: nothing to tell (the revocation feed's note says so).
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    },
    async usageStore(org: string): Promise<UsageStub> {
      opened ??= open();
      const { usage } = await opened;
      return usage.get(usage.idFromName(org));
    },
    async shadowStore(): Promise<ShadowStub> {
      opened ??= open();
      const { shadow } = await opened;
      return shadow.get(shadow.idFromName(SHADOW_OBJECT_NAME));
    },
    reason: (err) => unreachableReason(err, registry),
    async balance(credits: Credits): Promise<number | null> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        opened ??= open();
        const { limiter } = await opened;
        const asked = limiter.get(limiter.idFromName(credits.balance_id)).balance(credits);
        const answer = await Promise.race([
          asked,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("no answer")), CLI_PUBLISH_TIMEOUT_MS);
          }),
        ]);
        return answer.remaining;
      } catch {
        return null;
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    },
    publish: (changes) => send((stub) => stub.publish(changes)),
    publishLegacy: (algorithms) => send((stub) => stub.publishLegacy([...algorithms]), LEGACY_NOTE),
    publishOrg: (org, rateLimit) => send((stub) => stub.publishOrg(org, rateLimit)),
    async publishToken({ hash, record }) {
      await send((stub) => stub.publish([{ kind: "token", hash, record }]));
      if (record.revoked_at !== null)
        await send((_, sessions) => sessions.revokeOpener(`token:${record.id}`, Date.now()), "console session store");
    },
    async close() {
      if (opened) await (await opened.catch(() => undefined))?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
