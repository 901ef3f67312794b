/**
 * Helpers shared by the revocation tests: two gateway isolates in one workerd (each env
 * object carries its own isolate state: key cache and feed follower, with KV and the feed
 * object shared), an injected clock, and KV as an edge location that cached a record.
 */
import { env } from "cloudflare:test";
import { vi } from "vitest";
import type { IsolateState } from "../../../../src/edge/gateway/isolate";
import { ISOLATE_STATE, newIsolateState } from "../../../../src/edge/gateway/isolate";
import type { Env } from "../../../../src/env";
import { kvKey } from "../../../../src/keys/store/kv";
import { clock } from "../../../../src/lib/clock";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv } from "../../../support/worker-helpers";
import { TOKEN } from "../../manage/admin/support";

/** Freeze clock.now at the real time; the returned function moves it forward by `ms`. */
export function freezeClock(): (ms: number) => void {
  let now = Date.now();
  vi.spyOn(clock, "now").mockImplementation(() => now);
  return (ms) => {
    now += ms;
  };
}

/** One gateway isolate (admin API on, plus `vars`): its own cache and feed follower. */
export function isolate(vars: Vars = {}): Env & { state: IsolateState } {
  const state = newIsolateState(1000);
  return Object.assign(makeEnv({ ADMIN_TOKEN: TOKEN, ...vars }), { [ISOLATE_STATE]: state, state });
}

/**
 * KV as an edge location that cached `key:<hash>` (or another entry: `name`) before a
 * change: it keeps answering the snapshot taken now for that entry, like KV's cacheTtl
 * (≥ 30 s) does on Cloudflare.
 */
export async function edgeCachedKv(hash: string, name = kvKey.record(hash)): Promise<KVNamespace> {
  const snapshot = await env.KEYS.get(name, { type: "json" });
  const real = env.KEYS;
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "get") {
        return (key: string, options?: unknown) =>
          key === name
            ? Promise.resolve(snapshot)
            : (target.get as (n: string, o?: unknown) => Promise<unknown>)(key, options);
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as KVNamespace;
}

/** The feed object, unreachable: every call rejects. */
export function brokenFeed(): DurableObjectNamespace {
  const ns = env.REVOCATION_FEED!;
  return {
    idFromName: (n: string) => ns.idFromName(n),
    get: () => ({
      since: () => Promise.reject(new Error("feed down")),
      publish: () => Promise.reject(new Error("feed down")),
      publishOrg: () => Promise.reject(new Error("feed down")),
    }),
  } as unknown as DurableObjectNamespace;
}
