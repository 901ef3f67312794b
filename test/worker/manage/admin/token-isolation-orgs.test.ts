/**
 * Org-scoped admin tokens on the org endpoints and the usage endpoint (issue 13 builds on
 * issue 11's tokens): `GET/PUT /_keygate/orgs/:org` and `GET /_keygate/usage?org=…`. A
 * token for org A reads (and, with the write role, sets) A; org B is 403 and stays as it
 * was; a read token cannot PUT; a "*" token acts for every org. Through the real worker.
 */
import { describe, expect, it } from "vitest";
import { send } from "../../../support/worker-helpers";
import { adminEnv, api, createViaApi, mintToken, uniqueOrg } from "./support";

/** The raw answer to a request with a token: status, content type and parsed body. */
async function as(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; type: string | null; json: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await send(
    path,
    { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
    adminEnv(),
  );
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), json: text ? JSON.parse(text) : null };
}

function expectForbidden(got: { status: number; type: string | null; json: any }, what: string) {
  expect(got.status, what).toBe(403);
  expect(got.type, what).toBe("application/problem+json");
  expect(got.json, what).toMatchObject({ status: 403, code: "forbidden" });
}

const LIMIT = { limit: 7, period_seconds: 60 };
const OTHER = { limit: 3, period_seconds: 30 };

/** Two orgs, B with a limit set by root, and a key in each (so usage has something to show). */
async function world() {
  const [a, b] = [uniqueOrg(), uniqueOrg()];
  await createViaApi({ orgs: [a] });
  await createViaApi({ orgs: [b] });
  const setB = await api("PUT", `/_keygate/orgs/${b}`, { body: { rate_limit: OTHER } });
  expect(setB.res.status).toBe(200);
  return { a, b };
}

/** B's settings are exactly what root set. */
async function expectBUntouched(b: string) {
  expect((await api("GET", `/_keygate/orgs/${b}`)).json).toMatchObject({ org: b, rate_limit: OTHER });
}

describe("a write token for org A on the org and usage endpoints", () => {
  it("reads and sets A's settings; reads A's usage", async () => {
    const { a, b } = await world();
    const tok = await mintToken({ orgs: [a], role: "write" });
    const before = await as(tok.token, "GET", `/_keygate/orgs/${a}`);
    expect(before.status).toBe(200);
    expect(before.json).toEqual({ org: a, rate_limit: null, updated_at: null });
    const put = await as(tok.token, "PUT", `/_keygate/orgs/${a}`, { rate_limit: LIMIT });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ org: a, rate_limit: LIMIT });
    expect((await api("GET", `/_keygate/orgs/${a}`)).json.rate_limit).toEqual(LIMIT); // root sees the change
    const usage = await as(tok.token, "GET", `/_keygate/usage?org=${a}`);
    expect(usage.status).toBe(200);
    expect(usage.json.totals).toMatchObject({
      requests: expect.any(Number),
      forwarded: expect.any(Number),
      rejected: expect.any(Number),
    });
    expect(Array.isArray(usage.json.series)).toBe(true);
    await expectBUntouched(b);
  });

  it("gets 403 for B on GET /orgs, PUT /orgs and GET /usage; B's settings are unchanged", async () => {
    const { a, b } = await world();
    const tok = await mintToken({ orgs: [a], role: "write" });
    expectForbidden(await as(tok.token, "GET", `/_keygate/orgs/${b}`), "GET orgs/B");
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${b}`, { rate_limit: LIMIT }), "PUT orgs/B");
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${b}`, { rate_limit: null }), "PUT orgs/B null");
    expectForbidden(await as(tok.token, "GET", `/_keygate/usage?org=${b}`), "usage B");
    expectForbidden(await as(tok.token, "GET", `/_keygate/usage?org=${b}&granularity=day`), "usage B by day");
    await expectBUntouched(b);
  });

  it("a token for A and C acts in both, never in B", async () => {
    const { a, b } = await world();
    const c = uniqueOrg();
    const tok = await mintToken({ orgs: [a, c], role: "write" });
    for (const org of [a, c]) {
      expect((await as(tok.token, "PUT", `/_keygate/orgs/${org}`, { rate_limit: LIMIT })).status, org).toBe(200);
      expect((await as(tok.token, "GET", `/_keygate/usage?org=${org}`)).status, org).toBe(200);
    }
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${b}`, { rate_limit: LIMIT }), "PUT orgs/B");
    expectForbidden(await as(tok.token, "GET", `/_keygate/usage?org=${b}`), "usage B");
    await expectBUntouched(b);
  });
});

describe("a read token for org A", () => {
  it("reads A's settings and usage, cannot PUT them (403, unchanged), and gets 403 for B", async () => {
    const { a, b } = await world();
    await api("PUT", `/_keygate/orgs/${a}`, { body: { rate_limit: OTHER } });
    const tok = await mintToken({ orgs: [a], role: "read" });
    const shown = await as(tok.token, "GET", `/_keygate/orgs/${a}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({ org: a, rate_limit: OTHER });
    expect((await as(tok.token, "GET", `/_keygate/usage?org=${a}`)).status).toBe(200);
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${a}`, { rate_limit: LIMIT }), "PUT orgs/A");
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${a}`, { rate_limit: null }), "PUT orgs/A null");
    expect((await api("GET", `/_keygate/orgs/${a}`)).json.rate_limit).toEqual(OTHER);
    expectForbidden(await as(tok.token, "GET", `/_keygate/orgs/${b}`), "GET orgs/B");
    expectForbidden(await as(tok.token, "GET", `/_keygate/usage?org=${b}`), "usage B");
    await expectBUntouched(b);
  });
});

describe('a "*" token', () => {
  it("with the write role reads and sets any org, and reads any org's usage", async () => {
    const { a, b } = await world();
    const tok = await mintToken({ orgs: ["*"], role: "write" });
    for (const org of [a, b, uniqueOrg()]) {
      const put = await as(tok.token, "PUT", `/_keygate/orgs/${org}`, { rate_limit: LIMIT });
      expect(put.status, org).toBe(200);
      expect((await api("GET", `/_keygate/orgs/${org}`)).json.rate_limit, org).toEqual(LIMIT);
      expect((await as(tok.token, "GET", `/_keygate/orgs/${org}`)).json.rate_limit, org).toEqual(LIMIT);
      expect((await as(tok.token, "GET", `/_keygate/usage?org=${org}`)).status, org).toBe(200);
    }
  });

  it("with the read role reads any org but cannot PUT", async () => {
    const { b } = await world();
    const tok = await mintToken({ orgs: ["*"], role: "read" });
    expect((await as(tok.token, "GET", `/_keygate/orgs/${b}`)).json).toMatchObject({ org: b, rate_limit: OTHER });
    expect((await as(tok.token, "GET", `/_keygate/usage?org=${b}`)).status).toBe(200);
    expectForbidden(await as(tok.token, "PUT", `/_keygate/orgs/${b}`, { rate_limit: LIMIT }), "PUT orgs/B");
    await expectBUntouched(b);
  });
});
