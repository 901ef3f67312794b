/**
 * Every long-running script answers `--help` with its usage and starts nothing (no
 * origin, no wrangler dev, no benchmark); an unknown argument is an `error:` line, exit 2.
 */
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { alive, descendants } from "../support/node-wrangler";

const ROOT = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

async function npmRun(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run("npm", ["run", "-s", script, "--", ...args], {
      cwd: ROOT,
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("--help on the long-running scripts", () => {
  it.each([
    ["soak", "`npm run soak`", "[soak] starting"],
    ["bench", "`npm run bench`", "[bench] settings"],
    ["bench:profile", "`npm run bench:profile", "[bench:profile] bundling"],
    ["dev", "`npm run dev`", "[dev] starting"],
    ["deploy", "`npm run deploy", "running wrangler deploy"],
    ["scale-model", "`npm run scale-model`", "INPUTS"],
  ])("npm run %s -- --help prints its usage and starts nothing", async (script, usage, startedMarker) => {
    const r = await npmRun(script, ["--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stdout + r.stderr).not.toContain(startedMarker);
  });

  it.each([
    ["soak", "see `npm run soak -- --help`"],
    ["bench", "see `npm run bench -- --help`"],
    ["bench:profile", "see `npm run bench:profile -- --help`"],
    ["scale-model", "see `npm run scale-model -- --help`"],
  ])("npm run %s with an unknown argument: error line, exit 2", async (script, hint) => {
    const r = await npmRun(script, ["--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown (argument|flag)/);
    expect(r.stderr).toContain(hint);
  });
});

describe("Ctrl-C during npm run soak", () => {
  it("stops its wrangler dev and workerd (whole process groups): nothing it started is left", async () => {
    const child = spawn("npm", ["run", "soak"], {
      cwd: ROOT,
      env: { ...process.env, SOAK_SECONDS: "120", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && !out.includes("[soak] load:")) {
        if (child.exitCode !== null) throw new Error(`soak exited early:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const below = descendants(child.pid!);
      expect(below.length, out).toBeGreaterThan(3); // npm, tsx, node, wrangler, its workerd…
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      process.kill(-child.pid!, "SIGINT");
      await exited;
      const until = Date.now() + 15_000;
      while (Date.now() < until && below.some(alive)) await new Promise((r) => setTimeout(r, 200));
      expect(below.filter(alive)).toEqual([]);
      expect(out).toContain("[soak] SIGINT: stopping wrangler dev");
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }, 180_000);
});
