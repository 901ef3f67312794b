/**
 * The two ways the benchmark runs a Worker:
 * - "wrangler": `wrangler dev` (what users run locally: wrangler's proxy worker on its own
 *   workerd, plus wrangler's Node process, in front of the user worker's workerd);
 * - "workerd": the bundled Worker straight on workerd through the Miniflare API
 *   (bench/miniflare-host.ts), closer to production.
 * Both use the same workerd build (wrangler's own Miniflare) and drop console output the
 * same way (see miniflare-host.ts).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { freePort, startWrangler, stopProcessGroup } from "../../test/support/node-wrangler";
import { ROOT, workerBindings } from "./miniflare";
import type { ProcInfo } from "./procs";
import { processTree, trackGroup, untrackGroup } from "./procs";

export type Mode = "wrangler" | "workerd";

export interface Runtime {
  url: string;
  /** Processes by role, for CPU accounting; `worker` is the workerd running the Worker. */
  roles(): Record<string, number[]>;
  /** Access-log lines by cache tier since the last call (workerd mode only). */
  cacheTiers?(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export interface WorkerSpec {
  /** wrangler configuration (wrangler mode). */
  config: string;
  /** The same Worker bundled (workerd mode). */
  bundle: string;
  vars: Record<string, string>;
  /** Persist directory with KEYS, as `wrangler dev --persist-to`; none = no KV binding. */
  persistTo?: string;
}

function classify(tree: ProcInfo[], workerMarker: (p: ProcInfo) => boolean): Record<string, number[]> {
  const roles: Record<string, number[]> = {};
  for (const p of tree) {
    let role: string;
    if (p.comm === "workerd") role = workerMarker(p) ? "worker" : "wrangler-proxy-workerd";
    else if (p.comm === "node" || p.comm.startsWith("node")) role = "node";
    else role = p.comm;
    (roles[role] ??= []).push(p.pid);
  }
  return roles;
}

export async function startRuntime(mode: Mode, spec: WorkerSpec): Promise<Runtime> {
  if (mode === "wrangler") {
    const dev = await startWrangler({
      config: spec.config,
      vars: spec.vars,
      logLevel: "warn",
      ...(spec.persistTo ? { persistTo: spec.persistTo } : {}),
    });
    trackGroup(dev.pid);
    return {
      url: dev.url,
      // wrangler dev runs two workerd processes: the user worker's is the one with an
      // inspector (--inspector-addr); the other holds wrangler's proxy worker.
      roles: () => classify(processTree(dev.pid), (p) => p.cmdline.includes("--inspector-addr")),
      stop: async () => {
        await dev.stop();
        untrackGroup(dev.pid);
      },
    };
  }
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(ROOT, "bench/miniflare-host.ts"),
      JSON.stringify({
        scriptPath: spec.bundle,
        port,
        vars: spec.vars,
        ...workerBindings(spec.config),
        ...(spec.persistTo ? { persistRoot: path.join(spec.persistTo, "v3") } : {}),
      }),
    ],
    { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], detached: true },
  );
  trackGroup(child.pid!);
  let output = "";
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
      const m = /^READY (.*)$/m.exec(output);
      if (m) resolve((JSON.parse(m[1]!) as { url: string }).url);
    });
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    child.once("exit", (code) => reject(new Error(`miniflare host exited (${code}):\n${output}`)));
    setTimeout(() => reject(new Error(`miniflare host not ready after 60 s:\n${output}`)), 60_000).unref();
  });
  const url = await ready;
  let statsWaiter: ((tiers: Record<string, number>) => void) | undefined;
  child.stdout!.on("data", (d: Buffer) => {
    const m = /^STATS (.*)$/m.exec(d.toString());
    if (m && statsWaiter) statsWaiter(JSON.parse(m[1]!) as Record<string, number>);
  });
  return {
    url,
    roles: () => classify(processTree(child.pid!), () => true),
    cacheTiers: () =>
      new Promise((resolve) => {
        statsWaiter = resolve;
        child.stdin!.write("stats\n");
      }),
    stop: async () => {
      await stopProcessGroup(child);
      untrackGroup(child.pid!);
    },
  };
}
