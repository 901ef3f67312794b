/**
 * `npm run dev`: the gateway on http://127.0.0.1:8787 in front of a demo origin on
 * http://127.0.0.1:8788, with a demo key printed. Extra arguments go to `wrangler dev`
 * (e.g. `npm run dev -- --var AUTH_PROFILE:operate`); the banner's requests and the status
 * each gets follow the profile.
 *
 * The demo key (org "demo", scopes read,write) lives 30 days and is reused by every start
 * while more than 8 days are left (more than EXPIRY_WARNING_DAYS' default, so the demo's
 * answers carry no Sunset warning); then a new one replaces it and the old one is revoked.
 * It is created and revoked with the same management operations as `npm run keys`, so the
 * audit log shows it (`npm run keys -- audit`, actor "dev"). Its plaintext is kept in the
 * local state (.wrangler/state/keygate-demo-key.json, ignored by git) to be reused.
 * `--persist-to DIR` (as for wrangler dev) moves that state, demo key included.
 * wrangler dev registers in that state's own dev registry (DIR/dev-registry): the keys CLI
 * on the same state (`npm run keys`, same --persist-to) publishes its revocations to this
 * gateway there, and to no other checkout's.
 *
 * For local use, unless .dev.vars, .env, wrangler.toml [vars] or `--var` sets them:
 *   ADMIN_TOKEN          generated once and kept in the state: the web console runs on a
 *                        host of its own, http://console.localhost:PORT/ (CONSOLE_HOST
 *                        console.localhost: browsers and curl resolve *.localhost to this
 *                        machine), signed in with that token, printed at start;
 *   SESSION_JWT_SECRET   generated once and kept in the state: sessions are on, and
 *                        `npm run keys -- session --org demo` prints a session JWT it accepts;
 *   SELF_SERVICE_PATH    /api/keys: the self-service key API (docs/self-service.md), there
 *                        for the demo key and sessions. `--self-service PATH` puts it
 *                        elsewhere, `--self-service off` turns it off.
 * (scripts/dev-state.ts names the files.)
 *
 * Environment: PORT and ORIGIN_PORT change the ports (a port in use is said at once);
 * ORIGIN_URL points the gateway at your own API instead of the demo origin.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops wrangler dev and its workerd (their whole process
 * group) and the demo origin.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Config } from "../src/config/config";
import { ConfigError, parseConfig } from "../src/config/config";
import { settingsFrom } from "../src/config/variables";
import type { Env } from "../src/env";
import { hashKey } from "../src/keys/hash";
import type { KeySettings } from "../src/keys/issue";
import { statusOf } from "../src/keys/record";
import type { KvLike } from "../src/keys/store/kv";
import { readRecord } from "../src/keys/store/records";
import type { ManageDeps } from "../src/manage/context";
import { createKey, revokeKey } from "../src/manage/keys";
import { stopProcessGroup } from "../test/support/node-wrangler";
import { banner } from "./dev-banner";
import type { LocalSecretName } from "./dev-state";
import { DEMO_KEY_FILE, localSecret } from "./dev-state";
import type { LocalPlatform } from "./local-platform";
import { openLocalPlatform, registryEnv, varsFromArgs } from "./local-platform";
import { startOrigin } from "./origin";

const DAY_MS = 86_400_000;
const DEMO_KEY_LIFETIME_MS = 30 * DAY_MS;
const DEMO_KEY_MIN_LEFT_MS = 8 * DAY_MS;
const DEMO_ORG = "demo";
const DEMO_SCOPES = ["read", "write"];
/** The console's host in development: *.localhost is loopback for browsers and curl. */
const DEV_CONSOLE_HOST = "console.localhost";
/** Where the self-service API is unless `--self-service PATH|off` says otherwise. */
const DEV_SELF_SERVICE_PATH = "/api/keys";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
  process.exit(0);
}

const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(1);
};

/** `--self-service PATH|off` is ours (not wrangler's): taken out of the arguments passed on. */
const args = process.argv.slice(2);
let selfServiceFlag: string | undefined;
const extra = args.filter((a, i) => {
  if (a === "--self-service") {
    selfServiceFlag = args[i + 1] ?? fail("--self-service needs a path (e.g. /api/keys) or off");
    return false;
  }
  if (args[i - 1] === "--self-service") return false;
  if (a.startsWith("--self-service=")) {
    selfServiceFlag = a.slice("--self-service=".length);
    return false;
  }
  return true;
});
/** wrangler dev's local state: .wrangler/state, or what `--persist-to DIR` (passed on to wrangler dev) says. */
const persistFlag = extra.findIndex((a) => a === "--persist-to" || a.startsWith("--persist-to="));
const STATE_DIR =
  persistFlag < 0
    ? ".wrangler/state"
    : extra[persistFlag]!.includes("=")
      ? extra[persistFlag]!.split("=").slice(1).join("=")
      : (extra[persistFlag + 1] ?? ".wrangler/state");

const port = Number(process.env.PORT ?? 8787);
const originPort = Number(process.env.ORIGIN_PORT ?? 8788);
const step = (msg: string) => console.log(`[dev] ${msg}`);

/** Whether nothing listens on 127.0.0.1:`p` (a second `npm run dev` would otherwise print a banner for the first). */
function portFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(p, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

if (!(await portFree(port)))
  fail(`port ${port} is in use (another \`npm run dev\`?): stop it, or set PORT to another port.`);

let originUrl = process.env.ORIGIN_URL;
let closeOrigin: (() => Promise<void>) | undefined;
if (!originUrl) {
  step(`starting the demo origin on 127.0.0.1:${originPort}`);
  try {
    const origin = await startOrigin(originPort);
    originUrl = origin.url;
    closeOrigin = origin.close;
  } catch (err) {
    fail(
      `cannot start the demo origin on port ${originPort}: ${(err as Error).message}. Set ORIGIN_PORT or ORIGIN_URL.`,
    );
  }
}

/** The saved demo key, when it still works and has more than DEMO_KEY_MIN_LEFT_MS to live; else a new one. */
async function demoKey(
  platform: LocalPlatform,
): Promise<{ key: string; id: string; expiresAt: string; reused: boolean }> {
  const kv = platform.env.KEYS as KvLike;
  // KEY_PREFIX and KEY_PEPPER, read and checked as the gateway does (a bad value stops here).
  const settings: KeySettings = settingsFrom(platform.env).key;
  const now = Date.now();
  const deps: ManageDeps = { kv, settings, actor: "dev", now };
  const root = { kind: "root" } as const;
  const file = path.join(STATE_DIR, DEMO_KEY_FILE);
  let saved: { id: string; key: string } | undefined;
  try {
    saved = JSON.parse(readFileSync(file, "utf8")) as { id: string; key: string };
  } catch {
    /* none yet */
  }
  if (saved && typeof saved.key === "string" && typeof saved.id === "string") {
    // Looked up by its hash, as the gateway does: a changed KEY_PEPPER or a wiped state means a new key.
    const record = await readRecord(kv, await hashKey(saved.key, settings.pepper));
    const usable = record?.id === saved.id && statusOf(record, now) === "active" && record.expires_at !== null;
    if (usable && Date.parse(record.expires_at!) - now > DEMO_KEY_MIN_LEFT_MS) {
      return { key: saved.key, id: saved.id, expiresAt: record.expires_at!, reused: true };
    }
    if (record?.id === saved.id && record.revoked_at === null) await revokeKey(deps, root, saved.id);
  }
  const created = await createKey(deps, root, {
    name: "demo (npm run dev)",
    orgs: [DEMO_ORG],
    scopes: DEMO_SCOPES,
    expires_at: new Date(now + DEMO_KEY_LIFETIME_MS).toISOString(),
  });
  if (!created.ok) throw new Error(`cannot create the demo key: ${JSON.stringify(created)}`);
  writeFileSync(file, JSON.stringify({ id: created.value.id, key: created.value.key }) + "\n", { mode: 0o600 });
  return { key: created.value.key, id: created.value.id, expiresAt: created.value.expires_at!, reused: false };
}

step(`opening the local key store (${STATE_DIR})`);
const platform = await openLocalPlatform({ persistTo: STATE_DIR });
let demo: Awaited<ReturnType<typeof demoKey>>;
/** The variables `npm run dev` sets for local use, each only when the developer sets none. */
const devVars: Record<string, string> = { ORIGIN_URL: originUrl! };
const generated: Partial<Record<LocalSecretName, string>> = {};
let config: Config | ConfigError;
try {
  demo = await demoKey(platform);
  /** What the developer set: wrangler.toml [vars], .dev.vars (or .env), then `--var`. */
  const given: Record<string, unknown> = { ...platform.env, ...varsFromArgs(extra) };
  for (const name of ["ADMIN_TOKEN", "SESSION_JWT_SECRET"] as const) {
    if (given[name] === undefined) devVars[name] = generated[name] = localSecret(STATE_DIR, name);
  }
  if (given.CONSOLE_HOST === undefined) devVars.CONSOLE_HOST = DEV_CONSOLE_HOST;
  // "off" is a blank value: unset, whatever the configuration says.
  if (selfServiceFlag !== undefined) devVars.SELF_SERVICE_PATH = selfServiceFlag === "off" ? "" : selfServiceFlag;
  else if (given.SELF_SERVICE_PATH === undefined) devVars.SELF_SERVICE_PATH = DEV_SELF_SERVICE_PATH;
  // The configuration the gateway will run with, checked here (with the local KEYS binding
  // still open): a bad value would have it answer every request 500 (fail closed).
  try {
    config = parseConfig({ ...given, ...devVars } as unknown as Env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    config = err;
  }
} finally {
  await platform.dispose();
}
if (config instanceof ConfigError)
  fail(`${config.message} (wrangler.toml, .dev.vars or --var): the gateway would answer every request 500.`);
const gatewayConfig = config as Config;
const wranglerVars = Object.entries(devVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
step(`${demo.reused ? "reusing" : "created"} the demo key ${demo.id} (expires ${demo.expiresAt.slice(0, 10)})`);

step(`starting wrangler dev on 127.0.0.1:${port} (the first start takes a few seconds)`);
const wrangler = spawn(
  process.execPath,
  [
    "node_modules/wrangler/bin/wrangler.js",
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    ...wranglerVars,
    "--show-interactive-dev-session=false",
    ...extra,
  ],
  {
    stdio: ["ignore", "inherit", "inherit"],
    // The state's own dev registry: the keys CLI (local mode) publishes revocations to this
    // gateway, and to no other checkout's (scripts/local-platform.ts stateRegistryPath).
    env: {
      ...process.env,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      // No "⛅️ wrangler 4.86.0 (update available …)" on every start: the version is pinned
      // on purpose (docs/platform.md). This also skips wrangler's registry lookup for it.
      WRANGLER_HIDE_BANNER: "true",
      ...registryEnv(STATE_DIR),
    },
    // Its own process group, so stopping it stops its workerd too (see stop below).
    detached: true,
  },
);

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stopProcessGroup(wrangler);
    try {
      process.kill(-wrangler.pid!, "SIGKILL"); // whatever of the group outlived wrangler itself
    } catch {
      /* none left */
    }
    await closeOrigin?.();
  }
  process.exit(code);
}
process.on("SIGINT", () => {
  console.log("\n[dev] stopping wrangler dev and the demo origin");
  void stop(0);
});
process.on("SIGTERM", () => void stop(0));
// Last resort (an uncaught error): never leave wrangler dev or workerd behind.
process.on("exit", () => {
  if (wrangler.exitCode === null && wrangler.pid) {
    try {
      process.kill(-wrangler.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});
wrangler.on("exit", (code) => void stop(stopping ? 0 : (code ?? 1)));

const gateway = `http://127.0.0.1:${port}`;
/** Whether the port accepts connections (a TCP probe: an HTTP request would log a 401). */
const listening = () =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
for (let i = 0; i < 240 && !stopping; i++) {
  if (wrangler.exitCode !== null) break;
  if (!(await listening())) {
    await new Promise((r) => setTimeout(r, 500));
    continue;
  }
  console.log(
    banner({
      gateway,
      origin: originUrl!,
      demoOrigin: closeOrigin !== undefined,
      config: gatewayConfig,
      demo: { ...demo, org: DEMO_ORG, scopes: DEMO_SCOPES },
      consoleUrl: gatewayConfig.consoleHost
        ? `http://${gatewayConfig.consoleHost}:${port}/`
        : `${gateway}${gatewayConfig.admin.prefix}/ui/`,
      adminToken: generated.ADMIN_TOKEN ?? null,
      // The keys CLI signs with the local secret: the state's, or one in .dev.vars (not a --var of this command).
      sessions: gatewayConfig.session?.secret != null && varsFromArgs(extra).SESSION_JWT_SECRET === undefined,
      // The CLI finds this state (and the session secret kept in it) with the same --persist-to.
      ...(persistFlag >= 0 ? { stateFlags: ["--persist-to", STATE_DIR] } : {}),
    }),
  );
  break;
}
