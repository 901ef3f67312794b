/**
 * The floor of a key gateway (`npm run bench`'s "floor" target, docs/performance.md): the
 * least any API-key gateway on Workers has to do for a valid key, and nothing else —
 *
 *   read the key (x-api-key) → SHA-256 it → look it up in an isolate Map → rebuild the
 *   upstream headers (every inbound header but the credential, plus three identity
 *   headers) → forward → set x-request-id on a rebuilt response → one JSON log line.
 *
 * keygate (defaults on) is measured against it: keygate ÷ floor is the share of a minimal
 * gateway's throughput keygate keeps. The steps are hooks, so the ablation worker
 * (bench/floor/ablate.ts) and the micro-benchmark can swap one of them for keygate's own
 * code and measure what that piece costs (bench/floor/variants.ts). The floor itself
 * imports nothing of keygate's.
 *
 * Keys: FLOOR_KEYS, entries "sha256hex/id/org/scope,scope" separated by ";" (no quotes or
 * colons: it travels as `wrangler dev --var NAME:VALUE`), parsed once per env object.
 */

/** What the floor vouches for: the three identity headers' values. */
export interface FloorIdentity {
  id: string;
  org: string;
  scopes: string;
}

export interface FloorEnv {
  ORIGIN_URL: string;
  FLOOR_KEYS: string;
}

/** The part of the execution context the floor and its variants use. */
export interface FloorContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** What the log line and the hooks after the answer know about a request. */
export interface FloorOutcome {
  started: number;
  requestId: string;
  path: string;
  identity: FloorIdentity | null;
  status: number;
}

/**
 * The steps a variant may replace with keygate's own code (bench/floor/variants.ts); each
 * default is the floor's. Hooks get the env untyped: a variant reads keygate's bindings.
 */
export interface FloorHooks {
  /** The path to forward (default: the URL's pathname), or a refusal. */
  path?(request: Request, url: URL): string | Response;
  /** Work done once the path is known, before the key (route matching, the feed check). */
  before?(request: Request, path: string, env: never, ctx: FloorContext): void | Promise<void>;
  /** Who the key belongs to, or null (401). Default: x-api-key → SHA-256 → Map lookup. */
  decide?(request: Request, env: never, ctx: FloorContext, requestId: string): Promise<FloorIdentity | null>;
  /** The upstream request headers. Default: every inbound header but the credential, plus three identity headers. */
  headers?(request: Request, identity: FloorIdentity, requestId: string, url: URL, env: never): Headers;
  /** Forward and build the response the client gets (x-request-id is set on it after). Default: fetch, then a rebuilt Response. */
  forward?(target: string, request: Request, headers: Headers, env: never): Promise<Response>;
  /** The access-log line. Default: one JSON line through console.log. */
  log?(request: Request, outcome: FloorOutcome): void;
  /** Work after the answer is decided (usage counting). */
  after?(outcome: FloorOutcome, env: never, ctx: FloorContext): void;
}

/** The header the floor reads the key from, and drops before forwarding. */
export const FLOOR_CREDENTIAL = "x-api-key";

const parsedKeys = new WeakMap<object, Map<string, FloorIdentity>>();

/** FLOOR_KEYS as a Map from the key's SHA-256 (hex) to its identity, parsed once per env. */
export function floorKeys(env: FloorEnv): Map<string, FloorIdentity> {
  let keys = parsedKeys.get(env);
  if (keys === undefined) {
    keys = new Map();
    for (const entry of (env.FLOOR_KEYS ?? "").split(";")) {
      const [hash, id, org, scopes] = entry.split("/");
      if (hash && id && org) keys.set(hash, { id, org, scopes: scopes ?? "" });
    }
    parsedKeys.set(env, keys);
  }
  return keys;
}

/** A FLOOR_KEYS entry (the benchmark computes the hash with node:crypto). */
export function floorKeyEntry(sha256hex: string, identity: FloorIdentity): string {
  return `${sha256hex}/${identity.id}/${identity.org}/${identity.scopes}`;
}

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export async function sha256Hex(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** The floor's decision: the key from x-api-key, hashed, looked up in the isolate's Map. */
export async function floorDecide(request: Request, env: FloorEnv): Promise<FloorIdentity | null> {
  const key = request.headers.get(FLOOR_CREDENTIAL);
  if (key === null) return null;
  return floorKeys(env).get(await sha256Hex(key)) ?? null;
}

/** The floor's upstream headers: every inbound header but the credential, and three of ours. */
export function floorHeaders(inbound: Headers, identity: FloorIdentity): Headers {
  const out = new Headers();
  for (const [name, value] of inbound) if (name !== FLOOR_CREDENTIAL) out.set(name, value);
  out.set("x-api-key-id", identity.id);
  out.set("x-org-slug", identity.org);
  out.set("x-api-key-scopes", identity.scopes);
  return out;
}

export async function floorForward(target: string, request: Request, headers: Headers): Promise<Response> {
  const upstream = await fetch(target, { method: request.method, headers, body: request.body, redirect: "manual" });
  return new Response(upstream.body, upstream);
}

export function floorLog(request: Request, o: FloorOutcome): void {
  console.log(
    JSON.stringify({
      level: "info",
      msg: "request",
      request_id: o.requestId,
      method: request.method,
      path: o.path,
      status: o.status,
      latency_ms: Date.now() - o.started,
      key_id: o.identity?.id ?? null,
    }),
  );
}

function unauthorized(requestId: string): Response {
  return new Response('{"error":"invalid_key"}', {
    status: 401,
    headers: { "content-type": "application/json", "x-request-id": requestId },
  });
}

export type FloorHandler = (request: Request, env: FloorEnv, ctx: FloorContext) => Promise<Response>;

/** The floor's fetch handler, with some of its steps replaced by `hooks`. */
export function createFloor(hooks: FloorHooks = {}): FloorHandler {
  const { path: pathOf, before, decide, headers: headersOf, forward, log, after } = hooks;
  return async function floor(request, env, ctx) {
    const started = Date.now();
    const requestId = crypto.randomUUID();
    const url = new URL(request.url);
    const outcome: FloorOutcome = { started, requestId, path: url.pathname, identity: null, status: 0 };
    let res: Response;
    const path = pathOf ? pathOf(request, url) : url.pathname;
    if (typeof path !== "string") res = path;
    else {
      outcome.path = path;
      if (before) await before(request, path, env as never, ctx);
      const identity = decide ? await decide(request, env as never, ctx, requestId) : await floorDecide(request, env);
      if (identity === null) res = unauthorized(requestId);
      else {
        outcome.identity = identity;
        const headers = headersOf
          ? headersOf(request, identity, requestId, url, env as never)
          : floorHeaders(request.headers, identity);
        const target = env.ORIGIN_URL + path + url.search;
        res = forward
          ? await forward(target, request, headers, env as never)
          : await floorForward(target, request, headers);
        res.headers.set("x-request-id", requestId);
      }
    }
    outcome.status = res.status;
    if (log) log(request, outcome);
    else floorLog(request, outcome);
    if (after) after(outcome, env as never, ctx);
    return res;
  };
}
