/**
 * Processes for the benchmark: what it starts (so everything is stopped even when a run
 * fails or is interrupted) and what it reads about them from /proc (CPU time, peak RSS).
 */
import { readdirSync, readFileSync } from "node:fs";

/** Linux reports CPU time in clock ticks; USER_HZ is 100 on every mainstream kernel. */
const MS_PER_TICK = 10;

const groups = new Set<number>();

/** Remember a process group leader started with `detached: true`, to kill it on exit. */
export function trackGroup(pid: number): void {
  groups.add(pid);
}

export function untrackGroup(pid: number): void {
  groups.delete(pid);
}

/** SIGKILL every process group still tracked (synchronous: safe in an 'exit' handler). */
export function killTracked(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  groups.clear();
}

let installed = false;
/** Kill what we started on exit, Ctrl-C, SIGTERM and uncaught errors. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killTracked);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      killTracked();
      process.exit(130);
    });
  }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function stat(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces: fields after the closing parenthesis are fixed.
    const close = s.lastIndexOf(")");
    return [s.slice(0, s.indexOf(" ")), s.slice(s.indexOf("(") + 1, close), ...s.slice(close + 2).split(" ")];
  } catch {
    return null;
  }
}

/** The process and all its descendants. */
export function processTree(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(Number(name));
    if (!st) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue;
    }
    all.push({ pid: Number(name), ppid: Number(st[3]), comm: st[1]!, cmdline });
  }
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const self = all.find((p) => p.pid === root);
  const queue = self ? [self] : [];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(byParent.get(p.pid) ?? []));
  }
  return out;
}

/** User + system CPU time of a process so far, in milliseconds (null once it is gone). */
export function cpuMs(pid: number): number | null {
  const st = stat(pid);
  if (!st) return null;
  return (Number(st[13]) + Number(st[14])) * MS_PER_TICK;
}

/** Resident set size now and its high-water mark (VmHWM), in KiB. */
export function memoryKiB(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const peak = /VmHWM:\s+(\d+) kB/.exec(status);
    if (!rss || !peak) return null;
    return { rss: Number(rss[1]), peak: Number(peak[1]) };
  } catch {
    return null;
  }
}
