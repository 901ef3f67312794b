import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Projects (see docs/testing.md), each reading its folders by glob — a test file belongs to
 * the project its place says:
 * - "workers": test/unit/ (mirroring src/, plus verifier/) and test/worker/ (by plane and
 *   feature) inside workerd (the Workers vitest integration), with Miniflare's real local KV
 *   and a real local HTTP origin started in globalSetup;
 * - "workers-websocket": the test/worker/ files named *.ws.test.ts, WebSocket pass-through
 *   inside workerd, the origin's end in an auxiliary worker;
 * - "verifier-node": test/unit/verifier/, the origin-side signature verifier, on Node too;
 * - "cli-node": test/unit/cli/ and test/unit/bench/, the keys CLI's and the benchmark tools'
 *   unit tests, on Node;
 * - "browser": test/browser/, the console in real Chromium against a real `wrangler dev`;
 * - "e2e": test/e2e/, Node tests that start a real `wrangler dev` in front of a real origin
 *   and talk to it over loopback.
 */

/** Unit tests of the Node-only code (cli/, bench/): project "cli-node", not workerd. */
const NODE_UNIT = ["test/unit/cli/**", "test/unit/bench/**"];
/** WebSocket pass-through: its own workerd project (an auxiliary worker is the origin). */
const WEBSOCKET = "test/worker/**/*.ws.test.ts";
export default defineConfig({
  test: {
    silent: "passed-only",
    projects: [
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ORIGIN_URL: inject<string>("originUrl"),
                // Secrets for tests live here, never in .dev.vars (which tests also read).
                TEST_ORIGIN_URL: inject<string>("originUrl"),
                TEST_SESSION_KEYS: inject<string>("sessionKeys"),
                TEST_GITHUB_KEYS: inject<string>("githubKeys"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/unit/**/*.test.ts", "test/worker/**/*.test.ts"],
          exclude: [...NODE_UNIT, WEBSOCKET],
          globalSetup: ["./test/global-setup.ts", "./test/support/quiet-output.ts"],
          setupFiles: ["./test/support/worker-setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // WebSocket pass-through, with the origin's WebSocket end in an auxiliary worker
        // (see test/support/ws-origin-worker.js for why).
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ORIGIN_URL: inject<string>("originUrl"), TEST_ORIGIN_URL: inject<string>("originUrl") },
              outboundService: "ws-origin",
              workers: [{ name: "ws-origin", modules: true, scriptPath: "./test/support/ws-origin-worker.js" }],
            },
          })),
        ],
        test: {
          name: "workers-websocket",
          include: [WEBSOCKET],
          globalSetup: ["./test/global-setup.ts", "./test/support/quiet-output.ts"],
        },
      },
      {
        // The origin-side verifier (verifier/index.js) on Node as well: it is shipped for
        // Node origins too (it also runs in "workers").
        test: {
          name: "verifier-node",
          include: ["test/unit/verifier/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // The keys CLI's parts (cli/: arguments, rendering, the remote backend against a
        // local HTTP stub, the runner with a recording backend) on Node, without wrangler;
        // and the benchmark tools' arithmetic (test/unit/bench: the scale model).
        test: {
          name: "cli-node",
          include: NODE_UNIT.map((dir) => `${dir}/*.test.ts`),
          environment: "node",
        },
      },
      {
        // The web console in real Chromium (Debian's /usr/bin/chromium via playwright-core)
        // against a real `wrangler dev`.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/browser/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
