/**
 * A leaked key stops working by itself, end to end (issue 23), against a real `wrangler dev`
 * in front of a real origin: the origin also stands in for GitHub — it publishes a locally
 * generated P-256 key in GitHub's `public_keys` shape (GITHUB_SECRET_SCANNING_KEYS_URL points
 * at it) and signs reports with it as GitHub does. A key served from the gateway's warm
 * cache is refused within 5 s of each kind of report: GitHub's signed one, GitLab's Token
 * Revocation API, the keys CLI's `leaked --file` on local state (through the revocation
 * feed) and with `--url`. An unsigned report changes nothing.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteBackend } from "../../cli/backends/remote";
import type { GithubTestKey, Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import { githubKeys } from "../support/github-keys";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler, tempStateDir } from "../support/node-wrangler";

const ROOT = "e2e-admin-token-0123456789abcdef0123456789abcdef";
const LEAK_TOKEN = "e2e-leak-report-token-0123456789abcdef012345";
const BOUND_MS = 5_000;
const SLOW = { timeout: 240_000 };

let origin: Origin;
let gw: WranglerDev;
let github: GithubTestKey;

beforeAll(async () => {
  const keys = githubKeys();
  github = keys.find((k) => k.listed)!;
  origin = await startOrigin(0, "127.0.0.1", { github: keys });
  gw = await startWrangler({
    vars: {
      ORIGIN_URL: origin.url,
      ADMIN_TOKEN: ROOT,
      LEAK_REPORT_TOKEN: LEAK_TOKEN,
      GITHUB_SECRET_SCANNING_KEYS_URL: `${origin.url}/__origin/github/public_keys`,
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

const status = async (key: string) => (await fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": key } })).status;

/** A key, created through the admin API and served once from the gateway's cache. */
async function servedKey(): Promise<{ id: string; key: string }> {
  const made = await remoteBackend(gw.url, ROOT).create({ orgs: ["acme"], name: "leaky" });
  if (!made.ok) throw new Error(JSON.stringify(made));
  const k = made.value as { id: string; key: string };
  expect(await status(k.key)).toBe(200);
  expect(await status(k.key)).toBe(200); // from the in-isolate cache now
  return k;
}

/** Ask until the key is refused or `ms` have passed; the last status seen. */
async function refusedWithin(key: string, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let s = await status(key);
  while (s !== 401 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    s = await status(key);
  }
  return s;
}

async function signed(body: string): Promise<Record<string, string>> {
  const res = await fetch(`${origin.url}/__origin/github/sign?key=${github.identifier}`, { method: "POST", body });
  const { signature } = (await res.json()) as { signature: string };
  return { "github-public-key-identifier": github.identifier, "github-public-key-signature": signature };
}

const postGithub = (body: string, headers: Record<string, string>) =>
  fetch(`${gw.url}/_keygate/leaks/github`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

describe("a leaked key is refused within 5 s (a real wrangler dev)", SLOW, () => {
  it("GitHub's signed report: the feedback array, then the key refused", async () => {
    const k = await servedKey();
    const body = JSON.stringify([
      { token: k.key, type: "acme_api_key", url: "https://github.com/octo/app/blob/1/x", source: "commit" },
    ]);
    const res = await postGithub(body, await signed(body));
    expect(res.status).toBe(200);
    const feedback = (await res.json()) as { token_hash: string; token_type: string; label: string }[];
    expect(feedback).toEqual([
      { token_hash: expect.stringMatching(/^[0-9a-f]{64}$/), token_type: "acme_api_key", label: "true_positive" },
    ]);
    expect(await refusedWithin(k.key, BOUND_MS)).toBe(401);
  });

  it("an unsigned or tampered report: 401, the key keeps working", async () => {
    const k = await servedKey();
    const body = JSON.stringify([{ token: k.key, type: "acme_api_key", url: "", source: "commit" }]);
    expect((await postGithub(body, {})).status).toBe(401);
    const headers = await signed(body);
    expect((await postGithub(body.replace("commit", "content"), headers)).status).toBe(401);
    expect(await status(k.key)).toBe(200);
  });

  it("GitLab's Token Revocation API", async () => {
    const k = await servedKey();
    const types = await fetch(`${gw.url}/_keygate/leaks/gitlab/v1/revocable_token_types`, {
      headers: { authorization: LEAK_TOKEN },
    });
    const { types: list } = (await types.json()) as { types: string[] };
    const res = await fetch(`${gw.url}/_keygate/leaks/gitlab/v1/revoke_tokens`, {
      method: "POST",
      headers: { authorization: LEAK_TOKEN, "content-type": "application/json" },
      body: JSON.stringify([{ type: list[0], token: k.key, location: "https://gitlab.example/a/-/blob/main/.env" }]),
    });
    expect(res.status).toBe(204);
    expect(await refusedWithin(k.key, BOUND_MS)).toBe(401);
  });

  it("npm run keys -- leaked --file, on local state: the running gateway learns of it through the feed", async () => {
    const k = await servedKey();
    const file = path.join(tempStateDir(), "found.txt");
    writeFileSync(file, `AKIAIOSFODNN7EXAMPLE\n${k.key}\n`);
    const r = await keysCli(["leaked", "--file", file, "--source", "gitleaks", "--persist-to", gw.persistTo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("2 tokens, 1 of them a key of this gateway");
    expect(r.stdout).toMatch(new RegExp(`^2\\s+true_positive\\s+${k.id}\\s+revoked$`, "m"));
    expect(r.stdout).not.toContain(k.key);
    expect(await refusedWithin(k.key, BOUND_MS)).toBe(401);
  });

  it("npm run keys -- leaked --file --url, with LEAK_REPORT_TOKEN", async () => {
    const k = await servedKey();
    const file = path.join(tempStateDir(), "found.txt");
    writeFileSync(file, `${k.key}\n`);
    const r = await keysCli(["leaked", "--file", file, "--url", gw.url, "--json"], { KEYGATE_ADMIN_TOKEN: LEAK_TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      results: [{ token_hash: expect.stringMatching(/^[0-9a-f]{64}$/), label: "true_positive" }],
    });
    expect(await refusedWithin(k.key, BOUND_MS)).toBe(401);
    const shown = await keysCli(["show", k.id, "--url", gw.url], { KEYGATE_ADMIN_TOKEN: ROOT });
    expect(shown.stdout).toMatch(/leaked: +Reported leaked on .* by reporter:scanner \(cli\): revoked/);
  });
});
