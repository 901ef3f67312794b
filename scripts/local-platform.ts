/**
 * Wrangler's local platform (`getPlatformProxy`) on the state `wrangler dev` reads, for the
 * scripts that work on local keys: the keys CLI and `npm run dev`'s demo key. Quiet: they
 * only read and write the KEYS namespace, so two warnings about the Durable Object binding
 * they never call say nothing a user can act on (`wrangler dev` and the deployed gateway
 * run the per-key rate limiter; the tests cover it):
 * - wrangler's "internal Durable Objects … will not work in local development": wrangler's
 *   own logger is kept at `error` while the proxy starts (WRANGLER_LOG, which it reads on
 *   every message; a value the user set wins);
 * - workerd's "DurableObjectNamespace … referenced the class "KeyRateLimiter", but no such
 *   Durable Object class is exported" (the proxy's worker is an empty script): that one
 *   line is dropped from the runtime's output, every other line still shows.
 */
import { mkdtempSync } from "node:fs";
import module, { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const DO_CLASS_WARNING =
  /DurableObjectNamespace in the config referenced the class "[^"]+", but no such Durable Object class is exported/;

export interface LocalPlatformOptions {
  /** wrangler configuration (default wrangler.toml). */
  configPath?: string;
  environment?: string;
  /** As `wrangler dev --persist-to` (default .wrangler/state). */
  persistTo?: string;
}

export interface LocalPlatform {
  env: Record<string, unknown>;
  dispose(): Promise<void>;
}

/**
 * The `--var NAME:VALUE` (or `--var=NAME:VALUE`) overrides among wrangler arguments, as
 * `wrangler dev` and `wrangler deploy` apply them over [vars] (the last one of a name wins).
 */
export function varsFromArgs(args: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const raw = a === "--var" ? args[i + 1] : a.startsWith("--var=") ? a.slice(6) : undefined;
    if (raw === undefined) continue;
    const colon = raw.indexOf(":");
    if (colon > 0) vars[raw.slice(0, colon)] = raw.slice(colon + 1);
  }
  return vars;
}

/** The local state `wrangler dev` reads by default (`--persist-to` changes it). */
export const DEFAULT_STATE_DIR = ".wrangler/state";

/**
 * The dev registry of one local state: `<persist-to>/dev-registry` (absolute). wrangler's
 * dev registry is where a running `wrangler dev` announces its Worker by name, and where
 * the CLI finds the gateway's revocation feed (cli/backends/feed.ts). Wrangler's default
 * is one registry per machine: every checkout's gateway is "keygate" there, so the CLI of
 * one checkout could publish its revocations to another's gateway (and its own kept
 * serving the revoked key). With a registry per state, the `wrangler dev` the CLI reaches
 * is the one serving the state it changed: `npm run dev` and the test and benchmark
 * helpers start `wrangler dev` with WRANGLER_REGISTRY_PATH set to it (registryEnv), and
 * the CLI looks nowhere else.
 */
export function stateRegistryPath(persistTo: string = DEFAULT_STATE_DIR): string {
  return resolve(persistTo, "dev-registry");
}

/** The environment of a `wrangler dev` serving `persistTo`: its own dev registry (stateRegistryPath). */
export function registryEnv(persistTo: string = DEFAULT_STATE_DIR): { WRANGLER_REGISTRY_PATH: string } {
  return { WRANGLER_REGISTRY_PATH: stateRegistryPath(persistTo) };
}

/** Run `open` (a getPlatformProxy) with WRANGLER_REGISTRY_PATH set to `dir`, restored after. */
export async function withRegistry<T>(dir: string, open: () => Promise<T>): Promise<T> {
  const saved = process.env.WRANGLER_REGISTRY_PATH;
  process.env.WRANGLER_REGISTRY_PATH = dir;
  try {
    return await open();
  } finally {
    if (saved === undefined) delete process.env.WRANGLER_REGISTRY_PATH;
    else process.env.WRANGLER_REGISTRY_PATH = saved;
  }
}

/**
 * Run `open` (a getPlatformProxy on the gateway's configuration) with a private dev
 * registry. Miniflare registers every Worker it runs under its name: the
 * CLI's proxy would otherwise take the running `wrangler dev`'s place in the registry as
 * "keygate" (and remove it on exit), so the feed could no longer be reached.
 */
export async function withPrivateRegistry<T>(open: () => Promise<T>): Promise<T> {
  return withRegistry(mkdtempSync(join(tmpdir(), "keygate-cli-registry-")), open);
}

/**
 * wrangler's Node API, loaded on first use (never at the top of a module: it is most of a
 * local command's time) and with `require`, not `import()`: wrangler is one 12.7 MB
 * CommonJS file, and an ESM import of CommonJS first scans all of it for its export names
 * (≈ 0.25–0.5 s more here, measured with hyperfine: docs/platform.md). The one way the
 * scripts and the keys CLI load it.
 */
export function loadWrangler(): typeof import("wrangler") {
  // Node ≥ 22.1 caches compiled code on disk (Node 20 has no such cache).
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  return createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
}

export async function openLocalPlatform(opts: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const { getPlatformProxy } = loadWrangler();
  const userLevel = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = userLevel ?? "error";
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && DO_CLASS_WARNING.test(args[0])) return;
    consoleError(...args);
  };
  const restore = () => {
    console.error = consoleError;
  };
  try {
    const persistTo = (opts.persistTo ?? DEFAULT_STATE_DIR).replace(/\/+$/, "");
    const proxy = await withPrivateRegistry(() =>
      getPlatformProxy<Record<string, unknown>>({
        configPath: opts.configPath ?? "wrangler.toml",
        ...(opts.environment ? { environment: opts.environment } : {}),
        persist: { path: `${persistTo}/v3` },
      }),
    );
    return {
      env: proxy.env,
      dispose: async () => {
        try {
          await proxy.dispose();
        } finally {
          restore();
        }
      },
    };
  } catch (err) {
    restore();
    throw err;
  } finally {
    if (userLevel === undefined) delete process.env.WRANGLER_LOG;
  }
}
