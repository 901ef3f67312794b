/**
 * The keys CLI, run as a user runs it (`npm run keys -- …`), in both modes, against a real
 * `wrangler dev` started with the admin token given as `--var ADMIN_TOKEN:…`, in front of
 * a real origin:
 * - local mode writes the state that wrangler dev reads (--persist-to);
 * - --url mode goes through the gateway's admin API over loopback.
 * Every verb, --json and tables, exit codes 0/1/2, and the effect on the hot path.
 */

import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler } from "../support/node-wrangler";

const TOKEN = randomBytes(32).toString("hex");
/** Each `npm run keys` starts npm, tsx and (in local mode) workerd: seconds each on a busy machine. */
const CLI_TESTS = { timeout: 240_000 };
const ADMIN = { KEYGATE_ADMIN_TOKEN: TOKEN };

let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({ vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: TOKEN } });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

/** `npm run keys -- …` against the local state wrangler dev reads. */
const local = (...args: string[]) => keysCli([...args, "--persist-to", gw.persistTo]);
/** `npm run keys -- … --url` against the running gateway. */
const remote = (...args: string[]) => keysCli([...args, "--url", gw.url], ADMIN);

async function json(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<any> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function request(path: string, key?: string, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}${path}`, { headers: { ...(key ? { "x-api-key": key } : {}), ...headers } });
}

/** A raw request line, exactly as given (fetch would normalize the path). */
function raw(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: gw.port, path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function originSaw(probe: string): Promise<number> {
  return ((await (await fetch(`${origin.url}/__origin/calls?probe=${probe}`)).json()) as { count: number }).count;
}

describe("local mode (default): the state wrangler dev reads", CLI_TESTS, () => {
  it("create, list, show, update, rotate, revoke, import, audit — and the gateway sees each change", async () => {
    const org = `local-${randomUUID().slice(0, 8)}`;
    const created = await json(
      local("create", "--org", org, "--name", "ci", "--scopes", "read", "--meta", "team=ops", "--json"),
    );
    expect(created).toMatchObject({
      name: "ci",
      orgs: [org],
      scopes: ["read"],
      status: "active",
      meta: { team: "ops" },
    });
    expect(created.key).toMatch(/^kg_/);
    expect((await request("/v1/x", created.key)).status).toBe(200);

    const listed = await json(local("list", "--org", org, "--json"));
    expect(listed.keys.map((k: any) => k.id)).toEqual([created.id]);
    expect(listed.keys[0].last_used_at).not.toBeNull(); // the request above, written by wrangler dev in waitUntil
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const shown = await json(local("show", created.id, "--json"));
    expect(shown).toMatchObject({ id: created.id, key_prefix: created.key_prefix });
    expect(shown.key).toBeUndefined();

    const updated = await json(local("update", created.id, "--scopes", "read,write", "--name", "ci-2", "--json"));
    expect(updated).toMatchObject({ name: "ci-2", scopes: ["read", "write"] });

    const rotated = await json(local("rotate", created.id, "--grace-seconds", "3600", "--json"));
    expect(rotated).toMatchObject({
      replaces: created.id,
      name: "ci-2",
      scopes: ["read", "write"],
      previous: { id: created.id, status: "rotating" },
    });
    expect((await request("/v1/x", rotated.key)).status).toBe(200);

    const revoked = await json(local("revoke", rotated.id, "--json"));
    expect(revoked.status).toBe("revoked");

    const legacy = randomUUID();
    const imported = await json(local("import", "--key", legacy, "--org", org, "--json"));
    expect(JSON.stringify(imported)).not.toContain(legacy);
    expect((await request("/v1/x", legacy)).status).toBe(200);

    const audit = await json(local("audit", "--id", created.id, "--json"));
    expect(audit.events.map((e: any) => [e.action, e.actor])).toEqual([
      ["rotate", "cli"],
      ["update", "cli"],
      ["create", "cli"],
    ]);
  });

  it("prints readable tables without --json", async () => {
    const org = `table-${randomUUID().slice(0, 8)}`;
    const created = await json(local("create", "--org", org, "--name", "table-me", "--json"));
    const list = await local("list", "--org", org);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+STATUS\s+SCOPES\s+CREATED\s+LAST USED\s+EXPIRES$/m);
    expect(list.stdout).toContain(created.id);
    expect(list.stdout).toContain("table-me");
    const audit = await local("audit", "--id", created.id);
    expect(audit.stdout).toMatch(/^AT\s+ACTOR\s+ACTION\s+KEY\s+DETAILS$/m);
    expect(audit.stdout).toMatch(/cli\s+create\s+key_/);
  });

  it("exit codes: 1 for an unknown id or a refused change, 2 for bad usage", async () => {
    expect((await local("show", "key_00000000000000000000")).code).toBe(1);
    const legacy = randomUUID();
    expect((await local("import", "--key", legacy, "--org", "a")).code).toBe(0);
    const twice = await local("import", "--key", legacy, "--org", "a");
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("already stored");
    const bad = await local("create", "--org", "a", "--expires", "2001-01-01T00:00:00Z");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--expires: must be in the future");
    // Refused before any state is opened: cheap, so run together.
    const usage = await Promise.all([
      local("create", "--orgg", "a"),
      local("revoke"),
      local("update", "key_x", "--enable", "--disable"),
      keysCli(["frobnicate"]),
    ]);
    expect(usage.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect((await local("list", "--status", "gone")).code).toBe(2);
  });
});

describe("--url mode: the running gateway's admin API", CLI_TESTS, () => {
  it("every verb over HTTP; revocation and a grace-0 rotation stop the key at once", async () => {
    const org = `remote-${randomUUID().slice(0, 8)}`;
    const created = await json(remote("create", "--org", org, "--scopes", "read", "--json"));
    expect((await request("/v1/x", created.key)).status).toBe(200);

    expect((await json(remote("list", "--org", org, "--json"))).keys.map((k: any) => k.id)).toEqual([created.id]);
    expect((await json(remote("show", created.id, "--json"))).id).toBe(created.id);
    expect((await json(remote("update", created.id, "--disable", "--json"))).status).toBe("disabled");
    expect((await request("/v1/x", created.key)).status).toBe(401);
    expect((await json(remote("update", created.id, "--enable", "--json"))).status).toBe("active");
    expect((await request("/v1/x", created.key)).status).toBe(200);

    const rotated = await json(remote("rotate", created.id, "--json"));
    expect(rotated.previous.status).toBe("rotated");
    expect((await request("/v1/x", created.key)).status).toBe(401); // cached a moment ago: purged by the admin API
    expect((await request("/v1/x", rotated.key)).status).toBe(200);

    expect((await json(remote("revoke", rotated.id, "--json"))).status).toBe("revoked");
    const after = await request("/v1/x", rotated.key);
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain("Bearer");

    const legacy = randomUUID();
    await json(remote("import", "--key", legacy, "--org", org, "--json"));
    expect((await request("/v1/x", legacy)).status).toBe(200);

    const audit = await json(remote("audit", "--id", created.id, "--json"));
    expect(audit.events.map((e: any) => e.action)).toEqual(["rotate", "update", "update", "create"]);
    expect(audit.events[0].actor).toBe("root");
    expect(JSON.stringify(audit)).not.toContain(TOKEN);
  });

  it("a rotation grace keeps the old key working, with Sunset and Deprecation on its responses", async () => {
    const created = await json(remote("create", "--org", "acme", "--json"));
    const rotated = await json(remote("rotate", created.id, "--grace-seconds", "600", "--json"));
    const res = await request("/v1/x", created.key);
    expect(res.status).toBe(200);
    expect(res.headers.get("sunset")).toBe(new Date(rotated.previous.expires_at).toUTCString());
    expect(res.headers.get("deprecation")).toMatch(/^@\d+$/);
  });

  it("tables, and the same exit codes as local mode", async () => {
    const created = await json(remote("create", "--org", "acme", "--name", "remote-table", "--json"));
    const shown = await remote("show", created.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${created.id} ("remote-table")`);
    expect(shown.stdout).toMatch(/status:\s+active/);
    expect((await remote("show", "key_00000000000000000000")).code).toBe(1);
    const bad = await remote("rotate", created.id, "--grace-seconds", "forever");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--grace-seconds:");
    const conflict = await remote("update", (await json(remote("revoke", created.id, "--json"))).id, "--name", "x");
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain("revoked");
  });

  it("a wrong token is refused (1); no token or conflicting flags are bad usage (2)", async () => {
    const wrong = await keysCli(["list", "--org", "acme", "--url", gw.url], {
      KEYGATE_ADMIN_TOKEN: TOKEN.replace(/.$/, "x"),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("refused the admin token");
    const usage = await Promise.all([
      keysCli(["list", "--org", "acme", "--url", gw.url], { KEYGATE_ADMIN_TOKEN: "" }),
      keysCli(["list", "--org", "acme", "--url", gw.url, "--persist-to", "/tmp/x"], ADMIN),
      keysCli(["list", "--org", "acme", "--url", "not a url"], ADMIN),
    ]);
    expect(usage.map((r) => r.code)).toEqual([2, 2, 2]);
  });
});

describe("the admin API on the wire", () => {
  it("401 with a Bearer challenge without the token; every spelling of the prefix stays at the gateway", async () => {
    const res = await fetch(`${gw.url}/_keygate/keys?org=acme`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="keygate-admin"');
    for (const path of [
      "/%5fkeygate/keys?org=acme",
      "//_keygate/keys?org=acme",
      "/v1/../_keygate/keys?org=acme",
      "/_KEYGATE/keys?org=acme",
    ]) {
      const probe = randomUUID();
      expect(await raw(path, { "x-probe": probe }), path).toBe(401);
      expect(await raw(path, { "x-probe": probe, authorization: `Bearer ${TOKEN}` }), path).toBe(200);
      expect(await originSaw(probe)).toBe(0);
    }
  });
});

describe("a gateway without ADMIN_TOKEN", CLI_TESTS, () => {
  it("answers the admin prefix with the profile's 404, never forwards it, and the CLI says why", async () => {
    const off = await startWrangler({ vars: { ORIGIN_URL: origin.url, AUTH_PROFILE: "argus" } });
    try {
      const key = (await json(keysCli(["create", "--org", "acme", "--json", "--persist-to", off.persistTo]))).key;
      const probe = randomUUID();
      const res = await fetch(`${off.url}/_keygate/keys?org=acme`, {
        headers: { "x-api-key": key, authorization: `Bearer ${TOKEN}`, "x-probe": probe },
      });
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('{"detail":"Not Found"}');
      expect(await originSaw(probe)).toBe(0);
      const cli = await keysCli(["list", "--org", "acme", "--url", off.url], ADMIN);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain("is the admin API on?");
    } finally {
      await off.stop();
    }
  });
});
