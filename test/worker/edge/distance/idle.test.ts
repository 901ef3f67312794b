/**
 * Simulated distance, the revocation feed's freshness wait (issue 25): a request after 10 s
 * without traffic waits for at most one in-region round trip — the region's replica, or
 * nothing when another isolate of its location polled recently (the location's snapshot,
 * Cache API) — and never for an object in another region. Cross-region calls are held
 * (support.ts): a request that waited for one would not be answered.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../../../src/index";
import { clock } from "../../../../src/lib/clock";
import { backgroundContext, mint } from "../../../support/worker-helpers";
import { freezeClock } from "../revocation/support";
import { isolateIn, Network, replicasCopied, requestFrom } from "./support";

afterEach(() => vi.restoreAllMocks());

/** Send through the gateway; the answer as soon as it comes (background work: `settled`). */
async function answer(e: Parameters<typeof worker.fetch>[1], req: Request) {
  const { ctx, wait } = backgroundContext(); // a deferred usage flush runs on, unawaited
  const res = await worker.fetch(req, e, ctx);
  await res.arrayBuffer();
  return { res, settled: wait };
}

describe("a request after 10 s idle", () => {
  it("waits for one in-region round trip (its region's replica) and nothing across regions", async () => {
    const { key } = await mint();
    await replicasCopied();
    const advance = freezeClock();
    const net = new Network();
    const lhr = isolateIn(net, "weur");
    const warm = await answer(lhr, requestFrom("weur", "/x", { headers: { "x-api-key": key } }));
    expect(warm.res.status).toBe(200);
    await warm.settled();

    advance(10_000);
    // Every call but one poll of the weur replica waits for release(): a request that
    // waited for any other (another object, another region, a second round trip) would
    // not be answered.
    net.hold = true;
    net.holdIf = (c) => !(c.method === "since" && c.name === "revocation-feed@weur");
    const mark = net.now();
    const idle = await answer(lhr, requestFrom("weur", "/x", { headers: { "x-api-key": key } }));
    expect(idle.res.status).toBe(200);
    const during = net.since(mark);
    expect(during.filter((c) => !c.held).map((c) => `${c.method} ${c.name} (${c.from}→${c.to})`)).toEqual([
      "since revocation-feed@weur (weur→weur)",
    ]);
    // Nothing it started goes across regions (its usage flush goes to its own location).
    expect(during.filter((c) => c.from !== c.to)).toEqual([]);
    expect(lhr.state.feed.syncedAt).toBe(clock.now()); // decided on a poll of this instant
    net.release();
    await idle.settled();
  });

  it("a second isolate of the same location catches up from the location's snapshot: no object call at all", async () => {
    const { key } = await mint();
    await replicasCopied();
    const advance = freezeClock();
    const net = new Network();
    const first = isolateIn(net, "weur");
    const second = isolateIn(net, "weur");
    await (await answer(first, requestFrom("weur", "/x", { headers: { "x-api-key": key } }))).settled();
    await (await answer(second, requestFrom("weur", "/x", { headers: { "x-api-key": key } }))).settled();
    advance(10_000);
    // The first isolate's next request polls the replica and leaves the snapshot…
    await (await answer(first, requestFrom("weur", "/x", { headers: { "x-api-key": key } }))).settled();
    advance(500);
    net.hold = true;
    const mark = net.now();
    // …which the second, idle for 10.5 s, reads instead of polling.
    const out = await answer(second, requestFrom("weur", "/x", { headers: { "x-api-key": key } }));
    expect(out.res.status).toBe(200);
    expect(net.since(mark)).toEqual([]);
    expect(second.state.feed.syncedAt).toBe(first.state.feed.syncedAt);
    // A location elsewhere has a snapshot of its own: its isolate polls its own region's replica.
    const sin = isolateIn(net, "apac");
    await (await answer(sin, requestFrom("apac", "/x", { headers: { "x-api-key": key } }))).settled();
    expect(net.since(mark).map((c) => `${c.name} ${c.from}→${c.to}`)).toContain("revocation-feed@apac apac→apac");
    expect(net.since(mark).filter((c) => c.held)).toEqual([]);
    net.release();
  });
});
