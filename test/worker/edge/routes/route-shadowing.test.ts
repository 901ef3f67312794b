/**
 * Issue 8, class 2: a route table that shadows itself (an earlier, broader route with a
 * different policy takes requests from a later, more specific one) is refused at start:
 * every request is answered 500 and nothing is forwarded (fail closed), and the log line
 * names both routes. Unit cases: test/unit/edge/routes/table.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

/** The README's example before this fix. */
const SHADOWING = JSON.stringify([
  { path: "/health", auth: "public" },
  { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
  { path: "/api/v1/admin/*", scopes: ["admin"] },
  { path: "/api/v1/samples/:id/private", scopes: ["samples"], hide: true },
]);
/** The README's example now: the more specific route first. */
const FIXED = JSON.stringify([
  { path: "/health", auth: "public" },
  { path: "/api/v1/samples/:id/private", scopes: ["samples"], hide: true },
  { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
  { path: "/api/v1/admin/*", scopes: ["admin"] },
]);

describe("route tables that shadow themselves (issue 8, class 2)", () => {
  it("are refused at start: 500 for every request, nothing forwarded, the log names both routes", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { key } = await mint({ scopes: ["samples"] });
    for (const path of ["/api/v1/samples/1/private", "/health", "/api/v1/samples/1"]) {
      const { res, calls } = await through(path, { headers: { "x-api-key": key } }, makeEnv({ ROUTES: SHADOWING }));
      expect(res.status, path).toBe(500);
      expect(calls).toHaveLength(0);
    }
    const line = errors.mock.calls
      .map((c) => JSON.parse(String(c[0])) as Record<string, unknown>)
      .find((l) => l.variable === "ROUTES")!;
    expect(line.problem).toContain('entry 1 "/api/v1/samples/*"');
    expect(line.problem).toContain('entry 3 "/api/v1/samples/:id/private"');
  });

  it("the README's corrected table keeps GET /…/:id/private restricted (and hidden)", async () => {
    const env = makeEnv({ ROUTES: FIXED });
    const anon = await through("/api/v1/samples/1/private", {}, env);
    expect(anon.res.status).toBe(401);
    expect(anon.calls).toHaveLength(0);
    const { key } = await mint({ scopes: ["read"] });
    const other = await through("/api/v1/samples/1/private", { headers: { "x-api-key": key } }, env);
    expect(other.res.status).toBe(404);
    expect(other.calls).toHaveLength(0);
    expect((await through("/api/v1/samples/1", {}, env)).res.status).toBe(200);
  });
});
