/**
 * SELF_SERVICE_PATH / SELF_SERVICE_SCOPE validation: a bad value fails closed (every
 * request answers 500, nothing forwarded), never a self-service API at a path nobody meant.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import { base, problem } from "../../../support/config-helpers";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

describe("SELF_SERVICE_PATH", () => {
  it("unset or blank: off", () => {
    expect(parseConfig(base()).selfService).toBeNull();
    expect(parseConfig(base({ SELF_SERVICE_PATH: "  " })).selfService).toBeNull();
  });

  it("a path: normalized without its trailing slash, matched case-insensitively", () => {
    expect(parseConfig(base({ SELF_SERVICE_PATH: "/api/keys/" })).selfService).toEqual({
      path: "/api/keys",
      segments: ["api", "keys"],
      scope: null,
    });
    expect(
      parseConfig(base({ SELF_SERVICE_PATH: "/V2/Api-Keys", SELF_SERVICE_SCOPE: "keys:manage" })).selfService,
    ).toEqual({
      path: "/V2/Api-Keys",
      segments: ["v2", "api-keys"],
      scope: "keys:manage",
    });
  });

  it("refuses what is not a plain path", () => {
    for (const bad of [
      "/",
      "api/keys",
      "/api/../keys",
      "/api/./keys",
      "/api//keys",
      "/api/k%65ys",
      "/api/keys?x=1",
      "/api keys",
      "https://x/api/keys",
      "/api/;keys",
    ]) {
      expect(problem({ SELF_SERVICE_PATH: bad }).variable, bad).toBe("SELF_SERVICE_PATH");
    }
  });

  it("refuses a path that overlaps ADMIN_PREFIX, either way round", () => {
    for (const [path, prefix] of [
      ["/_keygate", undefined],
      ["/_KeyGate/keys", undefined],
      ["/ops", "/ops/admin"],
      ["/ops/admin/self", "/ops/admin"],
    ] as const) {
      const e = problem({ SELF_SERVICE_PATH: path, ...(prefix ? { ADMIN_PREFIX: prefix } : {}) });
      expect(e.variable).toBe("SELF_SERVICE_PATH");
      expect(e.message).toMatch(/overlaps ADMIN_PREFIX/);
    }
    expect(parseConfig(base({ SELF_SERVICE_PATH: "/ops/keys", ADMIN_PREFIX: "/ops/admin" })).selfService?.path).toBe(
      "/ops/keys",
    );
  });

  it("SELF_SERVICE_SCOPE must be one scope, and needs the path", () => {
    expect(problem({ SELF_SERVICE_PATH: "/api/keys", SELF_SERVICE_SCOPE: "a b" }).variable).toBe("SELF_SERVICE_SCOPE");
    expect(problem({ SELF_SERVICE_PATH: "/api/keys", SELF_SERVICE_SCOPE: "-x" }).variable).toBe("SELF_SERVICE_SCOPE");
    expect(problem({ SELF_SERVICE_SCOPE: "keys:manage" }).variable).toBe("SELF_SERVICE_SCOPE");
  });

  it("misconfigured: every request refused with 500, nothing forwarded", async () => {
    const { key } = await mint();
    for (const path of ["/api/keys", "/things"]) {
      const { res, calls } = await through(
        path,
        { headers: { "x-api-key": key } },
        makeEnv({ SELF_SERVICE_PATH: "/_keygate/keys" }),
      );
      expect(res.status).toBe(500);
      expect(calls).toHaveLength(0);
    }
  });
});
