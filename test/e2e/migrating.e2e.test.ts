/**
 * docs/migrating.md's guides, run as written: for each seed API, a real `wrangler dev`
 * configured as the guide says (read from the page) in front of the old API
 * (scripts/legacy-api.ts: its own authentication, its own contract), the guide's commands
 * run in a shell — import the old system's hashes, a client's request, the shadow report,
 * the migration's progress — then the seed's clients for a while; the report must say
 * would_break 0, nothing differing, every refusal's body matching, safe to switch, and
 * nothing pending. Then step 3: the guide's enforce settings on the same state, and every
 * client gets exactly what the old API answered — the refusals now keygate's own, the rest
 * served by the API for the identity keygate signed, without the credential.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteBackend } from "../../cli/backends/remote";
import { SEED_PROFILES } from "../../scripts/legacy-keys";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import { CLIENTS, guidesOf } from "../support/guides";
import type { WranglerDev } from "../support/node-wrangler";
import { startWrangler, tempStateDir } from "../support/node-wrangler";

const ROOT = path.resolve(import.meta.dirname, "../..");
const GUIDES = guidesOf(readFileSync(path.join(ROOT, "docs/migrating.md"), "utf8"));
const ADMIN = randomBytes(32).toString("hex");
const SIGNING = `k1:${randomBytes(24).toString("hex")}`;
const execFileP = promisify(execFile);

let origin: Origin;
/** Where the guides' commands run: inside the repository (so `npm run keys` finds it), out of git's way. */
const WORK = path.join(ROOT, "node_modules/.cache");

beforeAll(async () => {
  origin = await startOrigin(0, "127.0.0.1", { signingSecret: SIGNING });
  mkdirSync(WORK, { recursive: true });
});
afterAll(async () => {
  await origin?.close();
});

const send = (gw: WranglerDev, c: (typeof CLIENTS)[keyof typeof CLIENTS][number], probe?: string) =>
  fetch(gw.url + c.path, {
    method: c.method,
    headers: { ...c.headers, ...(probe ? { "x-probe": probe } : {}) },
    redirect: "manual",
  });

describe.each(SEED_PROFILES)("the %s guide", (profile) => {
  it("import, shadow, enforce: as docs/migrating.md says, no client notices", { timeout: 180_000 }, async () => {
    const guide = GUIDES[profile];
    const persistTo = tempStateDir();
    const vars = {
      ...guide.vars,
      ORIGIN_URL: `${origin.url}/legacy/${profile}`,
      ADMIN_TOKEN: ADMIN,
      KEY_PEPPER: "guide-pepper-0123456789abcdef",
      ORIGIN_SIGNING_SECRET: SIGNING,
      USAGE_FLUSH_MS: "1000",
    };
    let gw = await startWrangler({ vars, persistTo, logLevel: "warn" });
    const dir = mkdtempSync(path.join(WORK, `keygate-guide-${profile}-`));
    try {
      // Steps 1 and 2, the guide's commands as a user runs them.
      writeFileSync(path.join(dir, guide.keysFile), guide.keys);
      const shell = await execFileP("bash", ["-e", "-c", guide.commands], {
        cwd: dir,
        env: { ...process.env, GATEWAY: gw.url, KEYGATE_ADMIN_TOKEN: ADMIN, NO_COLOR: "1" },
      }).catch((err: { stdout?: string; stderr?: string; code?: number }) => {
        throw new Error(`the ${profile} guide's commands failed (${err.code}):\n${err.stdout}\n${err.stderr}`);
      });
      expect(shell.stdout).toMatch(/\d+ lines in [\d.]+ s.*: \d+ imported/);
      expect(shell.stdout).toMatch(/would_break in 1 hour/);
      expect(shell.stdout).toMatch(/Imported keys: \d+ imported/);

      // The seed's clients, in report mode: each gets the old API's own answer.
      const direct = new Map<string, { status: number; body: string }>();
      for (const c of CLIENTS[profile]) {
        const old = await fetch(`${origin.url}/legacy/${profile}${c.path}`, { method: c.method, headers: c.headers });
        direct.set(c.what, { status: old.status, body: await old.text() });
        const res = await send(gw, c);
        expect(res.status, c.what).toBe(c.status);
        expect(await res.text(), c.what).toBe(direct.get(c.what)!.body);
      }
      // Counts leave the isolate within USAGE_FLUSH_MS (+ one round trip), with no later request.
      const admin = remoteBackend(gw.url, ADMIN);
      const refusals = CLIENTS[profile].filter((c) => c.status >= 400).length;
      let report: Record<string, unknown> = {};
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 1100));
        const got = await admin.shadow({ from: new Date(Date.now() - 3_600_000).toISOString() });
        if (!got.ok) throw new Error(JSON.stringify(got));
        report = got.value;
        if ((report.totals as { requests: number }).requests >= CLIENTS[profile].length) break;
      }
      // Every client's request counted, though none came after them.
      expect((report.totals as { requests: number }).requests).toBeGreaterThanOrEqual(CLIENTS[profile].length);
      expect(report.totals).toMatchObject({ would_break: 0, would_admit: 0, status_differs: 0, body_differs: 0 });
      expect((report.totals as { body_match: number }).body_match).toBeGreaterThanOrEqual(refusals);
      expect(report.safe_to_switch, String(report.summary)).toBe(true);
      expect(report.summary).toMatch(/^0 would_break in 1 hour on \d+ routes?: safe to switch\.$/);
      const progress = await admin.migration({});
      expect(progress.ok && progress.value.totals).toMatchObject({ pending: 0 });

      // Step 3: the guide's enforce settings, the same state.
      await gw.stop();
      gw = await startWrangler({ vars: { ...vars, ...guide.enforce }, persistTo, logLevel: "warn" });
      for (const c of CLIENTS[profile]) {
        const probe = `guide-${profile}-${randomBytes(6).toString("hex")}`;
        const res = await send(gw, c, probe);
        expect(res.status, c.what).toBe(c.status);
        expect(await res.text(), c.what).toBe(direct.get(c.what)!.body);
        const seen = (await (await fetch(`${origin.url}/__origin/calls?probe=${probe}`)).json()) as {
          calls: { headers: Record<string, string>; signature?: { ok: boolean } }[];
        };
        if (c.status < 400) {
          // Signed by keygate (for the identity it vouched for, or none on a public route): the credential never reached the API.
          expect(seen.calls, c.what).toHaveLength(1);
          expect(seen.calls[0]!.signature?.ok, c.what).toBe(true);
          expect(seen.calls[0]!.headers["x-api-key"], c.what).toBeUndefined();
        }
        if (c.status >= 400) expect(seen.calls, `${c.what}: refused at the edge`).toHaveLength(0);
      }
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
