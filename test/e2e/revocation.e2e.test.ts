/**
 * Revocation everywhere within 5 s, end to end (docs/revocation.md): a real `wrangler dev`
 * serves a key from its warm cache (CACHE_TTL_MS 30 s) while the keys CLI, in local mode,
 * revokes it in the local state. The CLI publishes the change to the gateway's revocation
 * feed (through wrangler's dev registry, cli/backends/feed.ts); the gateway polls it and refuses the
 * key within the bound. The control: the same revocation by a CLI that cannot reach the
 * running gateway's feed is not seen from the warm cache — which is what the feed fixes.
 *
 * Each test gets its own dev registry (WRANGLER_REGISTRY_PATH) so other `wrangler dev`
 * sessions on the machine named "keygate" cannot answer for this one.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrigin } from "../../scripts/origin";
import type { Origin } from "../../scripts/origin";
import { keysCli, startWrangler } from "../support/node-wrangler";
import type { WranglerDev } from "../support/node-wrangler";

const REGISTRY = mkdtempSync(path.join(tmpdir(), "keygate-registry-"));
process.env.WRANGLER_REGISTRY_PATH = REGISTRY;
const CLI_TESTS = { timeout: 240_000 };
const BOUND_MS = 5_000;

let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({ vars: { ORIGIN_URL: origin.url } });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

const status = async (key: string) => (await fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": key } })).status;

async function created(): Promise<{ id: string; key: string }> {
  const r = await keysCli(["create", "--org", "acme", "--json", "--persist-to", gw.persistTo]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** Ask until the key is refused or `ms` have passed; the statuses seen, in order. */
async function watch(key: string, ms: number): Promise<number[]> {
  const seen: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const s = await status(key);
    seen.push(s);
    if (s === 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

describe("the CLI in local mode revokes a key wrangler dev is serving from a warm cache", CLI_TESTS, () => {
  it("the gateway refuses it within 5 s of the CLI's answer", async () => {
    const k = await created();
    expect(await status(k.key)).toBe(200);
    expect(await status(k.key)).toBe(200); // served from the in-isolate cache now
    const r = await keysCli(["revoke", k.id, "--json", "--persist-to", gw.persistTo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("no running `wrangler dev`");
    const seen = await watch(k.key, BOUND_MS);
    expect(seen[seen.length - 1]).toBe(401);
  });

  it("control: without the feed (a CLI that cannot reach this gateway), the warm cache keeps serving it past 5 s", async () => {
    const k = await created();
    expect(await status(k.key)).toBe(200);
    const elsewhere = mkdtempSync(path.join(tmpdir(), "keygate-registry-"));
    const r = await keysCli(["revoke", k.id, "--json", "--persist-to", gw.persistTo], { WRANGLER_REGISTRY_PATH: elsewhere });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("no running `wrangler dev`");
    const seen = await watch(k.key, BOUND_MS + 1_000);
    expect(seen.every((s) => s === 200)).toBe(true);
  });
});
