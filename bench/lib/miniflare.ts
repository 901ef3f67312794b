/**
 * The Miniflare that `wrangler dev` itself uses (wrangler's own dependency, not the newer
 * one the vitest integration brings), so "under wrangler dev" and "under workerd through
 * the Miniflare API" run the same workerd build.
 */

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");

const fromWrangler = createRequire(createRequire(import.meta.url).resolve("wrangler/package.json"));

/** The part of Miniflare's API the benchmark uses (typed here: the top-level "miniflare"
 * package's types are those of the vitest integration's newer major). */
export interface MiniflareInstance {
  ready: Promise<URL>;
  dispatchFetch(url: string, init?: { method?: string; body?: string }): Promise<Response>;
  dispose(): Promise<void>;
}
export const Miniflare = (
  fromWrangler("miniflare") as { Miniflare: new (options: Record<string, unknown>) => MiniflareInstance }
).Miniflare;
export const MINIFLARE_VERSION: string = (fromWrangler("miniflare/package.json") as { version: string }).version;

/** The gateway's compatibility date and KV namespace id, read from wrangler.toml. */
export function gatewayToml(): { compatibilityDate: string; kvNamespaceId: string } {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const id = /\[\[kv_namespaces\]\][^[]*?\bid\s*=\s*"([^"]+)"/s.exec(toml)?.[1];
  if (!date || !id) throw new Error("wrangler.toml: compatibility_date or the KEYS namespace id not found");
  return { compatibilityDate: date, kvNamespaceId: id };
}

/**
 * The gateway's [vars] from wrangler.toml (string values) plus .dev.vars (secrets such
 * as KEY_PEPPER), as `wrangler dev` binds them.
 */
export function gatewayVars(): Record<string, string> {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/gm))
    vars[m[1]!] = m[2]!.replace(/\\(.)/g, "$1");
  if (existsSync(path.join(ROOT, ".dev.vars"))) {
    for (const line of readFileSync(path.join(ROOT, ".dev.vars"), "utf8").split("\n")) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) vars[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  return vars;
}

/**
 * The Durable Object and rate-limit bindings of a wrangler configuration's top level (not
 * its [env.*] sections), in Miniflare's options: the workerd runs bind what `wrangler dev`
 * binds, so both measure the same features (the revocation feed, usage counting, the
 * failed-authentication limiter).
 */
export function workerBindings(configPath: string): {
  durableObjects: Record<string, { className: string; useSQLite: boolean }>;
  ratelimits: Record<string, { simple: { limit: number; period: number } }>;
} {
  const toml = readFileSync(configPath, "utf8");
  const topLevel = toml.split(/^\[(?:\[)?env\./m)[0]!;
  const sqlite = new Set(
    [...toml.matchAll(/^new_sqlite_classes\s*=\s*\[([^\]]*)\]/gm)].flatMap((m) =>
      [...m[1]!.matchAll(/"([^"]+)"/g)].map((c) => c[1]!),
    ),
  );
  const durableObjects: Record<string, { className: string; useSQLite: boolean }> = {};
  for (const m of topLevel.matchAll(
    /^\[\[durable_objects\.bindings\]\]\s*\nname\s*=\s*"([^"]+)"\s*\nclass_name\s*=\s*"([^"]+)"/gm,
  )) {
    durableObjects[m[1]!] = { className: m[2]!, useSQLite: sqlite.has(m[2]!) };
  }
  const ratelimits: Record<string, { simple: { limit: number; period: number } }> = {};
  for (const m of topLevel.matchAll(
    /^\[\[ratelimits\]\]\s*\nname\s*=\s*"([^"]+)"[^[]*?simple\s*=\s*\{\s*limit\s*=\s*(\d+),\s*period\s*=\s*(\d+)\s*\}/gm,
  )) {
    ratelimits[m[1]!] = { simple: { limit: Number(m[2]), period: Number(m[3]) } };
  }
  return { durableObjects, ratelimits };
}
