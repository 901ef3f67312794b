/**
 * Simulated distance (issue 25): every Durable Object lives in a region — a regional object
 * in the one its name says (objects/protocol.ts regionalName), a global one (the feed's
 * primary, a key's or org's own object, an org's usage store) in HOME — and a call to it
 * from another region is far. The harness puts that distance on the calls:
 *
 * - a **wrapper binding** per simulated region (`net.bindings(from)`): the gateway of that
 *   region gets its Durable Object namespaces through it, so each of its calls is recorded
 *   with the round trip it would cost from there;
 * - the objects' own calls to each other (objects/link.ts `link.to`: a replica's copy, a
 *   bucket's exchange, a lease's block, an aggregator's forward) go through the same
 *   network, from the calling object's region.
 *
 * An in-region call is delayed by IN_REGION_MS; a cross-region call is delayed by
 * CROSS_REGION_MS, or **held** until the test releases it (`net.hold = true`): a request
 * that waited for one would not be answered before the release (or would end on its own
 * timeout, which the tests see). Nothing is asserted on elapsed time: what a request waited
 * for is read from the held calls and the recorded ones.
 */
import { env } from "cloudflare:test";
import { vi } from "vitest";
import type { IsolateState } from "../../../../src/edge/gateway/isolate";
import { ISOLATE_STATE, newIsolateState } from "../../../../src/edge/gateway/isolate";
import type { Env } from "../../../../src/env";
import { link } from "../../../../src/objects/link";
import type { Region } from "../../../../src/objects/protocol";
import { FEED_OBJECT_NAME, REGIONS, regionOfName } from "../../../../src/objects/protocol";
import type { RevocationFeed } from "../../../../src/objects/revocation-feed";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv } from "../../../support/worker-helpers";
import { TOKEN } from "../../manage/admin/support";

/** Where the global objects live (the scale model's assumption: docs/scale.md). */
export const HOME: Region = "enam";
export const IN_REGION_MS = 5;
export const CROSS_REGION_MS = 40;

/** A client in each region, as Cloudflare describes it in request.cf (test/support/worker-setup.ts forgets their locations' feed snapshots before each test). */
export const PLACES: Record<Region, { colo: string; continent: string; country: string; longitude: string }> = {
  wnam: { colo: "LAX", continent: "NA", country: "US", longitude: "-118.24" },
  enam: { colo: "IAD", continent: "NA", country: "US", longitude: "-77.45" },
  sam: { colo: "GRU", continent: "SA", country: "BR", longitude: "-46.63" },
  weur: { colo: "LHR", continent: "EU", country: "GB", longitude: "-0.12" },
  eeur: { colo: "WAW", continent: "EU", country: "PL", longitude: "21.01" },
  apac: { colo: "SIN", continent: "AS", country: "SG", longitude: "103.85" },
  oc: { colo: "SYD", continent: "OC", country: "AU", longitude: "151.21" },
  afr: { colo: "JNB", continent: "AF", country: "ZA", longitude: "28.05" },
  me: { colo: "DXB", continent: "AS", country: "AE", longitude: "55.27" },
};

export interface Call {
  from: Region;
  to: Region;
  name: string;
  method: string;
  /** Which side made it: a gateway's binding, or an object's link to another. */
  by: "gateway" | "object";
  startedAt: number;
  endedAt?: number;
  held: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const WRAPPED = Symbol("distance.from");

/** The region of an object by its name: a regional one's, else HOME. */
export function regionOfObject(name: string): Region {
  return regionOfName(name) ?? HOME;
}

export class Network {
  readonly calls: Call[] = [];
  /** Cross-region calls wait for release() instead of CROSS_REGION_MS. */
  hold = false;
  /** When set (and `hold`), decides which calls wait for release() instead. */
  holdIf: ((c: Omit<Call, "held">) => boolean) | null = null;
  #waiting: (() => void)[] = [];
  #seq = 0;
  /** Objects that fail every call (a replica down, say): by name. */
  readonly down = new Set<string>();

  /** Let every held call go (and those made later, until hold is set again). */
  release(): void {
    this.hold = false;
    this.holdIf = null;
    for (const go of this.#waiting.splice(0)) go();
  }

  /** Calls started after `mark` (a value of now()). */
  since(mark: number): Call[] {
    return this.calls.filter((c) => c.startedAt >= mark);
  }

  /** A sequence number: marks the calls made after it. */
  now(): number {
    return this.#seq;
  }

  #stub<T extends Rpc.DurableObjectBranded | undefined>(
    real: DurableObjectStub<T>,
    from: Region,
    name: string,
    by: Call["by"],
  ): DurableObjectStub<T> {
    const to = regionOfObject(name);
    return new Proxy(real as object, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function" || typeof prop !== "string" || prop === "then") return value;
        return async (...args: unknown[]) => {
          const far = from !== to;
          const call: Call = { from, to, name, method: prop, by, startedAt: this.#seq++, held: false };
          call.held = this.hold && (this.holdIf ? this.holdIf(call) : far);
          this.calls.push(call);
          if (call.held) await new Promise<void>((go) => this.#waiting.push(go));
          else await sleep((far ? CROSS_REGION_MS : IN_REGION_MS) / 2);
          if (this.down.has(name)) throw new Error(`${name} is down (simulated)`);
          // Reflect.apply: a stub's method is itself a stub, whose `apply` would be an RPC call.
          const out = await (Reflect.apply(value as (...a: unknown[]) => unknown, target, args) as Promise<unknown>);
          await sleep((far ? CROSS_REGION_MS : IN_REGION_MS) / 2);
          call.endedAt = this.#seq++;
          return out;
        };
      },
    }) as DurableObjectStub<T>;
  }

  /** A namespace as seen from `from`: every call recorded and delayed by its distance. */
  namespace<T extends Rpc.DurableObjectBranded | undefined>(
    real: DurableObjectNamespace<T>,
    from: Region,
    by: Call["by"] = "gateway",
  ): DurableObjectNamespace<T> {
    const names = new Map<string, string>();
    const wrapped = {
      [WRAPPED]: from,
      idFromName: (name: string) => {
        const id = real.idFromName(name);
        names.set(id.toString(), name);
        return id;
      },
      get: (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
        const name = names.get(id.toString()) ?? "(unnamed)";
        return this.#stub(real.get(id, options), from, name, by);
      },
    };
    return wrapped as unknown as DurableObjectNamespace<T>;
  }

  /** The Durable Object bindings of a gateway in `from`. */
  bindings(from: Region): Pick<Env, "KEY_RATE_LIMITER" | "REVOCATION_FEED" | "USAGE_STORE"> {
    return {
      KEY_RATE_LIMITER: this.namespace(env.KEY_RATE_LIMITER!, from),
      REVOCATION_FEED: this.namespace(env.REVOCATION_FEED!, from),
      USAGE_STORE: this.namespace(env.USAGE_STORE!, from),
    };
  }

  /** Put the objects' own calls to each other on this network too (until vi.restoreAllMocks). */
  linkObjects(): void {
    type To = (ns: DurableObjectNamespace, name: string, from?: string) => unknown;
    const original = link.to.bind(link) as unknown as To;
    const routed: To = (ns, name, from) => {
      // A gateway's call through its wrapped binding is already on the network.
      if ((ns as unknown as Record<symbol, unknown>)[WRAPPED] !== undefined) return original(ns, name, from);
      const caller = from === undefined ? HOME : regionOfObject(from);
      return original(this.namespace(ns, caller, "object"), name, from);
    };
    (vi.spyOn(link, "to") as unknown as { mockImplementation(f: To): void }).mockImplementation(routed);
  }
}

/** Every replica of the revocation feed copied from its primary (as after the first publish of a deployment). */
export async function replicasCopied(): Promise<void> {
  const ns = env.REVOCATION_FEED! as DurableObjectNamespace<RevocationFeed>;
  const primary = link.to(ns, FEED_OBJECT_NAME);
  for (const r of REGIONS) if (!(await primary.catchUp(r))) throw new Error(`feed replica ${r} not copied`);
}

/** A gateway isolate serving requests in `region`: its own state, its bindings on `net`. */
export function isolateIn(
  net: Network,
  region: Region,
  vars: Vars = {},
): Env & { state: IsolateState; region: Region } {
  const state = newIsolateState(1000);
  return Object.assign(makeEnv({ ADMIN_TOKEN: TOKEN, ...net.bindings(region), ...vars }), {
    [ISOLATE_STATE]: state,
    state,
    region,
  });
}

/** A request from a client in `region` (its request.cf says where it is served). */
export function requestFrom(region: Region, path: string, init: RequestInit = {}): Request {
  return new Request(`https://gateway.test${path}`, {
    redirect: "manual",
    ...init,
    cf: { ...PLACES[region] },
  } as RequestInit);
}
