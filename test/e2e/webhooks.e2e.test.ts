/**
 * Usage you can trust and events out (issue 21), against a real `wrangler dev` in front of
 * a real origin, the origin also being the webhook receiver:
 * - a burst with no later traffic is counted in full (the measurement the issue made:
 *   requests, then quiet, then GET /usage);
 * - webhooks from the keys CLI (local state and --url): a revoke's event arrives within
 *   10 s, signed so that the Standard Webhooks specification's library verifies it; a 500
 *   is retried (5 s later, for real) and a success is not; nothing for another org's key
 *   reaches a token's webhook; `webhooks test` and `webhooks deliveries` show status and time;
 * - the Cron Trigger, run with `wrangler dev --test-scheduled`: key.expiring.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import { verifyWebhook } from "../../verifier/index.js";
import type { WranglerDev } from "../support/node-wrangler";
import { freePort, keysCli, startWrangler } from "../support/node-wrangler";

const ROOT = path.resolve(import.meta.dirname, "../..");

const TOKEN = randomBytes(32).toString("hex");
const FLUSH_MS = 2_000;
let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({
    vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: TOKEN, USAGE_FLUSH_MS: String(FLUSH_MS) },
    testScheduled: true,
  });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

const local = (...args: string[]) => keysCli([...args, "--persist-to", gw.persistTo]);
const remote = (...args: string[]) => keysCli([...args, "--url", gw.url], { KEYGATE_ADMIN_TOKEN: TOKEN });
async function json(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<any> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}
const admin = async (method: string, path: string, body?: unknown, token = TOKEN) => {
  const res = await fetch(`${gw.url}/_keygate${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as any };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Delivery {
  headers: Record<string, string>;
  body: string;
  answered: number;
  at: number;
}
async function received(name: string): Promise<Delivery[]> {
  return ((await (await fetch(`${origin.url}/__origin/hooks?name=${name}`)).json()) as { deliveries: Delivery[] })
    .deliveries;
}
/** Wait (≤ timeoutMs) until the receiver got `n` deliveries. */
async function until(name: string, n: number, timeoutMs: number): Promise<Delivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await received(name);
    if (got.length >= n || Date.now() > deadline) return got;
    await sleep(100);
  }
}
const hookUrl = (name: string, q = "") => `${origin.url}/__origin/hook/${name}${q}`;

describe("usage: a burst with no later traffic", () => {
  it("25 requests, then quiet: GET /usage counts all 25 within USAGE_FLUSH_MS (+ two round trips: the isolate's deferred flush, then its location's aggregator)", async () => {
    const org = `b-${randomUUID().slice(0, 8)}`;
    const k = await admin("POST", "/keys", { orgs: [org] });
    for (let i = 0; i < 25; i++)
      expect((await fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": k.json.key } })).status).toBe(200);
    await sleep(FLUSH_MS + 1_500); // quiet: no request comes to flush them
    const usage = await admin("GET", `/usage?org=${org}&key=${k.json.id}`);
    expect(usage.json.totals).toMatchObject({ requests: 25, forwarded: 25, rejected: 0 });
  });
});

describe("webhooks", { timeout: 120_000 }, () => {
  it("added with the CLI (local state); a revoke (CLI --url) arrives within 10 s, verified by the specification's library and by keygate/verifier", async () => {
    const org = `w-${randomUUID().slice(0, 8)}`;
    const name = `e2e${randomUUID().slice(0, 8)}`;
    const added = await json(
      local("webhooks", "add", hookUrl(name), "--event", "key.revoked,key.created", "--org", org, "--json"),
    );
    expect(added).toMatchObject({
      id: expect.stringMatching(/^wh_/),
      secret: expect.stringMatching(/^whsec_/),
      orgs: [org],
    });
    const human = await local("webhooks", "list");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(added.id);
    expect(human.stdout).not.toContain(added.secret);
    const k = await json(remote("create", "--org", org, "--json"));
    await until(name, 1, 10_000);
    const revokedAt = Date.now();
    await json(remote("revoke", k.id, "--json"));
    const got = await until(name, 2, 10_000);
    expect(got.map((d) => JSON.parse(d.body).type)).toEqual(["key.created", "key.revoked"]);
    expect(got[1]!.at - revokedAt).toBeLessThan(10_000);
    const spec = new Webhook(added.secret);
    for (const d of got) {
      expect(spec.verify(d.body, d.headers as Record<string, string>)).toMatchObject({ data: { key_id: k.id, org } });
      expect(await verifyWebhook(added.secret, { headers: d.headers, body: d.body })).toMatchObject({ ok: true });
    }
    expect(got.map((d) => d.body).join("")).not.toContain(k.key);
  });

  it("a 500 is retried 5 s later and the success ends it; `webhooks deliveries` and `webhooks test` show status and time", async () => {
    const org = `r-${randomUUID().slice(0, 8)}`;
    const name = `e2e${randomUUID().slice(0, 8)}`;
    const added = await json(
      remote("webhooks", "add", hookUrl(name, "?fail=1"), "--event", "key.created", "--org", org, "--json"),
    );
    await admin("POST", "/keys", { orgs: [org] });
    const got = await until(name, 2, 12_000);
    expect(got.map((d) => d.answered)).toEqual([500, 204]);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(4_500);
    expect(got[1]!.headers["webhook-id"]).toBe(got[0]!.headers["webhook-id"]);
    await sleep(6_000);
    expect(await received(name)).toHaveLength(2);
    const log = await remote("webhooks", "deliveries", added.id);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/key\.created\s+2\s+204\s+\d+\s+delivered/);
    expect(log.stdout).toMatch(/key\.created\s+1\s+500\s+\d+\s+retrying/);
    expect(log.stdout).not.toContain("private error details");
    const test = await local("webhooks", "test", added.id);
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/^Sent msg_\w+ \(webhook\.test\): delivered, answered 204 in \d+ ms$/m);
    const removed = await remote("webhooks", "remove", added.id);
    expect(removed.code).toBe(0);
    expect((await remote("webhooks", "remove", added.id)).code).toBe(1);
  });

  it("nothing is sent for another org's key to a token's webhook", async () => {
    const a = `ta-${randomUUID().slice(0, 8)}`;
    const b = `tb-${randomUUID().slice(0, 8)}`;
    const t = await admin("POST", "/tokens", { name: "partner", orgs: [a], role: "write" });
    const name = `e2e${randomUUID().slice(0, 8)}`;
    const made = await admin("POST", "/webhooks", { url: hookUrl(name), events: ["key.created"] }, t.json.token);
    expect(made.status).toBe(201);
    expect(made.json.orgs).toEqual([a]);
    await admin("POST", "/keys", { orgs: [b] });
    const inA = await admin("POST", "/keys", { orgs: [a] });
    const got = await until(name, 1, 10_000);
    await sleep(1_000);
    expect((await received(name)).map((d) => JSON.parse(d.body).data.key_id)).toEqual([inA.json.id]);
    expect(got.length).toBe(1);
  });

  it("the 15-line Node receiver of docs/webhooks.md, run as written, verifies and logs a real delivery", async () => {
    const doc = readFileSync(path.join(ROOT, "docs/webhooks.md"), "utf8");
    const code = /### A receiver in 15 lines of Node\n\n```js\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(code.trimEnd().split("\n")).toHaveLength(16); // 14 lines of code, 2 blank
    // Inside the package, so `keygate/verifier` resolves as it does for an installed copy.
    const file = path.join(ROOT, `.receiver-${randomUUID().slice(0, 8)}.mjs`);
    writeFileSync(file, code);
    const port = await freePort();
    const org = `n-${randomUUID().slice(0, 8)}`;
    const added = await admin("POST", "/webhooks", {
      url: `http://127.0.0.1:${port}/hook`,
      events: ["key.created"],
      orgs: [org],
    });
    const child = spawn(process.execPath, [file], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), KEYGATE_WEBHOOK_SECRET: added.json.secret },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await sleep(500);
      const forged = await fetch(`http://127.0.0.1:${port}/hook`, {
        method: "POST",
        headers: {
          "webhook-id": "msg_x",
          "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
          "webhook-signature": "v1,AAAA",
        },
        body: "{}",
      });
      expect(forged.status).toBe(401);
      const k = await admin("POST", "/keys", { orgs: [org], name: "from the docs" });
      const deadline = Date.now() + 10_000;
      while (!out.includes("key.created") && Date.now() < deadline) await sleep(100);
      expect(out).toContain(`key.created {"key_id":"${k.json.id}","org":"${org}"`);
    } finally {
      child.kill();
      rmSync(file, { force: true });
    }
  });

  it("the Cron Trigger (wrangler dev --test-scheduled): key.expiring once", async () => {
    const org = `x-${randomUUID().slice(0, 8)}`;
    const name = `e2e${randomUUID().slice(0, 8)}`;
    await json(remote("webhooks", "add", hookUrl(name), "--event", "key.expiring", "--org", org, "--json"));
    const k = await admin("POST", "/keys", {
      orgs: [org],
      expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    for (let i = 0; i < 2; i++) expect((await fetch(`${gw.url}/__scheduled?cron=17+*+*+*+*`)).status).toBe(200);
    const got = await until(name, 1, 10_000);
    await sleep(1_000);
    expect((await received(name)).map((d) => [JSON.parse(d.body).type, JSON.parse(d.body).data.key_id])).toEqual([
      ["key.expiring", k.json.id],
    ]);
    expect(got).toHaveLength(1);
  });
});
