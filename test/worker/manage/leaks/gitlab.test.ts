/**
 * GitLab's Token Revocation API (issue 23 §1), as GitLab's specification defines it and as
 * GitLab calls it (its TokenRevocationService: `Authorization: <token>`, no scheme, JSON):
 * `GET {ADMIN_PREFIX}/leaks/gitlab/v1/revocable_token_types` → 200 {"types": […]};
 * `POST {ADMIN_PREFIX}/leaks/gitlab/v1/revoke_tokens` [{"type", "token", "location"}] → 204,
 * 400 for an invalid body or an unsupported type; 401 without LEAK_REPORT_TOKEN (the
 * endpoints are off, 404, when it is unset). Through the real worker on Miniflare's KV.
 */
import { describe, expect, it } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { GITLAB_TOKEN_TYPE } from "../../../../src/manage/leak-intake/api";
import { mint } from "../../../support/worker-helpers";
import { countingKv, TOKEN, uniqueOrg } from "../admin/support";
import { keySet, LEAK_TOKEN, leakCall, leaksEnv, recordOf, statusWith } from "./support";

const TYPES = "/gitlab/v1/revocable_token_types";
const REVOKE = "/gitlab/v1/revoke_tokens";
const LOCATION = "https://gitlab.example/group/app/-/blob/abc123/config/.env";

async function liveKey() {
  const k = await mint({ orgs: [uniqueOrg()], name: "in a pipeline" });
  return { ...k, hash: await hashKey(k.key) };
}

const revoke = (key: string, auth: Record<string, string>, e = leaksEnv(), type = GITLAB_TOKEN_TYPE) =>
  leakCall("POST", REVOKE, auth, [{ type, token: key, location: LOCATION }], e);

describe("GET /v1/revocable_token_types", () => {
  it("lists the one type this gateway revokes, with the token as GitLab sends it (no scheme) or as Bearer", async () => {
    const e = leaksEnv();
    for (const authorization of [LEAK_TOKEN, `Bearer ${LEAK_TOKEN}`]) {
      const a = await leakCall("GET", TYPES, { authorization }, undefined, e);
      expect(a.status).toBe(200);
      expect(a.json).toEqual({ types: [GITLAB_TOKEN_TYPE] });
      expect(a.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("401 without the token, or with a wrong one (or the admin token)", async () => {
    const e = leaksEnv();
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "wrong-token-0123456789abcdef0123456789" },
      { authorization: `Bearer ${TOKEN}` },
    ]) {
      const a = await leakCall("GET", TYPES, headers, undefined, e);
      expect(a.status).toBe(401);
      expect(a.headers.get("www-authenticate")).toMatch(/^Bearer realm="keygate-leaks"/);
      expect(a.text).not.toContain(GITLAB_TOKEN_TYPE);
    }
  });

  it("off (404) while LEAK_REPORT_TOKEN is unset", async () => {
    const e = leaksEnv(keySet(), { LEAK_REPORT_TOKEN: undefined });
    expect((await leakCall("GET", TYPES, { authorization: LEAK_TOKEN }, undefined, e)).status).toBe(404);
    expect((await leakCall("POST", REVOKE, { authorization: LEAK_TOKEN }, [], e)).status).toBe(404);
  });
});

describe("POST /v1/revoke_tokens", () => {
  it("with the token: 204, and the key is revoked (its record says by GitLab, where)", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    expect(await statusWith(k.key, e)).toBe(200);
    const a = await revoke(k.key, { authorization: LEAK_TOKEN }, e);
    expect(a.status).toBe(204);
    expect(a.text).toBe("");
    expect(await statusWith(k.key, e)).toBe(401);
    expect((await recordOf(k.hash)).leaked).toMatchObject({
      reporter: "reporter:gitlab",
      url: LOCATION,
      action: "revoke",
    });
  });

  it("without the token, or a wrong one: 401, the key works, nothing written", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const tries: Record<string, string>[] = [
      {},
      { authorization: `${LEAK_TOKEN}x` },
      { authorization: `Bearer ${TOKEN}` },
    ];
    for (const headers of tries) {
      expect((await revoke(k.key, headers, e)).status).toBe(401);
    }
    expect(await statusWith(k.key, e)).toBe(200);
    expect(kv.puts).toEqual([]);
  });

  it("tokens that are not this gateway's keys are accepted (204) and change nothing", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const a = await revoke(`kg_${"x".repeat(38)}`, { authorization: LEAK_TOKEN }, e);
    expect(a.status).toBe(204);
    expect(kv.puts).toEqual([]);
  });

  it("400 for an unsupported type (the request is not retried), and nothing revoked", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const a = await revoke(k.key, { authorization: LEAK_TOKEN }, e, "gitleaks_rule_id_gitlab_personal_access_token");
    expect(a.status).toBe(400);
    expect(a.json.detail).toContain(GITLAB_TOKEN_TYPE);
    expect(await statusWith(k.key, e)).toBe(200);
  });

  it("400 for an invalid body", async () => {
    const e = leaksEnv();
    for (const body of [{ type: GITLAB_TOKEN_TYPE, token: "x" }, [], [{ type: GITLAB_TOKEN_TYPE }], "not json"]) {
      const a = await leakCall("POST", REVOKE, { authorization: LEAK_TOKEN }, body, e);
      expect(a.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("idempotent: the same tokens again answer 204 and change nothing more", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    expect((await revoke(k.key, { authorization: LEAK_TOKEN }, e)).status).toBe(204);
    const writes = kv.puts.length;
    expect((await revoke(k.key, { authorization: LEAK_TOKEN }, e)).status).toBe(204);
    expect(kv.puts.length).toBe(writes);
  });

  it("other methods: 405 with Allow", async () => {
    const e = leaksEnv();
    const a = await leakCall("GET", REVOKE, { authorization: LEAK_TOKEN }, undefined, e);
    expect(a.status).toBe(405);
    expect(a.headers.get("allow")).toBe("POST");
  });
});
