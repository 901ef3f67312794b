/**
 * Webhook delivery (docs/webhooks.md) through the real worker, the real webhook hub and the
 * real origin as the receiver: every management change told as its event, signed so that
 * the Standard Webhooks specification's own library verifies it; at least once (retried
 * after a 500 on the schedule, stopped after a success, failed and visible when retries
 * run out), in order per key, nothing for another org's key to a token's webhook; a webhook
 * failing for 5 days (or answering 410) disabled with an audit event; payloads never carry
 * a key or its hash; and no receiver on any request's path.
 *
 * The clock is moved past the real one (support.ts future()): attempts happen when the
 * test runs the hub's alarm (deliver()), at the instants it chooses.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { keyEvent } from "../../../../src/events/types";
import worker from "../../../../src/index";
import { hashKey } from "../../../../src/keys/hash";
import { clock } from "../../../../src/lib/clock";
import { DISABLE_AFTER_MS, RETRY_SCHEDULE_MS } from "../../../../src/objects/webhooks";
import { backgroundContext } from "../../../support/worker-helpers";
import { requestFrom } from "../../edge/distance/support";
import { api, mintToken, uniqueOrg } from "../admin/support";
import { advance, createHook, deliver, events, future, hooksEnv, hub, received, receiver } from "./support";

afterEach(() => vi.restoreAllMocks());

const E = hooksEnv();
const admin = (method: string, path: string, body?: unknown, token?: string) =>
  api(method, `/_keygate${path}`, { ...(body !== undefined ? { body } : {}), ...(token ? { token } : {}), env: E });
const createKey = async (orgs: string[], extra: Record<string, unknown> = {}) => {
  const { res, json } = await admin("POST", "/keys", { orgs, name: "ci", ...extra });
  expect(res.status).toBe(201);
  return json;
};
const KEY_EVENTS = ["key.created", "key.updated", "key.rotated", "key.revoked", "key.disabled", "key.enabled"];

/** The Standard Webhooks library verifies with the real clock: hand it ours. */
function specVerify(secret: string, d: { body: string; headers: Record<string, string> }): unknown {
  const real = Date.now;
  Date.now = () => clock.now();
  try {
    return new Webhook(secret).verify(d.body, {
      "webhook-id": d.headers["webhook-id"]!,
      "webhook-timestamp": d.headers["webhook-timestamp"]!,
      "webhook-signature": d.headers["webhook-signature"]!,
    });
  } finally {
    Date.now = real;
  }
}

describe("every change, told as its event and signed as Standard Webhooks say", () => {
  it("key, org and token changes arrive as their events, in order, each verified by the specification's library", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    const hook = await createHook({
      url: r.url,
      events: [...KEY_EVENTS, "org.limit_changed", "token.created", "token.revoked"],
      orgs: [org],
    });
    const k = await createKey([org]);
    await admin("PATCH", `/keys/${k.id}`, { name: "ci-2", scopes: ["read"] });
    await admin("PATCH", `/keys/${k.id}`, { enabled: false });
    await admin("PATCH", `/keys/${k.id}`, { enabled: true });
    const rotated = await admin("POST", `/keys/${k.id}/rotate`, { grace_seconds: 60 });
    await admin("DELETE", `/keys/${rotated.json.id}`);
    await admin("PUT", `/orgs/${org}`, { rate_limit: { limit: 5, period_seconds: 60 } });
    const t = await mintToken({ orgs: [org], role: "read" }, E);
    await admin("DELETE", `/tokens/${t.id}`);
    expect(await deliver()).toBe(true);
    const got = await received(r.name);
    const payloads = got.map((d) => specVerify(hook.json.secret, d) as { type: string; data: any });
    // Per subject in order (the key and its successor; the org; the token).
    const types = payloads.map((p) => `${p.type}:${p.data.key_id ?? p.data.org ?? p.data.token_id}`);
    expect(types.filter((x) => x.includes(k.id))).toEqual([
      `key.created:${k.id}`,
      `key.updated:${k.id}`,
      `key.disabled:${k.id}`,
      `key.enabled:${k.id}`,
      `key.rotated:${k.id}`,
    ]);
    // The rotation's new key is told by key.rotated (new_key_id), then by its own events.
    expect(types).toContain(`key.revoked:${rotated.json.id}`);
    expect(types.filter((x) => x.startsWith("token.")).map((x) => x.split(":")[0])).toEqual([
      "token.created",
      "token.revoked",
    ]);
    expect(types).toContain(`org.limit_changed:${org}`);
    // The payload: type, timestamp, data {key id, org, name, actor, …}.
    const created = payloads.find((p) => p.type === "key.created" && p.data.key_id === k.id)!;
    expect(created).toEqual({
      type: "key.created",
      timestamp: new Date(clock.now()).toISOString(),
      data: { key_id: k.id, org, orgs: [org], name: "ci", actor: "root" },
    });
    const updated = payloads.find((p) => p.type === "key.updated")!;
    expect(updated.data.changes).toEqual({ name: { from: "ci", to: "ci-2" }, scopes: { from: [], to: ["read"] } });
    const rot = payloads.find((p) => p.type === "key.rotated")!;
    expect(rot.data).toMatchObject({ key_id: k.id, new_key_id: rotated.json.id, grace_seconds: 60 });
    const limit = payloads.find((p) => p.type === "org.limit_changed")!;
    expect(limit.data).toEqual({ org, rate_limit: { limit: 5, period_seconds: 60 }, actor: "root" });
    // The headers: one webhook-id per event, a unix timestamp, a v1 signature.
    for (const d of got) {
      expect(d.headers["webhook-id"]).toMatch(/^msg_[A-Za-z0-9]{24}$/);
      expect(d.headers["webhook-timestamp"]).toBe(String(Math.floor(clock.now() / 1000)));
      expect(d.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(d.headers["content-type"]).toBe("application/json");
    }
    expect(new Set(got.map((d) => d.headers["webhook-id"])).size).toBe(got.length);
    // Tampered, the library refuses it.
    expect(() => specVerify(hook.json.secret, { ...got[0]!, body: got[0]!.body.replace(org, "other") })).toThrow();
  });

  it("a payload never carries a plaintext key or a key's hash", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: KEY_EVENTS, orgs: [org] });
    const k = await createKey([org]);
    const rotated = await admin("POST", `/keys/${k.id}/rotate`, {});
    await admin("DELETE", `/keys/${rotated.json.id}`);
    await deliver();
    const bodies = (await received(r.name)).map((d) => d.body).join("\n");
    expect(bodies).toContain(k.id);
    for (const plain of [k.key, rotated.json.key]) {
      expect(bodies).not.toContain(plain);
      expect(bodies).not.toContain(plain.slice(3, 20));
      expect(bodies).not.toContain(await hashKey(plain));
    }
    expect(bodies).not.toMatch(/[0-9a-f]{64}/);
  });

  it("nothing for another org's key, nor token events, reaches a token's webhook", async () => {
    future();
    const a = uniqueOrg();
    const b = uniqueOrg();
    const t = await mintToken({ orgs: [a], role: "write" }, E);
    const r = receiver();
    const hook = await createHook({ url: r.url, events: [...KEY_EVENTS, "token.created"] }, t.token);
    expect(hook.json.orgs).toEqual([a]);
    const inA = await createKey([a]);
    const inB = await createKey([b]);
    await admin("DELETE", `/keys/${inB.id}`);
    await mintToken({ orgs: [a], role: "read" }, E);
    await deliver();
    const got = await events(r.name);
    expect(got.map((e) => [e.type, e.data.key_id])).toEqual([["key.created", inA.id]]);
  });

  it("POST /webhooks/:id/test sends a webhook.test event to that webhook alone", async () => {
    future();
    const r1 = receiver();
    const r2 = receiver();
    const h1 = await createHook({ url: r1.url, events: ["key.created"] });
    await createHook({ url: r2.url, events: ["key.created"] });
    const t = await admin("POST", `/webhooks/${h1.json.id}/test`);
    await deliver();
    const got = await received(r1.name);
    expect(got.map((d) => [d.headers["webhook-id"], JSON.parse(d.body).type])).toEqual([
      [t.json.event_id, "webhook.test"],
    ]);
    expect(specVerify(h1.json.secret, got[0]!)).toMatchObject({ data: { webhook_id: h1.json.id } });
    expect(await received(r2.name)).toEqual([]);
  });
});

describe("delivery: at least once, in order per key, never on a request's path", () => {
  it("retried after a 500 on the schedule (same webhook-id), stopped after the success; the attempts are visible", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver({ fail: 1 });
    const hook = await createHook({ url: r.url, events: ["key.created"], orgs: [org] });
    await createKey([org]);
    await deliver();
    let got = await received(r.name);
    expect(got.map((d) => d.answered)).toEqual([500]);
    const first = await admin("GET", `/webhooks/${hook.json.id}/deliveries`);
    expect(first.json.attempts).toEqual([
      {
        event_id: got[0]!.headers["webhook-id"],
        type: "key.created",
        attempt: 1,
        at: new Date(clock.now()).toISOString(),
        status: 500,
        error: null,
        duration_ms: expect.any(Number),
        outcome: "retrying",
        next_retry_at: new Date(clock.now() + RETRY_SCHEDULE_MS[0]).toISOString(),
      },
    ]);
    // What the receiver said is never shown back, only its status.
    expect(JSON.stringify(first.json)).not.toContain("private error details");
    advance(RETRY_SCHEDULE_MS[0] - 1);
    await deliver();
    expect(await received(r.name)).toHaveLength(1); // not yet due
    advance(1);
    await deliver();
    got = await received(r.name);
    expect(got.map((d) => d.answered)).toEqual([500, 204]);
    expect(got[1]!.headers["webhook-id"]).toBe(got[0]!.headers["webhook-id"]);
    // Delivered: no further attempt, however long we wait.
    advance(3 * 86_400_000);
    await deliver();
    expect(await received(r.name)).toHaveLength(2);
    const after = await admin("GET", `/webhooks/${hook.json.id}/deliveries`);
    expect(after.json.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome])).toEqual([
      [2, "delivered"],
      [1, "retrying"],
    ]);
    expect(
      (await admin("GET", "/webhooks")).json.webhooks.find((h: { id: string }) => h.id === hook.json.id),
    ).toMatchObject({
      status: "active",
      failing_since: null,
    });
  });

  it("in order per key: a key's later event waits for its earlier one; after the last retry it is failed and the next goes", async () => {
    expect(RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(24 * 3_600_000);
    future();
    const org = uniqueOrg();
    const r = receiver({ fail: RETRY_SCHEDULE_MS.length + 1 });
    const hook = await createHook({ url: r.url, events: KEY_EVENTS, orgs: [org] });
    const k = await createKey([org]);
    await admin("PATCH", `/keys/${k.id}`, { enabled: false });
    await deliver();
    expect((await events(r.name)).map((e) => e.type)).toEqual(["key.created"]); // key.disabled waits
    for (const wait of RETRY_SCHEDULE_MS) {
      advance(wait);
      await deliver();
    }
    const got = await received(r.name);
    const types = got.map((d) => JSON.parse(d.body).type);
    // 8 attempts of key.created (all refused), then key.disabled.
    expect(types).toEqual([...Array(RETRY_SCHEDULE_MS.length + 1).fill("key.created"), "key.disabled"]);
    const log = (await admin("GET", `/webhooks/${hook.json.id}/deliveries`)).json.attempts;
    expect(log[0]).toMatchObject({ type: "key.disabled", outcome: "delivered" });
    expect(log[1]).toMatchObject({
      type: "key.created",
      attempt: 8,
      outcome: "failed",
      next_retry_at: null,
      status: 500,
    });
  });

  it("a webhook failing every attempt for 5 days is disabled, with an audit event; one answering 410 at once", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver({ fail: 1000 });
    const hook = await createHook({ url: r.url, events: KEY_EVENTS, orgs: [org] });
    const k = await createKey([org]);
    await deliver();
    for (const wait of RETRY_SCHEDULE_MS) {
      advance(wait);
      await deliver();
    }
    const listed = async (id: string) =>
      (await admin("GET", "/webhooks")).json.webhooks.find((h: { id: string }) => h.id === id);
    expect(await listed(hook.json.id)).toMatchObject({ status: "active", failing_since: expect.any(String) });
    advance(DISABLE_AFTER_MS); // well past 5 days since the first failure
    await admin("PATCH", `/keys/${k.id}`, { name: "again" });
    await deliver();
    expect(await listed(hook.json.id)).toMatchObject({
      status: "disabled",
      disabled_reason: "every attempt failed for 5 days",
    });
    const audit = await admin("GET", `/audit?org=${org}`);
    expect(audit.json.events.find((e: { action: string }) => e.action === "webhook_disable")).toMatchObject({
      action: "webhook_disable",
      webhook_id: hook.json.id,
      actor: "keygate",
      reason: "every attempt failed for 5 days",
    });
    const attempts = (await received(r.name)).length;
    await admin("PATCH", `/keys/${k.id}`, { name: "once more" });
    advance(60_000);
    await deliver();
    expect(await received(r.name)).toHaveLength(attempts); // nothing more is sent
    expect((await admin("POST", `/webhooks/${hook.json.id}/test`)).res.status).toBe(409);

    const gone = receiver({ fail: 1, status: 410 });
    const h410 = await createHook({ url: gone.url, events: KEY_EVENTS, orgs: [org] });
    await createKey([org]);
    await deliver();
    expect(await listed(h410.json.id)).toMatchObject({
      status: "disabled",
      disabled_reason: "the receiver answered 410 Gone",
    });
  });

  it("revoking a scoped admin token disables the webhooks it made", async () => {
    future();
    const a = uniqueOrg();
    const t = await mintToken({ orgs: [a], role: "write" }, E);
    const hook = await createHook({ url: receiver().url, events: KEY_EVENTS }, t.token);
    await admin("DELETE", `/tokens/${t.id}`);
    const h = (await admin("GET", "/webhooks")).json.webhooks.find((x: { id: string }) => x.id === hook.json.id);
    expect(h).toMatchObject({
      status: "disabled",
      disabled_reason: `the admin token ${t.id} that made it was revoked`,
    });
  });

  it("a scoped admin token's expiry disables the webhooks it made, as its revocation does", async () => {
    future();
    const a = uniqueOrg();
    const r = receiver();
    const t = await mintToken(
      { orgs: [a], role: "write", expires_at: new Date(clock.now() + 60_000).toISOString() },
      E,
    );
    const hook = await createHook({ url: r.url, events: KEY_EVENTS }, t.token);
    expect(hook.res.status).toBe(201);
    await createKey([a]);
    expect(await deliver()).toBe(true);
    expect(await received(r.name)).toHaveLength(1);
    advance(120_000);
    await createKey([a]);
    await deliver();
    expect(await received(r.name)).toHaveLength(1);
    const h = (await admin("GET", "/webhooks")).json.webhooks.find((x: { id: string }) => x.id === hook.json.id);
    expect(h).toMatchObject({ status: "disabled", disabled_reason: `the admin token ${t.id} that made it expired` });
    expect((await admin("POST", `/webhooks/${hook.json.id}/test`)).res.status).toBe(409);
  });

  it("a slow or hanging receiver never holds an admin answer: the answer comes before any attempt", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver({ ms: 500 });
    await createHook({ url: r.url, events: KEY_EVENTS, orgs: [org] });
    const k = await createKey([org]);
    const revoked = await admin("DELETE", `/keys/${k.id}`);
    expect(revoked.res.status).toBe(200);
    expect(await received(r.name)).toEqual([]); // answered; the hub has not even tried yet
    await deliver();
    expect((await events(r.name)).map((e) => e.type)).toEqual(["key.created", "key.revoked"]);
  });

  it("a hub that does not answer costs an admin change at most the enqueue's bound, and the change is made", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const hanging = {
      idFromName: (n: string) => env.WEBHOOKS!.idFromName(n),
      get: () => ({ enqueue: () => new Promise(() => {}) }),
    } as unknown as DurableObjectNamespace;
    const e = hooksEnv({ WEBHOOKS: hanging });
    const org = uniqueOrg();
    const made = await api("POST", "/_keygate/keys", { body: { orgs: [org] }, env: e });
    expect(made.res.status).toBe(201);
    const revoked = await api("DELETE", `/_keygate/keys/${made.json.id}`, { env: e });
    expect(revoked.res.status).toBe(200);
    expect(revoked.json.status).toBe("revoked");
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("webhook event not queued"));
  });
});

describe("credits.low and credits.exhausted, from the gateway", () => {
  it("credits.low once (not per request) when the balance falls below CREDITS_LOW_PERCENT, credits.exhausted once; again after a refill", async () => {
    let now = Date.UTC(2032, 2, 3, 10, 0, 0);
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["credits.low", "credits.exhausted"], orgs: [org] });
    const e = hooksEnv({ CREDITS_LOW_PERCENT: "25" });
    const k = await createKey([org], { credits: { remaining: 8, refill: { amount: 8, interval: "day" } } });
    const hit = () =>
      api("GET", "/v1/x", { token: null, headers: { "x-api-key": k.key }, env: e }).then((x) => x.res.status);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push(await hit());
    expect(statuses).toEqual([...Array(8).fill(200), 429, 429, 429]);
    await deliver();
    const got = await events(r.name);
    // 25 % of 8 = 2: low when fewer than 2 are left (after the 7th request); exhausted at 0 (the 8th).
    expect(got.map((x) => [x.type, x.data.remaining])).toEqual([
      ["credits.low", 1],
      ["credits.exhausted", 0],
    ]);
    expect(got[0]!.data).toMatchObject({
      key_id: k.id,
      org,
      name: "ci",
      of: 8,
      threshold_percent: 25,
      actor: "keygate",
    });
    // The next UTC day refills it: told again, once.
    now = Date.UTC(2032, 2, 4, 0, 0, 5);
    for (let i = 0; i < 9; i++) await hit();
    await deliver();
    expect((await events(r.name)).map((x) => x.type)).toEqual([
      "credits.low",
      "credits.exhausted",
      "credits.low",
      "credits.exhausted",
    ]);
  });

  it("spent through regional leases (three regions): credits.low once, credits.exhausted once, with the request that spent the last credit", async () => {
    vi.spyOn(clock, "now").mockImplementation(() => Date.UTC(2032, 5, 3, 10, 0, 0));
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["credits.low", "credits.exhausted"], orgs: [org] });
    const e = hooksEnv({ CREDITS_LOW_PERCENT: "25" });
    const k = await createKey([org], { credits: { remaining: 40 } });
    const hitFrom = async (region: "weur" | "apac" | "wnam") => {
      const { ctx, wait } = backgroundContext();
      const res = await worker.fetch(requestFrom(region, "/v1/x", { headers: { "x-api-key": k.key } }), e, ctx);
      await res.arrayBuffer();
      await wait(); // its waitUntil: what the lease's exchange decided, told
      return res.status;
    };
    const regions = ["weur", "apac", "wnam"] as const;
    let forwarded = 0;
    for (let i = 0; forwarded < 40 && i < 80; i++) if ((await hitFrom(regions[i % 3]!)) === 200) forwarded++;
    expect(forwarded).toBe(40);
    // Nothing after the 40th credit's request: both are told already.
    await deliver();
    const got = await events(r.name);
    expect(got.map((x) => x.type)).toEqual(["credits.low", "credits.exhausted"]);
    // 25 % of 40 = 10: told with the balance the key's object knew, below it; exhausted at 0.
    expect(got[0]!.data.remaining).toBeLessThan(10);
    expect(got[1]!.data.remaining).toBe(0);
    // Refused requests in every region tell nothing more.
    for (const region of regions) expect(await hitFrom(region)).toBe(429);
    await deliver();
    expect((await events(r.name)).map((x) => x.type)).toEqual(["credits.low", "credits.exhausted"]);
  });

  it("told in waitUntil: the gateway's answer never waits for the hub", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const hanging = {
      idFromName: (n: string) => env.WEBHOOKS!.idFromName(n),
      get: () => ({ enqueue: () => held }),
    } as unknown as DurableObjectNamespace;
    const org = uniqueOrg();
    const k = await createKey([org], { credits: { remaining: 1 } });
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://gateway.test/v1/x", { headers: { "x-api-key": k.key } }),
      hooksEnv({ WEBHOOKS: hanging }),
      ctx,
    );
    expect(res.status).toBe(200); // answered while credits.exhausted is still being queued
    release();
    await waitOnExecutionContext(ctx);
  });
});

describe("key.leaked, from the leak intake", () => {
  it("a reported key: key.revoked (reason leaked), then key.leaked with the report — never the key", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["key.revoked", "key.leaked"], orgs: [org] });
    const k = await createKey([org]);
    const reported = await admin("POST", "/leaks", {
      tokens: [k.key],
      source: "gitleaks",
      url: "https://intranet.example/wiki/page",
    });
    expect(reported.res.status).toBe(200);
    await deliver();
    const got = await events(r.name);
    expect(got.map((e) => e.type)).toEqual(["key.revoked", "key.leaked"]);
    expect(got[0]!.data).toMatchObject({ key_id: k.id, org, reason: "leaked" });
    expect(got[1]!.data).toMatchObject({
      key_id: k.id,
      org,
      orgs: [org],
      source: "gitleaks",
      url: "https://intranet.example/wiki/page",
      action: "revoke",
      status: "revoked",
    });
    expect(JSON.stringify(got)).not.toContain(k.key);
  });
});

describe("the events a hub queues", () => {
  it("a once event reaches each webhook once; a webhook made later still gets it", async () => {
    future();
    const org = uniqueOrg();
    const r1 = receiver();
    await createHook({ url: r1.url, events: ["key.expiring"], orgs: [org] });
    const event = keyEvent(
      "key.expiring",
      { id: "key_AAAAAAAAAAAAAAAAAAAA", orgs: [org], name: "x" },
      "keygate",
      clock.now(),
      {},
      "once-1",
    );
    expect(await hub().enqueue(event)).toBe(1);
    expect(await hub().enqueue(event)).toBe(0);
    const r2 = receiver();
    await createHook({ url: r2.url, events: ["key.expiring"], orgs: [org] });
    expect(await hub().enqueue(event)).toBe(1);
    await deliver();
    expect(await received(r1.name)).toHaveLength(1);
    expect(await received(r2.name)).toHaveLength(1);
  });
});
