/**
 * How the Worker and the objects themselves address an object by name: a regional one
 * (named by protocol.ts regionalName) is created with its region as location hint, so it
 * lives near the clients it serves; a global one where its first request came from. One
 * seam for every object-to-object call (a feed's replicas, a bucket's coordinator, a
 * lease's balance, a location's usage aggregator forwarding to an org), so the tests can put
 * distance on it (test/worker/edge/distance/) as they do on the Worker's bindings.
 */
import { regionOfName } from "./protocol";

export const link = {
  /** The stub of the object `name` of `ns`; `from` (the caller's own name, for an object) says who calls. */
  to<T extends Rpc.DurableObjectBranded | undefined>(
    ns: DurableObjectNamespace<T>,
    name: string,
    _from?: string,
  ): DurableObjectStub<T> {
    const region = regionOfName(name);
    return region ? ns.get(ns.idFromName(name), { locationHint: region }) : ns.get(ns.idFromName(name));
  },
};
