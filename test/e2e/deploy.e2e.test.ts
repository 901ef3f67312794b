/**
 * `npm run deploy` (scripts/deploy.ts): refuses, before running wrangler (so before
 * contacting Cloudflare), a configuration with the placeholder KV namespace id, a
 * loopback or example ORIGIN_URL, for the chosen --env; the override for a deliberate
 * loopback origin; a warning for a production target without CONSOLE_HOST; and runs
 * `wrangler deploy` otherwise (here with --dry-run, which
 * uploads nothing). Every run has its proxy pointed at a closed port, so any attempt to
 * reach the network would fail instead of reaching it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isLoopbackHost, problems, warnings } from "../../scripts/deploy";

const ROOT = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const OFFLINE = {
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  CLOUDFLARE_API_TOKEN: "",
  WRANGLER_SEND_METRICS: "false",
  NO_COLOR: "1",
};

async function deploy(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run("npm", ["run", "-s", "deploy", "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

/** wrangler.toml with a real-looking KV id and the given top-level ORIGIN_URL. */
function config(originUrl: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "keygate-deploy-"));
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(path.join(ROOT, "src/index.ts"))}`)
    .replace(/^id = "0{32}"$/m, 'id = "0123456789abcdef0123456789abcdef"')
    .replace(/^ORIGIN_URL = .*$/m, `ORIGIN_URL = ${JSON.stringify(originUrl)}`);
  const file = path.join(dir, "wrangler.toml");
  writeFileSync(file, toml);
  return file;
}

const ran = (out: string) => out.includes("running wrangler deploy") || out.includes("⛅️");

describe("npm run deploy: the guard", () => {
  it("the repository's wrangler.toml is refused as it is: placeholder KV id and loopback ORIGIN_URL, nothing run", async () => {
    const r = await deploy([]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("placeholder id 00000000000000000000000000000000");
    expect(r.out).toContain("npx wrangler kv namespace create KEYS");
    expect(r.out).toMatch(/ORIGIN_URL "http:\/\/127\.0\.0\.1:8788" in \[vars\] is a loopback address/);
    expect(r.out).toContain("--allow-loopback-origin");
    expect(r.out).toContain("Nothing was deployed");
    expect(ran(r.out)).toBe(false);
  });

  it("each environment is checked on its own: staging and production still hold placeholders", async () => {
    for (const env of ["staging", "production"]) {
      const r = await deploy(["--env", env]);
      expect(r.code, env).toBe(1);
      expect(r.out, env).toContain(`KEYS KV namespace of [env.${env}] still has the placeholder id`);
      expect(r.out, env).toContain(`in [env.${env}.vars] is a placeholder`);
      expect(ran(r.out), env).toBe(false);
    }
  });

  it("a real KV id with a loopback origin is still refused; the flag or the variable lets a deliberate one through", async () => {
    const file = config("http://localhost:8080");
    const refused = await deploy(["--config", file]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("is a loopback address");
    expect(refused.out).not.toContain("placeholder");
    expect(ran(refused.out)).toBe(false);
    for (const [args, env] of [
      [["--allow-loopback-origin"], {}],
      [[], { KEYGATE_ALLOW_LOOPBACK_ORIGIN: "1" }],
    ] as const) {
      const outdir = mkdtempSync(path.join(tmpdir(), "keygate-dry-"));
      const r = await deploy(["--config", file, ...args, "--dry-run", "--outdir", outdir], env);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain("checks passed, running wrangler deploy");
      expect(r.out).not.toContain("--allow-loopback-origin"); // ours, not passed to wrangler
      expect(existsSync(path.join(outdir, "index.js"))).toBe(true);
    }
  });

  it("a complete configuration passes and runs wrangler deploy with the arguments given", async () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "keygate-dry-"));
    const r = await deploy(["--config", config("https://api.acme.io/v1"), "--dry-run", "--outdir", outdir]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("ORIGIN_URL https://api.acme.io/v1; checks passed");
    expect(r.out).toContain("--dry-run: exiting now.");
    expect(existsSync(path.join(outdir, "index.js"))).toBe(true);
    // The top level is a production target: no CONSOLE_HOST is worth a warning, not a stop.
    expect(r.out).toContain("warning: no CONSOLE_HOST in [vars]: the web console will share the API's host");
    // wrangler is told which environment was checked (the top level): it does not warn that
    // none was named; its version banner is keygate's line, naming the pinned version.
    expect(r.out).toContain("keygate (the top level)");
    expect(r.out).not.toContain("no target environment was specified");
    expect(r.out).toMatch(/running wrangler deploy \(wrangler \d+\.\d+\.\d+, pinned: docs\/platform\.md\)/);
    expect(r.out).not.toMatch(/⛅️|update available/);
  });

  it("--help is keygate's own text and a pointer to wrangler deploy's flags, not wrangler's whole help", async () => {
    const r = await deploy(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("`npm run deploy");
    expect(r.out).toContain("npx wrangler login");
    expect(r.out).toContain("CLOUDFLARE_API_TOKEN");
    expect(r.out).toContain("`npx wrangler deploy --help`");
    expect(r.out).not.toMatch(/^OPTIONS|^GLOBAL FLAGS|Don't actually deploy/m);
    expect(r.out.trimEnd().split("\n").length).toBeLessThanOrEqual(40);
  });

  it("production without CONSOLE_HOST is warned about (docs/deploying.md); staging is not", async () => {
    const production = await deploy(["--env", "production"]);
    expect(production.out).toContain("warning: no CONSOLE_HOST in [env.production.vars]");
    expect(production.out).toContain("docs/deploying.md");
    const staging = await deploy(["--env", "staging"]);
    expect(staging.out).not.toContain("CONSOLE_HOST");
  });

  it("a --var ORIGIN_URL on the command line is what gets checked", async () => {
    const r = await deploy(["--config", config("https://api.acme.io"), "--var", "ORIGIN_URL:http://[::1]:9000"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ORIGIN_URL "http://[::1]:9000"');
    expect(ran(r.out)).toBe(false);
  });
});

describe("deploy guard rules", () => {
  it.each(["localhost", "api.localhost", "127.0.0.1", "127.8.9.10", "0.0.0.0", "[::1]", "::", "::ffff:127.0.0.1"])(
    "%s is loopback",
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );
  it.each(["api.acme.io", "10.0.0.1", "128.0.0.1", "[2001:db8::1]", "localhost.acme.io"])("%s is not", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
  it("warns about a production target without CONSOLE_HOST, only", () => {
    const ok = { kvIds: ["abc"], originUrl: "https://api.acme.io" };
    expect(warnings(ok)).toEqual([expect.stringContaining("no CONSOLE_HOST in [vars]")]);
    expect(warnings({ ...ok, env: "production" })).toEqual([
      expect.stringContaining("no CONSOLE_HOST in [env.production.vars]"),
    ]);
    expect(warnings({ ...ok, env: "production", consoleHost: "keys.acme.io" })).toEqual([]);
    expect(warnings({ ...ok, env: "staging" })).toEqual([]);
  });

  it("reports a missing KEYS namespace and a missing ORIGIN_URL", () => {
    expect(problems({ kvIds: [] }, false)).toEqual([
      expect.stringContaining("no KEYS KV namespace"),
      expect.stringContaining("ORIGIN_URL is not set"),
    ]);
    expect(problems({ kvIds: ["abc"], originUrl: "https://api.acme.io" }, false)).toEqual([]);
    expect(problems({ kvIds: ["abc"], originUrl: "ftp://api.acme.io" }, false)).toEqual([
      expect.stringContaining("not an http(s) URL"),
    ]);
  });
});
