/**
 * A bad configuration fails closed: every request is answered 500, nothing is proxied, and
 * a log line names the variable.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

describe("misconfiguration", () => {
  it.each([
    [{ ORIGIN_URL: "" }, "ORIGIN_URL"],
    [{ AUTH_PROFILE: "nope" }, "AUTH_PROFILE"],
    [{ ROUTES: '[{"path": "/x", "auth": "maybe"}]' }, "ROUTES"],
    [{ UPSTREAM_TIMEOUT_MS: "soon" }, "UPSTREAM_TIMEOUT_MS"],
  ])("%j: 500 for every request, never forwarded, the variable named in the log", async (vars, variable) => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { key } = await mint();
    const { res, body, calls } = await through("/anything", { headers: { "x-api-key": key } }, makeEnv(vars));
    expect(res.status).toBe(500);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body).not.toContain(key);
    expect(calls).toHaveLength(0);
    const line = errors
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg?.toString().startsWith("invalid configuration"));
    expect(line?.variable).toBe(variable);
  });

  it("renders the 500 in the configured profile's shape when the profile itself is valid", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { res, body } = await through("/x", {}, makeEnv({ AUTH_PROFILE: "argus", ORIGIN_URL: "nope" }));
    expect(res.status).toBe(500);
    expect(body).toBe('{"detail":"The gateway is misconfigured."}');
  });
});
