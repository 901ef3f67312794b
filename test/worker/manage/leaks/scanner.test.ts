/**
 * Your own scanners (issue 23 §1): `POST {ADMIN_PREFIX}/leaks` `{"tokens", "source", "url"?}`
 * with LEAK_REPORT_TOKEN (a leak reporter: labels only) or an admin token (root; a scoped
 * write token for the keys of its orgs — the authority table's `leak_report`), answered
 * `{"results": [{"token_hash", "label", …}]}`, never the tokens. Through the real worker.
 */
import { describe, expect, it } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { mint } from "../../../support/worker-helpers";
import { countingKv, mintToken, TOKEN, uniqueOrg } from "../admin/support";
import { keySet, LEAK_TOKEN, leakCall, leaksEnv, recordOf, sha256Hex, statusWith } from "./support";

async function liveKey(org = uniqueOrg()) {
  const k = await mint({ orgs: [org], name: "found by gitleaks" });
  return { ...k, hash: await hashKey(k.key), org };
}

const scan = (token: string, body: unknown, e = leaksEnv()) =>
  leakCall("POST", "", { authorization: `Bearer ${token}` }, body, e);

describe("POST /leaks with LEAK_REPORT_TOKEN", () => {
  it("revokes the keys among the tokens; answers labels by hash, in order, without the keys' ids", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const other = "AKIAIOSFODNN7EXAMPLE";
    const a = await scan(
      LEAK_TOKEN,
      { tokens: [other, k.key], source: "gitleaks", url: "https://intranet.example/wiki/page" },
      e,
    );
    expect(a.status).toBe(200);
    expect(a.json).toEqual({
      results: [
        { token_hash: await sha256Hex(other), label: "false_positive" },
        { token_hash: await sha256Hex(k.key), label: "true_positive" },
      ],
    });
    expect(a.text).not.toContain(k.key);
    expect(await statusWith(k.key, e)).toBe(401);
    expect((await recordOf(k.hash)).leaked).toMatchObject({
      reporter: "reporter:scanner",
      source: "gitleaks",
      url: "https://intranet.example/wiki/page",
    });
  });

  it("refuses what is not a report: 400 naming the field, nothing revoked", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const cases: [unknown, string][] = [
      [{ tokens: [k.key] }, "source"],
      [{ tokens: k.key, source: "x" }, "tokens"],
      [{ tokens: [], source: "x" }, "tokens"],
      [{ tokens: [k.key], source: "x", url: "javascript:alert(1)" }, "url"],
      [{ tokens: [k.key], source: "x", extra: 1 }, "extra"],
      [{ tokens: [k.key], source: "tab\there" }, "source"],
    ];
    for (const [body, field] of cases) {
      const a = await scan(LEAK_TOKEN, body, e);
      expect(a.status, JSON.stringify(body)).toBe(400);
      expect(
        a.json.errors.map((x: { field: string }) => x.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(await statusWith(k.key, e)).toBe(200);
  });
});

describe("POST /leaks without a valid token changes nothing", () => {
  it("401 without a token, with a wrong one, or with LEAK_REPORT_TOKEN sent without its scheme", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const body = { tokens: [k.key], source: "x" };
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer wrong-0123456789abcdef0123456789abcdef" },
      { authorization: LEAK_TOKEN },
    ]) {
      const a = await leakCall("POST", "", headers, body, e);
      expect(a.status).toBe(401);
      expect(a.headers.get("www-authenticate")).toMatch(/^Bearer realm="keygate-leaks"/);
      expect(a.text).not.toMatch(/true_positive|false_positive/);
    }
    expect(await statusWith(k.key, e)).toBe(200);
    expect(kv.puts).toEqual([]);
  });

  it("404 while the admin API is off (as the whole prefix)", async () => {
    const e = leaksEnv(keySet(), { ADMIN_TOKEN: undefined });
    const k = await liveKey();
    expect((await scan(LEAK_TOKEN, { tokens: [k.key], source: "x" }, e)).status).toBe(404);
    expect(await statusWith(k.key, e)).toBe(200);
  });
});

describe("POST /leaks with an admin token (the authority table's leak_report)", () => {
  it("root: revokes any key, and names it with its status", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const a = await scan(TOKEN, { tokens: [k.key], source: "soc" }, e);
    expect(a.status).toBe(200);
    expect(a.json.results).toEqual([
      { token_hash: await sha256Hex(k.key), label: "true_positive", key_id: k.record.id, status: "revoked" },
    ]);
    expect((await recordOf(k.hash)).leaked).toMatchObject({ reporter: "root" });
  });

  it("a write token: the keys of its orgs; another org's key is answered like an unknown token, unchanged", async () => {
    const e = leaksEnv();
    const mine = await liveKey();
    const theirs = await liveKey();
    const { token } = await mintToken({ orgs: [mine.org], role: "write" }, e);
    const a = await scan(token, { tokens: [mine.key, theirs.key], source: "soc" }, e);
    expect(a.status).toBe(200);
    expect(a.json.results).toEqual([
      { token_hash: await sha256Hex(mine.key), label: "true_positive", key_id: mine.record.id, status: "revoked" },
      { token_hash: await sha256Hex(theirs.key), label: "false_positive" },
    ]);
    expect(await statusWith(mine.key, e)).toBe(401);
    expect(await statusWith(theirs.key, e)).toBe(200);
  });

  it("a write token and a key shared with an org outside it: named, refused, unchanged", async () => {
    const e = leaksEnv();
    const org = uniqueOrg();
    const shared = await mint({ orgs: [org, uniqueOrg()], name: "shared" });
    const { token } = await mintToken({ orgs: [org], role: "write" }, e);
    const a = await scan(token, { tokens: [shared.key], source: "soc" }, e);
    expect(a.status).toBe(200);
    expect(a.json.results[0]).toMatchObject({ label: "true_positive", key_id: shared.record.id, status: "active" });
    expect(a.json.results[0].refused).toMatch(/outside this caller's/);
    expect(await statusWith(shared.key, e)).toBe(200);
  });

  it("a read token: 403 before anything is looked up", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const { token } = await mintToken({ orgs: [k.org], role: "read" }, e);
    const a = await scan(token, { tokens: [k.key], source: "soc" }, e);
    expect(a.status).toBe(403);
    expect(a.json.detail).toMatch(/read-only.*report leaked keys/);
    expect(await statusWith(k.key, e)).toBe(200);
  });
});
