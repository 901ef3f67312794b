/**
 * CONSOLE_HOST (issue 18): the console on a host of its own, inside workerd through the
 * real worker. On that host: the console at its root, and nothing else — no gateway, no
 * admin API, nothing forwarded. On every other host `{ADMIN_PREFIX}/ui…` is answered like
 * any path the admin API does not have. The console's cookie is host-only (no Domain) on
 * the console host; portal links point there.
 */
import { describe, expect, it } from "vitest";
import { ASSET_VERSION } from "../../../../src/manage/console/assets";
import { makeEnv, mint, send, through } from "../../../support/worker-helpers";
import { adminEnv, api, PROBLEM_401, TOKEN, uniqueOrg } from "../admin/support";
import { cookieOf, createForm, get, keyIn, post, signIn } from "./support";

const HOST = "keys.test";
const CONSOLE = `https://${HOST}`;
const e = (vars: Record<string, unknown> = {}) => adminEnv({ CONSOLE_HOST: HOST, ...vars });

/** A problem body without its request id (it differs per request). */
async function problemOf(res: Response): Promise<unknown> {
  const body = (await res.json()) as Record<string, unknown>;
  delete body.request_id;
  delete body.instance;
  return body;
}

describe("the console's own host", () => {
  it("serves the console at its root: sign-in, pages, assets", async () => {
    const login = await get(`${CONSOLE}/login`, null, e());
    expect(login.status).toBe(200);
    const html = await login.text();
    expect(html).toContain('action="/login"');
    expect(html).toContain(`href="/assets/${ASSET_VERSION}/console.css"`);
    expect(html).not.toContain("shares its address with the API"); // the one-host warning
    expect((await get(`${CONSOLE}/assets/${ASSET_VERSION}/console.css`, null, e())).status).toBe(200);
    const root = await get(`${CONSOLE}/`, null, e());
    expect(root.status).toBe(303);
    expect(root.headers.get("location")).toBe("/login");
    const s = await signIn(CONSOLE, e());
    expect((await get(`${CONSOLE}/orgs`, s.cookie, e())).status).toBe(200);
  });

  it("the session cookie is host-only: no Domain; __Host- over https, Path=/ on plain http too", async () => {
    const res = await post(`${CONSOLE}/login`, { token: TOKEN }, null, e());
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/orgs");
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^__Host-keygate_console=/);
    expect(set).toContain("Path=/;");
    expect(set).toContain("Secure");
    expect(set.toLowerCase()).not.toContain("domain=");
    const plain = await post(`http://${HOST}/login`, { token: TOKEN }, null, e());
    const plainSet = plain.headers.get("set-cookie")!;
    expect(plainSet).toMatch(/^keygate_console=/);
    expect(plainSet).toContain("Path=/;");
    expect(plainSet.toLowerCase()).not.toContain("domain=");
  });

  it("nothing else answers there: a valid key is not forwarded, the admin API and the self-service API are not served", async () => {
    const { key } = await mint({ orgs: ["acme"] });
    const forwarded = await through(`${CONSOLE}/things`, { headers: { "x-api-key": key } }, e());
    expect(forwarded.calls).toEqual([]);
    expect(forwarded.res.status).toBe(303); // the console: sign in first
    const s = await signIn(CONSOLE, e());
    const signedIn = await through(`${CONSOLE}/things`, { headers: { "x-api-key": key, cookie: s.cookie } }, e());
    expect(signedIn.calls).toEqual([]);
    expect(signedIn.res.status).toBe(404);
    expect(signedIn.body).toContain("<html");
    const adminCall = await send(
      `${CONSOLE}/_keygate/keys?org=acme`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
      e(),
    );
    expect(adminCall.status).toBe(303); // the console: sign in first — not the admin API's JSON
    expect(adminCall.headers.get("content-type") ?? "").not.toMatch(/json/);
    const selfService = await through(
      `${CONSOLE}/api/keys`,
      { headers: { "x-api-key": key } },
      e({ SELF_SERVICE_PATH: "/api/keys" }),
    );
    expect(selfService.calls).toEqual([]);
    expect(selfService.res.headers.get("content-type") ?? "").not.toMatch(/json/);
    // A path that does not normalize: the console's answer, never the gateway's.
    const odd = await through(`${CONSOLE}/a%2Fb`, { headers: { "x-api-key": key } }, e());
    expect(odd.calls).toEqual([]);
    expect([303, 404]).toContain(odd.res.status);
  });

  it("with the console off (no ADMIN_TOKEN) the host answers the profile's 404 and forwards nothing", async () => {
    const off = makeEnv({ CONSOLE_HOST: HOST, ADMIN_TOKEN: undefined, AUTH_PROFILE: "argus" });
    const { key } = await mint({ orgs: ["acme"] });
    const r = await through(`${CONSOLE}/things`, { headers: { "x-api-key": key } }, off);
    expect(r.res.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ detail: "Not Found" });
    expect(r.calls).toEqual([]);
  });

  it("matches the host name in any case, on any port", async () => {
    expect((await get(`https://KEYS.Test:8443/login`, null, e())).status).toBe(200);
    expect((await get(`${CONSOLE}/login`, null, adminEnv({ CONSOLE_HOST: "Keys.TEST" }))).status).toBe(200);
  });

  it("a CONSOLE_HOST that is not a host name is a configuration error (every request 500)", async () => {
    for (const bad of ["https://keys.test", "keys.test:8443", "keys.test/ui", "-keys.test", "keys..test"]) {
      expect((await send("/x", {}, adminEnv({ CONSOLE_HOST: bad }))).status, bad).toBe(500);
    }
  });

  it("the show-once page's curl line names the API's address as $KEYGATE_URL (the console cannot know it)", async () => {
    const s = await signIn(CONSOLE, e());
    const org = uniqueOrg();
    const created = await post(`${CONSOLE}/keys`, await createForm(CONSOLE, s, org, e()), s.cookie, e());
    expect(created.status).toBe(201);
    const html = await created.text();
    const key = keyIn(html);
    expect(html).toContain(`curl $KEYGATE_URL/ -H &#39;x-api-key: ${key}&#39;`);
    expect(html).toContain("First set KEYGATE_URL");
  });
});

describe("the gateway's host, with CONSOLE_HOST set", () => {
  it("answers {ADMIN_PREFIX}/ui… exactly like a path the admin API does not have", async () => {
    for (const path of [
      "/_keygate/ui",
      "/_keygate/ui/login",
      "/_keygate/ui/orgs",
      `/_keygate/ui/assets/${ASSET_VERSION}/console.css`,
    ]) {
      const ui = await send(path, {}, e());
      const unknown = await send("/_keygate/no-such-path", {}, e());
      expect(ui.status, path).toBe(401);
      expect(await problemOf(ui), path).toEqual(await problemOf(unknown));
      expect(await problemOf(await send(path, {}, e()))).toEqual(PROBLEM_401);
      const withToken = await send(path, { headers: { authorization: `Bearer ${TOKEN}` } }, e());
      expect(withToken.status, path).toBe(404);
      expect(withToken.headers.get("content-type")).toMatch(/problem\+json/);
    }
    const login = await send(
      "/_keygate/ui/login",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://gateway.test" },
        body: `token=${TOKEN}`,
      },
      e(),
    );
    expect(login.status).toBe(401);
    expect(login.headers.get("set-cookie")).toBeNull();
  });

  it("a console session's cookie opens nothing there", async () => {
    const s = await signIn(CONSOLE, e());
    const res = await get("https://gateway.test/_keygate/ui/orgs", s.cookie, e());
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain("<html");
  });

  it("portal links point at the console's host and open there", async () => {
    const org = uniqueOrg();
    const link = await api("POST", "/_keygate/portal-links", { body: { org }, env: e() });
    expect(link.res.status).toBe(201);
    const url = new URL(link.json.url);
    expect(url.host).toBe(HOST);
    expect(url.pathname).toMatch(/^\/portal\/[A-Za-z0-9_-]{43}$/);
    const opened = await get(link.json.url, null, e());
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain(`/orgs/${org}`);
    expect((await get(`${CONSOLE}/orgs/${org}`, cookieOf(opened), e())).status).toBe(200);
  });
});
