/**
 * Run before each test of the workerd projects (vitest setupFiles). The revocation feed's
 * location snapshots live in the Cache API, which every test of a file shares, while many
 * tests freeze and advance the clock: a snapshot written in one test's frozen time would
 * look like a later poll to the next test's. Each test starts with none.
 */
import { env } from "cloudflare:test";
import { beforeEach } from "vitest";
import type { Location } from "../../src/edge/location";
import { DEFAULT_LOCATION } from "../../src/edge/location";
import { snapshotKey } from "../../src/edge/revocation/follower";
import { REGIONS } from "../../src/objects/protocol";
import { PLACES } from "../worker/edge/distance/support";

/**
 * The locations tests serve requests from: DEFAULT_LOCATION (a request without cf), and one
 * per region for the simulated ones of test/worker/edge/distance/ (its PLACES).
 */
export const TEST_LOCATIONS: Location[] = [
  DEFAULT_LOCATION,
  ...REGIONS.map((region) => ({ region, colo: PLACES[region].colo })),
];

export async function forgetFeedSnapshots(): Promise<void> {
  const ns = env.REVOCATION_FEED;
  if (!ns) return;
  await Promise.all(TEST_LOCATIONS.map((where) => caches.default.delete(snapshotKey(ns, where)).catch(() => false)));
}

beforeEach(forgetFeedSnapshots);
