/**
 * `npm run dev`: the gateway on http://127.0.0.1:8787 in front of a demo origin on
 * http://127.0.0.1:8788, with a fresh demo key printed. Extra arguments go to
 * `wrangler dev` (e.g. `npm run dev -- --var AUTH_PROFILE:argos`).
 *
 * PORT and ORIGIN_PORT change the ports; ORIGIN_URL points the gateway at your own API
 * instead of the demo origin.
 */
import { spawn } from "node:child_process";
import { getPlatformProxy } from "wrangler";
import { issueKey } from "../src/keys/issue";
import type { KvLike } from "../src/keys/store";
import { startOrigin } from "./origin";

const port = Number(process.env.PORT ?? 8787);
const originPort = Number(process.env.ORIGIN_PORT ?? 8788);
const extra = process.argv.slice(2);

let originUrl = process.env.ORIGIN_URL;
let closeOrigin: (() => Promise<void>) | undefined;
if (!originUrl) {
  try {
    const origin = await startOrigin(originPort);
    originUrl = origin.url;
    closeOrigin = origin.close;
  } catch (err) {
    console.error(`Cannot start the demo origin on port ${originPort}: ${(err as Error).message}. Set ORIGIN_PORT or ORIGIN_URL.`);
    process.exit(1);
  }
}

// A demo key in the same local state wrangler dev reads (.wrangler/state).
const proxy = await getPlatformProxy<Record<string, unknown>>({ configPath: "wrangler.toml", persist: { path: ".wrangler/state/v3" } });
const pepper = typeof proxy.env.KEY_PEPPER === "string" && proxy.env.KEY_PEPPER ? proxy.env.KEY_PEPPER : undefined;
const { key, record } = await issueKey(
  proxy.env.KEYS as KvLike,
  { prefix: String(proxy.env.KEY_PREFIX ?? "kg_"), ...(pepper ? { pepper } : {}) },
  { name: "demo (npm run dev)", orgs: ["demo"], scopes: ["read", "write"], expires_at: null },
  Date.now(),
);
await proxy.dispose();

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
    "--show-interactive-dev-session=false",
    ...extra,
  ],
  {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  },
);

const gateway = `http://127.0.0.1:${port}`;
for (let i = 0; i < 120; i++) {
  if (wrangler.exitCode !== null) break;
  try {
    await fetch(gateway, { signal: AbortSignal.timeout(1000) });
    console.log(`
keygate is running on ${gateway} in front of ${originUrl}${closeOrigin ? " (demo origin: it echoes what it receives)" : ""}.

Demo key (org "demo", scopes read,write; id ${record.id}):

  ${key}

Try:
  curl -i ${gateway}/hello -H "x-api-key: ${key}"      # 200, the origin saw x-org-slug: demo
  curl -i ${gateway}/hello                                 # 401, never reached the origin

More keys: npm run keys -- create --org acme --name my-client
`);
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 500));
  }
}

const stop = async () => {
  wrangler.kill("SIGTERM");
  await closeOrigin?.();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", async (code) => {
  await closeOrigin?.();
  process.exit(code ?? 0);
});
