/**
 * The gateway signs what it injects (ORIGIN_SIGNING_SECRET), and the shipped verifier,
 * fed exactly what the real origin received, accepts it — and nothing a client forged.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../../src/lib/clock";
import { createVerifier } from "../../../../verifier/index.js";
import type { OriginCall } from "../../../support/worker-helpers";
import { makeEnv, mint, ORIGIN, through } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

const SECRET = "k2:" + "s".repeat(40) + ",k1:" + "t".repeat(40);
const ROUTES = JSON.stringify([{ path: "/public/*", auth: "public" }]);
const verify = createVerifier({ secrets: SECRET });
const asReceived = (call: OriginCall) => ({ method: call.method, url: call.url, headers: call.headers });

describe("origin signatures", () => {
  it("every forwarded request carries a signature the origin verifies, with the key's identity", async () => {
    const { key, record } = await mint({ orgs: ["acme"], scopes: ["read", "write"] });
    const { res, calls } = await through(
      "/v1/things?limit=5&q=a%20b",
      { method: "POST", body: "{}", headers: { "x-api-key": key } },
      makeEnv({ ORIGIN_SIGNING_SECRET: SECRET }),
    );
    expect(res.status).toBe(200);
    const call = calls[0]!;
    expect(call.headers["x-keygate-signature"]).toMatch(/^v1;kid=k2;t=\d+;sig=[0-9a-f]{64}$/);
    expect(await verify(asReceived(call))).toMatchObject({
      ok: true,
      kid: "k2",
      identity: { org: "acme", keyId: record.id, scopes: ["read", "write"] },
    });
  });

  it("public routes are signed too, with no identity; the path includes ORIGIN_URL's base path", async () => {
    const { calls } = await through(
      "/public/schema",
      {},
      makeEnv({ ORIGIN_SIGNING_SECRET: SECRET, ROUTES, ORIGIN_URL: `${ORIGIN}/base` }),
    );
    expect(calls[0]!.url).toBe("/base/public/schema");
    expect(await verify(asReceived(calls[0]!))).toMatchObject({ ok: true, identity: null });
  });

  it("the timestamp is the gateway's clock: a replay 301 s later is refused", async () => {
    const { key } = await mint();
    const t0 = Date.now();
    vi.spyOn(clock, "now").mockReturnValue(t0);
    const { calls } = await through(
      "/v1/things",
      { headers: { "x-api-key": key } },
      makeEnv({ ORIGIN_SIGNING_SECRET: SECRET }),
    );
    const later = createVerifier({ secrets: SECRET, now: () => t0 + 301_000 });
    expect(await later(asReceived(calls[0]!))).toEqual({ ok: false, reason: "stale" });
  });

  it("a client-sent signature is dropped: replaced when signing is on, absent when off", async () => {
    const { key } = await mint();
    const forged = {
      "x-api-key": key,
      "x-keygate-signature": "v1;kid=k2;t=1;sig=" + "0".repeat(64),
      X_Keygate_Signature: "x",
    };
    const on = await through("/v1/things", { headers: forged }, makeEnv({ ORIGIN_SIGNING_SECRET: SECRET }));
    expect(on.calls[0]!.headers["x-keygate-signature"]).not.toContain("0".repeat(64));
    expect(on.calls[0]!.headers["x_keygate_signature"]).toBeUndefined();
    const off = await through("/v1/things", { headers: forged });
    expect(off.calls[0]!.headers["x-keygate-signature"]).toBeUndefined();
    expect(off.calls[0]!.headers["x_keygate_signature"]).toBeUndefined();
  });

  it("a bad ORIGIN_SIGNING_SECRET fails closed: 500 naming the variable, nothing forwarded", async () => {
    const logs = vi.spyOn(console, "error").mockImplementation(() => {});
    const { key } = await mint();
    for (const bad of ["short:abc", "no-colon-" + "x".repeat(40)]) {
      const { res, calls } = await through(
        "/v1/things",
        { headers: { "x-api-key": key } },
        makeEnv({ ORIGIN_SIGNING_SECRET: bad }),
      );
      expect(res.status).toBe(500);
      expect(calls).toHaveLength(0);
    }
    const lines = logs.mock.calls.map((c) => String(c[0]));
    expect(lines.some((l) => l.includes('"variable":"ORIGIN_SIGNING_SECRET"'))).toBe(true);
    expect(lines.join("\n")).not.toContain("x".repeat(40));
  });
});
