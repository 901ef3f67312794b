/**
 * The keys CLI's remote backend (cli/backends/remote.ts) against a tiny local HTTP stub of
 * the admin API, on Node: which method and path each operation calls, the bearer token,
 * JSON bodies and queries, and how each answer becomes an Outcome or a refusal.
 */

import type { IncomingMessage, Server } from "node:http";
import { createServer } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Refused, UsageError } from "../../../cli/args";
import { adminBase, queryString, remoteBackend } from "../../../cli/backends/remote";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base: string;
let seen: Seen[] = [];
let reply: { status: number; body: string; type?: string; headers?: Record<string, string> } = {
  status: 200,
  body: "{}",
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(reply.status, { "content-type": reply.type ?? "application/json", ...reply.headers });
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
  reply = { status: 200, body: '{"ok":1}' };
});

const backend = (path = "") => remoteBackend(base + path, "tok-secret");

describe("adminBase", () => {
  it("the gateway's URL gets /_keygate; a URL with a path is the admin prefix itself", () => {
    expect(adminBase("https://gw.example.com")).toBe("https://gw.example.com/_keygate");
    expect(adminBase("https://gw.example.com/")).toBe("https://gw.example.com/_keygate");
    expect(adminBase("https://gw.example.com/ops-admin/")).toBe("https://gw.example.com/ops-admin");
  });

  it("refuses what is not an absolute http(s) URL without query or fragment, as usage errors", () => {
    for (const bad of [
      "gw.example.com",
      "ftp://gw.example.com",
      "https://gw.example.com/?a=1",
      "https://gw.example.com/#x",
    ]) {
      expect(() => adminBase(bad), bad).toThrow(UsageError);
    }
  });

  it("queryString keeps defined fields only", () => {
    expect(queryString({ org: "acme", limit: 5, cursor: undefined })).toBe("?org=acme&limit=5");
    expect(queryString({})).toBe("");
  });
});

describe("requests", () => {
  it("each operation calls its admin API method and path, with the bearer token and JSON bodies", async () => {
    const b = backend();
    await b.create({ orgs: ["acme"] });
    await b.import({ key: "k", orgs: ["acme"] });
    await b.list({ org: "acme", limit: "2" });
    await b.show("key/1");
    await b.update("key_1", { name: "n" });
    await b.revoke("key_1");
    await b.rotate("key_1", { grace_seconds: 60 });
    await b.audit({ key_id: "key_1" });
    await b.orgShow("acme");
    await b.orgSet("acme", { rate_limit: null });
    await b.usage({ org: "acme", granularity: "hour" });
    await b.tokenCreate({ name: "t" });
    await b.tokenList({ limit: "1000" });
    await b.tokenRevoke("tok_1");
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "POST /_keygate/keys",
      "POST /_keygate/keys/import",
      "GET /_keygate/keys?org=acme&limit=2",
      "GET /_keygate/keys/key%2F1",
      "PATCH /_keygate/keys/key_1",
      "DELETE /_keygate/keys/key_1",
      "POST /_keygate/keys/key_1/rotate",
      "GET /_keygate/audit?key_id=key_1",
      "GET /_keygate/orgs/acme",
      "PUT /_keygate/orgs/acme",
      "GET /_keygate/usage?org=acme&granularity=hour",
      "POST /_keygate/tokens",
      "GET /_keygate/tokens?limit=1000",
      "DELETE /_keygate/tokens/tok_1",
    ]);
    for (const s of seen) {
      expect(s.headers.authorization).toBe("Bearer tok-secret");
      expect(s.headers.accept).toBe("application/json");
    }
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(seen[0]!.body)).toEqual({ orgs: ["acme"] });
    expect(JSON.parse(seen[9]!.body)).toEqual({ rate_limit: null });
    expect(seen[2]!.headers["content-type"]).toBeUndefined();
    expect(seen[2]!.body).toBe("");
  });

  it("webhooks: each verb's method and path", async () => {
    const b = backend();
    await b.webhookCreate({ url: "https://h.example/x", events: ["key.revoked"] });
    await b.webhookList();
    await b.webhookRemove("wh_1");
    await b.webhookTest("wh_1");
    await b.webhookDeliveries("wh_1", { limit: "5" });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "POST /_keygate/webhooks",
      "GET /_keygate/webhooks",
      "DELETE /_keygate/webhooks/wh_1",
      "POST /_keygate/webhooks/wh_1/test",
      "GET /_keygate/webhooks/wh_1/deliveries?limit=5",
    ]);
    expect(JSON.parse(seen[0]!.body)).toEqual({ url: "https://h.example/x", events: ["key.revoked"] });
  });

  it("a custom admin prefix is used as given", async () => {
    await backend("/ops-admin").show("key_1");
    expect(seen[0]!.url).toBe("/ops-admin/keys/key_1");
  });
});

describe("answers", () => {
  it("2xx: the JSON answer", async () => {
    reply = { status: 201, body: '{"id":"key_1"}' };
    expect(await backend().create({})).toEqual({ ok: true, value: { id: "key_1" } });
  });

  it("400 with field errors: invalid, with the errors for the CLI to reword", async () => {
    reply = { status: 400, body: JSON.stringify({ errors: [{ field: "orgs", message: "bad" }] }) };
    expect(await backend().create({})).toEqual({
      ok: false,
      error: "invalid",
      errors: [{ field: "orgs", message: "bad" }],
    });
  });

  it("401 from the admin API (its realm): refused, naming the token variable (and never the token)", async () => {
    reply = {
      status: 401,
      body: '{"detail":"no"}',
      headers: { "www-authenticate": 'Bearer realm="keygate-admin", error="invalid_token"' },
    };
    const err = await backend()
      .list({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Refused);
    expect((err as Error).message).toBe("the gateway refused the admin token (401): check KEYGATE_ADMIN_TOKEN");
    expect((err as Error).message).not.toContain("tok-secret");
  });

  it("any other 401 is the gateway answering a path that is not its admin API: a wrong --url, not a bad token", async () => {
    for (const headers of [{ "www-authenticate": 'ApiKey realm="keygate", header="x-api-key"' }, undefined]) {
      reply = { status: 401, body: '{"title":"Unauthorized"}', ...(headers ? { headers } : {}) };
      const err = await backend("/wrong")
        .list({})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Refused);
      expect((err as Error).message).toBe(
        `${base}/wrong is not keygate's admin API (its 401 is the gateway's answer to an API request): is --url right? ` +
          "Give the gateway's address, or the full admin prefix when ADMIN_PREFIX is not /_keygate",
      );
      expect((err as Error).message).not.toMatch(/admin token|tok-secret/);
    }
  });

  it("403 on tokens says only the root token may; elsewhere the gateway's detail", async () => {
    reply = { status: 403, body: '{"detail":"Root only."}' };
    await expect(backend().tokenList({})).rejects.toThrow(
      "the gateway refused (403): Root only. KEYGATE_ADMIN_TOKEN must be the root ADMIN_TOKEN",
    );
    await expect(backend().show("key_1")).rejects.toThrow("the gateway answered 403: Root only.");
  });

  it("404: not found; a hint about the admin API unless one named key or token was asked for", async () => {
    reply = { status: 404, body: "" };
    expect(await backend().show("key_1")).toEqual({ ok: false, error: "not_found", message: "not found" });
    expect(await backend().tokenRevoke("tok_1")).toEqual({ ok: false, error: "not_found", message: "not found" });
    const list = await backend().list({});
    expect(list.ok).toBe(false);
    expect((list as { message: string }).message).toContain("is the admin API on?");
    expect(((await backend().create({})) as { message: string }).message).toContain("is the admin API on?");
  });

  it("409: conflict with the gateway's detail", async () => {
    reply = { status: 409, body: '{"detail":"That key is already stored."}' };
    expect(await backend().import({})).toEqual({
      ok: false,
      error: "conflict",
      message: "That key is already stored.",
    });
  });

  it("anything else: refused with the status and the start of the body", async () => {
    reply = { status: 502, body: "upstream exploded", type: "text/plain" };
    await expect(backend().list({})).rejects.toThrow("the gateway answered 502: upstream exploded");
  });

  it("an unreachable gateway: refused, naming the admin URL", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await remoteBackend(`http://127.0.0.1:${port}`, "t")
      .list({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Refused);
    expect((err as Error).message).toMatch(new RegExp(`^cannot reach http://127\\.0\\.0\\.1:${port}/_keygate: `));
  });
});
