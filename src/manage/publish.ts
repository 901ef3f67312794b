/**
 * The lifecycle's `publish` hook for a feed binding (admin API, CLI local mode). A failure
 * is a FeedUnavailable: the change is stored, the admin API answers 503 so the caller
 * repeats it (a repeated revoke or update publishes again).
 */
import type { KeyRecord } from "../keys/record";
import type { RevocationFeed } from "../objects/revocation-feed";
import { publishChanges } from "../edge/revocation/follower";

export class FeedUnavailable extends Error {
  override name = "FeedUnavailable";
}

export function publisherFor(
  ns: DurableObjectNamespace<RevocationFeed> | undefined,
): { publish?: (changes: { hash: string; record: KeyRecord }[]) => Promise<void> } {
  if (!ns) return {};
  return {
    publish: async (changes) => {
      try {
        await publishChanges(ns, changes);
      } catch (err) {
        throw new FeedUnavailable(err instanceof Error ? err.message : String(err));
      }
    },
  };
}
