/**
 * `npm run dev`'s banner (scripts/dev-banner.ts) promises, for each request it lists, the
 * status the gateway answers: here every one of them is sent to the real gateway, in every
 * profile, with the configuration the banner was computed from (issue 24: the banner said
 * 401 for a missing key in the operate profile, which answers 400).
 */
import { describe, expect, it, vi } from "vitest";
import type { BannerInput } from "../../../../scripts/dev-banner";
import { banner, tries } from "../../../../scripts/dev-banner";
import { parseConfig } from "../../../../src/config/config";
import { PROFILE_NAMES } from "../../../../src/config/profiles";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

const GATEWAY = "http://127.0.0.1:8787";

async function input(vars: Vars): Promise<{ input: BannerInput; env: ReturnType<typeof makeEnv> }> {
  const env = makeEnv({ SELF_SERVICE_PATH: "/api/keys", ADMIN_TOKEN: "a".repeat(64), ...vars });
  const org = `demo-${crypto.randomUUID().slice(0, 8)}`;
  const { key, record } = await mint({ orgs: [org], scopes: ["read", "write"], name: "demo (npm run dev)" });
  return {
    env,
    input: {
      gateway: GATEWAY,
      origin: "http://127.0.0.1:8788",
      demoOrigin: true,
      config: parseConfig(env),
      demo: { key, id: record.id, expiresAt: "2099-01-01T00:00:00.000Z", org, scopes: ["read", "write"] },
      consoleUrl: "http://console.localhost:8787/",
      adminToken: "a".repeat(64),
      sessions: true,
    },
  };
}

/** Send one of the banner's requests to the real gateway; its status, and whether the origin saw it. */
async function sendTry(env: ReturnType<typeof makeEnv>, t: ReturnType<typeof tries>[number]) {
  const { res, calls } = await through(t.path, { headers: t.headers }, env);
  return { status: res.status, forwarded: calls.length > 0 };
}

describe("npm run dev's banner: what it promises is what the gateway answers", () => {
  it.each(PROFILE_NAMES)("profile %s: every request it lists gets the status it prints", async (profile) => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { input: i, env } = await input({ AUTH_PROFILE: profile });
    const listed = tries(i);
    expect(listed.map((t) => t.path)).toEqual(["/hello", "/hello", "/api/keys"]);
    for (const t of listed) {
      const got = await sendTry(env, t);
      expect(got.status, `${profile} ${t.path} ${t.curlArgs.join(" ")}`).toBe(t.status);
      // "never reached the origin" is a promise too.
      if (t.note.includes("never reached the origin")) expect(got.forwarded).toBe(false);
    }
    // The text carries each request's curl line and its status.
    const text = banner(i);
    for (const t of listed) {
      const line = text.split("\n").find((l) => l.includes(`${GATEWAY}${t.path}`) && l.includes(`# ${t.status}:`));
      expect(line, text).toBeDefined();
    }
    expect(text).toContain(`with the ${profile} profile`);
  });

  it("operate's missing key is a 400 (its page's Missing API Key), never the 401 other profiles answer", async () => {
    const { input: i } = await input({ AUTH_PROFILE: "operate" });
    expect(banner(i)).toMatch(
      /curl -i http:\/\/127\.0\.0\.1:8787\/hello +# 400: no key \(the operate profile answers 400\)/,
    );
    const { input: d } = await input({});
    expect(banner(d)).toMatch(/curl -i http:\/\/127\.0\.0\.1:8787\/hello +# 401: no key, never reached the origin/);
  });

  it("follows the configuration: a public route, a missing-key status, scopes the demo key lacks", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    for (const vars of [
      { ROUTES: JSON.stringify([{ path: "/hello", auth: "public" }]) },
      { AUTH_PROFILE: "argus", MISSING_KEY_STATUS: "400" },
      { ROUTES: JSON.stringify([{ path: "/hello", scopes: ["admin"] }]), SELF_SERVICE_SCOPE: "keys:manage" },
      { ROUTES: JSON.stringify([{ path: "/hello", scopes: ["admin"], hide: true }]), AUTH_PROFILE: "onecodex" },
    ]) {
      const { input: i, env } = await input(vars);
      for (const t of tries(i)) {
        expect((await sendTry(env, t)).status, `${JSON.stringify(vars)} ${t.path}`).toBe(t.status);
      }
    }
  });
});
