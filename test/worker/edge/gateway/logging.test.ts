/**
 * One structured JSON line per request; never a key or an Authorization value.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { basic, makeEnv, mint, through, unknownKey } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

function captureLogs(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
  return lines;
}

describe("access log", () => {
  it("writes one JSON line per request with id, key id, org, route, status, latency and cache tier", async () => {
    const { key, record } = await mint({ orgs: ["acme"] });
    const lines = captureLogs();
    const env = makeEnv({ ROUTES: JSON.stringify([{ path: "/v1/*" }]) });
    const { res } = await through("/v1/things?secret=1", { headers: { "x-api-key": key } }, env);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      request_id: res.headers.get("x-request-id"),
      method: "GET",
      path: "/v1/things",
      route: "/v1/*",
      status: 200,
      key_id: record.id,
      org: "acme",
      cache: "kv",
      outcome: "forwarded",
    });
    expect(typeof line.latency_ms).toBe("number");
  });

  it("logs the reason of a rejection and never the presented key or Authorization value", async () => {
    const { key } = await mint();
    const unknown = unknownKey();
    const lines = captureLogs();
    await through("/x", { headers: { "x-api-key": unknown } });
    await through("/x", { headers: { authorization: basic(key, "pw") } }, makeEnv({ AUTH_PROFILE: "onecodex" }));
    await through("/x", { headers: { authorization: `Bearer ${key}` } });
    const all = lines.join("\n");
    expect(all).not.toContain(unknown);
    expect(all).not.toContain(key);
    expect(all).not.toContain(btoa(`${key}:pw`));
    const reasons = lines.map((l) => (JSON.parse(l) as { reason: string | null }).reason);
    expect(reasons).toEqual(["not_found", "malformed_credential", null]);
  });
});
