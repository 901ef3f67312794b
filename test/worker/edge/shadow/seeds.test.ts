/**
 * Issue 22's first "done when": keygate in report mode in front of each seed API — an origin
 * that authenticates on its own, in its own contract (scripts/legacy-api.ts) — configured as
 * docs/migrating.md's guide says (read from the page), its keys imported by the hashes the
 * old system kept; the seed's client requests go through; every client gets exactly the old
 * API's answer, and the shadow report counts would_break = 0, nothing differing, and
 * body_match for every refusal.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import page from "../../../../docs/migrating.md?raw";
import type { SeedProfile } from "../../../../scripts/legacy-keys";
import { SEED_PROFILES } from "../../../../scripts/legacy-keys";
import { flushShadow, shadowCounter } from "../../../../src/edge/shadow/counter";
import { CLIENTS, guidesOf } from "../../../support/guides";
import { makeEnv, ORIGIN, send } from "../../../support/worker-helpers";
import { api, TOKEN } from "../../manage/admin/support";

const GUIDES = guidesOf(page);
const PEPPER = "guide-pepper-0123456789abcdef";

function gatewayFor(profile: SeedProfile) {
  return makeEnv({
    ...GUIDES[profile].vars,
    ORIGIN_URL: `${ORIGIN}/legacy/${profile}`,
    ADMIN_TOKEN: TOKEN,
    KEY_PEPPER: PEPPER,
  });
}

/** The old API's own answer to a request (straight from the origin, no gateway). */
async function direct(profile: SeedProfile, c: (typeof CLIENTS)[SeedProfile][number]) {
  const res = await fetch(`${ORIGIN}/legacy/${profile}${c.path}`, { method: c.method, headers: c.headers });
  return { status: res.status, body: await res.text() };
}

describe.each(SEED_PROFILES)("report mode in front of the %s API", (profile) => {
  it("every client gets the old API's answer; would_break 0, body_match for every refusal", async () => {
    const gw = gatewayFor(profile);
    expect(GUIDES[profile].vars.ENFORCEMENT).toBe("report");
    // Step 1: the old system's hashes, as the guide exports them.
    const lines = GUIDES[profile].keys
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const imported = await api("POST", "/_keygate/keys/import", { body: lines, env: gw });
    expect(imported.res.status, JSON.stringify(imported.json)).toBe(200);
    expect(imported.json).toMatchObject({ imported: lines.length, failed: 0, deferred: 0 });
    for (const r of imported.json.results) expect(r).toMatchObject({ status: "imported", state: "pending" });

    // Step 2: the seed's clients, through the gateway in report mode.
    const refusals = CLIENTS[profile].filter((c) => c.status >= 400).length;
    for (const c of CLIENTS[profile]) {
      const old = await direct(profile, c);
      expect(old.status, `${c.what}: the old API's own answer`).toBe(c.status);
      const res = await send(c.path, { method: c.method, headers: c.headers }, gw);
      expect(res.status, c.what).toBe(old.status);
      expect(await res.text(), c.what).toBe(old.body);
    }
    await flushShadow(env.SHADOW_STORE!, shadowCounter(), Date.now(), (cause) => {
      throw new Error(cause);
    });

    const routes = (JSON.parse(GUIDES[profile].vars.ROUTES!) as { path: string }[]).map((r) => r.path);
    const sum: Record<string, number> = {};
    for (const route of routes) {
      const report = await api("GET", `/_keygate/shadow?route=${encodeURIComponent(route)}`, { env: gw });
      expect(report.res.status).toBe(200);
      for (const [k, v] of Object.entries(report.json.totals as Record<string, number>))
        if (typeof v === "number") sum[k] = (sum[k] ?? 0) + v;
      // Nothing here any client would notice: the report says so in one line.
      expect(report.json.summary).not.toMatch(/not safe/);
    }
    expect(sum).toMatchObject({
      requests: CLIENTS[profile].length,
      agree: CLIENTS[profile].length,
      would_break: 0,
      would_admit: 0,
      status_differs: 0,
      body_match: refusals,
      body_differs: 0,
    });

    // The keys the clients used were re-indexed at their first use: nothing of this API is pending.
    const orgs = [...new Set(lines.flatMap((l) => l.orgs as string[]))];
    for (const org of orgs) {
      const m = await api("GET", `/_keygate/migration?org=${org}`, { env: gw });
      expect(m.json.totals, org).toMatchObject({ pending: 0 });
      expect(m.json.totals.migrated, org).toBeGreaterThan(0);
    }
  });
});
