/**
 * A leaked key stops working everywhere within the revocation bound (issue 23 §2, ≤ 5 s):
 * reported to isolate A — by GitHub (signed), by GitLab's Token Revocation API, by a scanner
 * with LEAK_REPORT_TOKEN — the key is refused by A at once and by isolate B, whose cache is
 * warm and whose KV still answers the old record (KV's edge cache), within
 * REVOCATION_MAX_STALENESS_MS (4 s) through the revocation feed. The harness is the
 * revocation tests' (test/worker/edge/revocation/support.ts): two env objects with their own
 * key cache and feed follower, the real local KV and the real RevocationFeed object, time
 * injected through clock.now. With LEAKED_KEY_ACTION=disable the same holds; with `report`
 * the key keeps working in both.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../../../src/env";
import { hashKey } from "../../../../src/keys/hash";
import { GITLAB_TOKEN_TYPE } from "../../../../src/manage/leak-intake/api";
import type { Vars } from "../../../support/worker-helpers";
import { mint } from "../../../support/worker-helpers";
import { edgeCachedKv, freezeClock, isolate } from "../../edge/revocation/support";
import { uniqueOrg } from "../admin/support";
import { githubReport, keySet, keysUrl, LEAK_TOKEN, leakCall, statusWith } from "./support";

afterEach(() => vi.restoreAllMocks());

type Report = (a: Env, key: string) => Promise<number>;

const REPORTS: [string, Report, number][] = [
  [
    "GitHub secret scanning (POST /leaks/github, signed)",
    async (a, key) => (await githubReport([{ token: key }], a)).status,
    200,
  ],
  [
    "GitLab's Token Revocation API (POST /leaks/gitlab/v1/revoke_tokens)",
    async (a, key) =>
      (
        await leakCall(
          "POST",
          "/gitlab/v1/revoke_tokens",
          { authorization: LEAK_TOKEN },
          [{ type: GITLAB_TOKEN_TYPE, token: key, location: "https://gitlab.example/app/-/blob/main/.env" }],
          a,
        )
      ).status,
    204,
  ],
  [
    "a scanner with LEAK_REPORT_TOKEN (POST /leaks)",
    async (a, key) =>
      (await leakCall("POST", "", { authorization: `Bearer ${LEAK_TOKEN}` }, { tokens: [key], source: "gitleaks" }, a))
        .status,
    200,
  ],
];

async function twoIsolates(vars: Vars = {}) {
  const k = await mint({ orgs: [uniqueOrg()], name: "leaked" });
  const other = await mint({ orgs: [uniqueOrg()], name: "bystander" });
  const advance = freezeClock(); // after minting: created_at is not in the frozen future
  const leakVars = { LEAK_REPORT_TOKEN: LEAK_TOKEN, GITHUB_SECRET_SCANNING_KEYS_URL: keysUrl(keySet()), ...vars };
  const a = isolate(leakVars);
  const b = isolate({ ...leakVars, KEYS: await edgeCachedKv(await hashKey(k.key)) });
  expect(await statusWith(k.key, a)).toBe(200); // both caches warm
  expect(await statusWith(k.key, b)).toBe(200);
  return { k, other, a, b, advance };
}

describe("a reported key is refused by every isolate within 5 s (the revocation feed)", () => {
  for (const [name, report, ok] of REPORTS) {
    it(name, async () => {
      const { k, other, a, b, advance } = await twoIsolates();
      expect(await report(a, k.key)).toBe(ok);
      expect(await statusWith(k.key, a)).toBe(401); // at once where it was reported

      advance(500);
      expect(await statusWith(k.key, b)).toBe(200); // B has not polled yet: the window the bound covers
      advance(3_501); // 4,001 ms after the report
      expect(await statusWith(k.key, b)).toBe(401);
      advance(31_000); // B's cache entry long gone, its edge KV still says "active"
      expect(await statusWith(k.key, b)).toBe(401);
      expect(await statusWith(other.key, b)).toBe(200); // only that key
    });
  }

  it("LEAKED_KEY_ACTION=disable: disabled, and refused everywhere within the bound too", async () => {
    const { k, a, b, advance } = await twoIsolates({ LEAKED_KEY_ACTION: "disable" });
    expect((await githubReport([{ token: k.key }], a)).status).toBe(200);
    expect(await statusWith(k.key, a)).toBe(401);
    advance(4_001);
    expect(await statusWith(k.key, b)).toBe(401);
  });

  it("LEAKED_KEY_ACTION=report: only recorded, the key keeps working everywhere", async () => {
    const { k, a, b, advance } = await twoIsolates({ LEAKED_KEY_ACTION: "report" });
    expect((await githubReport([{ token: k.key }], a)).status).toBe(200);
    expect(await statusWith(k.key, a)).toBe(200);
    advance(4_001);
    expect(await statusWith(k.key, b)).toBe(200);
  });
});
