/**
 * `npm run dev`: the gateway on http://127.0.0.1:8787 in front of a demo origin on
 * http://127.0.0.1:8788, with a demo key printed. Extra arguments go to `wrangler dev`
 * (e.g. `npm run dev -- --var AUTH_PROFILE:argos`).
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
 * The web console runs on a host of its own, http://console.localhost:PORT/ (CONSOLE_HOST
 * console.localhost: browsers and curl resolve *.localhost to this machine), signed in with
 * the admin token printed at start. Unless .dev.vars, .env or `--var` sets ADMIN_TOKEN, a
 * local one is generated once and kept with the demo key
 * (.wrangler/state/keygate-dev-admin-token.json, ignored by git); `--var CONSOLE_HOST:…`
 * (or .dev.vars) overrides the console's host.
 *
 * Environment: PORT and ORIGIN_PORT change the ports; ORIGIN_URL points the gateway at
 * your own API instead of the demo origin.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops wrangler dev and its workerd (their whole process
 * group) and the demo origin.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { settingsFrom } from "../src/config/variables";
import { hashKey } from "../src/keys/hash";
import type { KeySettings } from "../src/keys/issue";
import { statusOf } from "../src/keys/record";
import type { KvLike } from "../src/keys/store/kv";
import { readRecord } from "../src/keys/store/records";
import type { ManageDeps } from "../src/manage/context";
import { createKey, revokeKey } from "../src/manage/keys";
import { stopProcessGroup } from "../test/support/node-wrangler";
import { openLocalPlatform, registryEnv } from "./local-platform";
import { startOrigin } from "./origin";

const DAY_MS = 86_400_000;
const DEMO_KEY_LIFETIME_MS = 30 * DAY_MS;
const DEMO_KEY_MIN_LEFT_MS = 8 * DAY_MS;
const extra = process.argv.slice(2);
/** wrangler dev's local state: .wrangler/state, or what `--persist-to DIR` (passed on to wrangler dev) says. */
const persistFlag = extra.findIndex((a) => a === "--persist-to" || a.startsWith("--persist-to="));
const STATE_DIR =
  persistFlag < 0
    ? ".wrangler/state"
    : extra[persistFlag]!.includes("=")
      ? extra[persistFlag]!.split("=").slice(1).join("=")
      : (extra[persistFlag + 1] ?? ".wrangler/state");
const DEMO_KEY_FILE = path.join(STATE_DIR, "keygate-demo-key.json");
const ADMIN_TOKEN_FILE = path.join(STATE_DIR, "keygate-dev-admin-token.json");
/** The console's host in development: *.localhost is loopback for browsers and curl. */
const DEV_CONSOLE_HOST = "console.localhost";

if (extra.includes("--help") || extra.includes("-h")) {
  const doc = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  process.stdout.write(doc.replace(/^\/\*\*\n?|^ \* ?/gm, "") + "\n");
  process.exit(0);
}

const port = Number(process.env.PORT ?? 8787);
const originPort = Number(process.env.ORIGIN_PORT ?? 8788);
const step = (msg: string) => console.log(`[dev] ${msg}`);

let originUrl = process.env.ORIGIN_URL;
let closeOrigin: (() => Promise<void>) | undefined;
if (!originUrl) {
  step(`starting the demo origin on 127.0.0.1:${originPort}`);
  try {
    const origin = await startOrigin(originPort);
    originUrl = origin.url;
    closeOrigin = origin.close;
  } catch (err) {
    console.error(
      `error: cannot start the demo origin on port ${originPort}: ${(err as Error).message}. Set ORIGIN_PORT or ORIGIN_URL.`,
    );
    process.exit(1);
  }
}

/** The saved demo key, when it still works and has more than DEMO_KEY_MIN_LEFT_MS to live; else a new one. */
async function demoKey(): Promise<{ key: string; id: string; expiresAt: string; reused: boolean }> {
  const platform = await openLocalPlatform({ persistTo: STATE_DIR });
  try {
    const kv = platform.env.KEYS as KvLike;
    // KEY_PREFIX and KEY_PEPPER, read and checked as the gateway does (a bad value stops here).
    const settings: KeySettings = settingsFrom(platform.env).key;
    const now = Date.now();
    const deps: ManageDeps = { kv, settings, actor: "dev", now };
    const root = { kind: "root" } as const;
    let saved: { id: string; key: string } | undefined;
    try {
      saved = JSON.parse(readFileSync(DEMO_KEY_FILE, "utf8")) as { id: string; key: string };
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
      orgs: ["demo"],
      scopes: ["read", "write"],
      expires_at: new Date(now + DEMO_KEY_LIFETIME_MS).toISOString(),
    });
    if (!created.ok) throw new Error(`cannot create the demo key: ${JSON.stringify(created)}`);
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(DEMO_KEY_FILE, JSON.stringify({ id: created.value.id, key: created.value.key }) + "\n", {
      mode: 0o600,
    });
    return { key: created.value.key, id: created.value.id, expiresAt: created.value.expires_at!, reused: false };
  } finally {
    await platform.dispose();
  }
}

/** Whether the developer sets `name` themselves: `--var NAME:…`, or a line of .dev.vars or .env. */
function setByDeveloper(name: string): boolean {
  if (extra.some((a, i) => (a === "--var" && extra[i + 1]?.startsWith(`${name}:`)) || a.startsWith(`--var=${name}:`)))
    return true;
  return [".dev.vars", ".env"].some(
    (f) => existsSync(f) && new RegExp(`^\\s*${name}\\s*=`, "m").test(readFileSync(f, "utf8")),
  );
}

/** The admin token the console signs in with: the developer's, or one generated for this state (0600). */
function devAdminToken(): { token: string | null; vars: string[] } {
  if (setByDeveloper("ADMIN_TOKEN")) return { token: null, vars: [] };
  let token: string | undefined;
  try {
    token = (JSON.parse(readFileSync(ADMIN_TOKEN_FILE, "utf8")) as { token?: string }).token;
  } catch {
    /* none yet */
  }
  if (typeof token !== "string" || !/^[0-9a-f]{64}$/.test(token)) {
    token = randomBytes(32).toString("hex");
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(ADMIN_TOKEN_FILE, JSON.stringify({ token }) + "\n", { mode: 0o600 });
  }
  return { token, vars: ["--var", `ADMIN_TOKEN:${token}`] };
}

step(`opening the local key store (${STATE_DIR})`);
const demo = await demoKey();
const admin = devAdminToken();
const consoleHost = setByDeveloper("CONSOLE_HOST") ? null : DEV_CONSOLE_HOST;
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
    "--var",
    `ORIGIN_URL:${originUrl}`,
    ...admin.vars,
    ...(consoleHost ? ["--var", `CONSOLE_HOST:${consoleHost}`] : []),
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
  console.log(`
keygate is running on ${gateway} in front of ${originUrl}${closeOrigin ? " (demo origin: it echoes what it receives)" : ""}.

Demo key (org "demo", scopes read,write; id ${demo.id}, expires ${demo.expiresAt.slice(0, 10)}):

  ${demo.key}

Try:
  curl -i ${gateway}/hello -H "x-api-key: ${demo.key}"      # 200, the origin saw x-org-slug: demo
  curl -i ${gateway}/hello                                 # 401, never reached the origin

Console: ${consoleHost ? `http://${consoleHost}:${port}/` : "on the CONSOLE_HOST you set, port " + port} — sign in with ${admin.token ? `the admin token\n  ${admin.token}` : "the ADMIN_TOKEN you set"}

More keys: npm run keys -- create --org acme --name my-client
Stop: Ctrl-C
`);
  break;
}
