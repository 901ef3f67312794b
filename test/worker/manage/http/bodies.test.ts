/**
 * Issue 20, class 5: a request body the management side answers without reading whole —
 * an early 401/403/404/405, or a 413 over its limit — is never left on the connection:
 * drained up to DRAIN_MAX_BYTES (the connection stays usable), else cancelled (the
 * runtime closes the connection after the answer). Here, inside workerd, what the body's
 * source sees: read to its end, or cancelled after at most the drain bound. The
 * connection itself is checked over a raw keep-alive socket against `wrangler dev` in
 * test/e2e/hardening.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { DRAIN_MAX_BYTES } from "../../../../src/manage/http/body";
import { MAX_JSON_BODY_BYTES } from "../../../../src/manage/http/json-body";
import { makeEnv, mint, send } from "../../../support/worker-helpers";
import { adminEnv, TOKEN } from "../admin/support";

const CHUNK = 16 * 1024;

/** A chunked (unsized) body of `bytes`, and what became of it: bytes pulled, whether it ended or was cancelled. */
function source(bytes: number) {
  const seen = { pulled: 0, ended: false, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled >= bytes) {
        seen.ended = true;
        controller.close();
        return;
      }
      const n = Math.min(CHUNK, bytes - seen.pulled);
      seen.pulled += n;
      controller.enqueue(new Uint8Array(n).fill(0x78));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

const SS = "/api/keys";

async function post(
  path: string,
  bytes: number,
  headers: Record<string, string>,
  env = adminEnv({ SELF_SERVICE_PATH: SS }),
) {
  const { stream, seen } = source(bytes);
  const res = await send(
    path,
    { method: "POST", headers: { "content-type": "application/json", ...headers }, body: stream },
    env,
  );
  await res.arrayBuffer();
  return { res, seen };
}

describe("issue 20, class 5: bodies the management side does not read are drained or cancelled", () => {
  it("a chunked body over the JSON limit (200 KB): 413, and the rest was read to its end", async () => {
    const { key } = await mint();
    for (const [path, headers] of [
      ["/_keygate/keys", { authorization: `Bearer ${TOKEN}` }],
      [SS, { "x-api-key": key }],
    ] as const) {
      const { res, seen } = await post(path, 200 * 1024, headers);
      expect(res.status, path).toBe(413);
      expect(seen, path).toEqual({ pulled: 200 * 1024, ended: true, cancelled: false });
    }
  });

  it("an early answer (401 without a token, 404 unknown path, 405) leaves no body behind", async () => {
    for (const [path, headers, status, bytes] of [
      ["/_keygate/keys", {}, 401, 100 * 1024],
      [SS, {}, 401, 100 * 1024],
      ["/_keygate/nothing-here", { authorization: `Bearer ${TOKEN}` }, 404, 10 * 1024],
      ["/_keygate/audit", { authorization: `Bearer ${TOKEN}` }, 405, 10 * 1024],
    ] as const) {
      const { res, seen } = await post(path, bytes, headers);
      expect(res.status, path).toBe(status);
      expect(seen, path).toEqual({ pulled: bytes, ended: true, cancelled: false });
    }
  });

  it("the console's form limit (16 KiB) and a cross-site form: the same", async () => {
    const env = adminEnv();
    for (const [origin, status] of [
      ["https://gateway.test", 413],
      ["https://evil.example", 403],
    ] as const) {
      const { stream, seen } = source(100 * 1024);
      const res = await send(
        "/_keygate/ui/login",
        { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin }, body: stream },
        env,
      );
      await res.arrayBuffer();
      expect(res.status, origin).toBe(status);
      expect(seen, origin).toEqual({ pulled: 100 * 1024, ended: true, cancelled: false });
    }
  });

  it("past DRAIN_MAX_BYTES the body is cancelled (the connection is closed), not read on", async () => {
    const huge = 8 * DRAIN_MAX_BYTES;
    for (const [path, headers, status] of [
      ["/_keygate/keys", { authorization: `Bearer ${TOKEN}` }, 413],
      ["/_keygate/keys", {}, 401],
    ] as const) {
      const { res, seen } = await post(path, huge, headers);
      expect(res.status, path).toBe(status);
      expect(seen.cancelled, path).toBe(true);
      expect(seen.ended, path).toBe(false);
      expect(seen.pulled, path).toBeLessThanOrEqual(MAX_JSON_BODY_BYTES + DRAIN_MAX_BYTES + 4 * CHUNK);
    }
  });

  it("a body within the limit is read by the handler as before", async () => {
    const body = JSON.stringify({ orgs: ["bodies"], name: "n".repeat(100) });
    const res = await send(
      "/_keygate/keys",
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: new Blob([body]).stream(),
      },
      adminEnv(),
    );
    expect(res.status).toBe(201);
  });

  it("the gateway's own path is untouched: a forwarded body still streams to the origin", async () => {
    const { key } = await mint();
    const { stream } = source(300 * 1024);
    const res = await send("/v1/upload", { method: "POST", headers: { "x-api-key": key }, body: stream }, makeEnv());
    expect(res.status).toBe(200);
    expect(((await res.json()) as { bodyBytes: number }).bodyBytes).toBe(300 * 1024);
  });
});
