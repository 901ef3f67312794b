import { defineConfig } from "vitest/config";

/**
 * The hot-path unit tests in plain Node, for mutation testing only (`npm run
 * test:mutation`, stryker.config.mjs). The same files run inside workerd in `npm test`
 * (project "workers"); StrykerJS cannot drive the Workers pool, so it runs them here.
 * They import nothing from cloudflare:test.
 */
export const HOT_PATH_TESTS = [
  "test/unit/auth/credentials.test.ts",
  "test/unit/auth/authorize.test.ts",
  "test/unit/auth/verify.test.ts",
  "test/unit/routes/normalize.test.ts",
  "test/unit/routes/table.test.ts",
  "test/unit/proxy/headers.test.ts",
  "test/unit/proxy/client-claims.test.ts",
  "test/unit/admin/auth.test.ts",
];

export default defineConfig({
  test: {
    name: "hot-path-node",
    include: HOT_PATH_TESTS,
    environment: "node",
    setupFiles: ["./test/support/node-unit-setup.ts"],
  },
});
