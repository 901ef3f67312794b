/**
 * Start a real `wrangler dev` (Node side: e2e tests, benchmarks, soak) and the keys CLI.
 */

import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { registryEnv } from "../../scripts/local-platform";

const ROOT = path.resolve(import.meta.dirname, "../..");
const execFileP = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function tempStateDir(): string {
  return mkdtempSync(path.join(tmpdir(), "keygate-state-"));
}

/**
 * Stop a child started with `detached: true` and everything below it (wrangler, its
 * workerd): SIGTERM to the process group, SIGKILL after 5 s.
 */
export async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Every `wrangler dev` started here and still running (scripts stop them on Ctrl-C). */
const live = new Set<ChildProcess>();

/** Stop every `wrangler dev` this process started (process groups: wrangler and its workerd). */
export async function stopAllWranglers(): Promise<void> {
  await Promise.all([...live].map((child) => stopProcessGroup(child)));
}

export interface WranglerDev {
  url: string;
  port: number;
  /** wrangler's process id, leader of its process group (benchmarks read /proc). */
  pid: number;
  persistTo: string;
  /** Everything wrangler and the worker printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface WranglerOptions {
  vars?: Record<string, string>;
  persistTo?: string;
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  config?: string;
  /** `--test-scheduled`: GET /__scheduled?cron=… runs the scheduled handler (the Cron Trigger). */
  testScheduled?: boolean;
}

/** Start `wrangler dev` on a free loopback port and wait until it answers. */
export async function startWrangler(opts: WranglerOptions = {}): Promise<WranglerDev> {
  const port = await freePort();
  const inspector = await freePort();
  const persistTo = opts.persistTo ?? tempStateDir();
  const args = [
    path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config",
    opts.config ?? path.join(ROOT, "wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--persist-to",
    persistTo,
    "--log-level",
    opts.logLevel ?? "log",
    "--show-interactive-dev-session=false",
    ...(opts.testScheduled ? ["--test-scheduled"] : []),
  ];
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    // Its state's own dev registry, where the keys CLI (local mode, same --persist-to) finds it.
    env: {
      ...process.env,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      NO_COLOR: "1",
      CI: "1",
      ...registryEnv(persistTo),
    },
    detached: true,
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopProcessGroup(child);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    try {
      await fetch(`${url}/__keygate_ready`, { signal: AbortSignal.timeout(1000) });
      return { url, port, pid: child.pid!, persistTo, output: () => output, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await stop();
  throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
}

/**
 * Run the keys CLI exactly as a program reading its output does (`npm run -s keys -- …`:
 * `-s` keeps npm's own "> keygate keys" banner off stdout) and return its result; `env`
 * adds variables.
 */
export async function keysCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP("npm", ["run", "-s", "keys", "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Every process below `root` (by parent id, whatever their process group), from /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A key created with the CLI on a running gateway's local state (`--json`): its plaintext
 * and id. Fails with the CLI's stderr when it does not exit 0.
 */
export async function cliKey(
  persistTo: string,
  flags: string[] = ["--org", "acme", "--scopes", "read"],
): Promise<{ key: string; id: string }> {
  const created = await keysCli(["create", ...flags, "--json", "--persist-to", persistTo]);
  if (created.code !== 0) throw new Error(`keys create exited ${created.code}: ${created.stderr}`);
  return JSON.parse(created.stdout) as { key: string; id: string };
}
