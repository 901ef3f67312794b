/**
 * Issue 8, class 3: the request id is the gateway's. Whatever x-request-id a client sends,
 * the id in the log line, the audit record, the origin's x-request-id, the signature and
 * the response is one the gateway generated; a well-formed client value is kept only as
 * x-client-request-id (and in the log as client_request_id).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createVerifier } from "../../../../verifier/index.js";
import { makeEnv, mint, through } from "../../../support/worker-helpers";
import { api, uniqueOrg } from "../../manage/admin/support";

afterEach(() => vi.restoreAllMocks());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET = "rid:" + "r".repeat(40);
/** Values Hono's requestId middleware would have accepted as the id (≤ 255, [\w-=]). */
const CLIENT_IDS = ["client-trace-42", "00000000-0000-0000-0000-000000000000", "a".repeat(255), "x=y"];

/** Log lines written from now on, parsed. */
function captureLogs(): () => Record<string, unknown>[] {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
  return () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("the request id is the gateway's (issue 8, class 3)", () => {
  for (const clientId of CLIENT_IDS) {
    it(`client x-request-id ${JSON.stringify(clientId.slice(0, 40))}: not the id in the log, the origin's header, the signature or the response`, async () => {
      const { key } = await mint();
      const logs = captureLogs();
      const { res, calls } = await through(
        "/v1/rid",
        { headers: { "x-api-key": key, "x-request-id": clientId, X_Request_Id: clientId } },
        makeEnv({ ORIGIN_SIGNING_SECRET: SECRET }),
      );
      expect(res.status).toBe(200);
      const ours = res.headers.get("x-request-id")!;
      expect(ours).toMatch(UUID);
      expect(ours).not.toBe(clientId);
      const seen = calls[0]!.headers;
      expect(seen["x-request-id"]).toBe(ours);
      expect(seen["x_request_id"]).toBeUndefined();
      expect(seen["x-client-request-id"]).toBe(clientId.length <= 128 ? clientId : undefined);
      // The signature covers x-request-id: it verifies over ours.
      const verified = await createVerifier({ secrets: SECRET })({
        method: calls[0]!.method,
        url: calls[0]!.url,
        headers: seen,
      });
      expect(verified.ok).toBe(true);
      const line = logs().find((l) => l.msg === "request")!;
      expect(line.request_id).toBe(ours);
      expect(line.client_request_id).toBe(clientId.length <= 128 ? clientId : null);
    });
  }

  it("on a refusal too: the error's x-request-id is ours", async () => {
    const { res } = await through("/v1/rid", { headers: { "x-request-id": "client-trace-42" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toMatch(UUID);
  });

  it("a client's x-client-request-id is never forwarded as such; a malformed x-request-id is dropped", async () => {
    const { key } = await mint();
    const { calls } = await through("/v1/rid", {
      headers: { "x-api-key": key, "x-client-request-id": "forged", "x-request-id": "bad id <script>" },
    });
    expect(calls[0]!.headers["x-client-request-id"]).toBeUndefined();
    expect(calls[0]!.headers["x-request-id"]).toMatch(UUID);
  });

  it("the admin API's audit record carries the gateway's id, not the client's", async () => {
    const { res, json } = await api("POST", "/_keygate/keys", {
      body: { orgs: [uniqueOrg()] },
      headers: { "x-request-id": "client-trace-audit" },
    });
    expect(res.status).toBe(201);
    const ours = res.headers.get("x-request-id")!;
    expect(ours).toMatch(UUID);
    const audit = await api("GET", `/_keygate/audit?key_id=${json.id}`);
    expect(audit.json.events[0].request_id).toBe(ours);
  });
});
