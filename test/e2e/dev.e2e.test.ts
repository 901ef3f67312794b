/**
 * `npm run dev` as a newcomer runs it: the demo key works, a second start reuses it, it is
 * in the audit log like any other key, the console answers on console.localhost:PORT with
 * the admin token printed (and not on the API's host), a session from
 * `npm run keys -- session` works on the self-service API it turns on, the banner follows
 * the profile, a port in use is said in one line before anything starts, wrangler's
 * version banner and update notice are not printed, and Ctrl-C (SIGINT) leaves no
 * wrangler dev, workerd or demo origin behind. Ports and state are this test's own (PORT,
 * ORIGIN_PORT, --persist-to), so a developer's running `npm run dev` is not touched.
 */

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive, descendants, freePort, keysCli, tempStateDir } from "../support/node-wrangler";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Dev {
  child: ChildProcess;
  output: () => string;
  key: string;
  id: string;
  port: number;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

async function startDev(state: string, extra: string[] = []): Promise<Dev> {
  const port = await freePort();
  const originPort = await freePort();
  // Its own session, as a terminal would run it; SIGINT goes to the whole foreground group.
  const child = spawn("npm", ["run", "dev", "--", "--persist-to", state, ...extra], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ORIGIN_PORT: String(originPort), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && !out.includes("Stop: Ctrl-C")) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const m = /Demo key \(org "demo", scopes read,write; id (key_\w+)[^)]*\):\s+(\S+)/.exec(out);
  if (!m) throw new Error(`no demo key in:\n${out}`);
  return { child, output: () => out, id: m[1]!, key: m[2]!, port };
}

/**
 * A request to 127.0.0.1:port under another host name, as a browser sends it to
 * console.localhost (Node's resolver, unlike Chromium's and curl's, does not map
 * *.localhost to loopback).
 */
function requestAs(
  host: string,
  port: number,
  method: string,
  p: string,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `${host}:${port}` };
    if (body !== undefined)
      Object.assign(headers, { "content-type": "application/x-www-form-urlencoded", origin: `http://${host}:${port}` });
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function interrupt(dev: Dev): Promise<number[]> {
  const below = descendants(dev.child.pid!);
  expect(below.length).toBeGreaterThan(2);
  const exited = new Promise<void>((resolve) => dev.child.once("exit", () => resolve()));
  process.kill(-dev.child.pid!, "SIGINT"); // Ctrl-C: the terminal signals the foreground group
  await exited;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && below.some(alive)) await new Promise((r) => setTimeout(r, 200));
  return below.filter(alive);
}

/** `npm run -s dev` to its end (it is expected to stop by itself): exit code and all it printed. */
function runDev(state: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn("npm", ["run", "-s", "dev", "--", "--persist-to", state], {
      cwd: ROOT,
      env: { ...process.env, ORIGIN_PORT: "0", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (out += d.toString()));
    c.once("exit", (code) => resolve({ code, out }));
  });
}

describe("npm run dev", () => {
  it("serves with a demo key, reuses it on the next start, audits it, and Ctrl-C leaves nothing running", async () => {
    const state = tempStateDir();
    const first = await startDev(state);
    // Ready once the port answers; wrangler may still be loading the worker.
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${first.port}/hello`, { headers: { "x-api-key": first.key } }).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${first.port}/hello`)).status).toBe(401);
    expect(first.output()).not.toContain("will not work in local development");
    expect(first.output()).toMatch(/\[dev\] created the demo key/);
    // The console, on its own host, signed in with the admin token printed at start.
    const printed = new RegExp(
      `Console: http://console\\.localhost:${first.port}/ — sign in with the admin token\\s+([0-9a-f]{64})`,
    ).exec(first.output());
    expect(printed, first.output()).not.toBeNull();
    const login = await requestAs("console.localhost", first.port, "GET", "/login");
    expect(login.status).toBe(200);
    expect(login.body).toContain('action="/login"');
    const signedIn = await requestAs("console.localhost", first.port, "POST", "/login", `token=${printed![1]}`);
    expect(signedIn.status).toBe(303);
    expect(String(signedIn.headers["set-cookie"])).not.toMatch(/domain=/i);
    expect((await fetch(`http://127.0.0.1:${first.port}/_keygate/ui/login`)).status).toBe(401); // not on the API's host
    // wrangler's own banner ("⛅️ wrangler 4.86.0 (update available …)") is off: the version is pinned.
    expect(first.output()).not.toMatch(/⛅️|update available/);

    // A session JWT from the CLI, signed with the secret `npm run dev` keeps in the state,
    // on the self-service API `npm run dev` turns on (what the banner's Session line says).
    // (with this state's --persist-to: the CLI finds the session secret there)
    expect(first.output()).toContain(
      `Session: TOKEN=$(npm run -s keys -- session --org demo --scopes read,write --persist-to ${state})`,
    );
    const session = await keysCli(["session", "--org", "demo", "--scopes", "read,write", "--persist-to", state]);
    expect(session.code, session.stderr).toBe(0);
    const bearer = { authorization: `Bearer ${session.stdout.trim()}` };
    const api = `http://127.0.0.1:${first.port}/api/keys`;
    const listed = await fetch(api, { headers: bearer });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { id: string }[]).map((k) => k.id)).toContain(first.id);
    const made = await fetch(api, {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ name: "from a session" }),
    });
    expect(made.status).toBe(201);
    const madeKey = (await made.json()) as { id: string; key: string };
    expect(
      (await fetch(`http://127.0.0.1:${first.port}/hello`, { headers: { "x-api-key": madeKey.key } })).status,
    ).toBe(200);
    expect((await fetch(`${api}/${madeKey.id}`, { method: "DELETE", headers: bearer })).status).toBe(200);

    // A second `npm run dev` on a port in use says so in one line, before starting anything.
    const busy = await runDev(state, { PORT: String(first.port) });
    expect(busy.code).toBe(1);
    expect(busy.out.trim()).toBe(
      `error: port ${first.port} is in use (another \`npm run dev\`?): stop it, or set PORT to another port.`,
    );
    expect(await interrupt(first)).toEqual([]);

    // The banner follows the profile: operate answers a missing key 400.
    const second = await startDev(state, ["--var", "AUTH_PROFILE:operate"]);
    expect(second.output()).toMatch(/\[dev\] reusing the demo key/);
    expect(second.output()).toContain(printed![1]); // the same admin token: the state's
    expect(second.key).toBe(first.key);
    expect(second.id).toBe(first.id);
    expect(second.output()).toMatch(/curl -i http:\/\/127\.0\.0\.1:\d+\/hello +# 400: no key \(the operate profile/);
    expect((await fetch(`http://127.0.0.1:${second.port}/hello`)).status).toBe(400);
    expect(await interrupt(second)).toEqual([]);

    const audit = await keysCli(["audit", "--id", first.id, "--json", "--persist-to", state]);
    expect(audit.code, audit.stderr).toBe(0);
    const events = (JSON.parse(audit.stdout) as { events: { actor: string; action: string }[] }).events;
    expect(events).toEqual([expect.objectContaining({ actor: "dev", action: "create" })]);
  });

  it("--help prints the usage and starts nothing", async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn("npm", ["run", "-s", "dev", "--", "--help"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.once("exit", (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain("`npm run dev`");
    expect(r.out).not.toContain("[dev] starting");
  });
});
