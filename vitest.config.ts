import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Projects (see docs/testing.md):
 * - "workers": unit and integration tests inside workerd (the Workers vitest integration),
 *   with Miniflare's real local KV and a real local HTTP origin started in globalSetup;
 * - "workers-websocket": WebSocket pass-through inside workerd, the origin's end in an
 *   auxiliary worker;
 * - "verifier-node": the origin-side signature verifier on Node;
 * - "cli-node": the keys CLI's unit tests on Node;
 * - "e2e": Node tests that start a real `wrangler dev` in front of a real origin and talk
 *   to it over loopback.
 */
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
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: [
            "test/unit/**/*.test.ts",
            "test/integration/**/*.test.ts",
            "test/admin/**/*.test.ts",
            "test/hardening/**/*.test.ts",
            "test/verifier/**/*.test.ts",
            "test/sessions/**/*.test.ts",
            "test/self-service/**/*.test.ts",
            "test/console/**/*.test.ts",
            "test/revocation/**/*.test.ts",
            "test/usage/**/*.test.ts",
            "test/limits/**/*.test.ts",
            "test/durable-objects/**/*.test.ts",
            "test/manage/**/*.test.ts",
          ],
          // The CLI's and the benchmark tools' unit tests run on Node (project "cli-node").
          exclude: ["test/unit/cli/**", "test/unit/bench/**"],
          globalSetup: ["./test/global-setup.ts", "./test/support/quiet-output.ts"],
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
          include: ["test/websocket/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts", "./test/support/quiet-output.ts"],
        },
      },
      {
        // The origin-side verifier (verifier/index.js) on Node as well: it is shipped for
        // Node origins too (it also runs in "workers").
        test: {
          name: "verifier-node",
          include: ["test/verifier/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // The keys CLI's parts (cli/: arguments, rendering, the remote backend against a
        // local HTTP stub, the runner with a recording backend) on Node, without wrangler;
        // and the benchmark tools' arithmetic (test/unit/bench: the scale model).
        test: {
          name: "cli-node",
          include: ["test/unit/cli/**/*.test.ts", "test/unit/bench/**/*.test.ts"],
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
