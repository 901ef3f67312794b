import type { Env as GatewayEnv } from "../src/config/config";

declare global {
  namespace Cloudflare {
    interface Env extends GatewayEnv {
      TEST_ORIGIN_URL: string;
      /** JSON: session signing keys minted in test/global-setup.ts. */
      TEST_SESSION_KEYS: string;
    }
  }
}
