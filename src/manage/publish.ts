/**
 * Telling every isolate of a change: the management side publishes on the revocation feed
 * (objects/revocation-feed.ts; the edge follows it: edge/revocation/follower.ts) every key,
 * scoped admin token and org-limit change it stores, and a revoked token also ends the
 * console sessions it opened. The feed's primary answers once every region's replica has
 * stored the change, or says which did not. A failure — the primary unreachable, or a
 * replica that did not store it in time — is a FeedUnavailable naming what was not told:
 * the change is stored, the surface answers 503 so the caller repeats it (a repeated revoke
 * or update publishes again; the primary also keeps retrying a lagging replica by itself).
 */
import { feedStub } from "../edge/revocation/follower";
import type { Env } from "../env";
import type { KeyRecord, RateLimit, TokenRecord } from "../keys/record";
import { actor } from "../keys/store/kv";
import { clock } from "../lib/clock";
import type { FeedChange, PublishResult, Region } from "../objects/protocol";
import type { RevocationFeed } from "../objects/revocation-feed";
import { revokeOpener } from "./console/sessions";

/** Bound on a publish's wait for the object. */
export const PUBLISH_TIMEOUT_MS = 5_000;

export class FeedUnavailable extends Error {
  override name = "FeedUnavailable";
  constructor(
    message: string,
    /** The regions whose replica did not store the change (empty: the feed itself was not reached). */
    readonly regions: Region[] = [],
  ) {
    super(message);
  }
}

/** A publish some replicas missed: the primary has it, those regions' isolates do not yet. */
class ReplicasMissed extends Error {
  constructor(readonly regions: Region[]) {
    super(`the revocation feed's replicas in ${regions.join(", ")} did not store the change in time`);
  }
}

function stored(result: PublishResult): void {
  if (result.missing.length > 0) throw new ReplicasMissed(result.missing);
}

async function within<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the revocation feed did not answer within ${PUBLISH_TIMEOUT_MS} ms`)),
      PUBLISH_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Append changes to the feed; throws when the primary cannot be reached in time, or a replica did not store them. */
export async function publishChanges(ns: DurableObjectNamespace<RevocationFeed>, changes: FeedChange[]): Promise<void> {
  if (changes.length === 0) return;
  stored(await within(Promise.resolve(feedStub(ns).publish(changes))));
}

/** Publish an org's rate limit (null: removed); throws like publishChanges. */
export async function publishOrgLimit(
  ns: DurableObjectNamespace<RevocationFeed>,
  org: string,
  rateLimit: RateLimit | null,
): Promise<void> {
  stored(await within(Promise.resolve(feedStub(ns).publishOrg(org, rateLimit))));
}

/** A failure of `publish` as the surfaces answer it (FeedUnavailable: 503, repeat the request). */
async function unavailableOnFailure(publish: () => Promise<void>): Promise<void> {
  try {
    await publish();
  } catch (err) {
    throw new FeedUnavailable(
      err instanceof Error ? err.message : String(err),
      err instanceof ReplicasMissed ? err.regions : [],
    );
  }
}

/** The key lifecycle's `publish` hook for a feed binding (none without one). */
export function publisherFor(ns: DurableObjectNamespace<RevocationFeed> | undefined): {
  publish?: (changes: { hash: string; record: KeyRecord }[]) => Promise<void>;
} {
  if (!ns) return {};
  return { publish: (changes) => unavailableOnFailure(() => publishChanges(ns, changes)) };
}

/** The org operations' `publish` hook for a feed binding (none without one). */
export function orgPublisherFor(ns: DurableObjectNamespace<RevocationFeed> | undefined): {
  orgPublish?: (org: string, rateLimit: RateLimit | null) => Promise<void>;
} {
  if (!ns) return {};
  return { orgPublish: (org, rateLimit) => unavailableOnFailure(() => publishOrgLimit(ns, org, rateLimit)) };
}

/** The legacy algorithms with pending imported keys (docs/migrating.md), on the feed; throws FeedUnavailable. */
export function publishLegacy(
  ns: DurableObjectNamespace<RevocationFeed>,
  algorithms: readonly string[],
): Promise<void> {
  return unavailableOnFailure(async () =>
    stored(await within(Promise.resolve(feedStub(ns).publishLegacy([...algorithms])))),
  );
}

/**
 * The token operations' `tokenChanged` (keys/token.ts): publish the change on the feed, and
 * for a revocation end every console session the token opened (and the portal links it
 * issued).
 */
export function tokenPublisher(
  env: Pick<Env, "REVOCATION_FEED" | "CONSOLE_SESSIONS">,
): (change: { hash: string; record: TokenRecord }) => Promise<void> {
  return ({ hash, record }) =>
    unavailableOnFailure(async () => {
      if (env.REVOCATION_FEED) await publishChanges(env.REVOCATION_FEED, [{ kind: "token", hash, record }]);
      if (record.revoked_at !== null && env.CONSOLE_SESSIONS)
        await revokeOpener(env.CONSOLE_SESSIONS, actor.token(record.id), clock.now());
    });
}
