/**
 * The console's webhooks page (docs/webhooks.md, docs/console.md): an operator adds a
 * webhook with a form (its secret shown once, on the answer to that POST only), sees its
 * delivery attempts (status and timing, never what the receiver said), sends it a test
 * event and removes it — the management core's operations, so the same rules as the admin
 * API; holders (portal, session) have no such page.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ORIGIN, send } from "../../../support/worker-helpers";
import { adminEnv, api, mintToken, uniqueOrg } from "../admin/support";
import { hub, received } from "../webhooks/support";
import { get, hidden, post, signIn, UI } from "./support";

const E = adminEnv({ WEBHOOK_ALLOW_LOOPBACK: "true" });

/** A form POST with repeated fields (the events' checkboxes), as a browser sends it. */
function postPairs(url: string, cookie: string, pairs: [string, string][]): Promise<Response> {
  return send(
    url,
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(url).origin, cookie },
      body: new URLSearchParams(pairs).toString(),
    },
    E,
  );
}

describe("the webhooks page", () => {
  it("add (secret once), list, attempts (status and time only), test, remove", async () => {
    const org = uniqueOrg();
    const s = await signIn(UI, E);
    const page = await get(`${UI}/webhooks`, s.cookie, E);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('name="events" value="key.revoked"');
    const name = `console${Date.now().toString(36)}`;
    const url = `${ORIGIN}/__origin/hook/${name}?fail=1`;
    const created = await postPairs(`${UI}/webhooks`, s.cookie, [
      ["csrf", s.csrf],
      ["form_id", hidden(html, "form_id")],
      ["url", url],
      ["orgs", org],
      ["events", "key.created"],
      ["events", "key.revoked"],
    ]);
    expect(created.status).toBe(201);
    const shown = await created.text();
    const secret = /whsec_[A-Za-z0-9+/]{43}=/.exec(shown)?.[0];
    expect(secret).toBeDefined();
    const id = /webhooks\/(wh_[A-Za-z0-9]{20})/.exec(shown)![1]!;
    const listed = await (await get(`${UI}/webhooks`, s.cookie, E)).text();
    expect(listed).toContain(id);
    expect(listed).toContain(url.replace(/&/g, "&amp;"));
    expect(listed).not.toContain(secret!);
    // An event, a failed attempt: its page shows the status and the time, not what the receiver said.
    const key = await api("POST", "/_keygate/keys", { body: { orgs: [org] }, env: E });
    expect(key.res.status).toBe(201);
    // The hub's alarm is due now (it may already be running): the first attempt, in a moment.
    await runDurableObjectAlarm(hub());
    await expect.poll(async () => (await received(name)).length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    await expect
      .poll(async () => (await (await get(`${UI}/webhooks/${id}`, s.cookie, E)).text()).includes("<td>500</td>"), {
        timeout: 5_000,
      })
      .toBe(true);
    const detail = await (await get(`${UI}/webhooks/${id}`, s.cookie, E)).text();
    expect(detail).toContain("key.created");
    expect(detail).toMatch(/<td>500<\/td><td>\d+ ms<\/td>/);
    expect(detail).not.toContain("private error details");
    expect(detail).not.toContain(secret!);
    // Test, then remove.
    const csrf = hidden(detail, "csrf");
    expect((await post(`${UI}/webhooks/${id}/test`, { csrf }, s.cookie, E)).status).toBe(303);
    expect((await post(`${UI}/webhooks/${id}/remove`, { csrf }, s.cookie, E)).status).toBe(303);
    expect((await get(`${UI}/webhooks/${id}`, s.cookie, E)).status).toBe(404);
  });

  it("a bad URL is answered with the form again, naming it; a read token may not see the page", async () => {
    const s = await signIn(UI, E);
    const res = await post(
      `${UI}/webhooks`,
      { csrf: s.csrf, form_id: crypto.randomUUID(), url: "ftp://x.example", events: "key.created" },
      s.cookie,
      E,
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("The webhook was not added");
    expect(html).toContain('data-field="url"');
    const read = await mintToken({ orgs: [uniqueOrg()], role: "read" }, E);
    const r = await signIn(UI, E, read.token);
    expect((await get(`${UI}/webhooks`, r.cookie, E)).status).toBe(403);
    expect(await (await get(`${UI}/orgs`, r.cookie, E)).text()).not.toContain(">Webhooks</a>");
  });
});
