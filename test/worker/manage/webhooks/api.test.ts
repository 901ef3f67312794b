/**
 * The webhook endpoints (docs/webhooks.md) through the real worker: POST/GET/DELETE
 * /webhooks, /webhooks/:id/test, /webhooks/:id/deliveries — the secret shown once, the URL
 * rules (https only, loopback under wrangler dev or WEBHOOK_ALLOW_LOOPBACK), the event list
 * exactly as named, who may manage which webhook (root, or a write token for every org it
 * serves: a token's webhooks see only its orgs), 405 and 503 answers, and the audit log.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { EVENT_TYPES } from "../../../../src/events/types";
import { adminEnv, api, mintToken, uniqueOrg } from "../admin/support";
import { createHook, hooksEnv, receiver } from "./support";

afterEach(() => vi.restoreAllMocks());

const E = hooksEnv();
const call = (method: string, path: string, body?: unknown, token?: string, e = E) =>
  api(method, `/_keygate${path}`, { ...(body !== undefined ? { body } : {}), ...(token ? { token } : {}), env: e });

describe("POST /_keygate/webhooks", () => {
  it("201 with the webhook and its secret (whsec_ + base64 of 32 bytes), shown this once", async () => {
    const org = uniqueOrg();
    const r = receiver();
    const { res, json } = await createHook({ url: r.url, events: ["key.created", "key.revoked"], orgs: [org] });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({
      id: expect.stringMatching(/^wh_[A-Za-z0-9]{20}$/),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      url: r.url,
      events: ["key.created", "key.revoked"],
      orgs: [org],
      status: "active",
      created_by: "root",
      failing_since: null,
    });
    expect(atob(json.secret.slice("whsec_".length))).toHaveLength(32);
    // Never again: not in the listing, not in a deletion's answer.
    const listed = await call("GET", "/webhooks");
    const mine = listed.json.webhooks.find((h: { id: string }) => h.id === json.id);
    expect(mine).toMatchObject({ id: json.id, url: r.url });
    expect(JSON.stringify(listed.json)).not.toContain(json.secret);
    expect(mine).not.toHaveProperty("secret");
    const gone = await call("DELETE", `/webhooks/${json.id}`);
    expect(gone.res.status).toBe(200);
    expect(JSON.stringify(gone.json)).not.toContain(json.secret);
    expect((await call("GET", "/webhooks")).json.webhooks.map((h: { id: string }) => h.id)).not.toContain(json.id);
    expect((await call("DELETE", `/webhooks/${json.id}`)).res.status).toBe(404);
  });

  it("accepts exactly the event types the issue names, and no other", async () => {
    expect([...EVENT_TYPES]).toEqual([
      "key.created",
      "key.updated",
      "key.rotated",
      "key.revoked",
      "key.disabled",
      "key.enabled",
      "key.expiring",
      "key.leaked",
      "credits.low",
      "credits.exhausted",
      "org.limit_changed",
      "token.created",
      "token.revoked",
    ]);
    const all = await createHook({ url: receiver().url, events: [...EVENT_TYPES] });
    expect(all.res.status).toBe(201);
    for (const events of [[], ["key.deleted"], ["webhook.test"], ["key.created", "key.created"], "key.created"]) {
      const { res, json } = await createHook({ url: receiver().url, events });
      expect(res.status, JSON.stringify(events)).toBe(400);
      expect(json.errors.map((e: { field: string }) => e.field)).toEqual(["events"]);
    }
  });

  it("only https:// to a public host in production; http:// and loopback under wrangler dev or WEBHOOK_ALLOW_LOOPBACK", async () => {
    const prod = adminEnv();
    const refused = [
      "http://hooks.example.com/x",
      "http://127.0.0.1:8080/x",
      "https://127.0.0.1/x",
      "https://localhost/x",
      "https://api.localhost/x",
      "https://10.1.2.3/x",
      "https://192.168.1.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/x",
      "https://[fd00::1]/x",
      "https://user:pass@hooks.example.com/x",
      "https://hooks.example.com/x#frag",
      "ftp://hooks.example.com/x",
      "hooks.example.com/x",
      `https://hooks.example.com/${"a".repeat(2100)}`,
    ];
    for (const url of refused) {
      const { res, json } = await createHook({ url, events: ["key.created"] }, undefined, prod);
      expect(res.status, url).toBe(400);
      expect(
        json.errors.map((e: { field: string }) => e.field),
        url,
      ).toEqual(["url"]);
    }
    expect(
      (await createHook({ url: "https://hooks.example.com/keygate", events: ["key.created"] }, undefined, prod)).res
        .status,
    ).toBe(201);
    // The explicit flag: a receiver on loopback (the test origin).
    expect((await createHook({ url: receiver().url, events: ["key.created"] }, undefined, hooksEnv())).res.status).toBe(
      201,
    );
    // A request to wrangler dev (a loopback host: Cloudflare serves none) may name one too.
    const local = await api("POST", "http://127.0.0.1:8787/_keygate/webhooks", {
      body: { url: "http://127.0.0.1:9999/hook", events: ["key.created"] },
      env: prod,
    });
    expect(local.res.status).toBe(201);
  });

  it("400 naming unknown fields and bad orgs; 401 without a token; 405 with Allow; 503 without the WEBHOOKS binding", async () => {
    const bad = await createHook({ url: receiver().url, events: ["key.created"], orgs: ["*"], extra: 1 });
    expect(bad.res.status).toBe(400);
    expect(bad.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["extra", "orgs"]);
    expect((await api("GET", "/_keygate/webhooks", { token: null, env: E })).res.status).toBe(401);
    const put = await call("PUT", "/webhooks");
    expect(put.res.status).toBe(405);
    expect(put.res.headers.get("allow")).toBe("GET, HEAD, POST");
    expect((await call("GET", "/webhooks/wh_x/test")).res.headers.get("allow")).toBe("POST");
    const off = hooksEnv({ WEBHOOKS: undefined });
    const none = await createHook({ url: receiver().url, events: ["key.created"] }, undefined, off);
    expect(none.res.status).toBe(503);
    expect((await call("GET", "/webhooks", undefined, undefined, off)).res.status).toBe(503);
  });

  it("creation and removal are audited (never the URL, which may carry the receiver's own secret)", async () => {
    const org = uniqueOrg();
    const url = `${receiver().url}?token=receivers-secret`;
    const made = await createHook({ url, events: ["key.created"], orgs: [org] });
    await call("DELETE", `/webhooks/${made.json.id}`);
    const audit = await call("GET", `/audit?org=${org}`);
    expect(audit.json.events.map((e: { action: string; webhook_id: string }) => [e.action, e.webhook_id])).toEqual([
      ["webhook_delete", made.json.id],
      ["webhook_create", made.json.id],
    ]);
    expect(JSON.stringify(audit.json)).not.toContain("receivers-secret");
  });
});

describe("who may manage which webhook (the authority table)", () => {
  it("a write token: only its orgs, its own by default; it sees only webhooks serving none but its orgs", async () => {
    const a = uniqueOrg();
    const b = uniqueOrg();
    const t = await mintToken({ orgs: [a], role: "write" }, E);
    const mine = await createHook({ url: receiver().url, events: ["key.created"] }, t.token);
    expect(mine.res.status).toBe(201);
    expect(mine.json.orgs).toEqual([a]); // a token's webhook serves its orgs
    expect(mine.json.created_by).toBe(`token:${t.id}`);
    const other = await createHook({ url: receiver().url, events: ["key.created"], orgs: [b] }, t.token);
    expect(other.res.status).toBe(403);
    const both = await createHook({ url: receiver().url, events: ["key.created"], orgs: [a, b] }, t.token);
    expect(both.res.status).toBe(403);
    // Root's webhooks for b, for a and b, and for every org do not exist for the token.
    const forB = await createHook({ url: receiver().url, events: ["key.created"], orgs: [b] });
    const forAB = await createHook({ url: receiver().url, events: ["key.created"], orgs: [a, b] });
    const forAll = await createHook({ url: receiver().url, events: ["key.created"] });
    const seen = (await call("GET", "/webhooks", undefined, t.token)).json.webhooks.map((h: { id: string }) => h.id);
    expect(seen).toEqual([mine.json.id]);
    for (const hidden of [forB, forAB, forAll]) {
      for (const [method, path] of [
        ["DELETE", `/webhooks/${hidden.json.id}`],
        ["POST", `/webhooks/${hidden.json.id}/test`],
        ["GET", `/webhooks/${hidden.json.id}/deliveries`],
      ] as const)
        expect((await call(method, path, undefined, t.token)).res.status, `${method} ${path}`).toBe(404);
    }
    // Root sees all of them.
    const rootSees = (await call("GET", "/webhooks")).json.webhooks.map((h: { id: string }) => h.id);
    for (const h of [mine, forB, forAB, forAll]) expect(rootSees).toContain(h.json.id);
  });

  it("a read token and an every-org token", async () => {
    const a = uniqueOrg();
    const read = await mintToken({ orgs: [a], role: "read" }, E);
    expect((await call("GET", "/webhooks", undefined, read.token)).res.status).toBe(403);
    expect((await createHook({ url: receiver().url, events: ["key.created"] }, read.token)).res.status).toBe(403);
    const star = await mintToken({ orgs: ["*"], role: "write" }, E);
    const all = await createHook({ url: receiver().url, events: ["key.created"] }, star.token);
    expect(all.res.status).toBe(201);
    expect(all.json.orgs).toBeNull();
  });
});

describe("POST /webhooks/:id/test and GET /webhooks/:id/deliveries", () => {
  it("test queues a webhook.test event for that webhook (202); deliveries answer its attempts; bad limits are 400", async () => {
    const made = await createHook({ url: receiver().url, events: ["key.created"] });
    const t = await call("POST", `/webhooks/${made.json.id}/test`);
    expect(t.res.status).toBe(202);
    expect(t.json).toEqual({
      webhook_id: made.json.id,
      event_id: expect.stringMatching(/^msg_[A-Za-z0-9]{24}$/),
      status: "queued",
    });
    const d = await call("GET", `/webhooks/${made.json.id}/deliveries?limit=5`);
    expect(d.res.status).toBe(200);
    expect(d.json).toMatchObject({ webhook_id: made.json.id, attempts: expect.any(Array) });
    for (const q of ["limit=0", "limit=201", "limit=x", "other=1"])
      expect((await call("GET", `/webhooks/${made.json.id}/deliveries?${q}`)).res.status, q).toBe(400);
    expect((await call("POST", "/webhooks/wh_AAAAAAAAAAAAAAAAAAAA/test")).res.status).toBe(404);
  });
});
