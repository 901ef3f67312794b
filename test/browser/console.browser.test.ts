/**
 * The web console in real Chromium (Debian's, driven by playwright-core) against a real
 * `wrangler dev` in front of a real origin: sign in, create a key, copy it from the
 * clipboard and use it, reload (not shown again), rotate, revoke (the profile's 401), a
 * portal link (one org, once), keyboard-only creation, and axe-core on every page.
 *
 * SCREENSHOTS=1 (npm run screenshots) also saves docs/console-keys.png,
 * docs/console-show-once.png, docs/console-usage.png (a key's usage charts) and
 * docs/console-webhooks.png.
 */
import path from "node:path";
import axe from "axe-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localFeed } from "../../cli/backends/feed";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { UsageBatch } from "../../src/objects/protocol";
import type { WranglerDev } from "../support/node-wrangler";
import { startWrangler } from "../support/node-wrangler";
import { CHROMIUM } from "./global-setup";

const TOKEN = "browser-admin-token-0123456789abcdef0123456789";
const ROOT = path.resolve(import.meta.dirname, "../..");
const SCREENSHOTS = process.env.SCREENSHOTS === "1";

let origin: Origin;
let gw: WranglerDev;
let browser: Browser;
const cspViolations: string[] = [];

async function adminApi(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/_keygate${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.url });
  return context;
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

/** axe-core on the current page: no serious or critical violation. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(axe.source);
  const results = (await page.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document),
  )) as axe.AxeResults;
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    what,
  ).toEqual([]);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${gw.url}/_keygate/ui/`);
  await expect.poll(() => page.url()).toBe(`${gw.url}/_keygate/ui/login`);
  await expectAccessible(page, "login page");
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${gw.url}/_keygate/ui/orgs`);
}

/**
 * Give a key 30 days of usage in its org's usage store (the running gateway's object,
 * reached through its state's dev registry as the keys CLI does): a weekday rhythm, more
 * traffic by day than by night, a few refusals. A fixture for the charts, as the keys above
 * are for the list.
 */
async function seedUsage(org: string, keyId: string): Promise<void> {
  const feed = localFeed(path.join(ROOT, "wrangler.toml"), undefined, gw.persistTo);
  try {
    const store = (await feed.usageStore(org)) as unknown as { add(b: UsageBatch): Promise<boolean> };
    const nowMinute = Math.floor(Date.now() / 60_000);
    const rows: UsageBatch["rows"] = [];
    for (let h = 30 * 24; h >= 1; h--) {
      const minute = (Math.floor(nowMinute / 60) - h) * 60 + 7;
      const hourOfDay = new Date(minute * 60_000).getUTCHours();
      const day = Math.floor(minute / 1440);
      const base = (hourOfDay >= 7 && hourOfDay <= 19 ? 40 : 8) + ((day * 7 + hourOfDay * 3) % 11);
      const weekend = [0, 6].includes(new Date(minute * 60_000).getUTCDay()) ? 0.4 : 1;
      const forwarded = Math.round(base * weekend);
      rows.push({ minute, key_id: keyId, status: 200, forwarded: true, count: forwarded });
      if (hourOfDay % 5 === 0)
        rows.push({ minute, key_id: keyId, status: 429, forwarded: false, count: 1 + (day % 3) });
    }
    await store.add({ id: crypto.randomUUID(), rows });
  } finally {
    await feed.close();
  }
}

function callGateway(key: string, p = "/v1/things"): Promise<Response> {
  return fetch(`${gw.url}${p}`, { headers: { "x-api-key": key } });
}

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({
    vars: {
      ORIGIN_URL: origin.url,
      ADMIN_TOKEN: TOKEN,
      // One route in report mode, for the Migration page (docs/migrating.md); the others enforce.
      ROUTES: JSON.stringify([{ path: "/legacy/*", enforcement: "report" }]),
      USAGE_FLUSH_MS: "1000",
    },
  });
  // A realistic org to look at (and to screenshot).
  for (const k of [
    { name: "Production backend", scopes: ["read", "write"] },
    { name: "Analytics export", scopes: ["read"], expires_at: new Date(Date.now() + 90 * 86_400_000).toISOString() },
    { name: "Staging", scopes: ["read", "write"], rate_limit: { limit: 100, period_seconds: 60 } },
  ]) {
    const created = await adminApi("POST", "/keys", { orgs: ["acme"], ...k });
    expect(created.status).toBe(201);
    if (k.name !== "Analytics export") expect((await callGateway(created.json.key)).status).toBe(200); // "last used"
  }
  const old = await adminApi("POST", "/keys", { orgs: ["acme"], name: "Old laptop", scopes: ["read"] });
  await adminApi("DELETE", `/keys/${old.json.id}`);
  const paused = await adminApi("POST", "/keys", { orgs: ["acme"], name: "Partner sandbox", scopes: ["read"] });
  await adminApi("PATCH", `/keys/${paused.json.id}`, { enabled: false });
  expect((await adminApi("POST", "/keys", { orgs: ["globex"], name: "Globex only" })).status).toBe(201);
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
  await origin?.close();
  expect(cspViolations).toEqual([]);
});

describe("the web console in Chromium", () => {
  it("sign in, create, copy, use, reload (gone), rotate, revoke (401)", async () => {
    const context = await newContext();
    const page = await newPage(context);
    await signIn(page);
    await expectAccessible(page, "organizations page");
    await page.getByLabel("Search organizations").fill("ac");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: "acme", exact: true }).click();
    await page.waitForURL(/\/orgs\/acme$/);
    // The keys table (the page also has the usage charts' tables, for screen readers).
    const keysTable = page.getByRole("table", { name: "API keys of acme" });
    await expect.poll(() => keysTable.getByRole("row").count()).toBe(6); // header + 5 keys
    await expectAccessible(page, "keys page");
    if (SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, "docs/console-keys.png"), fullPage: true });

    // Filters live in the URL.
    await page.getByLabel("Status").selectOption("revoked");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/status=revoked/);
    expect(await keysTable.getByRole("row").count()).toBe(2);
    await expect.poll(() => page.getByRole("cell", { name: "Old laptop" }).count()).toBe(1);

    // Create.
    await page.getByRole("link", { name: "Create key" }).first().click();
    await page.getByLabel("Name").fill("Mobile app");
    await page.getByLabel("Organization").fill("acme");
    await page.getByLabel("Scopes").fill("read write");
    await page.getByLabel("Expires").selectOption({ label: "In 1 year" });
    await page.getByLabel("Rate limit (requests)").fill("600");
    await expectAccessible(page, "create form");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Your new API key" }).waitFor();
    await expectAccessible(page, "show-once page");
    if (SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, "docs/console-show-once.png"), fullPage: true });
    const shown = (await page.locator("#key-value").textContent())!.trim();
    expect(shown).toMatch(/^kg_[A-Za-z0-9]{38}$/);
    expect(page.url()).not.toContain(shown);
    expect(await page.locator("#curl-line").textContent()).toBe(`curl ${gw.url}/ -H 'x-api-key: ${shown}'`);

    // Copy, read the clipboard, use the copied key: forwarded to the origin.
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(shown);
    const used = await callGateway(copied);
    expect(used.status).toBe(200);
    const echo = (await used.json()) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe("/v1/things");
    expect(echo.headers["x-org-slug"]).toBe("acme");
    expect(echo.headers["x-api-key-scopes"]).toBe("read,write");

    // Reload: the key is not shown again (and no second key is minted).
    await page.reload();
    expect(await page.content()).not.toContain(shown);
    await page.goBack();
    expect(await page.content()).not.toContain(shown);
    const mobile = ((await adminApi("GET", "/keys?org=acme")).json.keys as { id: string; name: string }[]).filter(
      (k) => k.name === "Mobile app",
    );
    expect(mobile).toHaveLength(1);

    // Detail → rotate with no grace → a new show-once page; the old key stops.
    await page.goto(`${gw.url}/_keygate/ui/keys/${mobile[0]!.id}`);
    await expectAccessible(page, "key detail");
    await page.getByLabel("Grace period for the old key").selectOption("0");
    await page.getByRole("button", { name: "Rotate key" }).click();
    await page.getByRole("heading", { name: "Your rotated API key" }).waitFor();
    const rotated = (await page.locator("#key-value").textContent())!.trim();
    expect(rotated).not.toBe(shown);
    expect((await callGateway(shown)).status).toBe(401);
    expect((await callGateway(rotated)).status).toBe(200);

    // Revoke the new key: typing the prefix confirms; then the profile's 401.
    await page.getByRole("link", { name: "View key" }).click();
    await page.getByRole("heading", { name: "Audit timeline" }).waitFor();
    await page.getByLabel(/Type the key's prefix/).fill(rotated.slice(0, 7));
    await page.getByRole("button", { name: "Revoke key" }).click();
    await page.getByText("Revoked", { exact: true }).first().waitFor();
    await expect.poll(() => page.locator(".timeline li").count()).toBe(2); // created by rotation, revoked
    const revoked = await callGateway(rotated);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("content-type")).toBe("application/problem+json");
    expect(((await revoked.json()) as { status: number }).status).toBe(401);
    await context.close();
  });

  it("usage charts (SVG, no script) with their numbers as tables, on a key's and an org's pages", async () => {
    // A key with a history: its usage store is given 30 days of counts (a fixture, through the
    // running gateway's object, as the CLI reaches it), then real requests: forwarded and 429s.
    const made = await adminApi("POST", "/keys", {
      orgs: ["acme"],
      name: "Billing export",
      scopes: ["read"],
      rate_limit: { limit: 3, period_seconds: 60 },
    });
    await seedUsage("acme", made.json.id);
    for (let i = 0; i < 5; i++) await callGateway(made.json.key); // 3 forwarded, 2 refused (429)
    await new Promise((r) => setTimeout(r, 2_500)); // USAGE_FLUSH_MS=1000: flushed and forwarded (≤ 1 s + two round trips) with no later request
    const context = await newContext();
    const page = await newPage(context);
    await signIn(page);
    await page.goto(`${gw.url}/_keygate/ui/keys/${made.json.id}`);
    const hourly = page.getByRole("img", { name: /^Requests per hour, last 48 hours \(this key\)/ });
    const daily = page.getByRole("img", { name: /^Requests per day, last 30 days \(this key\)/ });
    await hourly.waitFor();
    expect(await daily.count()).toBe(1);
    // The numbers, for screen readers: 48 hours and 30 days, this hour's live counts in them.
    const hours = page.getByRole("table", { name: "Requests per hour, last 48 hours (this key) (UTC)" });
    expect(await hours.getByRole("row").count()).toBe(49);
    const now = new Date().toISOString();
    const thisHour = hours.getByRole("row", { name: new RegExp(`^${now.slice(0, 10)} ${now.slice(11, 13)}:00 `) });
    expect((await thisHour.getByRole("cell").allTextContents()).slice(1)).toEqual(["5", "3", "2"]);
    const days = page.getByRole("table", { name: "Requests per day, last 30 days (this key) (UTC)" });
    expect(await days.getByRole("row").count()).toBe(31);
    expect(await page.locator("script:not([src])").count()).toBe(0);
    await expectAccessible(page, "key page with usage charts");
    if (SCREENSHOTS) {
      await page.locator("h2", { hasText: "Usage" }).scrollIntoViewIfNeeded();
      await page.locator("main").screenshot({ path: path.join(ROOT, "docs/console-usage.png") });
    }
    await page.goto(`${gw.url}/_keygate/ui/orgs/acme`);
    await page.getByRole("img", { name: /^Requests per day, last 30 days \(acme\)/ }).waitFor();
    await expectAccessible(page, "org page with usage charts");
    await context.close();
  });

  it("webhooks: add (the secret once), see the attempts, all accessible", async () => {
    const context = await newContext();
    const page = await newPage(context);
    await signIn(page);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    await expectAccessible(page, "webhooks page");
    await page.getByLabel("Endpoint URL").fill(`${origin.url}/__origin/hook/browser`);
    await page.getByLabel("key.revoked").check();
    await page.getByLabel("key.created").check();
    await page.getByLabel("Organizations").fill("acme");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.getByRole("heading", { name: "Webhook added" }).waitFor();
    await expectAccessible(page, "webhook added page");
    const secret = (await page.locator("#key-value").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole("link", { name: "View webhook" }).click();
    await page.getByRole("button", { name: "Send a test event" }).click();
    await expect
      .poll(async () => {
        await page.reload();
        return page.getByRole("cell", { name: "204" }).count();
      })
      .toBe(1);
    expect(await page.content()).not.toContain(secret);
    await expectAccessible(page, "webhook page");
    if (SCREENSHOTS) await page.locator("main").screenshot({ path: path.join(ROOT, "docs/console-webhooks.png") });
    await context.close();
  });

  it("keyboard only: Tab through the create form and press Enter on Create", async () => {
    const context = await newContext();
    const page = await newPage(context);
    await signIn(page);
    await page.goto(`${gw.url}/_keygate/ui/new`);
    // Name has focus on load.
    await page.keyboard.type("Keyboard key");
    await page.keyboard.press("Tab");
    await page.keyboard.type("acme");
    for (let i = 0; i < 12; i++) {
      const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");
      if (focused === "Create") break;
      await page.keyboard.press("Tab");
    }
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Create");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Your new API key" }).waitFor();
    const key = (await page.locator("#key-value").textContent())!.trim();
    expect((await callGateway(key)).status).toBe(200);
    await context.close();
  });

  it("the Migration page says in one line whether it is safe to switch, and what is pending", async () => {
    // A request keygate would refuse (no key) that the origin serves, on the report-mode route.
    const breaks = await fetch(`${gw.url}/legacy/things`);
    expect(breaks.status).toBe(200);
    await adminApi("POST", "/keys/import", {
      hash: `sha512:${"c0ffee".repeat(21)}00`, // pending: sha512 is never keygate's own hash
      key_prefix: "old_ab",
      orgs: ["acme"],
      name: "From the old system",
    });
    const context = await newContext();
    const page = await newPage(context);
    await signIn(page);
    await page.getByRole("link", { name: "Migration" }).click();
    await page.waitForURL(`${gw.url}/_keygate/ui/migration`);
    // Counts leave the isolate at most every USAGE_FLUSH_MS, with a request.
    await expect
      .poll(
        async () => {
          await new Promise((r) => setTimeout(r, 1100));
          await fetch(`${gw.url}/legacy/things`);
          await page.reload();
          return page.locator("[data-safe]").textContent();
        },
        { timeout: 30_000 },
      )
      .toMatch(/^\d+ would_break in 7 days on 1 of 1 route: not safe to switch yet\.$/);
    expect(await page.locator("[data-safe]").getAttribute("data-safe")).toBe("false");
    expect(await page.getByRole("cell", { name: "/legacy/*" }).count()).toBe(1);
    expect(await page.locator("[data-pending]").textContent()).toMatch(/^1 imported, 0 migrated, 1 pending/);
    await expectAccessible(page, "migration page");
    await context.close();
  });

  it("a portal link opens one organization only, and works once", async () => {
    const { status, json } = await adminApi("POST", "/portal-links", {
      org: "acme",
      return_url: "http://127.0.0.1:9/settings",
    });
    expect(status).toBe(201);
    const context = await newContext();
    const page = await newPage(context);
    await page.goto(json.url);
    await page.waitForURL(`${gw.url}/_keygate/ui/orgs/acme`);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await expectAccessible(page, "portal keys page");
    expect(await page.getByRole("link", { name: "Back to 127.0.0.1:9" }).getAttribute("href")).toBe(
      "http://127.0.0.1:9/settings",
    );
    expect(await page.getByRole("link", { name: "Organizations" }).count()).toBe(0);
    await page.goto(`${gw.url}/_keygate/ui/orgs/globex`);
    expect(await page.getByRole("heading", { name: "Not found" }).count()).toBe(1);
    await page.goto(`${gw.url}/_keygate/ui/orgs`);
    expect(await page.content()).not.toContain("globex");
    // The portal user can create a key for acme (and only acme).
    await page.goto(`${gw.url}/_keygate/ui/new?org=acme`);
    expect(await page.getByLabel("Organization").locator("option").allTextContents()).toEqual(["acme"]);
    await context.close();

    // Arriving from the app's own (other) site, as the "Manage API keys" button does: the
    // SameSite=Strict session still works after the portal page moves on.
    const link2 = await adminApi("POST", "/portal-links", { org: "acme" });
    const cross = await newContext();
    const page3 = await newPage(cross);
    await page3.route("https://app.example.test/**", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><title>App</title><a href="${link2.json.url}">Manage API keys</a>`,
      }),
    );
    await page3.goto("https://app.example.test/settings");
    await page3.getByRole("link", { name: "Manage API keys" }).click();
    await page3.waitForURL(`${gw.url}/_keygate/ui/orgs/acme`);
    await page3.getByRole("heading", { name: "API keys" }).waitFor();
    expect(await page3.getByRole("link", { name: "Create key" }).count()).toBeGreaterThan(0);
    await cross.close();

    // Second use, from a fresh browser: refused.
    const again = await newContext();
    const page2 = await newPage(again);
    const res = await page2.goto(json.url);
    expect(res!.status()).toBe(410);
    await expectAccessible(page2, "expired link page");
    await page2.goto(`${gw.url}/_keygate/ui/orgs/acme`);
    await page2.waitForURL(/\/login$/);
    await again.close();
  });
});
