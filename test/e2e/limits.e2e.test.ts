/**
 * Credits, IP allowlists and org limits (docs/limits.md), and usage (docs/usage.md), from the
 * keys CLI (local mode and --url) against a real `wrangler dev` in front of a real origin.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler } from "../support/node-wrangler";

const TOKEN = randomBytes(32).toString("hex");
const CLI_TESTS = { timeout: 240_000 };

let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({ vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: TOKEN, USAGE_FLUSH_MS: "1000" } });
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

const get = (key: string, ip?: string) =>
  fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": key, ...(ip ? { "cf-connecting-ip": ip } : {}) } });

describe("limits from the CLI", CLI_TESTS, () => {
  it("--credits and --refill (local): spent per forwarded request, x-credits-remaining, then 429", async () => {
    const k = await json(local("create", "--org", "acme", "--credits", "2", "--refill", "2/day", "--json"));
    expect(k.credits).toMatchObject({ remaining: 2, refill: { amount: 2, interval: "day" } });
    const a = await get(k.key);
    expect(a.status).toBe(200);
    expect(a.headers.get("x-credits-remaining")).toBe("1");
    expect((await get(k.key)).status).toBe(200);
    const out = await get(k.key);
    expect(out.status).toBe(429);
    expect(Number(out.headers.get("retry-after"))).toBeGreaterThan(0);
    const bad = await local("create", "--org", "acme", "--refill", "2/week");
    expect(bad.code).toBe(2);
  });

  it("--allow-ip (--url), validated strictly; update --allow-ip none", async () => {
    const k = await json(
      remote("create", "--org", "acme", "--allow-ip", "203.0.113.0/24", "--allow-ip", "2001:db8::/32", "--json"),
    );
    expect((await get(k.key, "203.0.113.5")).status).toBe(200);
    expect((await get(k.key, "198.51.100.5")).status).toBe(403);
    const bad = await remote("create", "--org", "acme", "--allow-ip", "203.0.113.1/24");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--allow-ip");
    await json(remote("update", k.id, "--allow-ip", "none", "--json"));
    expect((await get(k.key, "198.51.100.5")).status).toBe(200);
  });

  it("orgs set (local) reaches the running gateway through the feed; orgs show (--url) reads it", async () => {
    const org = `o-${randomUUID().slice(0, 8)}`;
    const k = await json(local("create", "--org", org, "--json"));
    expect((await get(k.key)).status).toBe(200); // warm: the org is known to have no limit
    const set = await local("orgs", "set", "--org", org, "--rate-limit", "1/60s");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("rate limit 1 requests per 60 s");
    expect(set.stderr).not.toContain("no running `wrangler dev`");
    const shown = await json(remote("orgs", "show", "--org", org, "--json"));
    expect(shown.rate_limit).toEqual({ limit: 1, period_seconds: 60 });
    // Within the revocation bound the gateway applies it: of the next requests, only one passes.
    await new Promise((r) => setTimeout(r, 5_000));
    const statuses = [(await get(k.key)).status, (await get(k.key)).status];
    expect(statuses).toEqual([200, 429]);
    const refused = await get(k.key);
    expect(refused.headers.get("ratelimit-policy")).toBe('"org";q=1;w=60');
    const usage = await local("orgs", "set", "--org", org);
    expect(usage.code).toBe(2);
  });
});

describe("usage from the CLI", CLI_TESTS, () => {
  it("usage --org (local and --url): the gateway's counts, flushed in the background", async () => {
    const org = `u-${randomUUID().slice(0, 8)}`;
    const k = await json(remote("create", "--org", org, "--credits", "2", "--json"));
    for (let i = 0; i < 3; i++) await get(k.key);
    await new Promise((r) => setTimeout(r, 1_500)); // USAGE_FLUSH_MS=1000: the next request flushes
    await fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": k.key } });
    // Its flush runs in waitUntil, then the location's aggregator forwards it: in GET /usage
    // within USAGE_FLUSH_MS (1 s) and two round trips.
    await new Promise((r) => setTimeout(r, 1_500));
    const viaUrl = await json(remote("usage", "--org", org, "--since", "1h", "--json"));
    expect(viaUrl.totals).toEqual({ requests: 4, forwarded: 2, rejected: 2, rejected_by_status: { "429": 2 } });
    expect(viaUrl.granularity).toBe("minute");
    const viaLocal = await json(local("usage", "--org", org, "--key", k.id, "--json"));
    expect(viaLocal.totals).toEqual(viaUrl.totals);
    const human = await local("usage", "--org", org);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("requests 4, forwarded 2, rejected 2 (429: 2)");
    const bad = await remote("usage", "--org", org, "--since", "soon");
    expect(bad.code).toBe(2);
  });
});
