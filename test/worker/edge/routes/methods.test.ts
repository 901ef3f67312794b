/**
 * Issue 8, class 7: TRACE and TRACK are answered at the edge with 405 (the profile's error
 * shape, with Allow), never forwarded — on public routes, with a valid key, in any case.
 * workerd does not accept TRACK as a method at all; test/e2e/hardening.e2e.test.ts sends
 * both over a raw socket to `wrangler dev`.
 */
import { describe, expect, it } from "vitest";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { makeEnv, mint, through } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([{ path: "/public/*", auth: "public" }]);

describe("TRACE and TRACK at the edge (issue 8, class 7)", () => {
  for (const p of PROFILE_CASES) {
    it(`${p.name}: 405 in the profile's shape with Allow, never forwarded, with or without a key, public route or not`, async () => {
      const { key } = await mint({ orgs: ["acme"] });
      const env = makeEnv({ ...p.vars, ROUTES });
      for (const method of ["TRACE", "trace"]) {
        for (const path of ["/public/echo", "/v1/things"]) {
          for (const headers of [{}, p.present(key)]) {
            const { res, body, calls } = await through(path, { method, headers }, env);
            expect(calls, `${method} ${path}`).toHaveLength(0);
            expectRefusal(p, res, body, 405);
            expect(res.headers.get("allow")).toBe("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
          }
        }
      }
    });
  }

  it("TRACK cannot even be expressed to the runtime (workerd refuses the method); the wire case is in the e2e suite", () => {
    expect(() => new Request("https://gateway.test/v1/things", { method: "TRACK" })).toThrow(/method/i);
  });

  it("other methods still pass (the refusal is for TRACE/TRACK only)", async () => {
    const { key } = await mint();
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]) {
      const { res, calls } = await through("/v1/things", { method, headers: { "x-api-key": key } });
      expect(res.status, method).toBe(200);
      expect(calls[0]!.method).toBe(method);
    }
  });
});
