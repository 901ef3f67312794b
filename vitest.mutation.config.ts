import { defineConfig } from "vitest/config";

/**
 * The hot-path unit tests in plain Node, for mutation testing only (`npm run
 * test:mutation`, stryker.config.mjs). The same files run inside workerd in `npm test`
 * (project "workers"); StrykerJS cannot drive the Workers pool, so it runs them here.
 * They import nothing from cloudflare:test.
 */
export const HOT_PATH_TESTS = [
  "test/unit/edge/auth/credentials.test.ts",
  "test/unit/edge/auth/authorize.test.ts",
  "test/unit/edge/auth/verify.test.ts",
  "test/unit/edge/routes/normalize.test.ts",
  "test/unit/edge/routes/table.test.ts",
  "test/unit/edge/proxy/headers.test.ts",
  "test/unit/edge/proxy/client-claims.test.ts",
  "test/unit/manage/admin/auth.test.ts",
];

export default defineConfig({
  test: {
    name: "hot-path-node",
    include: HOT_PATH_TESTS,
    environment: "node",
    setupFiles: ["./test/support/node-unit-setup.ts"],
  },
});
