/**
 * `npm run bench:profile -- [case]`: a V8 CPU profile of one micro-benchmark case inside
 * workerd, taken through workerd's inspector (the DevTools protocol), summarised as the
 * functions with the most self time. The full profile is written to
 * bench/results/<case>.cpuprofile (open it in Chrome DevTools → Performance).
 *
 * Default case: "gateway request, valid key" (the full hot path, origin stubbed).
 * Flags: --silence-console (the case runs with console.log silenced), --help.
 * Ctrl-C (SIGINT) or SIGTERM stops workerd (Miniflare's exit hook).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { freePort } from "../test/support/node-wrangler";
import { ROOT } from "./lib/miniflare";
import { startMicroWorker } from "./micro/bundle";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
  process.exit(0);
}
const unknownFlag = args.find((a) => a.startsWith("-") && a !== "--silence-console");
if (unknownFlag) {
  process.stderr.write(`error: unknown flag ${unknownFlag}\nsee \`npm run bench:profile -- --help\`\n`);
  process.exit(2);
}
const progress = (msg: string) => process.stderr.write(`[bench:profile] ${msg}\n`);
const silence = args.includes("--silence-console");
const wanted = args.find((a) => !a.startsWith("--")) ?? "gateway request, valid key";
/** `ws` (a dependency of Miniflare; Node 20 has no WebSocket client without a flag). */
interface Socket {
  once(event: "open" | "error", fn: (arg?: unknown) => void): Socket;
  on(event: "message", fn: (data: unknown) => void): void;
  send(data: string): void;
  close(): void;
}
const WebSocket = createRequire(createRequire(import.meta.url).resolve("miniflare/package.json"))("ws") as new (
  url: string,
) => Socket;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const port = await freePort();
progress("bundling the micro-benchmark worker and starting workerd");
const mf = await startMicroWorker({ inspectorPort: port });
try {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    webSocketDebuggerUrl: string;
    title: string;
  }[];
  const target = targets.find((t) => !t.title.includes("loopback")) ?? targets[0];
  if (!target) throw new Error("no inspector target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  const names = (
    (await (await mf.dispatchFetch("http://micro.local/?list")).json()) as { cases: { name: string }[] }
  ).cases.map((c) => c.name);
  const only = names.find((n) => n.includes(wanted));
  if (!only) throw new Error(`no micro-benchmark case matches "${wanted}"; cases: ${names.join("; ")}`);
  progress(`profiling "${only}"`);
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  const res = await mf.dispatchFetch(
    `http://micro.local/?case=${encodeURIComponent(only)}${silence ? "&silence-console" : ""}`,
  );
  const body = (await res.json()) as { cases: { name: string; us: number }[] };
  const { profile } = (await send("Profiler.stop")) as { profile: { nodes: ProfileNode[]; samples: number[] } };
  ws.close();

  const outDir = path.join(ROOT, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${only.replace(/[^a-z0-9]+/gi, "-")}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));

  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const f = node.callFrame;
    const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : "(native)";
    const name = `${f.functionName || "(anonymous)"}  ${where}`;
    self.set(name, (self.get(name) ?? 0) + hits);
  }
  console.log(`cases: ${body.cases.map((c) => `${c.name}: ${c.us.toFixed(2)} µs`).join("; ")}`);
  console.log(`self time, top 25 of ${total} samples (${file}):`);
  for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
} finally {
  await mf.dispose();
}
