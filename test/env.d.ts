import type { Env as GatewayEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends GatewayEnv {
      TEST_ORIGIN_URL: string;
      /** JSON: session signing keys minted in test/global-setup.ts. */
      TEST_SESSION_KEYS: string;
      /** JSON: the stand-ins for GitHub's secret scanning keys (test/global-setup.ts githubKeys). */
      TEST_GITHUB_KEYS: string;
    }
  }
}
