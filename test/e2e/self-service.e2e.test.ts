/**
 * End to end: the self-service key API on a real `wrangler dev` in the argus profile
 * (SELF_SERVICE_PATH=/api/keys, KEY_PREFIX=argus_), in front of a real origin. The Argus
 * page's sequence: create a key (with a key: sessions are issue 11 §1), list, use the new
 * key on a forwarded route, delete it, and the deleted key gets 401. Once with Node's
 * fetch, once with the page's own curl lines (when curl is installed).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler } from "../support/node-wrangler";

const execFileP = promisify(execFile);
const CURL = ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].find((p) => existsSync(p));

let origin: Origin;
let gw: WranglerDev;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startWrangler({
    vars: { ORIGIN_URL: origin.url, AUTH_PROFILE: "argus", KEY_PREFIX: "argus_", SELF_SERVICE_PATH: "/api/keys" },
  });
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

/** A first key for a fresh org, minted with the real CLI into the state wrangler dev reads. */
async function bootstrap(): Promise<{ key: string; id: string; org: string }> {
  const org = `argus-${randomUUID().slice(0, 8)}`;
  const r = await keysCli(["create", "--org", org, "--name", "Bootstrap", "--json", "--persist-to", gw.persistTo]);
  expect(r.code, r.stderr).toBe(0);
  const { key, id } = JSON.parse(r.stdout) as { key: string; id: string };
  return { key, id, org };
}

async function originSaw(probe: string): Promise<any[]> {
  return ((await (await fetch(`${origin.url}/__origin/calls?probe=${probe}`)).json()) as { calls: any[] }).calls;
}

describe("the Argus key sequence on wrangler dev", () => {
  it("with fetch: create, list, use, delete, 401", async () => {
    const boot = await bootstrap();
    const probe = `ss-${randomUUID()}`;

    const created = await fetch(`${gw.url}/api/keys`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": boot.key, "x-probe": probe },
      body: JSON.stringify({ name: "My Integration" }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const issued = (await created.json()) as {
      id: string;
      name: string;
      key: string;
      key_prefix: string;
      created_at: string;
    };
    expect(issued).toMatchObject({
      name: "My Integration",
      key: expect.stringMatching(/^argus_/),
      key_prefix: expect.stringMatching(/^argus_/),
    });

    const listed = await fetch(`${gw.url}/api/keys`, { headers: { "X-API-Key": issued.key, "x-probe": probe } });
    expect(listed.status).toBe(200);
    const list = (await listed.json()) as { id: string; name: string; key_prefix: string }[];
    expect(list.map((k) => k.name).sort()).toEqual(["Bootstrap", "My Integration"]);
    expect(JSON.stringify(list)).not.toContain(issued.key);

    const used = await fetch(`${gw.url}/api/devices`, {
      headers: { Authorization: `Bearer ${issued.key}`, "x-probe": probe },
    });
    expect(used.status).toBe(200);

    const deleted = await fetch(`${gw.url}/api/keys/${issued.id}`, {
      method: "DELETE",
      headers: { "X-API-Key": boot.key, "x-probe": probe },
    });
    expect(deleted.ok).toBe(true);

    const refused = await fetch(`${gw.url}/api/devices`, { headers: { "X-API-Key": issued.key, "x-probe": probe } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ detail: "Not authenticated" });

    // The origin saw exactly one request: the use on /api/devices. Nothing under /api/keys.
    const calls = await originSaw(probe);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(["GET /api/devices"]);
    expect(calls[0].headers["x-org-slug"]).toBe(boot.org);
  });

  it.skipIf(CURL === undefined)("with the page's curl lines, unchanged but for the host", async () => {
    const boot = await bootstrap();
    const base = gw.url;
    /** Run curl as the page does (plus -s and the status code on the last line). */
    const curl = async (...args: string[]) => {
      const { stdout } = await execFileP(CURL!, ["-s", "-w", "\n%{http_code}", ...args]);
      const nl = stdout.lastIndexOf("\n");
      return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) };
    };

    // curl -X POST "http://localhost:8080/api/keys" -H "Content-Type: application/json" -b cookies.txt -d '{"name": "My Integration"}'
    // (-b cookies.txt is the web session; here the bootstrap key authenticates instead.)
    const created = await curl(
      "-X",
      "POST",
      `${base}/api/keys`,
      "-H",
      "Content-Type: application/json",
      "-H",
      `X-API-Key: ${boot.key}`,
      "-d",
      '{"name": "My Integration"}',
    );
    expect(created.status).toBe(201);
    const issued = JSON.parse(created.body) as { id: string; key: string };

    // curl -H "X-API-Key: argus_xxxxx" http://localhost:8080/api/keys
    const listed = await curl("-H", `X-API-Key: ${issued.key}`, `${base}/api/keys`);
    expect(listed.status).toBe(200);
    expect((JSON.parse(listed.body) as { id: string }[]).map((k) => k.id)).toContain(issued.id);

    // curl -H "X-API-Key: argus_your_key_here" http://localhost:8080/api/devices
    expect((await curl("-H", `X-API-Key: ${issued.key}`, `${base}/api/devices`)).status).toBe(200);
    // curl -H "Authorization: Bearer argus_your_key_here" http://localhost:8080/api/devices
    expect((await curl("-H", `Authorization: Bearer ${issued.key}`, `${base}/api/devices`)).status).toBe(200);

    // curl -X DELETE -H "X-API-Key: argus_xxxxx" http://localhost:8080/api/keys/1
    const deleted = await curl("-X", "DELETE", "-H", `X-API-Key: ${boot.key}`, `${base}/api/keys/${issued.id}`);
    expect(deleted.status).toBeGreaterThanOrEqual(200);
    expect(deleted.status).toBeLessThan(300);

    const refused = await curl("-H", `X-API-Key: ${issued.key}`, `${base}/api/devices`);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ detail: "Not authenticated" });
  });
});
