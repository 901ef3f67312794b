/**
 * Report mode (ENFORCEMENT=report, a route's "enforcement"; docs/migrating.md): decided as in
 * enforce mode, forwarded as the client sent it with keygate's verdict, never refused, the
 * origin's answer compared and counted. What the origin receives (its credential, never
 * keygate's or a client's identity), what the client gets (the origin's answer, untouched),
 * the signature over the verdict, the classes, the log line, the flush.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushShadow, shadowCounter } from "../../../../src/edge/shadow/counter";
import { classify } from "../../../../src/edge/shadow/report";
import { clock } from "../../../../src/lib/clock";
import { createVerifier } from "../../../../verifier/index.js";
import type { OriginCall } from "../../../support/worker-helpers";
import {
  basic,
  makeEnv,
  mint,
  patchRecord,
  send,
  sendAndWaitAll,
  through,
  unknownKey,
} from "../../../support/worker-helpers";
import { api, TOKEN } from "../../manage/admin/support";

afterEach(() => vi.restoreAllMocks());

const report = (vars: Record<string, unknown> = {}) => makeEnv({ ENFORCEMENT: "report", ADMIN_TOKEN: TOKEN, ...vars });
const flush = () =>
  flushShadow(env.SHADOW_STORE!, shadowCounter(), clock.now(), (cause) => {
    throw new Error(cause);
  });

describe("what the origin receives in report mode", () => {
  it("a refused request is forwarded with its verdict, its credential, and no identity; the client gets the origin's answer", async () => {
    const key = unknownKey();
    const { res, body, calls } = await through(
      "/v1/things?x=1",
      {
        headers: {
          "x-api-key": key,
          "x-api-key-id": "key_spoofedspoofedspoof",
          "x-auth-method": "key",
          "x-org-slug": "victim",
          "x-keygate-verdict": "allow",
          "x-forwarded-for": "6.6.6.6",
        },
      },
      report(),
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(body).url).toBe("/v1/things?x=1");
    expect(calls).toHaveLength(1);
    const h = calls[0]!.headers;
    expect(h["x-keygate-verdict"]).toBe("deny; reason=invalid_key; status=401");
    expect(h["x-api-key"]).toBe(key);
    for (const name of ["x-api-key-id", "x-auth-method", "x-org-slug", "x-api-key-scopes", "x-user-id"])
      expect(h[name], name).toBeUndefined();
    expect(h["x-forwarded-for"]).not.toBe("6.6.6.6");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("an allowed request: verdict allow, the credential kept (header or Authorization), no identity, no RateLimit", async () => {
    const { key } = await mint({
      key: `legacy-${crypto.randomUUID()}`,
      orgs: ["acme"],
      rate_limit: { limit: 5, period_seconds: 60 },
    });
    const ways: Record<string, string>[] = [
      { "x-api-key": key },
      { authorization: `Bearer ${key}` },
      { authorization: basic(key) },
    ];
    for (const headers of ways) {
      const { res, calls } = await through("/v1/things", { headers }, report());
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      const h = calls[0]!.headers;
      expect(h["x-keygate-verdict"]).toBe("allow");
      expect(h["x-api-key-id"]).toBeUndefined();
      expect(h["x-org-slug"]).toBeUndefined();
      expect(h["x-api-key"] ?? h.authorization).toBeDefined();
    }
  });

  it("a keygate key is never forwarded, not even as the credential", async () => {
    const { key } = await mint({ orgs: ["acme"] });
    const { calls } = await through("/v1/things", { headers: { "x-api-key": key } }, report());
    expect(calls[0]!.headers["x-keygate-verdict"]).toBe("allow");
    expect(calls[0]!.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(calls[0]!.headers)).not.toContain(key);
  });

  it("artanis: the client's x-org-slug is its request, forwarded as sent (never set by keygate)", async () => {
    const { key } = await mint({ key: `ak_${crypto.randomUUID()}`, orgs: ["my-org"] });
    const e = report({ AUTH_PROFILE: "artanis" });
    const mine = await through("/api/prompts", { headers: { "x-api-key": key, "x-org-slug": "my-org" } }, e);
    expect(mine.calls[0]!.headers["x-org-slug"]).toBe("my-org");
    expect(mine.calls[0]!.headers["x-keygate-verdict"]).toBe("allow");
    const theirs = await through("/api/prompts", { headers: { "x-api-key": key, "x-org-slug": "their-org" } }, e);
    expect(theirs.res.status).toBe(200);
    expect(theirs.calls[0]!.headers["x-org-slug"]).toBe("their-org");
    expect(theirs.calls[0]!.headers["x-keygate-verdict"]).toBe("deny; reason=forbidden; status=403");
  });

  it("a malformed path is forwarded as received, with its 400 verdict; TRACE is still refused", async () => {
    const bad = await through("/v1/a%2Fb", {}, report());
    expect(bad.res.status).toBe(200);
    expect(bad.calls[0]!.url).toBe("/v1/a%2Fb");
    expect(bad.calls[0]!.headers["x-keygate-verdict"]).toBe("deny; reason=malformed_request; status=400");
    const trace = await through("/v1/things", { method: "TRACE" }, report());
    expect(trace.res.status).toBe(405);
    expect(trace.calls).toHaveLength(0);
  });

  it("the verdict is signed with the rest: the verifier returns it, and no identity", async () => {
    const SECRET = "k1:" + "s".repeat(40);
    const verify = createVerifier({ secrets: SECRET });
    const asReceived = (c: OriginCall) => ({ method: c.method, url: c.url, headers: c.headers });
    const { calls } = await through("/v1/things", {}, report({ ORIGIN_SIGNING_SECRET: SECRET }));
    expect(await verify(asReceived(calls[0]!))).toMatchObject({
      ok: true,
      identity: null,
      verdict: { decision: "deny", reason: "missing_credential", status: 401 },
    });
    const forged = { ...calls[0]!, headers: { ...calls[0]!.headers, "x-keygate-verdict": "allow" } };
    expect(await verify(asReceived(forged))).toEqual({ ok: false, reason: "bad_signature" });
    const dropped = { ...calls[0]!, headers: { ...calls[0]!.headers, "x-keygate-verdict": undefined } };
    expect(await verify(asReceived(dropped))).toEqual({ ok: false, reason: "bad_signature" });
  });
});

describe("enforcement per route", () => {
  const ROUTES = JSON.stringify([
    { path: "/beta/*", enforcement: "report" },
    { path: "/strict/*", enforcement: "enforce" },
    { path: "/v1/*" },
  ]);

  it("ENFORCEMENT=enforce with one route in report: only that route is reported", async () => {
    const e = makeEnv({ ROUTES });
    const beta = await through("/beta/x", {}, e);
    expect(beta.res.status).toBe(200);
    expect(beta.calls[0]!.headers["x-keygate-verdict"]).toBe("deny; reason=missing_credential; status=401");
    const v1 = await through("/v1/x", {}, e);
    expect(v1.res.status).toBe(401);
    expect(v1.calls).toHaveLength(0);
  });

  it("ENFORCEMENT=report with one route enforced: that route refuses; a path refused before its route follows ENFORCEMENT", async () => {
    const e = report({ ROUTES });
    const strict = await through("/strict/x", {}, e);
    expect(strict.res.status).toBe(401);
    expect(strict.calls).toHaveLength(0);
    expect((await through("/v1/x", {}, e)).res.status).toBe(200);
    expect((await through("/strict/a%2Fb", {}, e)).calls).toHaveLength(1);
    expect((await through("/beta/a%2Fb", {}, makeEnv({ ROUTES }))).calls).toHaveLength(0);
  });

  it("a route table where a broader route with another enforcement shadows a later one is refused (500)", async () => {
    const res = await send(
      "/v1/x",
      {},
      makeEnv({ ROUTES: JSON.stringify([{ path: "/v1/*", enforcement: "report" }, { path: "/v1/admin/*" }]) }),
    );
    expect(res.status).toBe(500);
  });
});

describe("the comparison", () => {
  it("classifies each answer: agree, would_break, would_admit, status_differs", () => {
    expect(classify(null, 200)).toBe("agree");
    expect(classify(null, 302)).toBe("agree");
    expect(classify(null, 401)).toBe("would_admit");
    expect(classify(null, 500)).toBe("would_admit");
    expect(classify(401, 200)).toBe("would_break");
    expect(classify(401, 304)).toBe("would_break");
    expect(classify(401, 401)).toBe("agree");
    expect(classify(401, 404)).toBe("status_differs");
    expect(classify(400, 401)).toBe("status_differs");
  });

  it("counts each class per route and org, compares an agreeing refusal's body, keeps the request ids; the report says it in one line", async () => {
    const org = `cmp-${crypto.randomUUID().slice(0, 8)}`;
    const e = report({ ROUTES: JSON.stringify([{ path: "/status/*" }]) });
    const { key: valid } = await mint({ key: `legacy-${crypto.randomUUID()}`, orgs: [org] });
    const { key: revoked } = await mint({ key: `legacy-${crypto.randomUUID()}`, orgs: [org] });
    await patchRecord(revoked, { revoked_at: new Date().toISOString() });
    const go = async (status: number, key: string) => {
      const res = await send(`/status/${status}`, { headers: { "x-api-key": key } }, e);
      expect(res.status).toBe(status); // the origin's answer, whatever keygate decided
      return res.headers.get("x-request-id")!;
    };
    const agreeAllow = await go(200, valid);
    const wouldAdmit = await go(403, valid);
    const wouldBreak = await go(200, revoked);
    const agreeDeny = await go(401, revoked); // the origin's body is its own: body_differs
    const statusDiffers = await go(404, revoked);
    await flush();
    const { json } = await api("GET", `/_keygate/shadow?org=${org}`, { env: e });
    expect(json.totals).toMatchObject({
      requests: 5,
      agree: 2,
      would_break: 1,
      would_admit: 1,
      would_admit_auth: 1,
      status_differs: 1,
      body_match: 0,
      body_differs: 1,
      origin_statuses: { agree: { "200": 1, "401": 1 }, would_break: { "200": 1 }, would_admit: { "403": 1 } },
    });
    expect(json.safe_to_switch).toBe(false);
    expect(json.summary).toBe(
      "1 would_break in 1 day on 1 of 1 route, and 2 refusals would differ from the origin's (status or body); 1 request the origin refused (401/403) would be let through: not safe to switch yet.",
    );
    const samples = json.routes[0].samples;
    expect(json.routes[0].route).toBe("/status/*");
    expect(samples.would_break[0]).toMatchObject({
      request_id: wouldBreak,
      method: "GET",
      path: "/status/200",
      org,
      verdict: "deny; reason=invalid_key; status=401",
      origin_status: 200,
    });
    expect(samples.agree.map((s: { request_id: string }) => s.request_id)).toEqual([agreeAllow]);
    expect(samples.would_admit[0].request_id).toBe(wouldAdmit);
    expect(samples.body_differs[0].request_id).toBe(agreeDeny);
    expect(samples.status_differs[0].request_id).toBe(statusDiffers);
    expect(json.keys).toHaveLength(2);
  });

  it("a burst's tail with no later traffic is counted: a comparison left pending arms the deferred flush usage's counts use", async () => {
    const org = `tail-${crypto.randomUUID().slice(0, 8)}`;
    const { key } = await mint({ key: `legacy-${crypto.randomUUID()}`, orgs: [org] });
    await shadowCounter().armed; // one armed by an earlier request of this isolate, if any
    await flush(); // a flush just happened: none is due during the burst
    const e = report({ USAGE_FLUSH_MS: "1000" });
    // 12 requests, then nothing: each waits for its background work as waitUntil keeps it.
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => sendAndWaitAll("/v1/things", { headers: { "x-api-key": key } }, e)),
    );
    expect(burst.map((r) => r.status)).toEqual(Array(12).fill(200));
    const { json } = await api("GET", `/_keygate/shadow?org=${org}`, { env: e });
    expect(json.totals).toMatchObject({ requests: 12, agree: 12 });
    expect(shadowCounter().armed).toBeNull(); // the deferred flush ran, and nothing armed another
  });

  it("at most one deferred flush of the comparisons per isolate at a time", async () => {
    const org = `tail-${crypto.randomUUID().slice(0, 8)}`;
    const { key } = await mint({ key: `legacy-${crypto.randomUUID()}`, orgs: [org] });
    await shadowCounter().armed;
    await flush();
    const e = report({ USAGE_FLUSH_MS: "1000" });
    await send("/v1/things", { headers: { "x-api-key": key } }, e);
    const first = shadowCounter().armed;
    expect(first).not.toBeNull();
    await send("/v1/things", { headers: { "x-api-key": key } }, e);
    expect(shadowCounter().armed).toBe(first); // the same one: the later request armed none
    await first;
    const { json } = await api("GET", `/_keygate/shadow?org=${org}`, { env: e });
    expect(json.totals.requests).toBe(2);
  });

  it("a flush carries the counts of many requests: no call to the store per request", async () => {
    const t0 = Date.now();
    vi.spyOn(clock, "now").mockReturnValue(t0);
    await flush();
    let calls = 0;
    const real = env.SHADOW_STORE!;
    const counting = new Proxy(real, {
      get(target, prop) {
        if (prop === "get") calls++;
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const e = report({ SHADOW_STORE: counting, USAGE_FLUSH_MS: "20000" });
    for (let i = 0; i < 10; i++) expect((await through("/v1/things", {}, e)).res.status).toBe(200);
    expect(calls).toBe(0);
    vi.spyOn(clock, "now").mockReturnValue(t0 + 20_000);
    await through("/v1/things", {}, e);
    expect(calls).toBe(1);
  });

  it("without a SHADOW_STORE binding report mode still forwards, counting nothing", async () => {
    const { res, calls } = await through("/v1/things", {}, report({ SHADOW_STORE: undefined }));
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-keygate-verdict"]).toBe("deny; reason=missing_credential; status=401");
    const { res: r } = await api("GET", "/_keygate/shadow", { env: report({ SHADOW_STORE: undefined }) });
    expect(r.status).toBe(503);
  });

  it("one access-log line, saying the request was forwarded, what keygate would have refused it with, and how it compared", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    await through("/v1/things", {}, report());
    const line = JSON.parse(lines.find((l) => l.includes('"msg":"request"'))!) as Record<string, unknown>;
    expect(line).toMatchObject({
      status: 200,
      outcome: "forwarded",
      reason: "missing_credential",
      enforcement: "report",
      shadow: "would_break",
    });
    // Enforce mode's line is as before: no such fields.
    lines.length = 0;
    await through("/v1/things", {}, makeEnv());
    expect(JSON.parse(lines.find((l) => l.includes('"msg":"request"'))!)).not.toHaveProperty("shadow");
  });
});
