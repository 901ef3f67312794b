/**
 * Scoped admin tokens on the revocation feed (issue 18, rule 8): a token revoked through
 * one isolate's admin API is refused by another isolate within the feed's bound
 * (REVOCATION_MAX_STALENESS_MS, 4 s) — while that isolate's token cache is warm and its KV
 * still answers the token's record from before the revocation. Two isolates as in
 * feed.test.ts (support.ts): two env objects with their own caches and feed followers,
 * sharing the real local KV and the real RevocationFeed object; time injected.
 */

import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../../../src/env";
import { hashKey } from "../../../../src/keys/hash";
import { kvKey } from "../../../../src/keys/store/kv";
import type { FeedPage } from "../../../../src/objects/protocol";
import { FEED_OBJECT_NAME } from "../../../../src/objects/protocol";
import { api, mintToken, uniqueOrg } from "../../manage/admin/support";
import { brokenFeed, edgeCachedKv, freezeClock, isolate } from "./support";

afterEach(() => vi.restoreAllMocks());

/** An admin API call with a scoped token, through isolate `e`: its status. */
const listWith = async (e: Env, token: string, org: string) =>
  (await api("GET", `/_keygate/keys?org=${org}`, { token, env: e })).res.status;

describe("a revoked admin token, everywhere within the bound", () => {
  it("is refused by isolate B (warm cache, stale KV) within 4 s of its revocation through A", async () => {
    const org = uniqueOrg();
    const minted = await mintToken({ orgs: [org], role: "read" });
    const advance = freezeClock();
    const hash = await hashKey(minted.token);
    const a = isolate();
    const b = isolate({ KEYS: await edgeCachedKv(hash, kvKey.token(hash)) });
    expect(await listWith(a, minted.token, org)).toBe(200);
    expect(await listWith(b, minted.token, org)).toBe(200); // B's token cache is warm now

    expect((await api("DELETE", `/_keygate/tokens/${minted.id}`, { env: a })).res.status).toBe(200);
    expect(await listWith(a, minted.token, org)).toBe(401); // at once where it was revoked

    advance(500);
    expect(await listWith(b, minted.token, org)).toBe(200); // the window the bound covers
    advance(3_501); // 4,001 ms after the revocation
    expect(await listWith(b, minted.token, org)).toBe(401);
    // B's cache expired since; its KV copy still says "active": the published record wins.
    advance(31_000);
    expect(await listWith(b, minted.token, org)).toBe(401);
    expect(b.state.feed.tokens.get(hash)?.record.revoked_at).not.toBeNull();
  });

  it("a new isolate applies recent token revocations before its first decision", async () => {
    const org = uniqueOrg();
    const minted = await mintToken({ orgs: [org], role: "read" });
    const hash = await hashKey(minted.token);
    const stale = await edgeCachedKv(hash, kvKey.token(hash));
    await api("DELETE", `/_keygate/tokens/${minted.id}`, { env: isolate() });
    expect(await listWith(isolate({ KEYS: stale }), minted.token, org)).toBe(401);
  });

  it("the feed carries the token's record; a token created through A works at once in B", async () => {
    const org = uniqueOrg();
    const ns = env.REVOCATION_FEED!;
    const before = ((await ns.get(ns.idFromName(FEED_OBJECT_NAME)).since(null, 3_600_000)) as FeedPage).version;
    const a = isolate();
    const created = await api("POST", "/_keygate/tokens", { env: a, body: { name: "t", orgs: [org], role: "read" } });
    expect(created.res.status).toBe(201);
    const page = (await ns.get(ns.idFromName(FEED_OBJECT_NAME)).since(before, 3_600_000)) as FeedPage;
    const hash = await hashKey(created.json.token);
    expect(page.entries).toEqual([
      expect.objectContaining({
        kind: "token",
        hash,
        record: expect.objectContaining({ id: created.json.id, revoked_at: null }),
      }),
    ]);
    expect(JSON.stringify(page.entries)).not.toContain(created.json.token);
    expect(await listWith(isolate(), created.json.token, org)).toBe(200);
  });

  it("feed unreachable: the revocation is stored, answered 503 (repeat it); the repeat publishes", async () => {
    const org = uniqueOrg();
    const minted = await mintToken({ orgs: [org], role: "read" });
    const down = isolate({ REVOCATION_FEED: brokenFeed() });
    const first = await api("DELETE", `/_keygate/tokens/${minted.id}`, { env: down });
    expect(first.res.status).toBe(503);
    expect(first.json.detail).toContain("Repeat the request");
    expect(await listWith(isolate(), minted.token, org)).toBe(401); // stored
    const ns = env.REVOCATION_FEED!;
    const before = ((await ns.get(ns.idFromName(FEED_OBJECT_NAME)).since(null, 3_600_000)) as FeedPage).version;
    expect((await api("DELETE", `/_keygate/tokens/${minted.id}`, { env: isolate() })).res.status).toBe(200);
    const page = (await ns.get(ns.idFromName(FEED_OBJECT_NAME)).since(before, 3_600_000)) as FeedPage;
    expect(page.entries.map((e) => e.kind)).toEqual(["token"]);
  });
});
