/**
 * A Node module hook for the micro-benchmark under Node (bench/micro/node.ts): the worker's
 * entry exports its Durable Object classes, which extend `DurableObject` from
 * `cloudflare:workers`, a module only workerd has. Node gets a stand-in class with the same
 * constructor; the micro cases never construct an object under Node (their objects are
 * stand-ins answering the calls), they only load the modules.
 */
const STUB = `export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
`;

export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: "keygate-bench:cloudflare-workers", shortCircuit: true };
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url === "keygate-bench:cloudflare-workers") return { format: "module", source: STUB, shortCircuit: true };
  return next(url, context);
}
