/**
 * The revocation feed's replicas (src/objects/revocation-feed.ts, issue 25) on their own:
 * the real objects in workerd. The primary copies its log to a replica per region and
 * remembers how far each got; a replica stores the primary's versions, refuses a batch that
 * does not continue its head, and answers `behind` to a poller until its first copy or
 * while it is behind the poller's cursor. (The feed's own log — versions, window, pruning,
 * reset — is test/worker/edge/revocation/feed.test.ts "the feed object".)
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { KeyRecord, RateLimit } from "../../../src/keys/record";
import type { FeedPage } from "../../../src/objects/protocol";
import { FEED_OBJECT_NAME, REGIONS, regionalName } from "../../../src/objects/protocol";
import type { RevocationFeed } from "../../../src/objects/revocation-feed";

afterEach(() => vi.restoreAllMocks());

const ns = () => env.REVOCATION_FEED! as DurableObjectNamespace<RevocationFeed>;
const named = (name: string) => ns().get(ns().idFromName(name));
const primary = () => named(FEED_OBJECT_NAME);
const replica = (region: (typeof REGIONS)[number]) => named(regionalName(FEED_OBJECT_NAME, region));
const h = (n: number) => n.toString(16).padStart(64, "0");
const rec = (id: string) => ({ id }) as unknown as KeyRecord;

describe("the primary and its replicas", () => {
  it("a publish is stored by every region's replica before it answers (nothing missing), with the primary's versions", async () => {
    const hash = h(Date.now());
    const published = await primary().publish([{ hash, record: rec("a") }]);
    expect(published.missing).toEqual([]);
    const status = await primary().replicaStatus();
    for (const r of REGIONS) expect(status.replicas[r]).toBe(published.version);
    for (const r of REGIONS) {
      const page = (await replica(r).since(published.version - 1, 60_000)) as FeedPage;
      expect(page.entries.map((e) => [e.version, e.hash])).toEqual([[published.version, hash]]);
      expect(page.version).toBe(published.version);
    }
  });

  it("an org's limit reaches the replicas too: a new isolate polling a replica gets every org's settings", async () => {
    const org = `org-${crypto.randomUUID()}`;
    const limit: RateLimit = { limit: 7, period_seconds: 60, mode: "exact" };
    const published = await primary().publishOrg(org, limit);
    expect(published.missing).toEqual([]);
    const fresh = (await replica("apac").since(null, 60_000)) as FeedPage;
    expect(fresh.orgs).toContainEqual({ org, rate_limit: limit });
  });

  it("a replica never copied answers `behind` (its poller asks the primary), and asks the primary for its copy", async () => {
    // A replica of a namespace-local name the primary has not reached: simulated by wiping one.
    await runInDurableObject(replica("oc"), (_o, state) => {
      state.storage.sql.exec("DELETE FROM meta");
      state.storage.sql.exec("DELETE FROM changes");
    });
    const page = (await replica("oc").since(null, 60_000)) as FeedPage;
    expect(page).toMatchObject({ behind: true, entries: [] });
    // Its request for a copy goes to the primary (in the background; here, awaited).
    expect(await primary().catchUp("oc", -1)).toBe(true);
    const after = (await replica("oc").since(null, 60_000)) as FeedPage;
    expect(after.behind).toBeUndefined();
    expect(after.orgs).toBeDefined();
  });

  it("a replica behind a poller's cursor answers `behind` rather than a reset", async () => {
    const head = (await primary().replicaStatus()).version;
    const page = (await replica("weur").since(head + 5, 60_000)) as FeedPage;
    expect(page).toMatchObject({ behind: true, reset: false });
  });

  it("replicate: a batch that does not continue the replica's head is refused with the head; a reset replaces everything", async () => {
    const name = regionalName(FEED_OBJECT_NAME, "afr");
    await primary().catchUp("afr");
    const head = (await primary().replicaStatus()).version;
    await runInDurableObject(named(name), (feed: RevocationFeed) => {
      expect(feed.replicate({ reset: false, from: head + 10, to: head + 11, entries: [] })).toBe(head);
      const entry = { version: head + 1, at: Date.now(), hash: h(1), record: rec("x") };
      expect(feed.replicate({ reset: false, from: head, to: head + 1, entries: [entry] })).toBe(head + 1);
      expect(feed.since(head, 60_000).entries.map((e) => e.version)).toEqual([head + 1]);
      expect(feed.replicate({ reset: true, from: null, to: 3, entries: [], orgs: [] })).toBe(3);
      expect(feed.since(null, 60_000)).toMatchObject({ version: 3, entries: [], orgs: [] });
    });
    // Told where the replica is, the primary finds it off its log and sends a fresh copy.
    expect(await primary().catchUp("afr", 3)).toBe(true);
    expect(((await replica("afr").since(null, 60_000)) as FeedPage).version).toBe(head);
  });

  it("the legacy algorithms (issue 22) reach every replica: a new isolate polling any region's replica learns them, a continuing one gets the change", async () => {
    const before = (await primary().replicaStatus()).version;
    const published = await primary().publishLegacy(["sha512", "sha256"]);
    expect(published.missing).toEqual([]);
    for (const r of REGIONS) {
      const fresh = (await replica(r).since(null, 60_000)) as FeedPage;
      expect(fresh.legacy, r).toEqual(["sha512", "sha256"]);
      const next = (await replica(r).since(before, 60_000)) as FeedPage;
      expect(
        next.entries.map((e) => [e.kind, e.record]),
        r,
      ).toEqual([["legacy", ["sha512", "sha256"]]]);
    }
    // A replica's fresh copy (first copy, or one the log no longer continues) carries them too.
    await runInDurableObject(replica("me"), (_o, state) => {
      state.storage.sql.exec("DELETE FROM meta");
      state.storage.sql.exec("DELETE FROM changes");
      state.storage.sql.exec("DELETE FROM legacy");
    });
    expect(await primary().catchUp("me", -1)).toBe(true);
    expect(((await replica("me").since(null, 60_000)) as FeedPage).legacy).toEqual(["sha512", "sha256"]);
    await primary().publishLegacy([]);
    expect(((await replica("wnam").since(null, 60_000)) as FeedPage).legacy).toEqual([]);
  });
});
