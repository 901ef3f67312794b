/**
 * Console sessions are server-side and end when they should (issue 18, rule 8 and the
 * second half of rule 7), inside workerd through the real worker and the real
 * ConsoleSessions Durable Object:
 *
 * - a form id is used once: the create (or rotate) form replayed with the cookie from
 *   before the submit mints nothing;
 * - signing out ends the session for every copy of its cookie;
 * - revoking the admin token or the portal link that opened a session ends it — even
 *   where KV still reads the token as active — and a revoked opener opens no new one;
 * - a session opened by a user's JWT (/ui/session) ends at the JWT's `exp`, and never
 *   later than the console's own hour;
 * - without its store the console lets nobody in (503).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { kvKey } from "../../../../src/keys/store/kv";
import { send } from "../../../support/worker-helpers";
import { edgeCachedKv, freezeClock } from "../../edge/revocation/support";
import { claims, hs256, SECRET } from "../../edge/sessions/support";
import { adminEnv, api, mintToken, TOKEN, uniqueOrg } from "../admin/support";
import { cookieOf, createForm, get, hidden, keyIn, post, signIn, UI } from "./support";

afterEach(() => vi.restoreAllMocks());

const keysOf = async (org: string) =>
  (await api("GET", `/_keygate/keys?org=${org}`)).json.keys as { id: string; name: string }[];

describe("a form id is used once, on the server", () => {
  it("the create form replayed with the cookie from before the submit mints no second key (409, no key on the page)", async () => {
    const e = adminEnv();
    const s = await signIn(UI, e);
    const org = uniqueOrg();
    const fields = await createForm(UI, s, org, e);
    const first = await post(`${UI}/keys`, fields, s.cookie, e);
    expect(first.status).toBe(201);
    const key = keyIn(await first.text());
    // The attacker's replay: the very request, with the cookie the browser held before it.
    const replay = await post(`${UI}/keys`, fields, s.cookie, e);
    expect(replay.status).toBe(409);
    const html = await replay.text();
    expect(html).toContain("Already submitted");
    expect(html).not.toContain(key);
    expect(html).not.toMatch(/kg_[A-Za-z0-9]{20,}/);
    expect(await keysOf(org)).toHaveLength(1);
  });

  it("…and in another isolate: the store, not the isolate, remembers the form", async () => {
    const s = await signIn(UI, adminEnv());
    const org = uniqueOrg();
    const fields = await createForm(UI, s, org, adminEnv());
    expect((await post(`${UI}/keys`, fields, s.cookie, adminEnv())).status).toBe(201);
    expect((await post(`${UI}/keys`, fields, s.cookie, adminEnv())).status).toBe(409);
    expect(await keysOf(org)).toHaveLength(1);
  });

  it("the rotate form replayed rotates once", async () => {
    const e = adminEnv();
    const s = await signIn(UI, e);
    const org = uniqueOrg();
    const created = await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "r" } });
    const page = await (await get(`${UI}/keys/${created.json.id}`, s.cookie, e)).text();
    const fields = { csrf: s.csrf, form_id: hidden(page, "form_id"), grace_seconds: "0" };
    expect((await post(`${UI}/keys/${created.json.id}/rotate`, fields, s.cookie, e)).status).toBe(201);
    const again = await post(`${UI}/keys/${created.json.id}/rotate`, fields, s.cookie, e);
    expect(again.status).toBe(409);
    expect(await keysOf(org)).toHaveLength(2); // the original (rotated) and one replacement
  });

  it("a form with a field error is shown again with a new form id, which then works once", async () => {
    const e = adminEnv();
    const s = await signIn(UI, e);
    const org = uniqueOrg();
    const fields = await createForm(UI, s, org, e);
    const bad = await post(`${UI}/keys`, { ...fields, scopes: "not a scope!" }, s.cookie, e);
    expect(bad.status).toBe(400);
    const next = hidden(await bad.text(), "form_id");
    expect(next).not.toBe(fields.form_id);
    expect((await post(`${UI}/keys`, { ...fields, form_id: next }, s.cookie, e)).status).toBe(201);
    expect((await post(`${UI}/keys`, { ...fields, form_id: next }, s.cookie, e)).status).toBe(409);
    expect(await keysOf(org)).toHaveLength(1);
  });

  it("a form id is only spent by its own session with its CSRF token", async () => {
    const e = adminEnv();
    const s = await signIn(UI, e);
    const org = uniqueOrg();
    const fields = await createForm(UI, s, org, e);
    expect((await post(`${UI}/keys`, { ...fields, csrf: "x".repeat(43) }, s.cookie, e)).status).toBe(403);
    expect((await post(`${UI}/keys`, fields, s.cookie, e)).status).toBe(201);
  });
});

describe("signing out ends the session everywhere", () => {
  it("a copy of the cookie taken before signing out is refused afterwards, in any isolate", async () => {
    const s = await signIn(UI, adminEnv());
    const copied = s.cookie;
    expect((await get(`${UI}/orgs`, copied, adminEnv())).status).toBe(200);
    const out = await post(`${UI}/logout`, { csrf: s.csrf }, s.cookie, adminEnv());
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/^__Host-keygate_console=; Max-Age=0/);
    for (const e of [adminEnv(), adminEnv()]) {
      const page = await get(`${UI}/orgs`, copied, e);
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toBe("/_keygate/ui/login");
    }
    // …and its forms: nothing is created with it.
    const org = uniqueOrg();
    const tried = await post(
      `${UI}/keys`,
      {
        csrf: s.csrf,
        form_id: crypto.randomUUID(),
        name: "x",
        org,
        scopes: "",
        expires: "",
        rate_limit: "",
        rate_period: "60",
      },
      copied,
      adminEnv(),
    );
    expect(tried.status).toBe(401);
    expect(await keysOf(org)).toEqual([]);
  });

  it("signing out ends only that session", async () => {
    const one = await signIn(UI);
    const two = await signIn(UI);
    await post(`${UI}/logout`, { csrf: one.csrf }, one.cookie, adminEnv());
    expect((await get(`${UI}/orgs`, one.cookie, adminEnv())).status).toBe(303);
    expect((await get(`${UI}/orgs`, two.cookie, adminEnv())).status).toBe(200);
  });
});

describe("revoking what opened a session ends it", () => {
  it("an admin token: its sessions end at once, even where KV still reads it as active; it opens no new one there", async () => {
    const org = uniqueOrg();
    const minted = await mintToken({ orgs: [org], role: "write" });
    const hash = await hashKey(minted.token);
    // A location whose KV still serves the token's record from before the revocation.
    const stale = adminEnv({ KEYS: await edgeCachedKv(hash, kvKey.token(hash)) });
    const s = await signIn(UI, stale, minted.token);
    expect((await get(`${UI}/orgs/${org}`, s.cookie, stale)).status).toBe(200);
    expect((await api("DELETE", `/_keygate/tokens/${minted.id}`)).res.status).toBe(200);
    const after = await get(`${UI}/orgs/${org}`, s.cookie, stale);
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/_keygate/ui/login");
    const again = await post(`${UI}/login`, { token: minted.token }, null, stale);
    expect(again.status).toBe(401);
    expect(again.headers.get("set-cookie")).toBeNull();
  });

  it("a portal link: DELETE /portal-links/:id ends the session it opened", async () => {
    const org = uniqueOrg();
    const link = await api("POST", "/_keygate/portal-links", { body: { org } });
    expect(link.res.status).toBe(201);
    const opened = await send(new URL(link.json.url).pathname, {}, adminEnv());
    expect(opened.status).toBe(200);
    const cookie = cookieOf(opened);
    expect((await get(`${UI}/orgs/${org}`, cookie, adminEnv())).status).toBe(200);
    const revoked = await api("DELETE", `/_keygate/portal-links/${link.json.id}`);
    expect(revoked.res.status).toBe(200);
    expect(revoked.res.headers.get("cache-control")).toBe("no-store");
    expect(revoked.json).toMatchObject({
      id: link.json.id,
      org,
      status: "revoked",
      expires_at: link.json.expires_at,
      revoked_at: expect.any(String),
      used_at: expect.any(String),
    });
    expect(JSON.stringify(revoked.json)).not.toContain(new URL(link.json.url).pathname.split("/").pop()!);
    const after = await get(`${UI}/orgs/${org}`, cookie, adminEnv());
    expect(after.status).toBe(303);
    // Repeating the revocation changes nothing.
    expect((await api("DELETE", `/_keygate/portal-links/${link.json.id}`)).json.revoked_at).toBe(
      revoked.json.revoked_at,
    );
  });

  it("an unused portal link, revoked, no longer opens (410)", async () => {
    const link = await api("POST", "/_keygate/portal-links", { body: { org: uniqueOrg() } });
    expect((await api("DELETE", `/_keygate/portal-links/${link.json.id}`)).res.status).toBe(200);
    const opened = await send(new URL(link.json.url).pathname, {}, adminEnv());
    expect(opened.status).toBe(410);
    expect(opened.headers.get("set-cookie")).toBeNull();
  });

  it("revoking the admin token that issued a portal link revokes the link and ends its session", async () => {
    const org = uniqueOrg();
    const writer = await mintToken({ orgs: [org], role: "write" });
    const issue = () => api("POST", "/_keygate/portal-links", { body: { org }, token: writer.token });
    const used = await issue();
    const unused = await issue();
    const cookie = cookieOf(await send(new URL(used.json.url).pathname, {}, adminEnv()));
    expect((await get(`${UI}/orgs/${org}`, cookie, adminEnv())).status).toBe(200);
    await api("DELETE", `/_keygate/tokens/${writer.id}`);
    expect((await get(`${UI}/orgs/${org}`, cookie, adminEnv())).status).toBe(303);
    expect((await send(new URL(unused.json.url).pathname, {}, adminEnv())).status).toBe(410);
  });

  it("DELETE /portal-links/:id: 404 for an unknown id or another org's link; a read token may not", async () => {
    const org = uniqueOrg();
    const link = await api("POST", "/_keygate/portal-links", { body: { org } });
    expect((await api("DELETE", "/_keygate/portal-links/pl_00000000000000000000")).res.status).toBe(404);
    expect((await api("DELETE", "/_keygate/portal-links/nope")).res.status).toBe(404);
    const other = await mintToken({ orgs: [uniqueOrg()], role: "write" });
    expect((await api("DELETE", `/_keygate/portal-links/${link.json.id}`, { token: other.token })).res.status).toBe(
      404,
    );
    const reader = await mintToken({ orgs: [org], role: "read" });
    expect((await api("DELETE", `/_keygate/portal-links/${link.json.id}`, { token: reader.token })).res.status).toBe(
      403,
    );
    const writer = await mintToken({ orgs: [org], role: "write" });
    expect((await api("DELETE", `/_keygate/portal-links/${link.json.id}`, { token: writer.token })).res.status).toBe(
      200,
    );
    const get405 = await api("GET", `/_keygate/portal-links/${link.json.id}`);
    expect(get405.res.status).toBe(405);
    expect(get405.res.headers.get("allow")).toBe("DELETE");
  });
});

describe("a session opened by a user's JWT (/ui/session) ends at the JWT's exp", () => {
  const e = () => adminEnv({ SESSION_JWT_SECRET: SECRET, SESSION_COOKIE: "__session" });

  it("a JWT with 2 minutes left opens a session of 2 minutes", async () => {
    const advance = freezeClock();
    const org = uniqueOrg();
    const now = Date.now();
    const jwt = await hs256(claims({ sub: "user_exp", org_slug: org, exp: Math.floor(now / 1000) + 120 }, now));
    const opened = await send(`${UI}/session`, { headers: { cookie: `__session=${jwt}` } }, e());
    expect(opened.status).toBe(200);
    const maxAge = Number(/Max-Age=(\d+)/.exec(opened.headers.get("set-cookie")!)![1]);
    expect(maxAge).toBeGreaterThan(100);
    expect(maxAge).toBeLessThanOrEqual(120);
    const cookie = cookieOf(opened);
    advance(110_000);
    expect((await get(`${UI}/orgs/${org}`, cookie, e())).status).toBe(200);
    advance(11_000); // past exp: the browser may still send the cookie; the store refuses it
    expect((await get(`${UI}/orgs/${org}`, cookie, e())).status).toBe(303);
  });

  it("a JWT valid for a day still gets at most the console's hour", async () => {
    const advance = freezeClock();
    const org = uniqueOrg();
    const jwt = await hs256(claims({ sub: "user_long", org_slug: org, exp: Math.floor(Date.now() / 1000) + 86_400 }));
    const opened = await send(`${UI}/session`, { headers: { cookie: `__session=${jwt}` } }, e());
    expect(Number(/Max-Age=(\d+)/.exec(opened.headers.get("set-cookie")!)![1])).toBe(3600);
    const cookie = cookieOf(opened);
    advance(3_599_000);
    expect((await get(`${UI}/orgs/${org}`, cookie, e())).status).toBe(200);
    advance(1_000);
    expect((await get(`${UI}/orgs/${org}`, cookie, e())).status).toBe(303);
  });
});

describe("without its session store, the console lets nobody in", () => {
  it("no CONSOLE_SESSIONS binding: sign-in and pages answer 503, portal links cannot be issued", async () => {
    const s = await signIn(UI);
    const none = adminEnv({ CONSOLE_SESSIONS: undefined });
    const login = await post(`${UI}/login`, { token: TOKEN }, null, none);
    expect(login.status).toBe(503);
    expect(login.headers.get("set-cookie")).toBeNull();
    const page = await get(`${UI}/orgs`, s.cookie, none);
    expect(page.status).toBe(503);
    expect(await page.text()).not.toContain("Organizations that have API keys");
    expect((await api("POST", "/_keygate/portal-links", { body: { org: "acme" }, env: none })).res.status).toBe(503);
  });

  it("an unreachable store: 503, never a page", async () => {
    const s = await signIn(UI);
    const failing = {
      idFromName: (n: string) => n,
      get: () => ({ touch: () => Promise.reject(new Error("down")), open: () => Promise.reject(new Error("down")) }),
    };
    const down = adminEnv({ CONSOLE_SESSIONS: failing });
    const page = await get(`${UI}/orgs`, s.cookie, down);
    expect(page.status).toBe(503);
    expect(page.headers.get("cache-control")).toBe("no-store");
  });
});
