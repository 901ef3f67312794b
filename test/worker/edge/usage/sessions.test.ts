/**
 * Sessions count like keys (issue 13, building on issue 11's sessions): a session's
 * requests are counted in its org's usage (with no key: keyId null, so a key filter leaves
 * them out), and an org-wide rate limit set with PUT /_keygate/orgs/:org limits the org's
 * sessions too, in one budget shared with the org's keys. Through the real worker, the
 * real UsageStore and KeyRateLimiter Durable Objects, in front of the real origin.
 */

import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ISOLATE_STATE, newIsolateState } from "../../../../src/edge/gateway/isolate";
import { SESSION_KEY_ID } from "../../../../src/edge/usage/counter";
import type { Env } from "../../../../src/env";
import { clock } from "../../../../src/lib/clock";
import { deliverUsage, makeEnv, send, through } from "../../../support/worker-helpers";
import { api, createViaApi, mintToken, TOKEN, uniqueOrg } from "../../manage/admin/support";
import { claims, hs256, SECRET } from "../sessions/support";

afterEach(() => vi.restoreAllMocks());

const gw = () => makeEnv({ ADMIN_TOKEN: TOKEN, SESSION_JWT_SECRET: SECRET });
/** Flush and have the location's aggregator forward (what happens within USAGE_FLUSH_MS). */
const flush = () => deliverUsage();
const bySession = (jwt: string) => through("/v1/x", { headers: { authorization: `Bearer ${jwt}` } }, gw());
const byKey = (key: string) => through("/v1/x", { headers: { "x-api-key": key } }, gw());

describe("a session's requests in the org's usage", () => {
  it("forwarded session requests are counted for the session's org, with no key, after a flush", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await flush(); // nothing of this org pending from before
    const jwt = await hs256(claims({ sub: "user_usage", org_slug: org }));
    for (let i = 0; i < 3; i++) {
      const out = await bySession(jwt);
      expect(out.res.status).toBe(200);
      expect(out.calls[0]!.headers["x-auth-method"]).toBe("session"); // really a session, not a key
    }
    expect((await byKey(k.key)).res.status).toBe(200);
    expect((await api("GET", `/_keygate/usage?org=${org}`)).json.totals.requests).toBe(0); // pending in the isolate
    await flush();
    const all = await api("GET", `/_keygate/usage?org=${org}`);
    expect(all.json.totals).toEqual({ requests: 4, forwarded: 4, rejected: 0, rejected_by_status: {} });
    // The key's own usage leaves the session's three out: they have no key.
    expect((await api("GET", `/_keygate/usage?org=${org}&key=${k.id}`)).json.totals).toMatchObject({
      requests: 1,
      forwarded: 1,
    });
    // Stored as the org's keyless (session) rows, not under any key's id.
    const stub = env.USAGE_STORE!.get(env.USAGE_STORE!.idFromName(org));
    const rows = await runInDurableObject(stub, (_store, state) =>
      state.storage.sql.exec("SELECT key_id, SUM(count) AS n FROM usage GROUP BY key_id ORDER BY key_id").toArray(),
    );
    expect(rows).toEqual(
      [
        { key_id: SESSION_KEY_ID, n: 3 },
        { key_id: k.id, n: 1 },
      ].sort((x, y) => (x.key_id < y.key_id ? -1 : 1)),
    );
    // And they are not another org's.
    expect((await api("GET", `/_keygate/usage?org=${uniqueOrg()}`)).json.totals.requests).toBe(0);
  });
});

describe("an org-wide rate limit and sessions", () => {
  it("limits the org's sessions with the org's RateLimit fields, in one budget shared with its keys", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    await flush();
    const put = await api("PUT", `/_keygate/orgs/${org}`, { body: { rate_limit: { limit: 3, period_seconds: 600 } } });
    expect(put.res.status).toBe(200);
    const jwt = await hs256(claims({ sub: "user_limited", org_slug: org }));

    const first = await byKey(k.key); // the key spends one of the org's three
    expect(first.res.status).toBe(200);
    const s1 = await bySession(jwt);
    expect(s1.res.status).toBe(200);
    expect(s1.res.headers.get("ratelimit-policy")).toBe('"org";q=3;w=600');
    expect(s1.res.headers.get("ratelimit")).toMatch(/^"org";r=1;t=\d+$/);
    expect((await bySession(jwt)).res.status).toBe(200);

    const refused = await bySession(jwt); // the fourth request of the org: over its limit
    expect(refused.res.status).toBe(429);
    expect(refused.calls).toHaveLength(0);
    expect(refused.res.headers.get("ratelimit-policy")).toBe('"org";q=3;w=600');
    expect(refused.res.headers.get("ratelimit")).toMatch(/^"org";r=0;t=\d+$/);
    expect(Number(refused.res.headers.get("retry-after"))).toBeGreaterThan(0);
    // The org's keys are out of budget too: the sessions spent it.
    const keyRefused = await byKey(k.key);
    expect(keyRefused.res.status).toBe(429);
    expect(keyRefused.calls).toHaveLength(0);
    // Another org's session is not limited by it.
    const other = await bySession(await hs256(claims({ sub: "user_other", org_slug: uniqueOrg() })));
    expect(other.res.status).toBe(200);
    expect(other.res.headers.has("ratelimit-policy")).toBe(false);

    // The refusals count in the org's usage like a key's.
    await flush();
    expect((await api("GET", `/_keygate/usage?org=${org}`)).json.totals).toEqual({
      requests: 5,
      forwarded: 3,
      rejected: 2,
      rejected_by_status: { "429": 2 },
    });
  });
});

describe("an org limit set by the org's own token reaches another isolate's sessions", () => {
  const isolate = (): Env => Object.assign(gw(), { [ISOLATE_STATE]: newIsolateState(100) });

  it("a write token for the org sets it through isolate A; isolate B limits the org's sessions within the revocation bound", async () => {
    let now = Date.now();
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const org = uniqueOrg();
    const tok = await mintToken({ orgs: [org], role: "write" });
    const jwt = await hs256(claims({ sub: "user_b", org_slug: org }));
    const a = isolate();
    const b = isolate();
    const viaB = () => send("/v1/x", { headers: { authorization: `Bearer ${jwt}` } }, b);
    expect((await viaB()).headers.has("ratelimit-policy")).toBe(false); // B knows no limit yet
    const put = await api("PUT", `/_keygate/orgs/${org}`, {
      env: a,
      token: tok.token,
      body: { rate_limit: { limit: 1, period_seconds: 600 } },
    });
    expect(put.res.status).toBe(200);
    now += 4_001;
    const first = await viaB();
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-policy")).toBe('"org";q=1;w=600');
    const second = await viaB();
    expect(second.status).toBe(429);
    expect(second.headers.get("ratelimit")).toMatch(/^"org";r=0;t=\d+$/);
  });
});
