/**
 * Scoped admin tokens end to end: `npm run keys -- tokens create|list|revoke`, run as a
 * user runs it, against the local state a real `wrangler dev` reads and against that
 * gateway's admin API (--url), here under a custom ADMIN_PREFIX. The tokens it mints are
 * then used on the wire: within their org and role, refused outside, refused once revoked.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler } from "../support/node-wrangler";

const ROOT = randomBytes(32).toString("hex");
const PREFIX = "/ops/admin";
const CLI_TESTS = { timeout: 240_000 };

let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({ vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: ROOT, ADMIN_PREFIX: PREFIX } });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

// Local mode on the gateway's own state: the CLI publishes to the `wrangler dev` registered
// in that state's dev registry (<persist-to>/dev-registry), never to another checkout's
// gateway of the same Worker name.
const local = (...args: string[]) => keysCli(["tokens", ...args, "--persist-to", gw.persistTo]);
const remote = (args: string[], token = ROOT) =>
  keysCli([...args, "--url", `${gw.url}${PREFIX}`], { KEYGATE_ADMIN_TOKEN: token });

async function json(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<any> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** A request to the admin API with a bearer token. */
function admin(token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${gw.url}${PREFIX}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

describe("tokens on local state (what wrangler dev reads)", CLI_TESTS, () => {
  it("create, list, revoke; the gateway honours each token's org and role", async () => {
    const [org, other] = [`tl-${randomUUID().slice(0, 8)}`, `tl-${randomUUID().slice(0, 8)}`];
    const writer = await json(local("create", "--name", "acme backend", "--org", org, "--role", "write", "--json"));
    expect(writer).toMatchObject({
      name: "acme backend",
      orgs: [org],
      role: "write",
      status: "active",
      token: expect.stringMatching(/^kgt_/),
    });
    const reader = await json(
      local(
        "create",
        "--name",
        "viewer",
        "--org",
        org,
        "--org",
        other,
        "--role",
        "read",
        "--expires",
        "2099-01-01T00:00:00Z",
        "--json",
      ),
    );
    expect(reader).toMatchObject({ orgs: [org, other], role: "read", expires_at: "2099-01-01T00:00:00.000Z" });

    const created = await admin(writer.token, "POST", "/keys", { orgs: [org], name: "via token" });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string };
    expect((await admin(writer.token, "POST", "/keys", { orgs: [other] })).status).toBe(403);
    expect((await admin(writer.token, "GET", "/tokens")).status).toBe(403);
    expect((await fetch(`${gw.url}/v1/x`, { headers: { "x-api-key": key.key } })).status).toBe(200);
    expect((await admin(reader.token, "GET", `/keys/${key.id}`)).status).toBe(200);
    expect((await admin(reader.token, "DELETE", `/keys/${key.id}`)).status).toBe(403);

    const listed = await json(local("list", "--json"));
    const mine = listed.tokens.filter((t: any) => t.id === writer.id || t.id === reader.id);
    expect(mine).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(writer.token);
    const table = await local("list");
    expect(table.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+ORGS\s+ROLE\s+STATUS\s+CREATED\s+EXPIRES$/m);
    expect(table.stdout).toContain(writer.id);

    // A token no request has used yet (so no isolate caches it): revoked locally, refused at
    // once. (A cached one: within the feed's bound, below.)
    const unused = await json(local("create", "--name", "unused", "--org", org, "--role", "read", "--json"));
    const revoked = await json(local("revoke", unused.id, "--json"));
    expect(revoked).toMatchObject({ id: unused.id, status: "revoked", revoked_at: expect.any(String) });
    expect((await admin(unused.token, "GET", `/keys/${key.id}`)).status).toBe(401);

    // The audit log names the CLI for token events and the token for the key it created.
    const events = (await (await admin(ROOT, "GET", "/audit?limit=100")).json()) as { events: any[] };
    expect(events.events.find((e) => e.token_id === writer.id && e.action === "token_create")?.actor).toBe("cli");
    expect(events.events.find((e) => e.key_id === key.id)?.actor).toBe(`token:${writer.id}`);
  });

  it("a token revoked on local state is refused by the running gateway within 5 s, cached or not, and its console session ends", async () => {
    const org = `tc-${randomUUID().slice(0, 8)}`;
    const tok = await json(local("create", "--name", "cached", "--org", org, "--role", "write", "--json"));
    expect((await admin(tok.token, "GET", `/keys?org=${org}`)).status).toBe(200); // cached in the isolate now
    const login = await fetch(`${gw.url}${PREFIX}/ui/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: gw.url },
      body: `token=${tok.token}`,
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const page = () => fetch(`${gw.url}${PREFIX}/ui/orgs/${org}`, { headers: { cookie }, redirect: "manual" });
    expect((await page()).status).toBe(200);

    const revoked = await local("revoke", tok.id, "--json");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).not.toContain("no running `wrangler dev`");
    const done = Date.now();
    expect((await page()).status).toBe(303); // the console session: at once
    let status = 0;
    while (Date.now() - done < 5_000 && (status = (await admin(tok.token, "GET", `/keys?org=${org}`)).status) !== 401)
      await new Promise((r) => setTimeout(r, 200));
    expect(status).toBe(401);
    expect(Date.now() - done).toBeLessThan(5_000);
  });

  it("exit codes: 2 for bad usage (before any state is opened), 1 for an unknown id", async () => {
    const usage = await Promise.all([
      local("create", "--name", "x", "--role", "read"),
      local("create", "--org", "a", "--role", "read"),
      local("create", "--name", "x", "--org", "a"),
      local("revoke"),
      keysCli(["tokens", "frobnicate"]),
      keysCli(["tokens", "list", "--org", "a"]),
    ]);
    expect(usage.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    const role = await local("create", "--name", "x", "--org", "a", "--role", "admin");
    expect(role.code).toBe(2);
    expect(role.stderr).toContain("--role: must be one of read, write");
    const missing = await local("revoke", "tok_00000000000000000000");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no token");
  });
});

describe("tokens through the admin API (--url, root token)", CLI_TESTS, () => {
  it("create, list, revoke over HTTP; revocation stops the token at once, even cached", async () => {
    const org = `tr-${randomUUID().slice(0, 8)}`;
    const tok = await json(remote(["tokens", "create", "--name", "remote", "--org", org, "--role", "write", "--json"]));
    expect(tok.token).toMatch(/^kgt_/);
    // The keys CLI works with a scoped token too: within its org, without naming it.
    const key = await json(remote(["create", "--org", org, "--json"], tok.token));
    const keys = await json(remote(["list", "--json"], tok.token));
    expect(keys.keys.map((k: any) => k.id)).toEqual([key.id]);
    const outside = await remote(["create", "--org", `${org}-x`, "--json"], tok.token);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain("403");
    // A scoped token cannot manage tokens.
    const denied = await remote(["tokens", "list"], tok.token);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("403");

    const listed = await json(remote(["tokens", "list", "--json"]));
    expect(listed.tokens.map((t: any) => t.id)).toContain(tok.id);
    expect((await admin(tok.token, "GET", "/keys")).status).toBe(200); // cached in the isolate now
    expect((await json(remote(["tokens", "revoke", tok.id, "--json"]))).status).toBe("revoked");
    const after = await admin(tok.token, "GET", "/keys");
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
    const human = await remote(["tokens", "revoke", tok.id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/status:\s+revoked/);
  });
});
