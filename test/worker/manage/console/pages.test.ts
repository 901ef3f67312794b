/**
 * What the console's pages say to the person using them (issue 24): form errors in plain
 * words, usage in whole days and hours (no row extra), a notice after revoking, disabling or enabling, an
 * empty organization said as such, an icon of its own (no /favicon.ico through the
 * gateway), and the nav's "Create key" for the organization on screen.
 */
import { describe, expect, it } from "vitest";
import { ASSET_VERSION } from "../../../../src/manage/console/assets";
import { send } from "../../../support/worker-helpers";
import { adminEnv, api, uniqueOrg } from "../admin/support";
import { createForm, get, hidden, keyIn, post, signIn, UI } from "./support";

const e = () => adminEnv();
/** The console's base as its pages write it in links. */
const BASE = new URL(UI).pathname;

/** The create form posted with `fields` changed: the page answered. */
async function createWith(fields: Record<string, string>): Promise<{ status: number; html: string }> {
  const s = await signIn(UI, e());
  const res = await post(`${UI}/keys`, { ...(await createForm(UI, s, uniqueOrg(), e())), ...fields }, s.cookie, e());
  return { status: res.status, html: await res.text() };
}

describe("the console's words", () => {
  it("form errors name the field in plain words: no JSON types, no patterns", async () => {
    for (const [fields, plain] of [
      [{ scopes: "read bad$scope" }, "Scopes: at most 100, separated by spaces or commas"],
      [{ org: "not a slug!" }, "Organization: a slug of letters, digits, dots, dashes and underscores"],
      [{ rate_limit: "0" }, "Rate limit: a whole number of requests from 1 to"],
      [{ expires: "soon" }, "Expires: pick a date from the list."],
      [{ expires: "1e9" }, "Expires: pick a date from the list."],
      [{ expires: "99999999" }, "Expires: pick a date from the list."],
      [{ name: "x".repeat(201) }, "Name: at most 200 characters, without control characters."],
    ] as const) {
      const r = await createWith(fields);
      expect(r.status, JSON.stringify(fields)).toBe(400);
      expect(r.html, JSON.stringify(fields)).toContain(plain);
      expect(r.html, JSON.stringify(fields)).not.toMatch(/\barray\b|\bnull\b|\[A-Za-z0-9\]|"limit"|period_seconds/);
    }
  });

  it("the webhooks form's errors too (issue 21's page in issue 24's words)", async () => {
    const s = await signIn(UI, e());
    const good = { url: "https://hooks.example.com/keygate", events: "key.revoked" };
    for (const [fields, plain] of [
      [{ url: "ftp://hooks.example.com/x" }, "Endpoint URL must be an https:// URL of a public host"],
      [{ url: "" }, "Endpoint URL is required"],
      [{ events: "" }, "Events: tick at least one."],
      [{ orgs: "acme not!a!slug" }, "Organizations: up to 50 different slugs, separated by spaces or commas"],
    ] as const) {
      const res = await post(
        `${UI}/webhooks`,
        { csrf: s.csrf, form_id: crypto.randomUUID(), ...good, ...fields },
        s.cookie,
        e(),
      );
      const html = await res.text();
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(html, JSON.stringify(fields)).toContain(plain);
      expect(html, JSON.stringify(fields)).not.toMatch(
        /\barray\b|\bnull\b|\[A-Za-z0-9\]|must be 1–|distinct event types/,
      );
    }
  });

  it("the key page's usage is whole days and hours, none extra: today and the 29 days before it, this hour and the 47 before it", async () => {
    // Issue 24's "last 7 days shows 8 rows", now for issue 21's charts (they replaced the week).
    const created = (await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], name: "n" } })).json;
    const s = await signIn(UI, e());
    const html = await (await get(`${UI}/keys/${created.id}`, s.cookie, e())).text();
    const days = [...html.matchAll(/<td>(\d{4}-\d\d-\d\d)<\/td>/g)].map((m) => m[1]);
    const today = Date.parse(new Date().toISOString().slice(0, 10));
    expect(days).toEqual(
      Array.from({ length: 30 }, (_, i) => new Date(today - (29 - i) * 86_400_000).toISOString().slice(0, 10)),
    );
    const hours = [...html.matchAll(/<td>(\d{4}-\d\d-\d\d \d\d:\d\d)<\/td>/g)].map((m) => m[1]);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    expect(hours).toEqual(
      Array.from({ length: 48 }, (_, i) =>
        new Date(hour - (47 - i) * 3_600_000).toISOString().slice(0, 16).replace("T", " "),
      ),
    );
  });

  it("after revoking, disabling or enabling, the key's page says what happened", async () => {
    const s = await signIn(UI, e());
    const created = await post(`${UI}/keys`, await createForm(UI, s, uniqueOrg(), e()), s.cookie, e());
    const html = await created.text();
    const key = keyIn(html);
    const id = /\/keys\/(key_[A-Za-z0-9]+)"/.exec(html)![1]!;
    for (const [action, fields, said] of [
      ["disable", {}, "Disabled. Requests with this key get 401 until it is enabled again."],
      ["enable", {}, "Enabled. The key works again."],
      ["revoke", { confirm: key.slice(0, 7) }, "Revoked. Requests with this key are refused from now on"],
    ] as const) {
      const done = await post(`${UI}/keys/${id}/${action}`, { csrf: s.csrf, ...fields }, s.cookie, e());
      expect(done.status, action).toBe(303);
      const page = await (
        await get(new URL(done.headers.get("location")!, "https://gateway.test").href, s.cookie, e())
      ).text();
      expect(page, action).toContain(said);
    }
    // Only after the action: the page opened on its own says nothing of the kind.
    expect(await (await get(`${UI}/keys/${id}`, s.cookie, e())).text()).not.toContain("Revoked. Requests");
    expect(await (await get(`${UI}/keys/${id}?done=<b>x</b>`, s.cookie, e())).text()).not.toContain("<b>x</b>");
  });

  it("an organization without keys says so and offers to create one; a filter that matches nothing says no match", async () => {
    const s = await signIn(UI, e());
    const empty = uniqueOrg();
    const page = await (await get(`${UI}/orgs/${empty}`, s.cookie, e())).text();
    expect(page).toContain("This organization has no keys yet.");
    expect(page).toContain(`href="${BASE}/new?org=${empty}">Create its first key`);
    expect(page).not.toContain("No keys match.");
    const org = uniqueOrg();
    await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "one" } });
    const filtered = await (await get(`${UI}/orgs/${org}?q=nothing-like-it`, s.cookie, e())).text();
    expect(filtered).toContain("No keys match.");
    expect(filtered).not.toContain("no keys yet");
  });

  it("every page names the console's own icon, served from its assets: no /favicon.ico through the gateway", async () => {
    const s = await signIn(UI, e());
    const icon = `${BASE}/assets/${ASSET_VERSION}/favicon.svg`;
    for (const path of ["/login", "/orgs", `/orgs/${uniqueOrg()}`, "/new"]) {
      const html = await (await get(`${UI}${path}`, path === "/login" ? null : s.cookie, e())).text();
      expect(html, path).toContain(`<link rel="icon" type="image/svg+xml" href="${icon}"/>`);
    }
    const res = await send(`${UI}/assets/${ASSET_VERSION}/favicon.svg`, {}, e());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/svg+xml");
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(await res.text()).toMatch(/^<svg /);
  });

  it("the nav's Create key is for the organization on screen (its keys, or one of its keys)", async () => {
    const s = await signIn(UI, e());
    const org = uniqueOrg();
    const created = (await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "n" } })).json;
    const nav = (html: string) => /<nav aria-label="Main">([\s\S]*?)<\/nav>/.exec(html)![1]!;
    expect(nav(await (await get(`${UI}/orgs/${org}`, s.cookie, e())).text())).toContain(
      `href="${BASE}/new?org=${org}">Create key`,
    );
    expect(nav(await (await get(`${UI}/keys/${created.id}`, s.cookie, e())).text())).toContain(
      `href="${BASE}/new?org=${org}">Create key`,
    );
    // Nowhere in particular: a form for any org.
    expect(nav(await (await get(`${UI}/orgs`, s.cookie, e())).text())).toContain(`href="${BASE}/new">Create key`);
    const form = await (await get(`${UI}/new?org=${org}`, s.cookie, e())).text();
    expect(hidden(form, "form_id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(form).toContain(`id="org" name="org" value="${org}"`);
  });
});
