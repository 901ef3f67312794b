// Mutation testing of the hot path: `npm run test:mutation` (not part of `npm test`).
// StrykerJS drives vitest in Node over the hot-path unit tests (vitest.mutation.config.ts);
// it cannot drive the Workers pool (see docs/mutation-testing.md). Reports: reports/mutation/.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: [
    "src/edge/auth/credentials.ts",
    "src/edge/routes/normalize.ts",
    "src/edge/routes/table.ts",
    "src/edge/auth/verify.ts",
    "src/edge/auth/authorize.ts",
    "src/edge/proxy/headers.ts",
    "src/edge/proxy/client-claims.ts",
    "src/edge/proxy/stray-keys.ts",
    "src/manage/admin/auth.ts",
  ],
  coverageAnalysis: "perTest",
  // The project builds with TypeScript 7 (no JS API): Stryker must not rewrite tsconfig.json
  // (it only needs to for project references). Pointing it at no file skips that step.
  tsconfigFile: "stryker-no-tsconfig.json",
  // Two cores are shared with other work: at most two test processes.
  concurrency: 2,
  timeoutMS: 5_000,
  timeoutFactor: 2,
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
};
