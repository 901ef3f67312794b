/**
 * The JWKS cache: fetched from the real local origin, refreshed on an unknown kid at most
 * once per JWKS_MIN_REFRESH_MS, so a flood of made-up kids cannot make the gateway fetch
 * on every request; an unreachable JWKS is a 503, never a pass.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  JWKS_MAX_AGE_MS,
  JWKS_MIN_REFRESH_MS,
  JWKS_RETRY_MAX_MS,
  JWKS_RETRY_MIN_MS,
  JWKS_STALE_MS,
  jwksRetryDelay,
} from "../../../../src/edge/auth/session";
import { clock } from "../../../../src/lib/clock";
import { makeEnv, ORIGIN, through } from "../../../support/worker-helpers";
import { claims, jwksFetches, jwt, KEYS, putJwks, rs256, sessionEnv } from "./support";

afterEach(() => vi.restoreAllMocks());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Pin the gateway's clock at `ms` (tokens are minted valid around it). */
function at(ms: number): void {
  vi.spyOn(clock, "now").mockReturnValue(ms);
}

describe("JWKS cache and refresh", () => {
  it("a flood of unknown kids costs one fetch per refresh interval, not one per request", async () => {
    const env = sessionEnv();
    const t0 = Date.now();
    at(t0);
    expect((await through("/x", { headers: bearer(await rs256(claims({}, t0))) }, env)).res.status).toBe(200);
    expect(await jwksFetches(env.set)).toBe(1);
    const forged = (kid: string) => jwt({ alg: "RS256", kid }, claims({}, t0), { jwk: KEYS.rsa2.private });
    for (let i = 0; i < 25; i++) {
      const { res, calls } = await through("/x", { headers: bearer(await forged(`kid-${crypto.randomUUID()}`)) }, env);
      expect(res.status).toBe(401);
      expect(calls).toHaveLength(0);
    }
    expect(await jwksFetches(env.set)).toBe(1);
    // Once the interval is over, one more refresh — and only one.
    at(t0 + JWKS_MIN_REFRESH_MS);
    for (let i = 0; i < 10; i++)
      expect((await through("/x", { headers: bearer(await forged(`kid-${i}`)) }, env)).res.status).toBe(401);
    expect(await jwksFetches(env.set)).toBe(2);
    // The known key kept working throughout.
    expect((await through("/x", { headers: bearer(await rs256(claims({}, t0))) }, env)).res.status).toBe(200);
    expect(await jwksFetches(env.set)).toBe(2);
  });

  it("a key rotated in at the provider is picked up on its first token after the interval", async () => {
    const env = sessionEnv();
    await putJwks(env.set, [KEYS.rsa1.public]);
    const t0 = Date.now();
    at(t0);
    const rotated = await rs256(claims({}, t0), KEYS.rsa2);
    expect((await through("/x", { headers: bearer(rotated) }, env)).res.status).toBe(401); // first fetch: rsa-2 not there yet
    await putJwks(env.set, [KEYS.rsa1.public, KEYS.rsa2.public]);
    expect((await through("/x", { headers: bearer(rotated) }, env)).res.status).toBe(401); // no refetch within the interval
    expect(await jwksFetches(env.set)).toBe(1);
    at(t0 + JWKS_MIN_REFRESH_MS + 1);
    const ok = await through("/x", { headers: bearer(rotated) }, env);
    expect(ok.res.status).toBe(200);
    expect(ok.calls[0]!.headers["x-user-id"]).toBe("user_1");
    expect(await jwksFetches(env.set)).toBe(2);
  });

  it("a key removed at the provider stops working once the cache is older than JWKS_MAX_AGE_MS", async () => {
    const env = sessionEnv();
    const t0 = Date.now();
    at(t0);
    const token = await rs256(claims({ exp: Math.floor(t0 / 1000) + 3600 }, t0));
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    await putJwks(env.set, [KEYS.ec1.public]);
    at(t0 + JWKS_MAX_AGE_MS - 1000);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200); // still cached
    at(t0 + JWKS_MAX_AGE_MS);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(401);
    expect(await jwksFetches(env.set)).toBe(2);
  });

  it("keys with the wrong use, too short an RSA modulus or an unknown type are ignored", async () => {
    const env = sessionEnv();
    const { kid: _kid, ...rsa } = KEYS.rsa1.public;
    await putJwks(env.set, [
      { ...rsa, kid: "enc", use: "enc" } as JsonWebKey,
      { ...rsa, kid: "rs384", alg: "RS384" } as JsonWebKey,
      { kty: "oct", kid: "hmac", k: "c2VjcmV0" } as JsonWebKey,
      { kty: "RSA", kid: "tiny", n: "AQAB", e: "AQAB" } as JsonWebKey,
      KEYS.ec1.public,
    ]);
    for (const kid of ["enc", "rs384", "hmac", "tiny"]) {
      expect(
        (
          await through(
            "/x",
            { headers: bearer(await jwt({ alg: "RS256", kid }, claims(), { jwk: KEYS.rsa1.private })) },
            env,
          )
        ).res.status,
        kid,
      ).toBe(401);
    }
  });
});

describe("an unreachable JWKS fails closed", () => {
  it("503 in the profile's shape, nothing forwarded; not retried before the backoff", async () => {
    const logs = vi.spyOn(console, "error").mockImplementation(() => {});
    const url = `${ORIGIN}/status/500?jwks=${crypto.randomUUID()}`;
    const env = makeEnv({ SESSION_JWKS_URL: url, AUTH_PROFILE: "argus" });
    const t0 = Date.now();
    at(t0);
    const token = await rs256(claims({}, t0));
    const first = await through("/x", { headers: bearer(token) }, env);
    expect(first.res.status).toBe(503);
    expect(JSON.parse(first.body)).toEqual({ detail: "The key store is unavailable; retry later." });
    expect(first.calls).toHaveLength(0);
    const lines = logs.mock.calls.map((c) => String(c[0]));
    expect(lines.some((l) => l.includes("session JWKS fetch failed") && l.includes("answered 500"))).toBe(true);
    expect(lines.join("\n")).not.toContain(token);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(503);
  });

  it("keys already held stay usable while refetching fails, up to JWKS_STALE_MS past their age", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = sessionEnv();
    const t0 = Date.now();
    at(t0);
    const token = await rs256(claims({ exp: Math.floor(t0 / 1000) + 7 * 3600 }, t0));
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    // The provider starts failing: serve a document without keys.
    const res = await fetch(`${ORIGIN}/__origin/jwks?set=${env.set}`, {
      method: "PUT",
      body: JSON.stringify({ nope: [] }),
    });
    expect(res.status).toBe(204);
    at(t0 + JWKS_MAX_AGE_MS + 1);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    at(t0 + JWKS_MAX_AGE_MS + JWKS_STALE_MS);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(503);
  });
});

describe("issue 20, class 6: a failed JWKS fetch is retried with a short backoff", () => {
  const broken = (set: string) =>
    fetch(`${ORIGIN}/__origin/jwks?set=${set}`, { method: "PUT", body: JSON.stringify({ nope: [] }) });

  it("the backoff: 1 s, 2 s, 4 s… capped at JWKS_RETRY_MAX_MS", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(jwksRetryDelay)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(JWKS_RETRY_MIN_MS).toBe(1000);
    expect(JWKS_RETRY_MAX_MS).toBe(JWKS_MIN_REFRESH_MS);
  });

  it("a provider back after one failure is used again within a second, not after JWKS_MIN_REFRESH_MS", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = sessionEnv();
    expect((await broken(env.set)).status).toBe(204);
    const t0 = Date.now();
    at(t0);
    const token = await rs256(claims({ exp: Math.floor(t0 / 1000) + 3600 }, t0));
    // Cold-start requests at once: they fail together, and count as one failure.
    const first = await Promise.all([1, 2, 3, 4].map(() => through("/x", { headers: bearer(token) }, env)));
    expect(first.map((r) => r.res.status)).toEqual([503, 503, 503, 503]);
    const afterFirst = await jwksFetches(env.set);
    at(t0 + 999);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(503);
    expect(await jwksFetches(env.set)).toBe(afterFirst); // not before the backoff
    await putJwks(env.set, [KEYS.rsa1.public]);
    at(t0 + 1000);
    const ok = await through("/x", { headers: bearer(token) }, env);
    expect(ok.res.status).toBe(200);
    expect(await jwksFetches(env.set)).toBe(afterFirst + 1);
  });

  it("while it keeps failing, retries back off (1 s, 2 s, 4 s…), whatever the number of requests", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = sessionEnv();
    expect((await broken(env.set)).status).toBe(204);
    const t0 = Date.now();
    const token = await rs256(claims({ exp: Math.floor(t0 / 1000) + 3600 }, t0));
    const fetchesAt: number[] = [];
    // A request every 250 ms for 16 s.
    for (let t = 0; t <= 16_000; t += 250) {
      at(t0 + t);
      expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(503);
      fetchesAt.push(await jwksFetches(env.set));
    }
    // Fetches at 0, 1, 3, 7 and 15 s: five in 16 s.
    expect(fetchesAt[fetchesAt.length - 1]).toBe(5);
    expect(fetchesAt[0]).toBe(1);
    expect(fetchesAt[1_000 / 250]).toBe(2);
    expect(fetchesAt[2_750 / 250]).toBe(2);
    expect(fetchesAt[3_000 / 250]).toBe(3);
    expect(fetchesAt[7_000 / 250]).toBe(4);
    expect(fetchesAt[15_000 / 250]).toBe(5);
  });

  it("keys already held keep serving while refetches fail; the refetch follows the backoff, and a success resets it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = sessionEnv();
    const t0 = Date.now();
    at(t0);
    const token = await rs256(claims({ exp: Math.floor(t0 / 1000) + 7 * 3600 }, t0));
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    expect((await broken(env.set)).status).toBe(204);
    const stale = t0 + JWKS_MAX_AGE_MS + 1;
    at(stale);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200); // refetch failed, held key served
    expect(await jwksFetches(env.set)).toBe(2);
    at(stale + 500);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    expect(await jwksFetches(env.set)).toBe(2);
    await putJwks(env.set, [KEYS.rsa1.public, KEYS.rsa2.public]);
    at(stale + 1000);
    expect((await through("/x", { headers: bearer(token) }, env)).res.status).toBe(200);
    expect(await jwksFetches(env.set)).toBe(3);
    // Fetched again: the rotated-in key works at once, and the refresh interval is back to JWKS_MIN_REFRESH_MS.
    expect(
      (
        await through(
          "/x",
          { headers: bearer(await rs256(claims({ exp: Math.floor(t0 / 1000) + 7 * 3600 }, t0), KEYS.rsa2)) },
          env,
        )
      ).res.status,
    ).toBe(200);
    at(stale + 2000);
    expect(
      (
        await through(
          "/x",
          { headers: bearer(await jwt({ alg: "RS256", kid: "made-up" }, claims({}, t0), { jwk: KEYS.rsa2.private })) },
          env,
        )
      ).res.status,
    ).toBe(401);
    expect(await jwksFetches(env.set)).toBe(3);
  });
});
