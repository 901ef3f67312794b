/**
 * GitHub's secret scanning partner program (issue 23 §1): `POST {ADMIN_PREFIX}/leaks/github`
 * takes GitHub's payload, verifies `Github-Public-Key-Identifier` / `Github-Public-Key-Signature`
 * (ECDSA P-256, SHA-256, DER, base64) against the keys GitHub publishes — here a locally
 * generated pair the test origin publishes in GitHub's shape and signs with (support.ts) —
 * and answers with the partner documentation's feedback array. Through the real worker, on
 * Miniflare's real KV; what a user would notice: the status, the feedback, whether the key
 * still works, and what was written.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import type { AuditEvent } from "../../../../src/keys/store/audit";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import { mint, originCalls, send } from "../../../support/worker-helpers";
import { api, countingKv, uniqueOrg } from "../admin/support";
import {
  githubBody,
  githubReport,
  githubSign,
  keySet,
  LISTED,
  leaksEnv,
  postGithub,
  publishKeys,
  recordOf,
  sha256Hex,
  statusWith,
  UNLISTED,
} from "./support";

afterEach(() => vi.restoreAllMocks());

const FOUND_AT = "https://github.com/octo/app/blob/5f3c2a1/config.js";

async function liveKey(org = uniqueOrg()) {
  const k = await mint({ orgs: [org], name: "pushed by mistake" });
  return { ...k, hash: await hashKey(k.key), org };
}

describe("a report signed by GitHub", () => {
  it("revokes a live key, answers GitHub's feedback array, and the gateway refuses the key", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    expect(await statusWith(k.key, e)).toBe(200);

    const res = await githubReport([{ token: k.key, url: FOUND_AT, source: "commit" }], e);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // Exactly the partner documentation's shape: the token's SHA-256, never the token.
    expect(await res.json()).toEqual([
      { token_hash: await sha256Hex(k.key), token_type: "keygate_api_key", label: "true_positive" },
    ]);

    expect(await statusWith(k.key, e)).toBe(401);
    const record = await recordOf(k.hash);
    expect(record.revoked_at).not.toBeNull();
    expect(record.revoked_reason).toBe("leaked");
    expect(record.leaked).toMatchObject({
      reporter: "reporter:github",
      source: "commit",
      url: FOUND_AT,
      action: "revoke",
    });
  });

  it("leaves an audit event key.leaked carrying the source, the URL and the reporter", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    expect((await githubReport([{ token: k.key, url: FOUND_AT, source: "pull_request_comment" }], e)).status).toBe(200);
    const { json } = await api("GET", `/_keygate/audit?key_id=${k.record.id}`, { env: e });
    const leaked = (json.events as AuditEvent[]).filter((ev) => ev.action === "key.leaked");
    expect(leaked).toHaveLength(1);
    expect(leaked[0]).toMatchObject({
      actor: "reporter:github",
      key_id: k.record.id,
      orgs: [k.org],
      leak: { reporter: "reporter:github", source: "pull_request_comment", url: FOUND_AT, action: "revoke" },
    });
    expect(JSON.stringify(json)).not.toContain(k.key);
  });

  it("answers one feedback entry per token and type, in order: a random token and a near miss are false_positive", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const random = `kg_${"A".repeat(10)}`; // the prefix, the wrong length
    const nearMiss = k.key.slice(0, -1) + (k.key.endsWith("0") ? "1" : "0"); // bad checksum
    const other = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"; // not ours at all
    const res = await githubReport(
      [{ token: k.key }, { token: random }, { token: nearMiss }, { token: k.key }, { token: other, type: "other" }],
      e,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { token_hash: await sha256Hex(k.key), token_type: "keygate_api_key", label: "true_positive" },
      { token_hash: await sha256Hex(random), token_type: "keygate_api_key", label: "false_positive" },
      { token_hash: await sha256Hex(nearMiss), token_type: "keygate_api_key", label: "false_positive" },
      { token_hash: await sha256Hex(other), token_type: "other", label: "false_positive" },
    ]);
  });

  it("a random token and a near miss write nothing to KV, and a near miss is not even read", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const nearMiss = k.key.slice(0, -1) + (k.key.endsWith("0") ? "1" : "0");
    const random = `imported-${crypto.randomUUID()}`;
    const res = await githubReport([{ token: nearMiss }, { token: random }], e);
    expect(await res.json()).toEqual([
      expect.objectContaining({ label: "false_positive" }),
      expect.objectContaining({ label: "false_positive" }),
    ]);
    expect(kv.puts).toEqual([]);
    const read = JSON.stringify(kv.gets);
    expect(read).not.toContain(kvKey.record(await hashKey(nearMiss)));
    expect(read).toContain(kvKey.record(await hashKey(random))); // another format: maybe an imported key
    expect(await statusWith(k.key, e)).toBe(200);
  });

  it("replays are idempotent: the same report again answers the same and writes nothing", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const body = githubBody([{ token: k.key }]);
    const headers = {
      "github-public-key-identifier": LISTED.identifier,
      "github-public-key-signature": await githubSign(body),
    };
    const first = await postGithub(body, headers, e);
    expect(first.status).toBe(200);
    const feedback = await first.json();
    const writes = kv.puts.length;
    expect(writes).toBeGreaterThan(0);
    const again = await postGithub(body, headers, e);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(feedback);
    expect(kv.puts.length).toBe(writes);
    const { json } = await api("GET", `/_keygate/audit?key_id=${k.record.id}`, { env: e });
    expect((json.events as AuditEvent[]).filter((ev) => ev.action === "key.leaked")).toHaveLength(1);
  });

  it("a rotated-out key in its grace period is ended at once; its successor keeps working", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    const rotated = await api("POST", `/_keygate/keys/${k.record.id}/rotate`, {
      body: { grace_seconds: 3600 },
      env: e,
    });
    expect(rotated.res.status).toBe(201);
    const successor = rotated.json.key as string;
    expect(await statusWith(k.key, e)).toBe(200); // in its grace period
    const before = await recordOf(await hashKey(successor));

    expect((await githubReport([{ token: k.key }], e)).status).toBe(200);
    expect(await statusWith(k.key, e)).toBe(401);
    expect(await statusWith(successor, e)).toBe(200);
    expect(await recordOf(await hashKey(successor))).toEqual(before);
  });

  it("an imported key (another format) is found by lookup and revoked", async () => {
    const e = leaksEnv();
    const imported = await mint({ key: `legacy-${crypto.randomUUID()}`, orgs: [uniqueOrg()] });
    expect(await statusWith(imported.key, e)).toBe(200);
    const res = await githubReport([{ token: imported.key }], e);
    expect(await res.json()).toEqual([expect.objectContaining({ label: "true_positive" })]);
    expect(await statusWith(imported.key, e)).toBe(401);
  });
});

describe("a report without GitHub's valid signature changes nothing (401)", () => {
  async function expectRefused(res: Response, e: ReturnType<typeof leaksEnv>, key: string) {
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toMatch(/^GitHub-Public-Key-Signature realm=/);
    const text = await res.text();
    expect(text).not.toContain("true_positive");
    expect(text).not.toContain("false_positive");
    expect(await statusWith(key, e)).toBe(200);
  }

  it("no signature headers, or either one missing", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const body = githubBody([{ token: k.key }]);
    const signature = await githubSign(body);
    await expectRefused(await postGithub(body, {}, e), e, k.key);
    await expectRefused(await postGithub(body, { "github-public-key-signature": signature }, e), e, k.key);
    await expectRefused(await postGithub(body, { "github-public-key-identifier": LISTED.identifier }, e), e, k.key);
    expect(kv.puts).toEqual([]);
  });

  it("a bad signature: another body's, garbage, not base64, not DER", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const body = githubBody([{ token: k.key }]);
    const id = { "github-public-key-identifier": LISTED.identifier };
    const otherBodys = await githubSign(githubBody([{ token: "kg_something_else" }]));
    for (const signature of [otherBodys, "MEUCIQ", "not base64!", btoa("just some bytes, not DER at all"), ""])
      await expectRefused(await postGithub(body, { ...id, "github-public-key-signature": signature }, e), e, k.key);
    expect(kv.puts).toEqual([]);
  });

  it("a tampered body: signed, then changed (a token added, a byte changed, spacing)", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    const victim = await liveKey();
    const signed = githubBody([{ token: k.key }]);
    const headers = {
      "github-public-key-identifier": LISTED.identifier,
      "github-public-key-signature": await githubSign(signed),
    };
    await expectRefused(await postGithub(githubBody([{ token: victim.key }]), headers, e), e, victim.key);
    await expectRefused(
      await postGithub(githubBody([{ token: k.key }, { token: victim.key }]), headers, e),
      e,
      victim.key,
    );
    await expectRefused(await postGithub(JSON.stringify(JSON.parse(signed), null, 1), headers, e), e, k.key);
    expect(kv.puts).toEqual([]);
  });

  it("a signature by a key GitHub does not list (an unknown identifier)", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    await expectRefused(await githubReport([{ token: k.key }], e, UNLISTED.identifier), e, k.key);
    // The listed identifier with the unlisted key's signature, and vice versa.
    const body = githubBody([{ token: k.key }]);
    await expectRefused(
      await postGithub(
        body,
        {
          "github-public-key-identifier": LISTED.identifier,
          "github-public-key-signature": await githubSign(body, UNLISTED.identifier),
        },
        e,
      ),
      e,
      k.key,
    );
    expect(kv.puts).toEqual([]);
  });

  it("wrong signatures count against the address's failure budget", async () => {
    const e = leaksEnv(keySet(), { AUTH_FAILURE_LIMITER: { limit: async () => ({ success: false }) } });
    const k = await liveKey();
    const body = githubBody([{ token: k.key }]);
    const res = await postGithub(
      body,
      {
        "github-public-key-identifier": LISTED.identifier,
        "github-public-key-signature": await githubSign("other"),
        "cf-connecting-ip": "198.51.100.7",
      },
      e,
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).not.toBeNull();
    // Refused before any signature is looked at, while the address is blocked, even a valid one.
    const valid = await postGithub(
      body,
      {
        "github-public-key-identifier": LISTED.identifier,
        "github-public-key-signature": await githubSign(body),
        "cf-connecting-ip": "198.51.100.7",
      },
      e,
    );
    expect(valid.status).toBe(429);
    expect(await statusWith(k.key, e)).toBe(200);
  });
});

describe("GitHub's keys: fetched, cached, refreshed on an unknown identifier at most once a minute", () => {
  it("one fetch serves many reports; an unknown identifier refetches at most once a minute; a rotation is picked up", async () => {
    let now = Date.now();
    vi.spyOn(clock, "now").mockImplementation(() => now);
    const set = keySet();
    const e = leaksEnv(set);
    const fetches = async () => (await originCalls(`github-keys:${set}`)).length;

    const a = await liveKey();
    expect((await githubReport([{ token: a.key }], e)).status).toBe(200);
    const b = await liveKey();
    expect((await githubReport([{ token: b.key }], e)).status).toBe(200);
    expect(await fetches()).toBe(1);

    // Made-up identifiers within the minute: refused, and no fetch whatever they say.
    const madeUp = async (i: number) =>
      (
        await postGithub(
          "[]",
          { "github-public-key-identifier": `made-up-${i}`, "github-public-key-signature": await githubSign("[]") },
          e,
        )
      ).status;
    for (let i = 0; i < 5; i++) {
      now += 1_000;
      expect(await madeUp(i)).toBe(401);
    }
    expect(await fetches()).toBe(1);

    // GitHub starts signing with a new key: listed at GitHub now, unknown to the cache —
    // refused until the minute is over, then the one refetch picks it up.
    await publishKeys(set, [UNLISTED, LISTED]);
    const c = await liveKey();
    expect((await githubReport([{ token: c.key }], e, UNLISTED.identifier)).status).toBe(401);
    expect(await statusWith(c.key, e)).toBe(200);
    expect(await fetches()).toBe(1);
    now += 60_000;
    expect((await githubReport([{ token: c.key }], e, UNLISTED.identifier)).status).toBe(200);
    expect(await fetches()).toBe(2);
    expect(await statusWith(c.key, e)).toBe(401);
    const d = await liveKey();
    expect((await githubReport([{ token: d.key }], e, UNLISTED.identifier)).status).toBe(200);
    expect((await githubReport([{ token: (await liveKey()).key }], e)).status).toBe(200); // the older key too
    expect(await fetches()).toBe(2);
  });

  it("no keys to be had (GitHub's endpoint failing): 503, nothing changed", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), {
      KEYS: kv,
      LAST_USED_INTERVAL_MS: 0,
      GITHUB_SECRET_SCANNING_KEYS_URL: `${env.TEST_ORIGIN_URL}/status/500`,
    });
    const k = await liveKey();
    const res = await githubReport([{ token: k.key }], e);
    expect(res.status).toBe(503);
    expect(await statusWith(k.key, e)).toBe(200);
    expect(kv.puts).toEqual([]);
  });
});

describe("the intake's edges", () => {
  it("answers the profile's 404 while the admin API is off, and is never forwarded", async () => {
    const e = leaksEnv(keySet(), { ADMIN_TOKEN: undefined });
    const k = await liveKey();
    const res = await githubReport([{ token: k.key }], e);
    expect(res.status).toBe(404);
    expect(await statusWith(k.key, e)).toBe(200);
  });

  it("a signed body that is not GitHub's payload: 400", async () => {
    const e = leaksEnv();
    for (const body of ['{"token": "x"}', "not json", '[{"type": "t"}]', "[1]"]) {
      const res = await postGithub(
        body,
        { "github-public-key-identifier": LISTED.identifier, "github-public-key-signature": await githubSign(body) },
        e,
      );
      expect(res.status, body).toBe(400);
    }
  });

  it("an empty report is answered with an empty feedback array", async () => {
    const e = leaksEnv();
    const res = await githubReport([], e);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it("other methods: 405 with Allow", async () => {
    const e = leaksEnv();
    const res = await send("/_keygate/leaks/github", {}, e);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });
});
