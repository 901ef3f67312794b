/**
 * An empty credential (`x-api-key:` with no value, an empty `Authorization:` where Bearer
 * or Basic is accepted) is a malformed credential: 400 in every profile, never a 401 and
 * never the profile's "missing key" answer (operate's 400 "Missing API Key" included),
 * and never forwarded — on a public route neither.
 */
import { describe, expect, it } from "vitest";
import { makeEnv, through } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([{ path: "/public/*", auth: "public" }]);

/** Profile → the header(s) its clients send, empty. */
const CASES: [profile: string, headers: Record<string, string>][] = [
  ["argos", { "x-api-key": "" }],
  ["artanis", { "x-api-key": "", "x-org-slug": "acme" }],
  ["operate", { "x-api-key": "" }],
  ["argus", { "X-API-Key": "" }],
  ["argus", { authorization: "" }],
  ["onecodex", { "X-API-Key": "" }],
  ["onecodex", { authorization: "" }],
  ["default", { "x-api-key": "" }],
  ["default", { authorization: "" }],
];

describe("an empty credential is a 400 malformed credential", () => {
  it.each(CASES)("%s %j: 400 naming the empty header, origin never called", async (profile, headers) => {
    const env = makeEnv({ AUTH_PROFILE: profile, ROUTES });
    for (const path of ["/things", "/public/schema"]) {
      const { res, body, calls } = await through(path, { headers }, env);
      expect(res.status, path).toBe(400);
      expect(res.headers.get("www-authenticate"), path).toBeNull();
      expect(body, path).toMatch(/empty (x-api-key|Authorization) header/i);
      expect(calls, path).toHaveLength(0);
    }
  });

  it("in the default profile the body is a problem document with code malformed_credential", async () => {
    const { res, body } = await through("/things", { headers: { "x-api-key": "" } }, makeEnv({ ROUTES }));
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(JSON.parse(body)).toMatchObject({
      status: 400,
      code: "malformed_credential",
      detail: "Malformed credential: empty x-api-key header",
    });
  });

  it("operate: the malformed answer, not the missing-key one", async () => {
    const { res, body } = await through(
      "/things",
      { headers: { "x-api-key": "" } },
      makeEnv({ AUTH_PROFILE: "operate" }),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(body).error.message).not.toBe("Missing API Key");
    const missing = await through("/things", {}, makeEnv({ AUTH_PROFILE: "operate" }));
    expect(JSON.parse(missing.body).error.message).toBe("Missing API Key");
  });

  it("an empty Authorization header is not ours where neither Bearer nor Basic is accepted (argos: missing → 401)", async () => {
    const { res, calls } = await through(
      "/things",
      { headers: { authorization: "" } },
      makeEnv({ AUTH_PROFILE: "argos" }),
    );
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });
});
