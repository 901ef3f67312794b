/**
 * Revocation everywhere within the bound (docs/revocation.md): two gateway isolates in one
 * workerd — two env objects, each with its own key cache and feed follower (ISOLATE_STATE),
 * sharing the real local KV and the real RevocationFeed Durable Object — with time injected
 * through clock.now. A change made through one isolate's admin API is refused by the other
 * within REVOCATION_MAX_STALENESS_MS (4 s), even while the other's KV reads would still
 * return the old record (KV's edge cache, simulated by a KV wrapper that keeps serving a
 * snapshot).
 */

import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../../../src/env";
import { hashKey } from "../../../../src/keys/hash";
import type { KeyRecord } from "../../../../src/keys/record";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import type { FeedPage } from "../../../../src/objects/protocol";
import { FEED_OBJECT_NAME } from "../../../../src/objects/protocol";
import type { RevocationFeed } from "../../../../src/objects/revocation-feed";
import { mint, patchRecord, send } from "../../../support/worker-helpers";
import { api } from "../../manage/admin/support";
import { brokenFeed, edgeCachedKv, freezeClock, isolate } from "./support";

afterEach(() => vi.restoreAllMocks());

const status = async (e: Env, key: string) => (await send("/x", { headers: { "x-api-key": key } }, e)).status;

describe("two isolates, one feed", () => {
  it("a key revoked through isolate A's admin API is refused by isolate B (warm cache, stale edge KV) within 4 s", async () => {
    const { key, record } = await mint();
    const advance = freezeClock(); // after minting: the key's created_at is not in the frozen future
    const hash = await hashKey(key);
    const a = isolate();
    const b = isolate({ KEYS: await edgeCachedKv(hash) });
    expect(await status(a, key)).toBe(200);
    expect(await status(b, key)).toBe(200); // B's cache is warm now

    const revoked = await api("DELETE", `/_keygate/keys/${record.id}`, { env: a });
    expect(revoked.res.status).toBe(200);
    expect(await status(a, key)).toBe(401); // at once where the change was made

    // B has not polled since the change (its last poll was at the same instant): its cache
    // still holds the key. This is the window the bound covers.
    advance(500);
    expect(await status(b, key)).toBe(200);
    // No request for a while, then one at the bound: it waits for a poll and is refused.
    advance(3_501); // 4,001 ms after the change
    expect(await status(b, key)).toBe(401);
    // Its cache expired long after, B's KV (the edge copy) still says "active": the
    // published record wins over the older copy.
    advance(31_000);
    expect(await status(b, key)).toBe(401);
    expect(b.state.feed.overrides.get(hash)?.record.revoked_at).not.toBeNull();
  });

  it("with steady traffic B drops the key at its next poll (≤ REVOCATION_POLL_MS + a round trip)", async () => {
    const { key, record } = await mint();
    const advance = freezeClock(); // after minting: the key's created_at is not in the frozen future
    const a = isolate();
    const b = isolate();
    expect(await status(b, key)).toBe(200);
    await api("PATCH", `/_keygate/keys/${record.id}`, { env: a, body: { enabled: false } });
    advance(1_000); // a poll is due: this request starts it (send() waits for waitUntil)
    await status(b, key);
    expect(await status(b, key)).toBe(401);
  });

  it("disable, scope changes and rotation (grace 0) reach B; re-enabling too", async () => {
    const { key, record } = await mint({ scopes: ["read"] });
    const advance = freezeClock();
    const a = isolate({ ROUTES: JSON.stringify([{ path: "/admin-only/*", scopes: ["admin"] }]) });
    const b = isolate({ ROUTES: JSON.stringify([{ path: "/admin-only/*", scopes: ["admin"] }]) });
    const at = async (e: Env, path: string) => (await send(path, { headers: { "x-api-key": key } }, e)).status;
    expect(await at(b, "/admin-only/x")).toBe(403);
    await api("PATCH", `/_keygate/keys/${record.id}`, { env: a, body: { scopes: ["read", "admin"] } });
    advance(4_001);
    expect(await at(b, "/admin-only/x")).toBe(200);
    await api("PATCH", `/_keygate/keys/${record.id}`, { env: a, body: { enabled: false } });
    advance(4_001);
    expect(await at(b, "/x")).toBe(401);
    await api("PATCH", `/_keygate/keys/${record.id}`, { env: a, body: { enabled: true } });
    advance(4_001);
    expect(await at(b, "/x")).toBe(200);
    const rotated = await api("POST", `/_keygate/keys/${record.id}/rotate`, { env: a, body: { grace_seconds: 0 } });
    expect(rotated.res.status).toBe(201);
    advance(4_001);
    expect(await at(b, "/x")).toBe(401);
    expect((await send("/x", { headers: { "x-api-key": rotated.json.key } }, b)).status).toBe(200);
  });

  it("the end of a rotation's grace is exact in every isolate (expires_at, checked per request)", async () => {
    const { key, record } = await mint();
    const advance = freezeClock(); // after minting: the key's created_at is not in the frozen future
    const a = isolate();
    const b = isolate();
    expect(await status(b, key)).toBe(200);
    await api("POST", `/_keygate/keys/${record.id}/rotate`, { env: a, body: { grace_seconds: 60 } });
    advance(59_999);
    expect(await status(b, key)).toBe(200);
    advance(1);
    expect(await status(b, key)).toBe(401);
  });

  it("a key created through A works at once in B even where KV still answers 'no such key'", async () => {
    freezeClock();
    const a = isolate();
    const created = await api("POST", "/_keygate/keys", { env: a, body: { orgs: ["acme"] } });
    const hash = await hashKey(created.json.key);
    // B's edge copy of this key is the miss from before the create.
    const stale = await (async () => {
      const real = env.KEYS;
      return new Proxy(real, {
        get(target, prop) {
          if (prop === "get")
            return (name: string, o?: unknown) =>
              name === kvKey.record(hash)
                ? Promise.resolve(null)
                : (target.get as (n: string, o?: unknown) => Promise<unknown>)(name, o);
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as KVNamespace;
    })();
    const b = isolate({ KEYS: stale });
    expect(await status(b, created.json.key)).toBe(200);
  });

  it("a new isolate learns of recent changes before its first decision (it waits for its first poll)", async () => {
    const { key, record } = await mint();
    freezeClock();
    const hash = await hashKey(key);
    const edge = await edgeCachedKv(hash); // taken before the revocation
    await api("DELETE", `/_keygate/keys/${record.id}`, { env: isolate() });
    const fresh = isolate({ KEYS: edge });
    expect(await status(fresh, key)).toBe(401);
    expect(fresh.state.feed.cursor).not.toBeNull();
  });
});

describe("the feed unreachable", () => {
  it("requests are still served (never waiting on every request), the failure is logged, and cached keys are trusted only up to CACHE_TTL_MS", async () => {
    const logs: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void logs.push(line));
    vi.spyOn(console, "error").mockImplementation((line: string) => void logs.push(line));
    const { key } = await mint();
    const advance = freezeClock();
    const b = isolate({ REVOCATION_FEED: brokenFeed() });
    expect(await status(b, key)).toBe(200);
    expect(b.state.feed.failed).toBe(true);
    expect(logs.some((l) => l.includes("revocation feed unreachable"))).toBe(true);
    await patchRecord(key, { revoked_at: new Date(clock.now()).toISOString() }); // a change the feed never carried
    advance(29_999);
    expect(await status(b, key)).toBe(200); // inside the documented stale bound
    advance(1);
    expect(await status(b, key)).toBe(401); // and never past it
  });

  it("the admin API answers 503 when it cannot publish; repeating the revoke publishes it", async () => {
    const { key, record } = await mint();
    freezeClock();
    const hash = await hashKey(key);
    vi.spyOn(console, "log").mockImplementation(() => {});
    const before = (await feedSince(null)).version;
    const first = await api("DELETE", `/_keygate/keys/${record.id}`, {
      env: isolate({ REVOCATION_FEED: brokenFeed() }),
    });
    expect(first.res.status).toBe(503);
    expect(first.json.detail).toMatch(/stored.*revocation feed/);
    expect((await feedSince(before)).entries.filter((e) => e.hash === hash)).toEqual([]);
    const again = await api("DELETE", `/_keygate/keys/${record.id}`, { env: isolate() });
    expect(again.res.status).toBe(200);
    const published = (await feedSince(before)).entries.filter((e) => e.hash === hash);
    expect(published).toHaveLength(1);
    expect((published[0]!.record as KeyRecord).revoked_at).not.toBeNull();
  });
});

async function feedSince(cursor: number | null, name = FEED_OBJECT_NAME): Promise<FeedPage> {
  const ns = env.REVOCATION_FEED!;
  return (await ns.get(ns.idFromName(name)).since(cursor, 3_600_000)) as FeedPage;
}

describe("every lifecycle change is published", () => {
  it("create, import, update, revoke and rotate each append the key's hash and its new record", async () => {
    freezeClock();
    const a = isolate();
    const before = (await feedSince(null)).version;
    const created = await api("POST", "/_keygate/keys", { env: a, body: { orgs: ["acme"] } });
    const imported = await api("POST", "/_keygate/keys/import", {
      env: a,
      body: { orgs: ["acme"], key: `legacy-${crypto.randomUUID()}` },
    });
    await api("PATCH", `/_keygate/keys/${created.json.id}`, { env: a, body: { name: "renamed" } });
    const rotated = await api("POST", `/_keygate/keys/${created.json.id}/rotate`, {
      env: a,
      body: { grace_seconds: 10 },
    });
    await api("DELETE", `/_keygate/keys/${imported.json.id}`, { env: a });
    const page = await feedSince(before);
    const seen = page.entries.map((e) => [
      (e.record as KeyRecord).id,
      (e.record as KeyRecord).name,
      (e.record as KeyRecord).revoked_at !== null,
    ]);
    expect(seen).toEqual([
      [created.json.id, "", false],
      [imported.json.id, "", false],
      [created.json.id, "renamed", false],
      [rotated.json.id, "renamed", false],
      [created.json.id, "renamed", false],
      [imported.json.id, "", true],
    ]);
    expect(page.entries[0]!.hash).toBe(await hashKey(created.json.key));
    const versions = page.entries.map((e) => e.version);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    expect(page.version).toBe(versions[versions.length - 1]);
  });
});

describe("the feed object", () => {
  const stub = (name: string) => env.REVOCATION_FEED!.get(env.REVOCATION_FEED!.idFromName(name));
  const rec = (id: string) => ({ id }) as unknown as KeyRecord;
  const h = (n: number) => n.toString(16).padStart(64, "0");

  it("versions only grow; since(cursor) returns what came after it, in order", async () => {
    const s = stub(`t-${crypto.randomUUID()}`);
    const v1 = (await s.publish([{ hash: h(1), record: rec("a") }])).version;
    const v2 = (
      await s.publish([
        { hash: h(2), record: rec("b") },
        { hash: h(3), record: rec("c") },
      ])
    ).version;
    expect(v2).toBe(v1 + 2);
    const page = (await s.since(v1, 60_000)) as FeedPage;
    expect(page.entries.map((e) => e.hash)).toEqual([h(2), h(3)]);
    expect(page).toMatchObject({ version: v2, more: false, reset: false });
    expect(((await s.since(v2, 60_000)) as FeedPage).entries).toEqual([]);
  });

  it("a new isolate (no cursor) gets the entries of the window; a cursor past the pruned log or ahead of the feed is a reset", async () => {
    const advance = freezeClock();
    const s = stub(`t-${crypto.randomUUID()}`);
    await s.publish([{ hash: h(1), record: rec("old") }]);
    advance(10 * 60_000);
    const v = (await s.publish([{ hash: h(2), record: rec("new") }])).version;
    const initial = (await s.since(null, 5 * 60_000)) as FeedPage;
    expect(initial.entries.map((e) => e.hash)).toEqual([h(2)]);
    expect(initial).toMatchObject({ version: v, reset: false });
    expect(((await s.since(v + 100, 5 * 60_000)) as FeedPage).reset).toBe(true);
    advance(25 * 3_600_000); // past retention: the next publish prunes both
    const v3 = (await s.publish([{ hash: h(3), record: rec("newest") }])).version;
    expect(v3).toBe(v + 1);
    const gap = (await s.since(v - 1, 5 * 60_000)) as FeedPage;
    expect(gap.reset).toBe(true);
    expect(gap.entries.map((e) => e.hash)).toEqual([h(3)]);
  });

  it("refuses a change that does not name a key hash", async () => {
    await runInDurableObject(stub(`t-${crypto.randomUUID()}`), async (feed: RevocationFeed) => {
      await expect(feed.publish([{ hash: "not-a-hash", record: rec("x") }])).rejects.toThrow(/key hash/);
    });
  });
});
