/**
 * Revocation everywhere within 5 s, end to end (docs/revocation.md): a real `wrangler dev`
 * serves a key from its warm cache (CACHE_TTL_MS 30 s) while the keys CLI, in local mode,
 * revokes it in the local state. The CLI publishes the change to the gateway's revocation
 * feed (through wrangler's dev registry, cli/backends/feed.ts); the gateway polls it and refuses the
 * key within the bound. The control: the same revocation by a CLI that cannot reach the
 * running gateway's feed is not seen from the warm cache — which is what the feed fixes.
 *
 * The CLI reaches only the `wrangler dev` serving the state it changed (issue 20): each
 * local state has its own dev registry (`<persist-to>/dev-registry`), so another
 * checkout's gateway on the machine — also a Worker named "keygate" — never takes its
 * revocations.
 */
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler, tempStateDir } from "../support/node-wrangler";

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
    // The same stored state (v3/, linked) under another --persist-to: its dev registry is
    // another one, where no gateway is registered.
    const elsewhere = mkdtempSync(path.join(tmpdir(), "keygate-linked-state-"));
    symlinkSync(path.join(gw.persistTo, "v3"), path.join(elsewhere, "v3"));
    const r = await keysCli(["revoke", k.id, "--json", "--persist-to", elsewhere]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("no running `wrangler dev` of this local state");
    expect(r.stderr).toContain("npm run dev");
    const seen = await watch(k.key, BOUND_MS + 1_000);
    expect(seen.every((s) => s === 200)).toBe(true);
  });
});

describe(
  "another checkout's gateway on the same machine never takes this CLI's revocations (issue 20)",
  CLI_TESTS,
  () => {
    let other: WranglerDev;
    let ours: WranglerDev;
    const saved = process.env.WRANGLER_REGISTRY_PATH;

    beforeAll(async () => {
      // One registry for every `wrangler dev` not told otherwise, as wrangler's machine-wide
      // default is. The other checkout's gateway starts after ours: the last to start holds
      // the name "keygate" there (seen with this wrangler).
      const machine = mkdtempSync(path.join(tmpdir(), "keygate-machine-registry-"));
      mkdirSync(machine, { recursive: true });
      process.env.WRANGLER_REGISTRY_PATH = machine;
      ours = await startWrangler({ vars: { ORIGIN_URL: origin.url }, persistTo: tempStateDir() });
      other = await startWrangler({ vars: { ORIGIN_URL: origin.url }, persistTo: tempStateDir() });
    });

    afterAll(async () => {
      if (saved === undefined) delete process.env.WRANGLER_REGISTRY_PATH;
      else process.env.WRANGLER_REGISTRY_PATH = saved;
      await ours?.stop();
      await other?.stop();
    });

    it('the CLI on our state revokes a key our warm gateway refuses within 5 s, whoever else runs a "keygate"', async () => {
      const c = await keysCli(["create", "--org", "acme", "--json", "--persist-to", ours.persistTo]);
      expect(c.code, c.stderr).toBe(0);
      const k = JSON.parse(c.stdout) as { id: string; key: string };
      const ask = async () => (await fetch(`${ours.url}/v1/x`, { headers: { "x-api-key": k.key } })).status;
      expect(await ask()).toBe(200);
      expect(await ask()).toBe(200);
      const r = await keysCli(["revoke", k.id, "--json", "--persist-to", ours.persistTo]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain("no running `wrangler dev`");
      const seen: number[] = [];
      const until = Date.now() + BOUND_MS;
      while (Date.now() < until) {
        const s = await ask();
        seen.push(s);
        if (s === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen[seen.length - 1]).toBe(401);
    });
  },
);
