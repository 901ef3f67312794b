/**
 * The self-service key API, endpoint by endpoint, through the real worker (default
 * profile unless a test says otherwise): what a key holder sees, what it may do, what it
 * may not, and that nothing under the path ever reaches the origin.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listAudit } from "../../../../src/keys/store/audit";
import { clock } from "../../../../src/lib/clock";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { mint, patchRecord, unknownKey } from "../../../support/worker-helpers";
import { call, holder, PATH, ssEnv, uniqueOrg } from "./support";

afterEach(() => vi.restoreAllMocks());

const problemShape = (json: any, status: number) =>
  expect(json).toMatchObject({ type: "about:blank", status, detail: expect.any(String), code: expect.any(String) });

describe("GET {path}: the caller's org's keys", () => {
  it("lists exactly the org's usable keys, oldest first, with the Argus fields and never a key or hash", async () => {
    const org = uniqueOrg();
    const a = await holder({ org, name: "first", scopes: ["read"] });
    const b = await mint({ orgs: [org], name: "second", expires_at: new Date(Date.now() + 86_400_000).toISOString() });
    const revoked = await mint({ orgs: [org], name: "revoked" });
    const r = await call("DELETE", `${PATH}/${revoked.record.id}`, { key: a.key });
    expect(r.res.status).toBe(200);
    const expired = await mint({ orgs: [org], name: "expired", expires_at: new Date(Date.now() + 1000).toISOString() });
    const shared = await mint({ orgs: [org, uniqueOrg()], name: "shared" });
    const other = await holder({ name: "other org" });

    vi.spyOn(clock, "now").mockReturnValue(Date.now() + 5000); // `expired` is now past its expiry
    const { res, json, text, calls } = await call("GET", PATH, { key: a.key });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(calls).toHaveLength(0);
    expect(json.map((k: any) => k.name)).toEqual(["first", "second"]);
    expect(json[0]).toEqual({
      id: a.record.id,
      name: "first",
      key_prefix: a.record.start,
      created_at: a.record.created_at,
      last_used_at: expect.any(String), // this very request (a use of the key, as anywhere)
      expires_at: null,
      scopes: ["read"],
      status: "active",
    });
    expect(json[1]).toMatchObject({ id: b.record.id, expires_at: b.record.expires_at, last_used_at: null });
    for (const secret of [a.key, b.key, revoked.key, expired.key, shared.key, other.key])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/[0-9a-f]{64}/); // no hash
    expect(text).not.toContain(shared.record.id);
    expect(text).not.toContain(other.record.id);
  });

  it("HEAD answers like GET without a body; a trailing slash is the same list", async () => {
    const a = await holder();
    expect((await call("HEAD", PATH, { key: a.key })).res.status).toBe(200);
    const slash = await call("GET", `${PATH}/`, { key: a.key });
    expect(slash.res.status).toBe(200);
    expect(slash.json.map((k: any) => k.id)).toEqual([a.record.id]);
  });
});

describe("POST {path}: create", () => {
  it("201 with the key once, in the caller's org, with the caller's scopes by default; no-store", async () => {
    const a = await holder({ scopes: ["read", "write"] });
    const { res, json, calls } = await call("POST", PATH, { key: a.key, body: { name: "Home Assistant" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(calls).toHaveLength(0);
    expect(json).toEqual({
      id: expect.stringMatching(/^key_/),
      name: "Home Assistant",
      key: expect.stringMatching(/^kg_/),
      key_prefix: expect.any(String),
      created_at: expect.any(String),
      expires_at: null,
      scopes: ["read", "write"],
    });
    // It works, for the caller's org, and with those scopes.
    const used = await call("GET", "/things", { key: json.key });
    expect(used.res.status).toBe(200);
    expect(used.calls[0]!.headers["x-org-slug"]).toBe(a.org);
    expect(used.calls[0]!.headers["x-api-key-scopes"]).toBe("read,write");
  });

  it("takes a subset of the caller's scopes and an expiry", async () => {
    const a = await holder({ scopes: ["read", "write"] });
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    const { res, json } = await call("POST", PATH, {
      key: a.key,
      body: { name: "ro", scopes: ["read"], expires_at: expires },
    });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ scopes: ["read"], expires_at: expires });
    const none = await call("POST", PATH, { key: a.key, body: { name: "none", scopes: [] } });
    expect(none.json.scopes).toEqual([]);
  });

  it("400 for a bad body, in the profile's shape, and nothing created", async () => {
    const a = await holder();
    const cases: [unknown, Record<string, string>, RegExp][] = [
      [{}, {}, /name: is required/],
      [{ name: "" }, {}, /name: is required/],
      [{ name: "   " }, {}, /name: is required/],
      [{ name: "x".repeat(201) }, {}, /name: must be a string of at most 200/],
      [{ name: 42 }, {}, /name: must be a string/],
      // The operator's fields (issue 18, rule 1): a holder naming one gets a 400 naming it.
      [{ name: "x", orgs: ["elsewhere"] }, {}, /orgs: is set by the operator/],
      [{ name: "x", rate_limit: null }, {}, /rate_limit: is set by the operator/],
      [{ name: "x", other: 1 }, {}, /other: unknown field/],
      [{ name: "x", scopes: "read" }, {}, /scopes: must be an array/],
      [
        { name: "x", expires_at: "tomorrow" },
        {},
        /expires_at: must be a real calendar date-time in RFC 3339 \/ ISO 8601 form/,
      ],
      [{ name: "x", expires_at: "2001-01-01T00:00:00Z" }, {}, /expires_at: must be in the future/],
      ["[1]", {}, /must be a JSON object/],
      ['{"name": "x"', {}, /is not valid JSON/],
      ['{"name": "x"}', { "content-type": "text/plain" }, /Content-Type: application\/json/],
    ];
    for (const [body, headers, detail] of cases) {
      const { res, json, calls } = await call("POST", PATH, { key: a.key, body, headers });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      problemShape(json, 400);
      expect(json.detail).toMatch(detail);
      expect(Array.isArray(json.errors)).toBe(true);
      expect(calls).toHaveLength(0);
    }
    const listed = await call("GET", PATH, { key: a.key });
    expect(listed.json).toHaveLength(1);
  });

  it("413 for an oversized body", async () => {
    const a = await holder();
    const { res, json } = await call("POST", PATH, { key: a.key, body: { name: "x".repeat(20_000) } });
    expect(res.status).toBe(413);
    problemShape(json, 413);
  });
});

describe("scope ceilings: a caller cannot grant what it does not hold", () => {
  it("create: 403 in the profile's shape, nothing created", async () => {
    for (const p of PROFILE_CASES) {
      const org = p.name === "artanis" ? "acme" : uniqueOrg();
      const a = await holder({ org, scopes: ["read"] });
      const before = (await call("GET", PATH, { headers: p.present(a.key), env: ssEnv(p.vars) })).json.length;
      const { res, text, calls } = await call("POST", PATH, {
        headers: p.present(a.key),
        body: { name: "x", scopes: ["read", "write"] },
        env: ssEnv(p.vars),
      });
      expectRefusal(p, res, text, 403);
      expect(calls).toHaveLength(0);
      expect((await call("GET", PATH, { headers: p.present(a.key), env: ssEnv(p.vars) })).json).toHaveLength(before);
    }
  });

  it("regenerate: refused for a key with a scope the caller lacks; that key keeps working", async () => {
    const org = uniqueOrg();
    const weak = await holder({ org, scopes: ["read"] });
    const strong = await mint({ orgs: [org], scopes: ["read", "write"] });
    const { res, json } = await call("POST", `${PATH}/${strong.record.id}/regenerate`, { key: weak.key });
    expect(res.status).toBe(403);
    problemShape(json, 403);
    expect((await call("GET", "/things", { key: strong.key })).res.status).toBe(200);
    // The stronger key may regenerate the weaker one.
    expect((await call("POST", `${PATH}/${weak.record.id}/regenerate`, { key: strong.key })).res.status).toBe(201);
  });
});

describe("DELETE {path}/:id: revoke", () => {
  it("200 with the revoked key; revoked at once in this isolate (cache purged); repeating it is harmless", async () => {
    const org = uniqueOrg();
    const a = await holder({ org });
    const b = await mint({ orgs: [org], name: "to revoke" });
    expect((await call("GET", "/things", { key: b.key })).res.status).toBe(200); // now cached
    const { res, json, calls } = await call("DELETE", `${PATH}/${b.record.id}`, { key: a.key });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(calls).toHaveLength(0);
    expect(json).toMatchObject({
      id: b.record.id,
      name: "to revoke",
      status: "revoked",
      revoked_at: expect.any(String),
    });
    expect(JSON.stringify(json)).not.toContain(b.key);
    const after = await call("GET", "/things", { key: b.key });
    expect(after.res.status).toBe(401);
    expect(after.calls).toHaveLength(0);
    expect((await call("DELETE", `${PATH}/${b.record.id}`, { key: a.key })).res.status).toBe(200);
  });

  it("a key may revoke itself: its next request is refused", async () => {
    const a = await holder();
    expect((await call("DELETE", `${PATH}/${a.record.id}`, { key: a.key })).res.status).toBe(200);
    expect((await call("GET", PATH, { key: a.key })).res.status).toBe(401);
  });
});

describe("org isolation", () => {
  it("another org's ids, shared keys' ids and unknown ids answer the same 404, in every profile", async () => {
    for (const p of PROFILE_CASES) {
      const org = p.name === "artanis" ? "acme" : uniqueOrg();
      const a = await holder({ org, scopes: [] });
      const foreign = await holder({ name: "victim" });
      const shared = await mint({ orgs: [org, uniqueOrg()] });
      const e = ssEnv(p.vars);
      const unknown = await call("DELETE", `${PATH}/key_AAAAAAAAAAAAAAAAAAAA`, { headers: p.present(a.key), env: e });
      expectRefusal(p, unknown.res, unknown.text, 404);
      for (const id of [foreign.record.id, shared.record.id]) {
        for (const [method, path] of [
          ["DELETE", `${PATH}/${id}`],
          ["POST", `${PATH}/${id}/regenerate`],
        ] as const) {
          const r = await call(method, path, { headers: p.present(a.key), env: e });
          expect(r.res.status, `${p.name} ${method} ${path}`).toBe(404);
          expect(r.text).toBe(unknown.text);
          expect(r.res.headers.get("content-type")).toBe(unknown.res.headers.get("content-type"));
        }
      }
      // Untouched.
      expect((await call("GET", "/things", { key: foreign.key })).res.status).toBe(200);
      expect((await call("GET", "/things", { key: shared.key })).res.status).toBe(200);
    }
  });

  it("the list ignores a query naming another org", async () => {
    const a = await holder();
    const other = await holder();
    const r = await call("GET", `${PATH}?org=${other.org}`, { key: a.key });
    expect(r.res.status).toBe(200);
    expect(r.json.map((k: any) => k.id)).toEqual([a.record.id]);
  });

  it("a malformed id is a 404 too, not a 400", async () => {
    const a = await holder();
    for (const id of ["1", "key_!", "x".repeat(300)]) {
      expect((await call("DELETE", `${PATH}/${id}`, { key: a.key })).res.status).toBe(404);
    }
  });
});

describe("POST {path}/:id/regenerate", () => {
  it("without a grace: 201 with the new key; the old key's next request gets the profile's 401", async () => {
    for (const p of PROFILE_CASES) {
      const org = p.name === "artanis" ? "acme" : uniqueOrg();
      const a = await holder({ org, name: "integration", scopes: ["read"] });
      const e = ssEnv(p.vars);
      expect((await call("GET", "/things", { headers: p.present(a.key), env: e })).res.status).toBe(200); // cached
      const { res, json, calls } = await call("POST", `${PATH}/${a.record.id}/regenerate`, {
        headers: p.present(a.key),
        env: e,
      });
      expect(res.status, p.name).toBe(201);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(calls).toHaveLength(0);
      expect(json).toEqual({
        id: expect.stringMatching(/^key_/),
        name: "integration",
        key: expect.any(String),
        key_prefix: expect.any(String),
        created_at: expect.any(String),
        expires_at: null,
        scopes: ["read"],
        replaces: a.record.id,
      });
      expect(json.id).not.toBe(a.record.id);
      const old = await call("GET", "/things", { headers: p.present(a.key), env: e });
      expectRefusal(p, old.res, old.text, 401);
      expect(old.calls).toHaveLength(0);
      expect((await call("GET", "/things", { headers: p.present(json.key), env: e })).res.status).toBe(200);
      // The old key no longer lists; the new one does.
      const listed = await call("GET", PATH, { headers: p.present(json.key), env: e });
      expect(listed.json.map((k: any) => k.id)).toContain(json.id);
      expect(listed.json.map((k: any) => k.id)).not.toContain(a.record.id);
    }
  });

  it("with grace_seconds: the old key works until the grace ends, then gets the 401", async () => {
    const a = await holder();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    const { res, json } = await call("POST", `${PATH}/${a.record.id}/regenerate`, {
      key: a.key,
      body: { grace_seconds: 60 },
    });
    expect(res.status).toBe(201);
    now.mockReturnValue(t0 + 59_000);
    const during = await call("GET", "/things", { key: a.key });
    expect(during.res.status).toBe(200);
    expect(during.res.headers.get("sunset")).toBe(new Date(t0 + 60_000).toUTCString());
    expect((await call("GET", PATH, { key: a.key })).json.find((k: any) => k.id === a.record.id)).toMatchObject({
      status: "rotating",
    });
    now.mockReturnValue(t0 + 60_000);
    const after = await call("GET", "/things", { key: a.key });
    expect(after.res.status).toBe(401);
    expect(after.calls).toHaveLength(0);
    expect((await call("GET", "/things", { key: json.key })).res.status).toBe(200);
  });

  it("400 for a bad grace; 409 for a key already regenerated; an empty body is no grace", async () => {
    const org = uniqueOrg();
    const a = await holder({ org });
    const b = await mint({ orgs: [org] });
    for (const body of [
      { grace_seconds: -1 },
      { grace_seconds: 1.5 },
      { grace_seconds: 31 * 86_400 },
      { other: 1 },
      "nope",
    ]) {
      const r = await call("POST", `${PATH}/${b.record.id}/regenerate`, { key: a.key, body });
      expect(r.res.status, JSON.stringify(body)).toBe(400);
      problemShape(r.json, 400);
    }
    const empty = await call("POST", `${PATH}/${b.record.id}/regenerate`, {
      key: a.key,
      headers: { "content-type": "application/json" },
    });
    expect(empty.res.status).toBe(201);
    const again = await call("POST", `${PATH}/${b.record.id}/regenerate`, { key: a.key, body: { grace_seconds: 0 } });
    expect(again.res.status).toBe(409);
    problemShape(again.json, 409);
    // The API's own verb (issue 24): regenerate, never the admin API's "rotate".
    expect(again.json.detail).toMatch(/was already regenerated to "key_\w+"; regenerate that key instead/);
    expect(again.json.detail).not.toMatch(/rotat/);
  });
});

describe("methods and paths", () => {
  it("405 with Allow for a wrong method on an endpoint; 404 below it; after authentication", async () => {
    const a = await holder();
    const id = a.record.id;
    const cases: [string, string, string | null][] = [
      ["PUT", PATH, "GET, HEAD, POST"],
      ["DELETE", PATH, "GET, HEAD, POST"],
      ["GET", `${PATH}/${id}`, "DELETE"],
      ["PATCH", `${PATH}/${id}`, "DELETE"],
      ["GET", `${PATH}/${id}/regenerate`, "POST"],
      ["GET", `${PATH}/${id}/other`, null],
      ["POST", `${PATH}/a/b/c`, null],
    ];
    for (const [method, path, allow] of cases) {
      const r = await call(method, path, { key: a.key });
      expect(r.res.status, `${method} ${path}`).toBe(allow ? 405 : 404);
      expect(r.res.headers.get("allow")).toBe(allow);
      problemShape(r.json, allow ? 405 : 404);
      expect(r.calls).toHaveLength(0);
      // Without a key: the 401 first, whatever the path below.
      expect((await call(method, path)).res.status).toBe(401);
    }
  });
});

describe("SELF_SERVICE_SCOPE", () => {
  it("a caller without the scope gets the profile's 403 on every endpoint; with it, the API", async () => {
    for (const p of PROFILE_CASES) {
      const e = ssEnv({ ...p.vars, SELF_SERVICE_SCOPE: "keys:manage" });
      const org = p.name === "artanis" ? "acme" : uniqueOrg();
      const plain = await holder({ org, scopes: ["read"] });
      const manager = await holder({ org, scopes: ["read", "keys:manage"] });
      for (const [method, path, body] of [
        ["GET", PATH, undefined],
        ["POST", PATH, { name: "x" }],
        ["DELETE", `${PATH}/${manager.record.id}`, undefined],
        ["POST", `${PATH}/${manager.record.id}/regenerate`, undefined],
      ] as const) {
        const r = await call(method, path, { headers: p.present(plain.key), env: e, ...(body ? { body } : {}) });
        expectRefusal(p, r.res, r.text, 403);
        expect(r.calls).toHaveLength(0);
      }
      expect((await call("GET", "/things", { headers: p.present(manager.key), env: e })).res.status).toBe(200);
      const listed = await call("GET", PATH, { headers: p.present(manager.key), env: e });
      expect(listed.res.status, p.name).toBe(200);
    }
  });
});

describe("artanis: the org comes from x-org-slug, which must be one of the key's orgs", () => {
  const ARTANIS = ssEnv({ AUTH_PROFILE: "artanis" });

  it("names the org acted for; missing → 400, not the key's → 403", async () => {
    const orgA = uniqueOrg();
    const orgB = uniqueOrg();
    const both = await mint({ orgs: [orgA, orgB], name: "both" });
    const inB = await mint({ orgs: [orgB], name: "in b" });
    const missing = await call("GET", PATH, { headers: { "x-api-key": both.key }, env: ARTANIS });
    expect(missing.res.status).toBe(400);
    expect(missing.json).toEqual({ error: "Bad Request", status: 400, message: expect.stringMatching(/x-org-slug/) });
    const foreign = await call("GET", PATH, {
      headers: { "x-api-key": both.key, "x-org-slug": uniqueOrg() },
      env: ARTANIS,
    });
    expect(foreign.res.status).toBe(403);
    expect(foreign.json).toEqual({ error: "Forbidden", status: 403, message: expect.any(String) });

    // Acting for B: B's own keys (a key shared with A is the operator's, not listed).
    const asB = await call("GET", PATH, { headers: { "x-api-key": both.key, "x-org-slug": orgB }, env: ARTANIS });
    expect(asB.res.status).toBe(200);
    expect(asB.json.map((k: any) => k.id)).toEqual([inB.record.id]);
    const created = await call("POST", PATH, {
      headers: { "x-api-key": both.key, "x-org-slug": orgB },
      body: { name: "for b" },
      env: ARTANIS,
    });
    expect(created.res.status).toBe(201);
    const used = await call("GET", "/things", {
      headers: { "x-api-key": created.json.key, "x-org-slug": orgB },
      env: ARTANIS,
    });
    expect(used.res.status).toBe(200);
    expect(
      (await call("GET", "/things", { headers: { "x-api-key": created.json.key, "x-org-slug": orgA }, env: ARTANIS }))
        .res.status,
    ).toBe(403);
    // Acting for A, B's key does not exist.
    const r = await call("DELETE", `${PATH}/${inB.record.id}`, {
      headers: { "x-api-key": both.key, "x-org-slug": orgA },
      env: ARTANIS,
    });
    expect(r.res.status).toBe(404);
  });
});

describe("audit: the same events as the admin API, naming the key that acted", () => {
  it("create, revoke and regenerate are recorded with actor = key:<id>", async () => {
    const a = await holder();
    const created = await call("POST", PATH, { key: a.key, body: { name: "audited" } });
    const regenerated = await call("POST", `${PATH}/${created.json.id}/regenerate`, { key: a.key });
    await call("DELETE", `${PATH}/${regenerated.json.id}`, { key: a.key });
    const events = (await listAudit(env.KEYS, { keyId: created.json.id }, 100, null)).items;
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["rotate", `key:${a.record.id}`],
      ["create", `key:${a.record.id}`],
    ]);
    const revoked = (await listAudit(env.KEYS, { keyId: regenerated.json.id }, 100, null)).items;
    expect(revoked[0]).toMatchObject({ action: "revoke", actor: `key:${a.record.id}`, request_id: expect.any(String) });
  });
});

describe("authentication: the gateway's own", () => {
  it("missing, unknown, revoked, expired and malformed credentials: the profile's refusal, never forwarded", async () => {
    for (const p of PROFILE_CASES) {
      const e = ssEnv(p.vars);
      const missing = await call("GET", PATH, {
        env: e,
        headers: p.name === "artanis" ? { "x-org-slug": "acme" } : {},
      });
      expectRefusal(p, missing.res, missing.text, p.missingStatus);
      const unknown = await call("POST", PATH, { headers: p.present(unknownKey()), body: { name: "x" }, env: e });
      expectRefusal(p, unknown.res, unknown.text, 401);
      const revoked = await mint({ orgs: ["acme"] });
      await patchRecord(revoked.key, { revoked_at: new Date().toISOString() });
      const r = await call("GET", PATH, { headers: p.present(revoked.key), env: e });
      expectRefusal(p, r.res, r.text, 401);
      expect(r.text).toBe(unknown.text);
      for (const x of [missing, unknown, r]) expect(x.calls).toHaveLength(0);
    }
  });
});

describe("the key's own rate limit applies here too", () => {
  it("over it: the profile's 429 with Retry-After, nothing created", async () => {
    const org = uniqueOrg();
    const { key } = await mint({ orgs: [org], rate_limit: { limit: 2, period_seconds: 60 } });
    expect((await call("POST", PATH, { key, body: { name: "one" } })).res.status).toBe(201);
    expect((await call("GET", PATH, { key })).res.status).toBe(200);
    const over = await call("POST", PATH, { key, body: { name: "three" } });
    expect(over.res.status).toBe(429);
    expect(over.res.headers.get("retry-after")).toBeTruthy();
    problemShape(over.json, 429);
    const other = await holder({ org });
    expect((await call("GET", PATH, { key: other.key })).json.map((k: any) => k.name).sort()).toEqual([
      "holder",
      "one",
      "test",
    ]);
  });
});

describe("issue 20, class 7: a key name with a bidi override or a zero-width character", () => {
  it("is 400 in the profile's shape naming the field; nothing is created", async () => {
    const h = await holder();
    for (const name of ["report\u202egpj.exe", "a\u200bb", "x\ud800"]) {
      const r = await call("POST", PATH, { key: h.key, body: { name } });
      expect(r.res.status, name).toBe(400);
      expect(r.text, name).toContain("name");
      expect(r.text, name).toContain("U+");
    }
    const listed = await call("GET", PATH, { key: h.key });
    expect(listed.json.map((k: { name: string }) => k.name)).toEqual(["holder"]);
  });
});
