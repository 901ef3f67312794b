/**
 * Helpers for tests running inside workerd: call the real worker with a given
 * configuration, mint keys into Miniflare's real local KV, and ask the real origin what
 * it received.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { DEFAULT_LOCATION } from "../../src/edge/location";
import { shadowCounter } from "../../src/edge/shadow/counter";
import { flushUsage, usageCounter } from "../../src/edge/usage/counter";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import type { NewKeyInput } from "../../src/keys/fields";
import { hashKey } from "../../src/keys/hash";
import { issueKey } from "../../src/keys/issue";
import type { KeyRecord } from "../../src/keys/record";
import { kvKey } from "../../src/keys/store/kv";
import { clock } from "../../src/lib/clock";
import { usageLocationName } from "../../src/objects/protocol";
import type { UsageStore } from "../../src/objects/usage-store";

export type Vars = Partial<Record<keyof Env, unknown>>;

/** An env with the test bindings plus `vars`. A new object: config is parsed for it. */
export function makeEnv(vars: Vars = {}): Env {
  return { ...env, ...vars } as Env;
}

export const ORIGIN = env.TEST_ORIGIN_URL;

/**
 * An execution context whose background work can be awaited — all of it but a deferred
 * flush of usage or of report mode's comparisons (edge/usage/flush.ts armFlush), which
 * sleeps up to USAGE_FLUSH_MS before it sends the counts: it runs on, unawaited, as it would
 * after the response in production. `wait()` is waitOnExecutionContext for the rest. Tests
 * that read usage or the shadow report flush explicitly, or use `sendAndWaitAll` to wait for
 * the deferred flush too.
 */
export function backgroundContext(): { ctx: ExecutionContext; wait: () => Promise<void> } {
  const real = createExecutionContext();
  const ctx = {
    waitUntil: (p: Promise<unknown>) => {
      if (p !== usageCounter().armed && p !== shadowCounter().armed) real.waitUntil(p);
    },
    passThroughOnException: () => real.passThroughOnException(),
    props: real.props,
  } as ExecutionContext;
  return { ctx, wait: () => waitOnExecutionContext(real) };
}

function requestOf(input: string | Request, init: RequestInit): Request {
  // Concatenate, never resolve: "//admin" must stay a path, as it is on the wire.
  const url = typeof input === "string" && input.startsWith("/") ? `https://gateway.test${input}` : input;
  return typeof url === "string" ? new Request(url, { redirect: "manual", ...init }) : url;
}

/** Send a request through the gateway and wait for its background work (a deferred flush aside: backgroundContext). */
export async function send(
  input: string | Request,
  init: RequestInit = {},
  gatewayEnv: Env = makeEnv(),
): Promise<Response> {
  const { ctx, wait } = backgroundContext();
  const res = await worker.fetch(requestOf(input, init), gatewayEnv, ctx);
  await wait();
  return res;
}

/** Send a request and wait for all of its background work, a deferred flush included (as waitUntil does). */
export async function sendAndWaitAll(
  input: string | Request,
  init: RequestInit = {},
  gatewayEnv: Env = makeEnv(),
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(requestOf(input, init), gatewayEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export interface MintOptions extends Partial<NewKeyInput> {
  /** Import this plaintext instead of minting. */
  key?: string;
  prefix?: string;
  pepper?: string;
}

export async function mint(opts: MintOptions = {}): Promise<{ key: string; record: KeyRecord }> {
  return issueKey(
    env.KEYS,
    { prefix: opts.prefix ?? "kg_", ...(opts.pepper ? { pepper: opts.pepper } : {}) },
    {
      name: opts.name ?? "test",
      orgs: opts.orgs ?? ["acme"],
      scopes: opts.scopes ?? [],
      expires_at: opts.expires_at ?? null,
      ...(opts.rate_limit ? { rate_limit: opts.rate_limit } : {}),
    },
    Date.now(),
    opts.key,
  );
}

let probeCounter = 0;
/** A unique id to send as `x-probe`, so the origin records this test's requests. */
export function probe(): string {
  return `p-${Date.now()}-${probeCounter++}-${crypto.randomUUID()}`;
}

export interface OriginCall {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
}

/** What the origin received with `x-probe: id` (straight from the origin, not via the gateway). */
export async function originCalls(id: string): Promise<OriginCall[]> {
  const res = await fetch(`${ORIGIN}/__origin/calls?probe=${encodeURIComponent(id)}`);
  const body = (await res.json()) as { calls: OriginCall[] };
  return body.calls;
}

/** Send through the gateway with a fresh probe; return the response and what the origin saw. */
export async function through(
  path: string,
  init: RequestInit = {},
  gatewayEnv: Env = makeEnv(),
): Promise<{ res: Response; body: string; calls: OriginCall[] }> {
  const id = probe();
  const headers = new Headers(init.headers);
  headers.set("x-probe", id);
  const res = await send(path, { ...init, headers }, gatewayEnv);
  const body = await res.text();
  return { res, body, calls: await originCalls(id) };
}

/**
 * Deliver this isolate's pending usage (what a flush does every USAGE_FLUSH_MS, then the
 * location's aggregator at the end of its interval): flushed to the default location's
 * aggregator, which forwards to the orgs' stores now. A failure fails the test.
 */
export async function deliverUsage(now: number = clock.now()): Promise<void> {
  const ns = env.USAGE_STORE! as DurableObjectNamespace<UsageStore>;
  await flushUsage(ns, usageCounter(), now, (org, cause) => {
    throw new Error(`${org}: ${cause}`);
  });
  await ns.get(ns.idFromName(usageLocationName(DEFAULT_LOCATION.colo, DEFAULT_LOCATION.region))).forwardNow();
}

/** Rewrite a stored record (to make it revoked, disabled, expired…) straight in KV. */
export async function patchRecord(key: string, patch: Partial<KeyRecord>, pepper?: string): Promise<KeyRecord> {
  const name = kvKey.record(await hashKey(key, pepper));
  const current = (await env.KEYS.get(name, { type: "json" })) as KeyRecord;
  const next = { ...current, ...patch };
  await env.KEYS.put(name, JSON.stringify(next));
  return next;
}

/** A well-formed key that exists nowhere (imported-key shape: always looked up). */
export function unknownKey(): string {
  return `unknown-${crypto.randomUUID()}`;
}

/** Basic credentials as curl -u KEY: and requests auth=(KEY, "") send them. */
export function basic(user: string, password = ""): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

export interface KvProbe {
  binding: KVNamespace;
  /** Reads that reached KV (or the injected fault). */
  gets: number;
  /** null: pass through to the real KV; "throw": every get rejects; "hang": never settles. */
  fault: null | "throw" | "hang";
}

/** The real local KV binding, wrapped to count reads and inject faults. */
export function probeKv(): KvProbe {
  const real = env.KEYS;
  const probe: KvProbe = {
    gets: 0,
    fault: null,
    binding: new Proxy(real, {
      get(target, prop) {
        if (prop === "get") {
          return (...args: Parameters<KVNamespace["get"]>) => {
            probe.gets++;
            if (probe.fault === "throw") return Promise.reject(new Error("KV unavailable (injected)"));
            if (probe.fault === "hang") return new Promise(() => {});
            return (target.get as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }),
  };
  return probe;
}
