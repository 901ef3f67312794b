/**
 * Micro-benchmark of the per-request work of the gateway, without the network: the same
 * module runs inside workerd (bench/micro/worker.ts, through Miniflare) and under Node's
 * V8 (bench/micro/node.ts), so each figure can be checked against the other.
 *
 * Timing inside workerd: the runtime's clocks do not advance during pure computation
 * (a Spectre mitigation: Date.now() and performance.now() move only across I/O). So each
 * sample times many iterations between two I/O boundaries (a timer), and the caller
 * passes that clock in. Samples are calibrated to last ≥ SAMPLE_MS, medians reported.
 */

import type { SessionSettings } from "../../src/config/config";
import { ConfigError, configFor } from "../../src/config/config";
import { checkKeyRateLimit } from "../../src/edge/abuse/key-rate-limiter";
import { orgLimitFor } from "../../src/edge/abuse/org-limit";
import { extractCredential } from "../../src/edge/auth/credentials";
import { verifySession } from "../../src/edge/auth/session";
import { verifyKey } from "../../src/edge/auth/verify";
import { isolateOf } from "../../src/edge/gateway/isolate";
import { DEFAULT_LOCATION } from "../../src/edge/location";
import { downstreamHeaders, upstreamHeaders } from "../../src/edge/proxy/headers";
import { FeedFollower, feedStub, followFeed } from "../../src/edge/revocation/follower";
import { normalizePath } from "../../src/edge/routes/normalize";
import { matchRoute } from "../../src/edge/routes/table";
import { usageCounter } from "../../src/edge/usage/counter";
import type { Env } from "../../src/env";
import app from "../../src/index";
import { classifyKey, mintKey } from "../../src/keys/format";
import { hashKey } from "../../src/keys/hash";
import { issueKey } from "../../src/keys/issue";
import type { KvLike } from "../../src/keys/store/kv";
import type { Cidr } from "../../src/lib/cidr";
import { ipAllowed, parseCidr } from "../../src/lib/cidr";
import { logLine } from "../../src/lib/log";
import type { KeyRateLimiter } from "../../src/objects/key-rate-limiter";
import type { FeedPage } from "../../src/objects/protocol";
import type { RevocationFeed } from "../../src/objects/revocation-feed";
import type { FloorContext, FloorEnv } from "../floor/floor";
import { createFloor, floorKeyEntry, sha256Hex } from "../floor/floor";
import { FLOOR_VARIANTS } from "../floor/variants";
// @ts-expect-error: plain JS module without types
import passthrough from "../passthrough/worker.js";
import type { MicroCase } from "./types";

/** A clock that is exact at the moment it resolves (crossing an I/O boundary if needed). */
export type Clock = () => Promise<number>;

const SAMPLE_MS = 150;
const SAMPLES = 7;

async function timeCase(name: string, clock: Clock, fn: () => unknown): Promise<MicroCase> {
  // Warm up (JIT) and calibrate: double the batch until one batch lasts ≥ SAMPLE_MS.
  let n = 64;
  let total = 0;
  for (;;) {
    total += n;
    const t0 = await clock();
    for (let i = 0; i < n; i++) await fn();
    const ms = (await clock()) - t0;
    if (ms >= SAMPLE_MS) break;
    n = ms < SAMPLE_MS / 8 ? n * 8 : n * 2;
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    total += n;
    const t0 = await clock();
    for (let i = 0; i < n; i++) await fn();
    samples.push((((await clock()) - t0) * 1000) / n);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { name, us: sorted[Math.floor(sorted.length / 2)]!, samples, iterations: n, totalIterations: total };
}

const b64url = (bytes: Uint8Array | string): string => {
  const u8 = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let bin = "";
  for (const b of u8) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

/**
 * Session tokens for the session cases (a Clerk-sized payload): HS256 with a secret, and
 * RS256 with a fresh 2048-bit key whose JWKS the gateway fetches once (from a stubbed
 * fetch) before timing, so the RS256 case is the cached-JWKS path of every request.
 */
async function sessionFixtures(): Promise<{ settings: SessionSettings; hs: string; rs: string; jwks: unknown }> {
  const secret = "bench-session-secret-".padEnd(48, "s");
  const now = Math.floor(Date.now() / 1000);
  const payload = b64url(
    JSON.stringify({
      sub: "user_2abcdefghijklmnopqrstuvwx",
      org_slug: "acme",
      scope: "read write",
      iss: "https://clerk.bench.invalid",
      iat: now,
      nbf: now,
      exp: now + 86_400,
      sid: "sess_2abcdefghijklmnopqrstuvwx",
      azp: "https://app.bench.invalid",
    }),
  );
  const enc = new TextEncoder();
  const hsInput = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${payload}`;
  const hmac = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const hs = `${hsInput}.${b64url(new Uint8Array(await crypto.subtle.sign("HMAC", hmac, enc.encode(hsInput))))}`;
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const rsInput = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "bench" }))}.${payload}`;
  const rs = `${rsInput}.${b64url(new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", pair.privateKey, enc.encode(rsInput))))}`;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  // A fresh key per run, so a JWKS URL of its own (each runMicro call shares the isolate's cache).
  return {
    settings: {
      secret,
      jwksUrl: `https://clerk.bench.invalid/.well-known/jwks.json?run=${crypto.randomUUID()}`,
      issuer: "https://clerk.bench.invalid",
      audience: null,
      cookie: "__session",
      orgClaim: ["org_slug"],
      scopesClaim: ["scope"],
    },
    hs,
    rs,
    jwks: { keys: [{ kty: "RSA", n: jwk.n, e: jwk.e, kid: "bench", alg: "RS256", use: "sig" }] },
  };
}

/** A canned origin answer, so the full request path can be timed without a network. */
function cannedOrigin(): Response {
  return new Response("hello, world\n", { headers: { "content-type": "text/plain", "content-length": "13" } });
}

export interface MicroEnv {
  /** The real KEYS binding (workerd) or any KvLike (Node). */
  KEYS: KvLike;
  vars: Record<string, string>;
  /** Real Durable Objects (workerd only): the round-trip cases run when present. */
  objects?: {
    KEY_RATE_LIMITER: DurableObjectNamespace<KeyRateLimiter>;
    REVOCATION_FEED: DurableObjectNamespace<RevocationFeed>;
  };
}

interface Case {
  name: string;
  fn: () => unknown;
  /** Runs with `fetch` answering a canned origin response. */
  stubOrigin?: boolean;
  /** Runs with console.log silenced (the access log's share of a whole request). */
  silenceConsole?: boolean;
  /** Needs the Cache API (`caches.default`): workerd only, skipped under Node. */
  cacheApi?: boolean;
}

/**
 * Time every case, or only the one named `only`; `list` returns the names untimed.
 * The first five add up to the per-request auth work; the rest place it in the whole
 * request (Hono, headers, forwarding, the access log) and against the pass-through.
 *
 * Whole requests run with console.log silenced: workerd keeps every line a request logs
 * until that request ends, and one benchmark request makes hundreds of thousands of
 * them, which slows everything after it down (not what one line per request costs).
 * The log line is timed on its own, last; its cost under real traffic comes from the
 * load benchmark (valid vs valid-nolog).
 */
export async function runMicro(
  clock: Clock,
  menv: MicroEnv,
  opts: { only?: string; list?: boolean } = {},
): Promise<MicroCase[]> {
  const env = { ...menv.vars, KEYS: menv.KEYS } as unknown as Env;
  const config = configFor(env);
  if (config instanceof ConfigError) throw config;
  const { key, record } = await issueKey(
    menv.KEYS,
    { prefix: config.keyPrefix },
    { name: "micro", orgs: ["acme"], scopes: ["read"], expires_at: null },
    Date.now(),
  );
  const hash = await hashKey(key, config.pepper);
  const cache = isolateOf(env, config.cache.maxEntries).cache;
  const deps = () => ({ kv: menv.KEYS, cache, config, now: Date.now() });
  // One verification reads KV and fills the cache: every case below is a cache hit.
  const first = await verifyKey(key, deps());
  if (first.kind !== "valid") throw new Error(`micro-benchmark key did not verify: ${first.kind}`);
  const good = mintKey(config.keyPrefix);
  const corrupt = good.slice(0, -1) + (good.endsWith("A") ? "B" : "A");
  // What autocannon sends.
  const headers = new Headers({ host: "gateway.test", "user-agent": "autocannon", "x-api-key": key });
  const url = "http://gateway.test/bench";
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  const identity = { keyId: record.id, org: "acme", scopes: record.scopes };

  // Issue 13's features, each on one key; stand-ins for the Durable Objects answer at once,
  // so these cases time the gateway's own work (the round trip is the network's).
  const emptyPage: FeedPage = { version: 1, entries: [], more: false, reset: false, orgs: [] };
  const fakeNs = (methods: Record<string, (...a: unknown[]) => unknown>) =>
    ({ idFromName: (n: string) => n, get: () => methods }) as unknown as DurableObjectNamespace;
  // A new follower's first page carries every org's settings; later ones continue its cursor.
  const nothingNew: FeedPage = { version: 1, entries: [], more: false, reset: false };
  const feedNs = fakeNs({
    since: async (cursor: unknown) => (cursor === null ? emptyPage : nothingNew),
    publish: async () => ({ version: 1, missing: [] }),
  });
  const usageNs = fakeNs({ add: async () => true, collect: async () => undefined });
  const balanceNs = fakeNs({
    spend: async () => ({ allowed: true, remaining: 1_000_000 }),
    spendLeased: async () => ({ allowed: true, remaining: 1_000_000 }),
  });
  const withFeatures = {
    ...env,
    REVOCATION_FEED: feedNs,
    USAGE_STORE: usageNs,
    KEY_RATE_LIMITER: balanceNs,
  } as unknown as Env;
  // Report mode (docs/migrating.md): the same features, the decision forwarded with its
  // verdict and compared (the shadow store a stand-in: at most one flush per USAGE_FLUSH_MS).
  const reporting = {
    ...withFeatures,
    ENFORCEMENT: "report",
    SHADOW_STORE: fakeNs({ add: () => true }),
  } as unknown as Env;
  const ips = ["198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"];
  const limited = await issueKey(
    menv.KEYS,
    { prefix: config.keyPrefix },
    { name: "micro-ips", orgs: ["acme"], scopes: [], expires_at: null, allowed_ips: ips },
    Date.now(),
  );
  const metered = await issueKey(
    menv.KEYS,
    { prefix: config.keyPrefix },
    { name: "micro-credits", orgs: ["acme"], scopes: [], expires_at: null, credits: { remaining: 1_000_000 } },
    Date.now(),
  );
  const ipHeaders = new Headers({
    host: "gateway.test",
    "user-agent": "autocannon",
    "x-api-key": limited.key,
    "cf-connecting-ip": "203.0.113.7",
  });
  const creditHeaders = new Headers({ host: "gateway.test", "user-agent": "autocannon", "x-api-key": metered.key });
  const ranges = ips.map(parseCidr) as Cidr[];
  const follower = new FeedFollower();
  const settings = { ...config.revocation };
  // The snapshot case: `writer` polls twice (the second writes the location's snapshot, valid
  // for the whole case under a long poll interval), `reader` reads it.
  const writer = new FeedFollower();
  const reader = new FeedFollower();
  const longPoll = { ...settings, pollMs: 600_000, maxStalenessMs: 601_000 };
  const noWait = () => {};
  const valid = (h: Headers, e: Env, what: string) => async () => {
    const res = await app.fetch(new Request(url, { headers: h }), e, ctx);
    if (res.status !== 200) throw new Error(`${what} answered ${res.status}`);
    await res.arrayBuffer();
  };
  const origin = cannedOrigin();
  const session = await sessionFixtures();
  {
    // Fill the isolate's JWKS cache once (the only fetch it makes in this run).
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async () => Response.json(session.jwks)) as typeof fetch;
    try {
      const first = await verifySession(session.rs, session.settings, Date.now());
      if (first.kind !== "ok") throw new Error(`micro-benchmark RS256 session did not verify: ${first.reason}`);
    } finally {
      globalThis.fetch = realFetch;
    }
  }
  const sessionEnv = {
    ...env,
    SESSION_JWT_SECRET: session.settings.secret,
    SESSION_ISSUER: session.settings.issuer,
  } as unknown as Env;
  const sessionHeaders = new Headers({
    host: "gateway.test",
    "user-agent": "autocannon",
    authorization: `Bearer ${session.hs}`,
  });
  // The floor (bench/floor): the same key, known to it by its SHA-256; each variant swaps
  // one step for keygate's own (bench/floor/variants.ts). Feed and usage use the stand-in
  // objects above (answering at once), so these time the isolate's own work.
  const floorEnv = {
    ...withFeatures,
    FLOOR_KEYS: floorKeyEntry(await sha256Hex(key), { id: record.id, org: "acme", scopes: "read" }),
  } as unknown as Env & FloorEnv;
  const floorCase = (variant: string): Case => {
    const handler = createFloor(FLOOR_VARIANTS[variant]!.hooks);
    return {
      name:
        variant === "floor"
          ? "floor request → 200 (origin stubbed, console.log off)"
          : `floor + ${variant} → 200 (origin stubbed, console.log off)`,
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res = await handler(new Request(url, { headers }), floorEnv, ctx as FloorContext);
        if (res.status !== 200) throw new Error(`floor (${variant}) answered ${res.status}`);
        await res.arrayBuffer();
      },
    };
  };
  // keygate's forward() against the floor's fetch + rebuild, one of its parts at a time.
  const forwardPart = (
    part: string,
    forward: (target: string, request: Request, headers: Headers) => Promise<Response>,
  ): Case => {
    const handler = createFloor({ forward });
    return {
      name: `floor + forward part: ${part} → 200 (origin stubbed, console.log off)`,
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res = await handler(new Request(url, { headers }), floorEnv, ctx as FloorContext);
        if (res.status !== 200) throw new Error(`floor (forward part ${part}) answered ${res.status}`);
        await res.arrayBuffer();
      },
    };
  };
  const forwardParts: Case[] = [
    forwardPart("AbortController signal", async (target, request, h) => {
      const controller = new AbortController();
      const up = await fetch(target, {
        method: request.method,
        headers: h,
        body: request.body,
        redirect: "manual",
        signal: controller.signal,
      });
      return new Response(up.body, up);
    }),
    forwardPart("deadline timer set and cleared", async (target, request, h) => {
      const timer = setTimeout(() => {}, 30_000);
      const up = await fetch(target, { method: request.method, headers: h, body: request.body, redirect: "manual" });
      clearTimeout(timer);
      return new Response(up.body, up);
    }),
    forwardPart("small body read whole", async (target, request, h) => {
      const up = await fetch(target, { method: request.method, headers: h, body: request.body, redirect: "manual" });
      return new Response(await up.arrayBuffer(), up);
    }),
    forwardPart("downstreamHeaders + Response init", async (target, request, h) => {
      const up = await fetch(target, { method: request.method, headers: h, body: request.body, redirect: "manual" });
      return new Response(up.body, {
        status: up.status,
        statusText: up.statusText,
        headers: downstreamHeaders(up.headers),
      });
    }),
  ];
  // Local Durable Object round trips (workerd): what an object call costs on this machine,
  // the scale model's "object call" input (bench/scale-model.ts).
  const objectCases: Case[] = [];
  if (menv.objects) {
    const { KEY_RATE_LIMITER, REVOCATION_FEED } = menv.objects;
    const feed = feedStub(REVOCATION_FEED);
    const head = ((await feed.since(null, 1)) as FeedPage).version;
    objectCases.push(
      {
        name: "Durable Object round trip: rate-limit hit (KeyRateLimiter.hit, local)",
        fn: async () => {
          const r = await checkKeyRateLimit(
            KEY_RATE_LIMITER,
            "micro-bench",
            { limit: 1_000_000_000, period_seconds: 60, mode: "exact" },
            () => DEFAULT_LOCATION,
          );
          if (!r.ok) throw new Error(`rate-limit hit failed: ${r.error}`);
        },
      },
      {
        name: "Durable Object round trip: regional rate-limit hit (KeyRateLimiter.hitRegional, local)",
        fn: async () => {
          const r = await checkKeyRateLimit(
            KEY_RATE_LIMITER,
            "micro-bench",
            { limit: 1_000_000_000, period_seconds: 60, mode: "regional" },
            () => DEFAULT_LOCATION,
          );
          if (!r.ok) throw new Error(`regional rate-limit hit failed: ${r.error}`);
        },
      },
      {
        name: "Durable Object round trip: feed poll, nothing new (RevocationFeed.since, local)",
        fn: async () => {
          const page = (await feed.since(head, 1)) as FeedPage;
          if (page.entries.length !== 0) throw new Error("feed poll: unexpected entries");
        },
      },
    );
  }

  const cases: Case[] = [
    { name: "extract credential", fn: () => extractCredential(headers, config.sources) },
    { name: "checksum (classifyKey)", fn: () => classifyKey(key, config.keyPrefix) },
    { name: "hash (SHA-256)", fn: () => hashKey(key, config.pepper) },
    { name: "cache hit (LRU lookup)", fn: () => cache.lookup(hash, Date.now()) },
    {
      name: "auth work: extract + checksum + hash + cache hit",
      fn: async () => {
        const c = extractCredential(headers, config.sources);
        if (c.kind !== "present") throw new Error("no credential");
        const v = await verifyKey(c.key, deps());
        if (v.kind !== "valid" || v.tier !== "memory") throw new Error(`not a cache hit: ${v.kind}`);
      },
    },
    {
      name: "session verify: HS256",
      fn: async () => {
        const v = await verifySession(session.hs, session.settings, Date.now());
        if (v.kind !== "ok") throw new Error(`HS256 session: ${v.reason}`);
      },
    },
    {
      name: "session verify: RS256, JWKS cached",
      fn: async () => {
        const v = await verifySession(session.rs, session.settings, Date.now());
        if (v.kind !== "ok") throw new Error(`RS256 session: ${v.reason}`);
      },
    },
    {
      name: "route: URL + normalize + match",
      fn: () => matchRoute(config.routes, (normalizePath(new URL(url).pathname) as { path: string }).path, "GET"),
    },
    {
      name: "upstream headers",
      fn: () =>
        upstreamHeaders(headers, config, {
          requestId: "0b7c6f1e-6a57-4d6b-9a53-2f0c8f1e6a57",
          clientIp: null,
          proto: "http",
          host: "gateway.test",
          websocket: false,
          identity,
        }),
    },
    { name: "downstream headers", fn: () => downstreamHeaders(origin.headers) },
    {
      name: "gateway request, bad checksum → 401 (no I/O, console.log off)",
      silenceConsole: true,
      fn: async () => {
        const res = await app.fetch(new Request(url, { headers: { "x-api-key": corrupt } }), env, ctx);
        if (res.status !== 401) throw new Error(`bad checksum answered ${res.status}`);
        await res.arrayBuffer();
      },
    },
    {
      name: "gateway request, valid key → 200 (origin stubbed, console.log off)",
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res = await app.fetch(new Request(url, { headers }), env, ctx);
        if (res.status !== 200) throw new Error(`valid key answered ${res.status}`);
        await res.arrayBuffer();
      },
    },
    {
      name: "valid key, revocation feed on (poll not due) → 200",
      stubOrigin: true,
      silenceConsole: true,
      fn: valid(headers, withFeatures, "feed on"),
    },
    {
      name: "valid key, report mode (verdict allow, compared) → 200",
      stubOrigin: true,
      silenceConsole: true,
      fn: valid(headers, reporting, "report mode"),
    },
    {
      name: "no key, report mode (verdict deny, forwarded, compared) → 200",
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res = await app.fetch(new Request(url, { headers: { "user-agent": "autocannon" } }), reporting, ctx);
        if (res.status !== 200) throw new Error(`report mode answered ${res.status}`);
        await res.arrayBuffer();
      },
    },
    {
      name: "key with allowed_ips (3 CIDRs) → 200",
      stubOrigin: true,
      silenceConsole: true,
      fn: valid(ipHeaders, withFeatures, "allowed_ips"),
    },
    {
      name: "key with credits → 200 (balance object stubbed)",
      stubOrigin: true,
      silenceConsole: true,
      fn: valid(creditHeaders, withFeatures, "credits"),
    },
    { name: "allowlist check (parse client IP, 3 CIDRs)", fn: () => ipAllowed("203.0.113.7", ranges) },
    {
      name: "usage count (one Map update)",
      fn: () => usageCounter().count({ org: "acme", keyId: record.id }, 200, true, Date.now()),
    },
    {
      name: "issue 13's per-request work for a key without features (isolate state, feed check, org lookup, usage count)",
      fn: () => {
        const iso = isolateOf(withFeatures, config.cache.maxEntries);
        followFeed(
          feedNs as never,
          iso.feed,
          iso.cache,
          { ...settings, pollMs: 1e12, maxStalenessMs: 1e12 + 1 },
          Date.now(),
          noWait,
          noWait,
        );
        const lim = orgLimitFor(
          iso.orgs,
          iso.feed.orgsKnown ? iso.feed : follower,
          menv.KEYS,
          "acme",
          config,
          Date.now(),
          noWait,
        );
        if (record.allowed_ips || record.credits || lim) throw new Error("a feature is on");
        usageCounter().count({ org: "acme", keyId: record.id }, 200, true, Date.now());
      },
    },
    {
      name: "feed check per request (poll not due)",
      fn: () =>
        followFeed(
          feedNs as never,
          follower,
          cache,
          { ...settings, pollMs: 1e12, maxStalenessMs: 1e12 + 1 },
          Date.now(),
          noWait,
          noWait,
        ),
    },
    {
      name: "feed poll: one empty page applied, the location's snapshot read and written (isolate side, object stubbed)",
      fn: async () => {
        follower.lastPollAt = -Infinity;
        await followFeed(feedNs as never, follower, cache, settings, Date.now(), noWait, noWait);
        await follower.inflight;
      },
    },
    {
      // Another isolate of the location polled: this one reads its snapshot (Cache API hit), asks no object.
      name: "feed refresh from the location's snapshot, nothing new (Cache API hit, no object call)",
      cacheApi: true,
      fn: async () => {
        if (writer.snapshot === null)
          for (let i = 0; i < 2; i++) {
            writer.lastPollAt = -Infinity;
            await followFeed(feedNs as never, writer, cache, longPoll, Date.now(), noWait, noWait);
            await writer.inflight;
          }
        reader.lastPollAt = -Infinity;
        reader.syncedAt = -Infinity;
        reader.cursor = writer.cursor;
        await followFeed(feedNs as never, reader, cache, longPoll, Date.now(), noWait, noWait);
        await reader.inflight;
        if (reader.syncedAt !== writer.snapshot?.polledAt) throw new Error("the location's snapshot was not used");
      },
    },
    {
      name: "gateway request, HS256 session → 200 (origin stubbed, console.log off)",
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res = await app.fetch(new Request(url, { headers: sessionHeaders }), sessionEnv, ctx);
        if (res.status !== 200) throw new Error(`HS256 session answered ${res.status}`);
        await res.arrayBuffer();
      },
    },
    {
      name: "pass-through worker request → 200 (origin stubbed)",
      stubOrigin: true,
      silenceConsole: true,
      fn: async () => {
        const res: Response = await passthrough.fetch(
          new Request(url, { headers }),
          { ORIGIN_URL: "http://origin.invalid" },
          ctx,
        );
        if (res.status !== 200) throw new Error(`pass-through answered ${res.status}`);
        await res.arrayBuffer();
      },
    },
    ...Object.keys(FLOOR_VARIANTS).map(floorCase),
    ...forwardParts,
    ...objectCases,
    {
      name: "access log line (logLine → console.log)",
      fn: () =>
        logLine("info", "request", {
          request_id: "0b7c6f1e-6a57-4d6b-9a53-2f0c8f1e6a57",
          method: "GET",
          path: "/bench",
          route: "(default)",
          status: 200,
          latency_ms: 1,
          key_id: record.id,
          org: "acme",
          cache: "memory",
          outcome: "forwarded",
          reason: null,
        }),
    },
  ];
  if (opts.list) return cases.map((c) => ({ name: c.name, us: NaN, samples: [], iterations: 0, totalIterations: 0 }));
  const results: MicroCase[] = [];
  const realFetch = globalThis.fetch;
  const realLog = console.log;
  for (const c of cases) {
    if (opts.only !== undefined && c.name !== opts.only) continue;
    if (c.cacheApi && typeof caches === "undefined") continue;
    if (c.stubOrigin) globalThis.fetch = (async () => cannedOrigin()) as typeof fetch;
    if (c.silenceConsole) console.log = () => {};
    try {
      results.push(await timeCase(c.name, clock, c.fn));
    } finally {
      globalThis.fetch = realFetch;
      console.log = realLog;
    }
  }
  return results;
}
