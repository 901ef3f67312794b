/**
 * `npm run deploy [-- --env staging|production] [wrangler deploy flags…]`: checks the
 * configuration `wrangler deploy` would upload, then runs `wrangler deploy` with the same
 * arguments. It stops BEFORE contacting Cloudflare (exit 1, nothing run) when, for the
 * chosen environment (--env; the top level without it):
 *
 *   - the KEYS KV namespace is missing or still has the placeholder id
 *     00000000000000000000000000000000: create one with
 *     `npx wrangler kv namespace create KEYS` and put its id in that environment's
 *     [[kv_namespaces]] in wrangler.toml;
 *   - ORIGIN_URL is missing, not an http(s) URL, on a loopback or unspecified address
 *     (localhost, 127.0.0.0/8, ::1, 0.0.0.0: on Cloudflare that is nobody's API) or on a
 *     reserved example domain (example.com, .example, .test, .invalid): set the API keygate
 *     protects in that environment's [vars] (or pass --var ORIGIN_URL:https://…).
 *
 * With --dry-run (nothing uploaded) the same findings are printed as warnings.
 *
 * It also warns (and goes on) when a production target — `--env production`, or the top
 * level — has no CONSOLE_HOST: the web console would then share the API's host, same-origin
 * with every page the origin serves (docs/security.md); see docs/deploying.md to give it
 * its own host.
 * A deliberate loopback origin (e.g. a tunnel's local end in a test account):
 * --allow-loopback-origin, or KEYGATE_ALLOW_LOOPBACK_ORIGIN=1. The flag is ours and is not
 * passed to wrangler.
 *
 * Sign in to Cloudflare first: `npx wrangler login` (opens a browser), or in CI set
 * CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID) — docs/deploying.md.
 * Without --env, the top level is deployed and wrangler is told so (`--env=""`): the
 * environment checked is the one deployed. wrangler deploy's own flags:
 * `npx wrangler deploy --help`.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { loadWrangler, varsFromArgs } from "./local-platform";

const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
export const PLACEHOLDER_KV_ID = "00000000000000000000000000000000";
const OVERRIDE_FLAG = "--allow-loopback-origin";

/** The value of `--name V`, `--name=V` or `-n V` (last one wins), as wrangler reads it. */
function flagValue(args: string[], names: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const n of names) {
      if (a === n && i + 1 < args.length) value = args[i + 1];
      else if (a.startsWith(`${n}=`)) value = a.slice(n.length + 1);
    }
  }
  return value;
}

/** Hosts that are this machine (or none) wherever the Worker runs. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.") || host === "0.0.0.0";
  if (isIP(host) === 6)
    return host === "::1" || host === "::" || /^::ffff:(127\.|0\.0\.0\.0)/.test(host) || /^(0+:){7}0*1$/.test(host);
  return false;
}

/** RFC 2606 / 6761 names that can never be a real origin. */
function isExampleHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return /(^|\.)example\.(com|net|org)$/.test(host) || /\.(example|test|invalid)$/.test(host);
}

export interface DeployTarget {
  env?: string;
  kvIds: string[];
  originUrl?: string;
  consoleHost?: string;
}

/** The targets that serve real traffic in wrangler.toml's layout: `--env production`, and the top level. */
function isProduction(t: DeployTarget): boolean {
  return t.env === undefined || t.env === "production";
}

/** What should be fixed but does not stop a deploy, one line each. */
export function warnings(t: DeployTarget): string[] {
  const varsAt = t.env ? `[env.${t.env}.vars]` : "[vars]";
  if (!isProduction(t) || (t.consoleHost ?? "").trim() !== "") return [];
  return [
    `no CONSOLE_HOST in ${varsAt}: the web console will share the API's host, same-origin with every page your origin serves through keygate (docs/security.md). ` +
      "Set CONSOLE_HOST (e.g. keys.example.com) and route that host to this Worker (docs/deploying.md)",
  ];
}

/** What is wrong with a target, one line each (empty: deployable). */
export function problems(t: DeployTarget, allowLoopback: boolean): string[] {
  const where = t.env ? `[env.${t.env}]` : "the top level";
  const out: string[] = [];
  if (t.kvIds.length === 0) {
    out.push(
      `no KEYS KV namespace in ${where}: add [[${t.env ? `env.${t.env}.` : ""}kv_namespaces]] binding = "KEYS" with the id of \`npx wrangler kv namespace create KEYS\``,
    );
  } else if (t.kvIds.includes(PLACEHOLDER_KV_ID)) {
    out.push(
      `the KEYS KV namespace of ${where} still has the placeholder id ${PLACEHOLDER_KV_ID}: run \`npx wrangler kv namespace create KEYS\` and put its id in wrangler.toml`,
    );
  }
  const varsAt = t.env ? `[env.${t.env}.vars]` : "[vars]";
  let url: URL | undefined;
  try {
    url = t.originUrl ? new URL(t.originUrl) : undefined;
  } catch {
    /* reported below */
  }
  if (!t.originUrl) out.push(`ORIGIN_URL is not set in ${varsAt}: set it to the API keygate protects`);
  else if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
    out.push(`ORIGIN_URL "${t.originUrl}" in ${varsAt} is not an http(s) URL`);
  else if (isExampleHost(url.hostname))
    out.push(
      `ORIGIN_URL "${t.originUrl}" in ${varsAt} is a placeholder (reserved example domain): set the API keygate protects`,
    );
  else if (isLoopbackHost(url.hostname) && !allowLoopback) {
    out.push(
      `ORIGIN_URL "${t.originUrl}" in ${varsAt} is a loopback address: deployed, keygate would forward to itself, not to your API. ` +
        `Set the API keygate protects, or pass ${OVERRIDE_FLAG} (KEYGATE_ALLOW_LOOPBACK_ORIGIN=1) if you mean it`,
    );
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
    process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "").trimEnd() + "\n");
    return 0;
  }
  const allowLoopback = argv.includes(OVERRIDE_FLAG) || process.env.KEYGATE_ALLOW_LOOPBACK_ORIGIN === "1";
  const args = argv.filter((a) => a !== OVERRIDE_FLAG);
  // The environment wrangler would deploy: --env, else CLOUDFLARE_ENV (wrangler reads it too), else the top level.
  const envFlag = flagValue(args, ["--env", "-e"]);
  const env = (envFlag ?? process.env.CLOUDFLARE_ENV) || undefined;
  const configPath = flagValue(args, ["--config", "-c"]) ?? path.join(ROOT, "wrangler.toml");

  // The configuration exactly as wrangler resolves it for this environment (non-inheritable
  // keys such as vars and kv_namespaces included). Reading it contacts nothing.
  const { unstable_readConfig } = loadWrangler();
  const config = unstable_readConfig({ config: configPath, ...(env ? { env } : {}) });
  const vars = { ...(config.vars as Record<string, unknown>), ...varsFromArgs(args) };
  const target: DeployTarget = {
    ...(env ? { env } : {}),
    kvIds: (config.kv_namespaces as { binding: string; id?: string }[])
      .filter((k) => k.binding === "KEYS")
      .map((k) => k.id ?? ""),
    ...(typeof vars.ORIGIN_URL === "string" ? { originUrl: vars.ORIGIN_URL } : {}),
    ...(typeof vars.CONSOLE_HOST === "string" ? { consoleHost: vars.CONSOLE_HOST } : {}),
  };
  for (const w of warnings(target)) process.stderr.write(`warning: ${w}\n`);
  const found = problems(target, allowLoopback);
  // --dry-run only bundles (nothing is uploaded): the problems are warnings there.
  if (found.length && args.includes("--dry-run")) {
    for (const p of found) process.stderr.write(`warning: ${p}\n`);
  } else if (found.length) {
    for (const p of found) process.stderr.write(`error: ${p}\n`);
    process.stderr.write(
      `Nothing was deployed (${path.relative(process.cwd(), configPath) || configPath}${env ? `, --env ${env}` : ""}). See \`npm run deploy -- --help\`.\n`,
    );
    return 1;
  }
  const version = (
    JSON.parse(readFileSync(path.join(ROOT, "node_modules/wrangler/package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  process.stderr.write(
    `keygate: ${config.name}${env ? ` (--env ${env})` : " (the top level)"} → ORIGIN_URL ${target.originUrl}; checks passed, running wrangler deploy (wrangler ${version}, pinned: docs/platform.md)\n`,
  );
  // The environment checked is the one deployed: said to wrangler when no --env was given
  // (`--env=""` is its top level; without it wrangler warns that none was named).
  const deployArgs = envFlag === undefined ? [...args, `--env=${env ?? ""}`] : args;
  const run = spawnSync(process.execPath, [WRANGLER, "deploy", ...deployArgs], {
    stdio: "inherit",
    // No version banner and update notice: keygate's line above names the pinned version.
    env: { ...process.env, WRANGLER_HIDE_BANNER: "true" },
  });
  return run.status ?? 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
