/**
 * The web console's security properties, inside workerd through the real worker:
 * session cookie flags, CSRF (foreign Origin and missing token), CSP, no-store on every
 * page, unauthenticated → login, the read role (through the principal seam), portal links,
 * show-once (a resubmitted form never shows a key again), keys never in URLs or logs.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ASSET_VERSION } from "../../../../src/manage/console/assets";
import { sealCookie } from "../../../../src/manage/console/cookie";
import { CONSOLE_CSP } from "../../../../src/manage/console/ui";
import { randomToken } from "../../../../src/manage/secret";
import { deliverUsage, makeEnv, send } from "../../../support/worker-helpers";
import { claims, hs256, SECRET } from "../../edge/sessions/support";
import { adminEnv, api, TOKEN, uniqueOrg } from "../admin/support";

const UI = "/_keygate/ui";
const SITE = "https://gateway.test";

/**
 * A session cookie signed exactly as sign-in signs it, for a session id the store never
 * opened (the test-side seam: sessions are server-side, a well-signed cookie alone is none).
 */
async function forgedCookie(token = TOKEN): Promise<string> {
  return `__Host-keygate_console=${await sealCookie(randomToken(), Date.now() + 3_600_000, token)}`;
}

function get(path: string, cookie?: string, e = adminEnv()) {
  return send(path, { headers: cookie ? { cookie } : {} }, e);
}

function post(
  path: string,
  fields: Record<string, string>,
  opts: { cookie?: string; origin?: string | null; env?: ReturnType<typeof adminEnv>; ip?: string } = {},
) {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin !== null) headers.origin = opts.origin ?? SITE;
  if (opts.ip) headers["cf-connecting-ip"] = opts.ip;
  return send(path, { method: "POST", headers, body: new URLSearchParams(fields).toString() }, opts.env ?? adminEnv());
}

/** The cookie a response sets, as a request Cookie header value. */
function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie");
  expect(set).not.toBeNull();
  return set!.split(";")[0]!;
}

function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  expect(m, `hidden field ${name}`).not.toBeNull();
  return m![1]!;
}

function expectPageHeaders(res: Response) {
  expect(res.headers.get("cache-control")).toBe("no-store");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await post(`${UI}/login`, { token: TOKEN });
  expect(res.status).toBe(303);
  const cookie = cookieOf(res);
  const page = await get(`${UI}/new`, cookie);
  return { cookie, csrf: hidden(await page.text(), "csrf") };
}

async function createForm(session: { cookie: string; csrf: string }, org: string, name = "ci") {
  const page = await get(`${UI}/new?org=${org}`, session.cookie);
  const html = await page.text();
  return {
    csrf: session.csrf,
    form_id: hidden(html, "form_id"),
    name,
    org,
    scopes: "read",
    expires: "",
    rate_limit: "",
    rate_period: "60",
  };
}

afterEach(() => vi.restoreAllMocks());

describe("sign-in and the session cookie", () => {
  it("the login page: a field labelled Admin token and a Sign in button posting to /ui/login", async () => {
    const res = await get(`${UI}/login`);
    expect(res.status).toBe(200);
    expectPageHeaders(res);
    const html = await res.text();
    expect(html).toMatch(/<label for="token">Admin token<\/label>/);
    expect(html).toContain(`action="${UI}/login"`);
    expect(html).toMatch(/<button type="submit">Sign in<\/button>/);
    expect(html).not.toMatch(/<script>|style="/); // no inline script or style
  });

  it("unauthenticated pages send the browser to the login page", async () => {
    for (const path of [
      `${UI}/`,
      `${UI}/orgs`,
      `${UI}/orgs/acme`,
      `${UI}/new`,
      `${UI}/keys/key_aaaaaaaaaaaaaaaaaaaa`,
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toBe(`${UI}/login`);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const forged = await get(`${UI}/orgs`, "__Host-keygate_console=eyJwIjp7ImtpbmQiOiJyb290In19.AAAA");
    expect(forged.status).toBe(303);
  });

  it("over https: __Host- cookie, HttpOnly, SameSite=Strict, Secure, Path=/, short-lived, without the token", async () => {
    const res = await post(`${UI}/login`, { token: TOKEN });
    expect(res.status).toBe(303);
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^__Host-keygate_console=/);
    expect(set).toContain("HttpOnly");
    expect(set).toContain("SameSite=Strict");
    expect(set).toContain("Secure");
    expect(set).toContain("Path=/;");
    expect(Number(/Max-Age=(\d+)/.exec(set)![1])).toBeLessThanOrEqual(3600);
    const value = set.split(";")[0]!.split("=").slice(1).join("=");
    const payload = atob(value.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"));
    expect(value).not.toContain(TOKEN);
    expect(payload).not.toContain(TOKEN);
    expect(payload).not.toContain(btoa(TOKEN).slice(0, 20));
  });

  it("over plain http: no __Host- prefix, no Secure, Path limited to the console", async () => {
    const res = await send(
      `http://gateway.test${UI}/login`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://gateway.test" },
        body: `token=${TOKEN}`,
      },
      adminEnv(),
    );
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^keygate_console=/);
    expect(set).not.toContain("Secure");
    expect(set).toContain(`Path=${UI};`);
  });

  it("a wrong token: 401 with the form again; counted against the per-IP budget (429 when over)", async () => {
    const wrong = await post(`${UI}/login`, { token: "not-the-token" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(await wrong.text()).toContain("That token is not valid.");
    const calls: string[] = [];
    const limiter = {
      limit: async ({ key }: { key: string }) => {
        calls.push(key);
        return { success: false };
      },
    };
    const e = makeEnv({ ADMIN_TOKEN: TOKEN, AUTH_FAILURE_LIMITER: limiter });
    const ip = "198.51.100.77";
    const over = await post(`${UI}/login`, { token: "still-wrong" }, { env: e, ip });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toMatch(/^\d+$/);
    // The management side's own budget (issue 20): its own key at the binding.
    expect(calls).toEqual(["management:v4:198.51.100.77"]);
    // Blocked now: even the right token is refused from this address.
    const right = await post(`${UI}/login`, { token: TOKEN }, { env: e, ip });
    expect(right.status).toBe(429);
    expect(right.headers.get("set-cookie")).toBeNull();
  });

  it("logout clears the cookie", async () => {
    const s = await signIn();
    const res = await post(`${UI}/logout`, { csrf: s.csrf }, { cookie: s.cookie });
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/^__Host-keygate_console=; Max-Age=0/);
  });

  it("the console is off without ADMIN_TOKEN: the profile's 404, never forwarded", async () => {
    const res = await send(`${UI}/login`, {}, makeEnv({ ADMIN_TOKEN: undefined, AUTH_PROFILE: "argus" }));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
  });

  it("follows ADMIN_PREFIX: the console lives under {ADMIN_PREFIX}/ui", async () => {
    const e = adminEnv({ ADMIN_PREFIX: "/ops" });
    const res = await send("/ops/ui/login", {}, e);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/ops/ui/login"');
    const signedIn = await post("/ops/ui/login", { token: TOKEN }, { env: e });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/ops/ui/orgs");
  });

  it("a session signed under another ADMIN_TOKEN is not accepted", async () => {
    // The cookie of a real session, re-signed under another ADMIN_TOKEN: refused.
    const s = await signIn();
    const id = s.cookie.split("=")[1]!.split(".")[0]!;
    const other = `__Host-keygate_console=${await sealCookie(id, Date.now() + 3_600_000, "another-admin-token-0123456789abcdef0123")}`;
    expect((await get(`${UI}/orgs`, other)).status).toBe(303);
    expect((await get(`${UI}/orgs`, s.cookie)).status).toBe(200);
  });
});

describe("CSRF", () => {
  it("a form posted from a foreign Origin is refused, even with a valid session and token", async () => {
    const s = await signIn();
    const org = uniqueOrg();
    const fields = await createForm(s, org);
    const res = await post(`${UI}/keys`, fields, { cookie: s.cookie, origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expectPageHeaders(res);
    const listed = await api("GET", `/_keygate/keys?org=${org}`);
    expect(listed.json.keys).toEqual([]);
  });

  it("a same-origin post without the session's CSRF token is refused", async () => {
    const s = await signIn();
    const org = uniqueOrg();
    const fields = await createForm(s, org);
    for (const csrf of ["", "x".repeat(43)]) {
      const res = await post(`${UI}/keys`, { ...fields, csrf }, { cookie: s.cookie });
      expect(res.status).toBe(403);
    }
    const login = await post(`${UI}/login`, { token: TOKEN }, { origin: "https://evil.example" });
    expect(login.status).toBe(403);
    expect(login.headers.get("set-cookie")).toBeNull();
    expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys).toEqual([]);
  });
});

describe("pages", () => {
  it("every page is no-store with the strict CSP; assets are cacheable", async () => {
    const s = await signIn();
    const org = uniqueOrg();
    const created = await post(`${UI}/keys`, await createForm(s, org), { cookie: s.cookie });
    expect(created.status).toBe(201);
    const id = /\/keys\/(key_[A-Za-z0-9]+)"/.exec(await created.text())![1]!;
    expectPageHeaders(created);
    for (const path of [
      `${UI}/login`,
      `${UI}/orgs`,
      `${UI}/orgs?q=${org}`,
      `${UI}/orgs/${org}`,
      `${UI}/orgs/${org}?status=active&q=ci`,
      `${UI}/new`,
      `${UI}/keys/${id}`,
      `${UI}/nope`,
    ]) {
      const res = await get(path, s.cookie);
      expect([200, 404], path).toContain(res.status);
      expectPageHeaders(res);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    }
    const css = await get(`${UI}/assets/${ASSET_VERSION}/console.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("cache-control")).toContain("immutable");
  });

  it("the show-once page is the POST's answer; resubmitting the form never shows a key again", async () => {
    const logs: string[] = [];
    for (const level of ["log", "info", "warn", "error"] as const)
      vi.spyOn(console, level).mockImplementation((...a: unknown[]) => void logs.push(a.map(String).join(" ")));
    const s = await signIn();
    const org = uniqueOrg();
    const fields = await createForm(s, org);
    const first = await post(`${UI}/keys`, fields, { cookie: s.cookie });
    expect(first.status).toBe(201);
    const html = await first.text();
    const key = keyIn(html);
    expect(html).toContain(`curl ${SITE}/ -H &#39;x-api-key: ${key}&#39;`);
    expect(first.headers.get("location")).toBeNull();
    // The key works against the gateway.
    const used = await send("/things", { headers: { "x-api-key": key } }, adminEnv());
    expect(used.status).toBe(200);
    // Resubmission (reload / back): the session's cookie never changes (the form id is
    // spent in the server-side store): refused, no key.
    expect(first.headers.get("set-cookie")).toBeNull();
    const again = await post(`${UI}/keys`, fields, { cookie: s.cookie });
    expect(again.status).toBe(409);
    const againHtml = await again.text();
    expect(againHtml).not.toContain(key);
    expect(againHtml).not.toMatch(/kg_[A-Za-z0-9]{20,}/);
    expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys).toHaveLength(1);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("\n")).not.toContain(key);
  });

  it("revoke needs the key's prefix typed; then the key gets the profile's 401", async () => {
    const s = await signIn();
    const org = uniqueOrg();
    const created = await post(`${UI}/keys`, await createForm(s, org), { cookie: s.cookie });
    const html = await created.text();
    const key = keyIn(html);
    const id = /\/keys\/(key_[A-Za-z0-9]+)"/.exec(html)![1]!;
    const cookie = s.cookie;
    const wrong = await post(`${UI}/keys/${id}/revoke`, { csrf: s.csrf, confirm: "nope" }, { cookie });
    expect(wrong.status).toBe(400);
    expect((await send("/things", { headers: { "x-api-key": key } }, adminEnv())).status).toBe(200);
    const ok = await post(`${UI}/keys/${id}/revoke`, { csrf: s.csrf, confirm: key.slice(0, 7) }, { cookie });
    expect(ok.status).toBe(303);
    expect((await send("/things", { headers: { "x-api-key": key } }, adminEnv())).status).toBe(401);
    const detail = await (await get(`${UI}/keys/${id}`, cookie)).text();
    expect(detail).toContain("Revoked");
  });
});

describe("org-scoped admin tokens in the console", () => {
  it("a read token signs in, sees its org's keys but no create form, and cannot post one", async () => {
    const org = uniqueOrg();
    await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "existing" } });
    const minted = await api("POST", "/_keygate/tokens", { body: { name: "reader", orgs: [org], role: "read" } });
    expect(minted.res.status).toBe(201);
    const login = await post(`${UI}/login`, { token: minted.json.token });
    expect(login.status).toBe(303);
    const cookie = cookieOf(login);
    const list = await get(`${UI}/orgs/${org}`, cookie);
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toContain("existing");
    expect(html).not.toContain("Create key");
    const reader = { cookie, csrf: hidden(html, "csrf") };
    const form = await get(`${UI}/new?org=${org}`, reader.cookie);
    expect(form.status).toBe(403);
    expect(await form.text()).not.toContain(`action="${UI}/keys"`);
    const posted = await post(
      `${UI}/keys`,
      {
        csrf: reader.csrf,
        form_id: crypto.randomUUID(),
        name: "sneaky",
        org,
        scopes: "",
        expires: "",
        rate_limit: "",
        rate_period: "60",
      },
      { cookie: reader.cookie },
    );
    expect(posted.status).toBe(403);
    const keys = (await api("GET", `/_keygate/keys?org=${org}`)).json.keys as { name: string }[];
    expect(keys.map((k) => k.name)).toEqual(["existing"]);
    // Outside its orgs: nothing.
    expect((await get(`${UI}/orgs/${uniqueOrg()}`, reader.cookie)).status).toBe(404);
  });

  it("revoking the token ends its console session at the next request", async () => {
    const org = uniqueOrg();
    const minted = await api("POST", "/_keygate/tokens", { body: { name: "writer", orgs: [org], role: "write" } });
    const cookie = cookieOf(await post(`${UI}/login`, { token: minted.json.token }));
    expect((await get(`${UI}/orgs/${org}`, cookie)).status).toBe(200);
    expect((await api("DELETE", `/_keygate/tokens/${minted.json.id}`)).res.status).toBe(200);
    const after = await get(`${UI}/orgs/${org}`, cookie);
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe(`${UI}/login`);
  });

  it("a write token mints portal links for its own org only; a read token for none", async () => {
    const org = uniqueOrg();
    const writer = await api("POST", "/_keygate/tokens", { body: { name: "w", orgs: [org], role: "write" } });
    const reader = await api("POST", "/_keygate/tokens", { body: { name: "r", orgs: [org], role: "read" } });
    const as = (token: string, body: unknown) =>
      send(
        "/_keygate/portal-links",
        {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        },
        adminEnv(),
      );
    expect((await as(writer.json.token, { org })).status).toBe(201);
    expect((await as(writer.json.token, { org: uniqueOrg() })).status).toBe(403);
    expect((await as(reader.json.token, { org })).status).toBe(403);
  });

  it("a well-signed cookie for a session the store never opened is no session", async () => {
    const org = uniqueOrg();
    const res = await get(`${UI}/orgs/${org}`, await forgedCookie());
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${UI}/login`);
  });
});

describe("portal links", () => {
  it("POST /portal-links → 201 {id, url, expires_at}; the URL works once and opens one org only", async () => {
    const org = uniqueOrg();
    const other = uniqueOrg();
    await api("POST", "/_keygate/keys", { body: { orgs: [other], name: "not-yours" } });
    const { res, json } = await api("POST", "/_keygate/portal-links", {
      body: { org, return_url: "https://app.example.com/settings" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(json).sort()).toEqual(["expires_at", "id", "url"]);
    expect(json.id).toMatch(/^pl_[A-Za-z0-9]{20}$/);
    const url = new URL(json.url);
    expect(url.pathname).toMatch(/^\/_keygate\/ui\/portal\/[A-Za-z0-9_-]{43}$/);
    const minutes = (Date.parse(json.expires_at) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(5);
    expect(minutes).toBeLessThanOrEqual(10);
    const opened = await send(url.pathname, {}, adminEnv());
    expect(opened.status).toBe(200);
    expectPageHeaders(opened);
    const cookie = cookieOf(opened);
    const page = await get(`${UI}/orgs/${org}`, cookie);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Back to app.example.com");
    expect(html).toContain('href="https://app.example.com/settings"');
    expect((await get(`${UI}/orgs/${other}`, cookie)).status).toBe(404);
    const orgs = await (await get(`${UI}/orgs`, cookie)).text();
    expect(orgs).not.toContain(other);
    // Second use: refused, no session.
    const again = await send(url.pathname, {}, adminEnv());
    expect(again.status).toBe(410);
    expect(again.headers.get("set-cookie")).toBeNull();
  });

  it("validates org and return_url; needs the admin token", async () => {
    for (const body of [
      {},
      { org: "bad slug" },
      { org: "acme", return_url: "http://evil.example/" },
      { org: "acme", return_url: "javascript:alert(1)" },
      { org: "acme", x: 1 },
    ]) {
      const { res } = await api("POST", "/_keygate/portal-links", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (await api("POST", "/_keygate/portal-links", { body: { org: "acme", return_url: "http://127.0.0.1:3000/x" } }))
        .res.status,
    ).toBe(201);
    expect((await api("POST", "/_keygate/portal-links", { body: { org: "acme" }, token: null })).res.status).toBe(401);
  });

  it("an unknown portal token is a counted failure", async () => {
    const res = await send(`${UI}/portal/${"A".repeat(43)}`, {}, adminEnv());
    expect(res.status).toBe(410);
  });
});

describe("the gateway never forwards the console cookie", () => {
  it("drops __Host-keygate_console from the Cookie header sent to the origin", async () => {
    const { json } = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], name: "fwd" } });
    const res = await send(
      "/echo",
      { headers: { "x-api-key": json.key, cookie: "a=1; __Host-keygate_console=secret.value; b=2" } },
      adminEnv(),
    );
    expect(res.status).toBe(200);
    const echo = (await res.json()) as { headers: Record<string, string> };
    expect(echo.headers.cookie).toBe("a=1; b=2");
  });
});
void env;

function keyIn(html: string): string {
  const m = /id="key-value">([^<]+)<\/code>/.exec(html);
  if (!m) throw new Error(`no key on the page:\n${html.slice(0, 3000)}`);
  return m[1]!;
}

describe("a user's own session opens their org's page (GET /ui/session)", () => {
  const COOKIE_NAME = "__session";
  const sessionEnv = (vars: Record<string, string> = {}) =>
    adminEnv({ SESSION_JWT_SECRET: SECRET, SESSION_COOKIE: COOKIE_NAME, ...vars });

  it("a valid session JWT gets a console session for its org only; changes are audited as session:<sub>", async () => {
    const org = uniqueOrg();
    const other = uniqueOrg();
    await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "mine" } });
    await api("POST", "/_keygate/keys", { body: { orgs: [other], name: "not-mine" } });
    const e = sessionEnv();
    const jwt = await hs256(claims({ sub: "user_9", org_slug: org, scope: "read" }));
    const opened = await send(`${UI}/session`, { headers: { cookie: `${COOKIE_NAME}=${jwt}` } }, e);
    expect(opened.status).toBe(200);
    const html = await opened.text();
    expect(html).toContain(`${UI}/orgs/${org}`);
    const cookie = cookieOf(opened);
    const page = await get(`${UI}/orgs/${org}`, cookie, e);
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain("mine");
    expect(body).not.toContain("not-mine");
    expect((await get(`${UI}/orgs/${other}`, cookie, e)).status).toBe(404);
    // Create through the console as that user: the audit names the session's user. (The
    // form sends no org nor rate limit for a session: those are the operator's, issue 18.)
    const form = await get(`${UI}/new?org=${org}`, cookie, e);
    const formHtml = await form.text();
    const created = await post(
      `${UI}/keys`,
      {
        csrf: hidden(formHtml, "csrf"),
        form_id: hidden(formHtml, "form_id"),
        name: "by-user",
        scopes: "read",
        expires: "",
      },
      { cookie, env: e },
    );
    expect(created.status).toBe(201);
    const keys = (await api("GET", `/_keygate/keys?org=${org}&name=by-user`)).json.keys as { id: string }[];
    expect(keys).toHaveLength(1);
    const audit = (await api("GET", `/_keygate/audit?key_id=${keys[0]!.id}`)).json.events as {
      actor: string;
      action: string;
    }[];
    expect(audit).toEqual([expect.objectContaining({ action: "create", actor: "session:user_9" })]);
  });

  it("no session, a bad one, or one without SELF_SERVICE_SCOPE opens nothing; without sessions configured it is 404", async () => {
    const org = uniqueOrg();
    const e = sessionEnv();
    const none = await send(`${UI}/session`, {}, e);
    expect(none.status).toBe(401);
    expect(none.headers.get("set-cookie")).toBeNull();
    const forged = await hs256(claims({ org_slug: org }), "another-secret-".padEnd(48, "x"));
    const bad = await send(`${UI}/session`, { headers: { cookie: `${COOKIE_NAME}=${forged}` } }, e);
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
    const scoped = sessionEnv({ SELF_SERVICE_PATH: "/api/keys", SELF_SERVICE_SCOPE: "keys:manage" });
    const lacking = await send(
      `${UI}/session`,
      { headers: { cookie: `${COOKIE_NAME}=${await hs256(claims({ org_slug: org, scope: "read" }))}` } },
      scoped,
    );
    expect(lacking.status).toBe(403);
    expect(lacking.headers.get("set-cookie")).toBeNull();
    const holding = await send(
      `${UI}/session`,
      { headers: { cookie: `${COOKIE_NAME}=${await hs256(claims({ org_slug: org, scope: "read keys:manage" }))}` } },
      scoped,
    );
    expect(holding.status).toBe(200);
    expect(holding.headers.get("set-cookie")).toContain("HttpOnly");
    expect((await send(`${UI}/session`, {}, adminEnv())).status).toBe(404);
  });
});

describe("a key's and an org's pages chart their usage (server-rendered SVG, the numbers as a table)", () => {
  it("requests, forwarded and rejected per hour (48 h) and per day (30 days), as the usage store counted them; none for another key", async () => {
    const org = uniqueOrg();
    const e = adminEnv();
    const created = (await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "counted", scopes: [] } })).json;
    const other = (await api("POST", "/_keygate/keys", { body: { orgs: [org], name: "idle" } })).json;
    for (let i = 0; i < 3; i++)
      expect((await send("/things", { headers: { "x-api-key": created.key } }, e)).status).toBe(200);
    // A refusal after authentication still counts for the key (route needing a scope it lacks).
    const scoped = adminEnv({ ROUTES: JSON.stringify([{ path: "/admin/*", scopes: ["admin"] }]) });
    expect((await send("/admin/x", { headers: { "x-api-key": created.key } }, scoped)).status).toBe(403);
    await deliverUsage(Date.now());
    const s = await signIn();
    const res = await get(`${UI}/keys/${created.id}`, s.cookie);
    const page = await res.text();
    const now = new Date().toISOString();
    const today = now.slice(0, 10);
    const hour = `${today} ${now.slice(11, 13)}:00`;
    expect(page).toContain("Requests per hour, last 48 hours");
    expect(page).toContain("Requests per day, last 30 days");
    // The numbers, as tables (48 hourly rows, 30 daily rows).
    expect(page).toMatch(new RegExp(`<td>${hour}</td><td>4</td><td>3</td><td>1</td>`));
    expect(page).toMatch(new RegExp(`<td>${today}</td><td>4</td><td>3</td><td>1</td>`));
    expect(page.match(/<td>\d{4}-\d\d-\d\d \d\d:00<\/td>/g)).toHaveLength(48);
    expect(page.match(/<td>\d{4}-\d\d-\d\d<\/td>/g)).toHaveLength(30);
    // The chart: inline SVG with a summary, drawn by the stylesheet's classes; no script, no inline style.
    expect(page).toMatch(
      /<svg[^>]*role="img"[^>]*aria-label="Requests per day, last 30 days \(this key\): 4 requests, 3 forwarded, 1 rejected/,
    );
    expect(page).toContain('class="bar-f"');
    expect(page).toContain('class="bar-r"');
    expect(page).not.toMatch(/<script(?! src=)/);
    expect(page).not.toMatch(/ style=/);
    expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    const idle = await (await get(`${UI}/keys/${other.id}`, s.cookie)).text();
    expect(idle).toMatch(new RegExp(`<td>${today}</td><td>0</td><td>0</td><td>0</td>`));
    expect(idle).not.toContain('class="bar-f"');
    // The org's page charts the whole org.
    const orgPage = await (await get(`${UI}/orgs/${org}`, s.cookie)).text();
    expect(orgPage).toMatch(new RegExp(`<td>${today}</td><td>4</td><td>3</td><td>1</td>`));
    expect(orgPage).toContain(`Requests per hour, last 48 hours (${org})`);
  });

  it("without a usage store the page says usage is not recorded", async () => {
    const e = adminEnv({ USAGE_STORE: undefined });
    const created = (await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], name: "n" } })).json;
    const cookie = cookieOf(await post(`${UI}/login`, { token: TOKEN }, { env: e }));
    const page = await (await get(`${UI}/keys/${created.id}`, cookie, e)).text();
    expect(page).toContain("Usage is not recorded on this gateway");
  });
});
