/**
 * key.expiring from the Cron Trigger (wrangler.toml [triggers]): the Worker's scheduled
 * handler, run through the vitest integration, finds the keys expiring within
 * WEBHOOK_EXPIRY_NOTICE_DAYS and queues one key.expiring each — once per webhook and
 * expiry — and reads no key at all when no webhook wants the event.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../../../src/env";
import worker from "../../../../src/index";
import { clock } from "../../../../src/lib/clock";
import { api, countingKv, uniqueOrg } from "../admin/support";
import { advance, createHook, deliver, events, future, hooksEnv, hub, receiver } from "./support";

afterEach(() => vi.restoreAllMocks());

const DAY = 86_400_000;
const E = hooksEnv();

async function cron(e: Env = E): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "17 * * * *", scheduledTime: clock.now() }), e, ctx);
  await waitOnExecutionContext(ctx);
}

const createKey = async (org: string, expiresInMs: number | null) => {
  const { res, json } = await api("POST", "/_keygate/keys", {
    body: {
      orgs: [org],
      name: "k",
      expires_at: expiresInMs === null ? null : new Date(clock.now() + expiresInMs).toISOString(),
    },
    env: E,
  });
  expect(res.status).toBe(201);
  return json;
};

describe("key.expiring (scheduled handler)", () => {
  it("once, WEBHOOK_EXPIRY_NOTICE_DAYS before expires_at; not for later, revoked or never-expiring keys", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["key.expiring"], orgs: [org] });
    const soon = await createKey(org, 6 * DAY);
    const later = await createKey(org, 8 * DAY);
    const revoked = await createKey(org, 2 * DAY);
    await api("DELETE", `/_keygate/keys/${revoked.id}`, { env: E });
    await createKey(org, null);
    await cron();
    await deliver();
    let got = await events(r.name);
    expect(got.map((e) => [e.type, e.data.key_id])).toEqual([["key.expiring", soon.id]]);
    expect(got[0]!.data).toEqual({
      key_id: soon.id,
      org,
      orgs: [org],
      name: "k",
      actor: "keygate",
      expires_at: soon.expires_at,
    });
    // The next runs: the same key is not told again; the later one is, once it is within the notice.
    await cron();
    advance(DAY + 60_000);
    await cron();
    await cron();
    await deliver();
    got = await events(r.name);
    expect(got.map((e) => e.data.key_id)).toEqual([soon.id, later.id]);
    // An expiry moved later is a new expiry: told again when it comes near.
    await api("PATCH", `/_keygate/keys/${soon.id}`, {
      body: { expires_at: new Date(clock.now() + 20 * DAY).toISOString() },
      env: E,
    });
    await cron();
    await deliver();
    expect((await events(r.name)).map((e) => e.data.key_id)).toEqual([soon.id, later.id]);
  });

  it("WEBHOOK_EXPIRY_NOTICE_DAYS sets the notice", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["key.expiring"], orgs: [org] });
    const k = await createKey(org, 20 * DAY);
    await cron();
    await deliver();
    expect(await events(r.name)).toEqual([]);
    await cron(hooksEnv({ WEBHOOK_EXPIRY_NOTICE_DAYS: "30" }));
    await deliver();
    expect((await events(r.name)).map((e) => e.data.key_id)).toEqual([k.id]);
  });

  it("reads no key when no active webhook wants key.expiring", async () => {
    future();
    const wanting = (await api("GET", "/_keygate/webhooks", { env: E })).json.webhooks.filter(
      (h: { events: string[]; status: string }) => h.events.includes("key.expiring") && h.status === "active",
    );
    for (const h of wanting) await api("DELETE", `/_keygate/webhooks/${h.id}`, { env: E });
    expect(await hub().wants("key.expiring")).toBe(false);
    const kv = countingKv(env.KEYS);
    await cron(hooksEnv({ KEYS: kv }));
    expect(kv.lists).toEqual([]);
    expect(kv.gets).toEqual([]);
  });
});
