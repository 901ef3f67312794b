/**
 * Simulated distance, the revocation feed's replicas (issue 25, docs/revocation.md): a
 * publish is done when every region's replica stored it, and then a revocation lands
 * within REVOCATION_MAX_STALENESS_MS in every region, each region's isolates polling the
 * replica of their own region. A replica that did not store it is named in the admin
 * answer; its region's isolates ask the primary meanwhile, and the primary catches it up.
 * A leak report (issue 23) revokes through the same publish: the same holds for it.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../../../src/index";
import type { Region } from "../../../../src/objects/protocol";
import { FEED_OBJECT_NAME, REGIONS } from "../../../../src/objects/protocol";
import type { RevocationFeed } from "../../../../src/objects/revocation-feed";
import { backgroundContext, mint } from "../../../support/worker-helpers";
import { api } from "../../manage/admin/support";
import { githubReport, keySet, keysUrl, LEAK_TOKEN, leakCall } from "../../manage/leaks/support";
import { freezeClock } from "../revocation/support";
import { isolateIn, Network, replicasCopied, requestFrom } from "./support";

afterEach(() => vi.restoreAllMocks());
beforeEach(replicasCopied);

async function status(e: Parameters<typeof worker.fetch>[1], region: Region, key: string): Promise<number> {
  const { ctx, wait } = backgroundContext(); // a deferred usage flush runs on, unawaited
  const res = await worker.fetch(requestFrom(region, "/x", { headers: { "x-api-key": key } }), e, ctx);
  await res.arrayBuffer();
  await wait();
  return res.status;
}

/** The feed's primary, straight from the binding (not on the simulated network). */
const primary = () => {
  const ns = env.REVOCATION_FEED! as DurableObjectNamespace<RevocationFeed>;
  return ns.get(ns.idFromName(FEED_OBJECT_NAME));
};

describe("a revocation in every region", () => {
  it("is stored by every replica before the admin answer, then refused in all nine regions within 4 s, each polling its own replica", async () => {
    const { key, record } = await mint();
    const advance = freezeClock();
    const net = new Network();
    net.linkObjects();
    const isolates = new Map(REGIONS.map((r) => [r, isolateIn(net, r)]));
    for (const r of REGIONS) expect(await status(isolates.get(r)!, r, key)).toBe(200); // warm everywhere

    const mark = net.now();
    const revoked = await api("DELETE", `/_keygate/keys/${record.id}`, { env: isolateIn(net, "enam") });
    expect(revoked.res.status).toBe(200);
    // The primary copied it to every replica before answering.
    const copies = net.since(mark).filter((c) => c.method === "replicate" && c.endedAt !== undefined);
    expect(new Set(copies.map((c) => c.to))).toEqual(new Set(REGIONS));
    const { version, replicas } = await primary().replicaStatus();
    for (const r of REGIONS) expect(replicas[r]).toBe(version);

    advance(500);
    for (const r of REGIONS) expect(await status(isolates.get(r)!, r, key)).toBe(200); // the window the bound covers
    advance(3_501); // 4,001 ms after the change
    const polls = net.now();
    for (const r of REGIONS) expect(await status(isolates.get(r)!, r, key)).toBe(401);
    const polled = net.since(polls).filter((c) => c.method === "since");
    for (const r of REGIONS) expect(polled.some((c) => c.from === r && c.name === `revocation-feed@${r}`)).toBe(true);
    expect(polled.every((c) => c.from === c.to)).toBe(true);
  });

  it("a replica that cannot store it is named in the admin answer; its region asks the primary meanwhile; the primary catches it up", async () => {
    const { key, record } = await mint();
    const advance = freezeClock();
    vi.spyOn(console, "log").mockImplementation(() => {});
    const net = new Network();
    net.linkObjects();
    const sin = isolateIn(net, "apac");
    const lhr = isolateIn(net, "weur");
    expect(await status(sin, "apac", key)).toBe(200);
    expect(await status(lhr, "weur", key)).toBe(200);

    net.down.add("revocation-feed@apac");
    const revoked = await api("DELETE", `/_keygate/keys/${record.id}`, { env: isolateIn(net, "enam") });
    expect(revoked.res.status).toBe(503);
    expect(revoked.json.detail).toContain("Not yet told: the revocation feed's replicas in apac.");
    advance(4_001);
    expect(await status(lhr, "weur", key)).toBe(401);
    expect(await status(sin, "apac", key)).toBe(401); // from the primary: its replica cannot answer

    net.down.delete("revocation-feed@apac");
    const before = await primary().replicaStatus();
    expect(before.replicas.apac).toBeLessThan(before.version);
    // The primary's retry (its alarm) copies what the replica missed.
    expect(await runDurableObjectAlarm(primary())).toBe(true);
    const after = await primary().replicaStatus();
    expect(after.replicas.apac).toBe(after.version);
  });

  const leakVars = { LEAK_REPORT_TOKEN: LEAK_TOKEN, GITHUB_SECRET_SCANNING_KEYS_URL: keysUrl(keySet()) };
  const reports: [string, (e: Parameters<typeof worker.fetch>[1], key: string) => Promise<number>][] = [
    ["GitHub's signed report", async (e, key) => (await githubReport([{ token: key }], e)).status],
    [
      "a scanner's report (POST /leaks)",
      async (e, key) =>
        (
          await leakCall(
            "POST",
            "",
            { authorization: `Bearer ${LEAK_TOKEN}` },
            { tokens: [key], source: "gitleaks" },
            e,
          )
        ).status,
    ],
  ];
  for (const [name, report] of reports)
    it(`a leak report's revocation goes the same way (${name}): every replica stores it before the intake answers, and every region refuses the key within 4 s`, async () => {
      const { key } = await mint();
      const advance = freezeClock();
      const net = new Network();
      net.linkObjects();
      const isolates = new Map(REGIONS.map((r) => [r, isolateIn(net, r)]));
      for (const r of REGIONS) expect(await status(isolates.get(r)!, r, key)).toBe(200);

      const mark = net.now();
      expect(await report(isolateIn(net, "enam", leakVars), key)).toBe(200);
      const copies = net.since(mark).filter((c) => c.method === "replicate" && c.endedAt !== undefined);
      expect(new Set(copies.map((c) => c.to))).toEqual(new Set(REGIONS));
      const { version, replicas } = await primary().replicaStatus();
      for (const r of REGIONS) expect(replicas[r], r).toBe(version);

      advance(4_001);
      for (const r of REGIONS) expect(await status(isolates.get(r)!, r, key), r).toBe(401);
    });

  it("a scanner's report that a replica could not store is answered 503 naming that region, like the admin API", async () => {
    const { key } = await mint();
    freezeClock();
    vi.spyOn(console, "log").mockImplementation(() => {});
    const net = new Network();
    net.linkObjects();
    net.down.add("revocation-feed@oc");
    const e = isolateIn(net, "enam", { LEAK_REPORT_TOKEN: LEAK_TOKEN });
    const answered = await leakCall(
      "POST",
      "",
      { authorization: `Bearer ${LEAK_TOKEN}` },
      { tokens: [key], source: "gitleaks" },
      e,
    );
    expect(answered.status).toBe(503);
    expect(answered.json.detail).toContain("Not yet told: the revocation feed's replicas in oc.");
  });
});
