/**
 * The console on a host of its own (CONSOLE_HOST=console.localhost), in real Chromium
 * (Debian's, driven by playwright-core) against a real `wrangler dev` in front of a real
 * origin that serves a page of its own through the gateway (a public route):
 *
 * - the console works at http://console.localhost:PORT/ (Chromium resolves *.localhost to
 *   loopback): sign in, create a key, sign out;
 * - its cookie is host-only on console.localhost: never sent to the API's host;
 * - script on a page the origin serves through the gateway cannot read a console page:
 *   `fetch` with credentials gets no console HTML, neither from the gateway's own host
 *   (`/_keygate/ui` is not the console there) nor from the console's host (cross-origin,
 *   no CORS).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import axe from "axe-core";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WranglerDev } from "../support/node-wrangler";
import { startWrangler } from "../support/node-wrangler";
import { CHROMIUM } from "./global-setup";

const TOKEN = "browser-admin-token-0123456789abcdef0123456789";
const CONSOLE_HOST = "console.localhost";

let origin: http.Server;
let gw: WranglerDev;
let browser: Browser;
const cspViolations: string[] = [];

/**
 * The origin: a page at /public/page whose script (the origin's, as any page it serves)
 * tries to read the console with the browser's credentials and writes what it got into
 * #out; /public/echo answers the Cookie header it received.
 */
function page(consoleUrl: string): string {
  return `<!doctype html><html lang="en"><title>Origin page</title><pre id="out"></pre><script>
(async () => {
  const out = {};
  for (const [name, url] of [["gateway", "/_keygate/ui/orgs"], ["gateway-login", "/_keygate/ui/login"], ["console", ${JSON.stringify(consoleUrl)} + "/orgs"]]) {
    try {
      const r = await fetch(url, { credentials: "include" });
      out[name] = { status: r.status, body: await r.text() };
    } catch (e) {
      out[name] = { error: String(e) };
    }
  }
  const echo = await fetch("/public/echo", { credentials: "include" });
  out.cookie = await echo.text();
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script></html>`;
}

function startPageOrigin(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    if (url.pathname === "/public/page") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(page(url.searchParams.get("console") ?? ""));
    } else if (url.pathname === "/public/echo") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(req.headers.cookie ?? "");
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url }));
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function expectAccessible(p: Page, what: string): Promise<void> {
  await p.evaluate(axe.source);
  const results = (await p.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document),
  )) as axe.AxeResults;
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    what,
  ).toEqual([]);
}

beforeAll(async () => {
  origin = await startPageOrigin();
  gw = await startWrangler({
    vars: {
      ORIGIN_URL: `http://127.0.0.1:${(origin.address() as AddressInfo).port}`,
      ADMIN_TOKEN: TOKEN,
      CONSOLE_HOST,
      ROUTES: JSON.stringify([{ path: "/public/*", auth: "public" }]),
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await new Promise((r) => origin?.close(r));
  expect(cspViolations).toEqual([]);
});

describe("the console on its own host, in Chromium", () => {
  it("works on console.localhost, its cookie stays there, and a page the origin serves cannot read it", async () => {
    const consoleUrl = `http://${CONSOLE_HOST}:${gw.port}`;
    const context = await browser.newContext();
    const p = await context.newPage();
    p.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    // Sign in and create a key on the console's host.
    await p.goto(`${consoleUrl}/`);
    await expect.poll(() => p.url()).toBe(`${consoleUrl}/login`);
    await expectAccessible(p, "login page on the console host");
    await p.getByLabel("Admin token").fill(TOKEN);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.waitForURL(`${consoleUrl}/orgs`);
    await p.goto(`${consoleUrl}/new?org=acme`);
    await p.getByLabel("Name").fill("From the console host");
    await p.getByRole("button", { name: "Create", exact: true }).click();
    await p.getByRole("heading", { name: "Your new API key" }).waitFor();
    await expectAccessible(p, "show-once page on the console host");
    const key = (await p.locator("#key-value").textContent())!.trim();
    expect(await p.locator("#curl-line").textContent()).toBe(`curl $KEYGATE_URL/ -H 'x-api-key: ${key}'`);
    expect((await fetch(`${gw.url}/v1/things`, { headers: { "x-api-key": key } })).status).toBe(200);

    // The session cookie: host-only on the console's host (no Domain), HttpOnly, Strict.
    const cookies = await context.cookies();
    expect(
      cookies.map((c) => ({
        name: c.name,
        domain: c.domain,
        path: c.path,
        httpOnly: c.httpOnly,
        sameSite: c.sameSite,
      })),
    ).toEqual([{ name: "keygate_console", domain: CONSOLE_HOST, path: "/", httpOnly: true, sameSite: "Strict" }]);
    expect(await context.cookies(gw.url)).toEqual([]);

    // A page the origin serves through the gateway, in the same browser, signed in.
    const attacker = await context.newPage();
    await attacker.goto(`${gw.url}/public/page?console=${encodeURIComponent(consoleUrl)}`);
    await expect.poll(() => attacker.locator("#out").textContent(), { timeout: 15_000 }).not.toBe("");
    const got = JSON.parse((await attacker.locator("#out").textContent())!) as Record<
      string,
      { status?: number; body?: string; error?: string } | string
    >;
    for (const name of ["gateway", "gateway-login", "console"]) {
      const r = got[name] as { status?: number; body?: string; error?: string };
      expect(r.body ?? "", name).not.toContain("<html");
      expect(r.body ?? "", name).not.toContain('name="csrf"');
    }
    expect((got.gateway as { status: number }).status).toBe(401); // like any unknown admin path
    expect((got.console as { error?: string }).error).toMatch(/TypeError/); // cross-origin, no CORS
    expect(got.cookie).not.toContain("keygate_console"); // never sent to the API's host

    // Sign out: the session ends; a copy of the cookie, in another browser, opens nothing.
    await p.goto(`${consoleUrl}/orgs`);
    await p.getByRole("button", { name: "Sign out" }).click();
    await p.waitForURL(`${consoleUrl}/login`);
    const other = await browser.newContext();
    await other.addCookies([{ ...cookies[0]!, expires: -1 }]);
    const q = await other.newPage();
    await q.goto(`${consoleUrl}/orgs`);
    await expect.poll(() => q.url()).toBe(`${consoleUrl}/login`);
    await other.close();
    await context.close();
  });
});
