/**
 * WebSocket upgrades: authenticated like any request, then the origin's 101 and socket are
 * handed to the client untouched.
 */
import { describe, expect, it } from "vitest";
import { makeEnv, mint, send } from "../../../support/worker-helpers";

function upgradeHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    ...extra,
  };
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data)), { once: true }));
}

describe("WebSocket pass-through", () => {
  it("authenticates the upgrade, injects identity, and returns the origin's socket", async () => {
    const { key, record } = await mint();
    const res = await send("/ws/live", { headers: upgradeHeaders({ "x-api-key": key, "x-org-slug": "spoofed" }) });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const hello = JSON.parse(await nextMessage(ws)) as { url: string; headers: Record<string, string> };
    expect(hello.url).toBe("/ws/live");
    expect(hello.headers["x-org-slug"]).toBe("acme");
    expect(hello.headers["x-api-key-id"]).toBe(record.id);
    expect(hello.headers["x-api-key"]).toBeUndefined();
    expect(hello.headers.upgrade).toBe("websocket");
    ws.send("ping");
    expect(await nextMessage(ws)).toBe("echo: ping");
    ws.close();
  });

  it("refuses an upgrade without a key in the profile's shape (no socket)", async () => {
    const res = await send("/ws/live", { headers: upgradeHeaders() }, makeEnv({ AUTH_PROFILE: "argus" }));
    expect(res.status).toBe(401);
    expect(res.webSocket).toBeNull();
    expect(await res.text()).toBe('{"detail":"Not authenticated"}');
  });
});
