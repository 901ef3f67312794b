/**
 * What the management operations need from where they run, built once per request by each
 * runtime: the worker's surfaces (manage/worker.ts: the admin API, the self-service API, the
 * console) and the CLI on local state (cli/backends/local.ts). Runtime-agnostic: the CLI
 * imports it under Node.
 */
import type { LeakAction } from "../config/variables";
import type { Emit } from "../events/types";
import type { KeySettings } from "../keys/issue";
import type { LegacyAlgorithm } from "../keys/legacy";
import type { Failure, LifecycleContext } from "../keys/lifecycle";
import type { Credits, KeyStatus, LeakRecord, RateLimit } from "../keys/record";
import type { KvLike } from "../keys/store/kv";
import type { DeliveriesView, HookView, NewHookRow, NewLinkRow, ShadowSums } from "../objects/protocol";
import type { Refusal } from "./authority";
import type { HolderBounds } from "./bounds";
import type { Principal } from "./principal";
import { actorOf } from "./principal";
import type { ShadowQuery } from "./shadow";
import type { UsageAnswer, UsageQuery } from "./usage";

export interface ManageDeps {
  kv: KvLike;
  settings: KeySettings;
  /** ms since epoch. */
  now: number;
  requestId?: string;
  /** The audit actor instead of the principal's own name (the CLI on local state: "cli"; `npm run dev`: "dev"). */
  actor?: string;
  /** Forget a key hash in this isolate's key cache. */
  purge?: (hash: string) => void;
  /** Tell every isolate of a key change (the revocation feed); throws FeedUnavailable. */
  publish?: LifecycleContext["publish"];
  /** Forget a token hash in this isolate's token cache. */
  purgeToken?: (hash: string) => void;
  /**
   * Tell every isolate of a token change, and end the console sessions a revoked token opened (manage/admin/tokens.ts
   * tokenPublisher).
   */
  tokenChanged?: LifecycleContext["tokenChanged"];
  /** Where portal links are kept (the console's session store); absent: portal links cannot be issued here. */
  portalLinks?: PortalLinkStore;
  /** Apply an org's settings in this isolate / tell every isolate (the revocation feed). */
  orgPurge?: (org: string, rateLimit: RateLimit | null) => void;
  orgPublish?: (org: string, rateLimit: RateLimit | null) => Promise<void>;
  /** Read usage (an org's usage store); absent: usage is not recorded here (503). */
  usage?: (q: UsageQuery) => Promise<UsageAnswer>;
  /** Holders' creation bounds (manage/bounds.ts); absent: holders cannot create keys here (fail closed). */
  bounds?: HolderBounds;
  /** Read report mode's comparisons (the ShadowStore object); absent: not recorded here (503). */
  shadow?: (q: ShadowQuery) => Promise<ShadowSums>;
  /**
   * Tell every isolate which legacy algorithms have pending imported keys (the revocation
   * feed), and this isolate at once; absent: they learn it from KV (docs/migrating.md).
   */
  legacyPublish?: (algorithms: readonly LegacyAlgorithm[]) => Promise<void>;
  /** KV operations a bulk import may spend (a Worker's invocation allows 1,000); absent: unbounded (the CLI). */
  importBudget?: number;
  /** Imports stored at once in a bulk import (default 8). */
  importConcurrency?: number;
  /**
   * A metered key's live balance, as its Durable Object holds it (without spending); null (or a throw, logged) when
   * it cannot be asked now. Absent: balances cannot be read here. Either way views say `remaining: null`.
   */
  balance?: (credits: Credits) => Promise<number | null>;
  /** Tell the webhooks of a change (events/emit.ts: queued on the webhook hub; never throws). Absent: none sent. */
  emit?: Emit;
  /** The webhooks' store (the webhook hub); absent: webhooks cannot be managed here (503). */
  webhooks?: WebhookStore;
  /** Webhook URLs may be http:// or loopback (WEBHOOK_ALLOW_LOOPBACK, or a request to `wrangler dev`). */
  webhookLoopback?: boolean;
  /** LEAKED_KEY_ACTION: what a leak report does to a live key (manage/leaks.ts); absent: revoke. */
  leakAction?: LeakAction;
  /** Tell the key's owner that it was reported leaked (the webhooks' `key.leaked`); absent: not told here. */
  onKeyLeaked?: (event: KeyLeakedEvent) => Promise<void>;
}

/** The webhooks' store (objects/webhooks.ts, the hub), as the management core uses it. */
export interface WebhookStore {
  /** Store a webhook; null when the account already has the most it may. */
  create(row: NewHookRow): Promise<HookView | null>;
  list(): Promise<HookView[]>;
  get(id: string): Promise<HookView | null>;
  remove(id: string): Promise<HookView | null>;
  /** Queue a webhook.test event for one webhook: its id, "disabled", or null when there is no such webhook. */
  test(id: string): Promise<{ event_id: string } | "disabled" | null>;
  deliveries(id: string, limit: number): Promise<DeliveriesView>;
}

/** The `key.leaked` event (issue 21's payload shape): never a plaintext key or a hash. */
export interface KeyLeakedEvent {
  type: "key.leaked";
  timestamp: string;
  data: {
    key_id: string;
    orgs: string[];
    org: string;
    name: string;
    actor: string;
    source: string;
    url: string | null;
    action: LeakRecord["action"];
    status: KeyStatus;
  };
}

/** The portal links' store (the console's session store: manage/console/sessions.ts). */
export interface PortalLinkStore {
  /** Store a link: only its token's hash, and its issuer (revoking that token revokes the link). */
  create(row: NewLinkRow): Promise<void>;
  /** Revoke a link of one of `orgs` (null: any org); the link as revoked, or null when there is none. */
  revoke(id: string, orgs: readonly string[] | null): Promise<unknown | null>;
}

/** The key lifecycle's context for a principal's request. */
export function lifecycleOf(deps: ManageDeps, p: Principal): LifecycleContext {
  return {
    kv: deps.kv,
    settings: deps.settings,
    actor: deps.actor ?? actorOf(p),
    now: deps.now,
    ...(deps.requestId ? { requestId: deps.requestId } : {}),
    ...(deps.purge ? { purge: deps.purge } : {}),
    ...(deps.publish ? { publish: deps.publish } : {}),
    ...(deps.emit ? { emit: deps.emit } : {}),
  };
}

/** An authority refusal as an operation's failure; `id`: the key a not_found is about. */
export function failure(r: Refusal, id?: string): { ok: false } & Failure {
  switch (r.error) {
    case "not_found":
      return { ok: false, error: "not_found", message: id === undefined ? "not found" : `no key with id "${id}"` };
    case "invalid":
      return { ok: false, error: "invalid", errors: r.errors };
    case "forbidden":
      return { ok: false, error: "forbidden", message: r.message, ...(r.field ? { field: r.field } : {}) };
  }
}
