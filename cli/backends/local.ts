/**
 * The local backend: the management core's operations (src/manage/) as root — whoever
 * holds the local state holds every key — on the same local state `wrangler dev` reads
 * (`.wrangler/state`, or --persist-to exactly as `wrangler dev --persist-to`), through
 * wrangler's getPlatformProxy() (scripts/local-platform.ts). Audit records say who: "cli".
 *
 * A running `wrangler dev` learns of each key or org change from the revocation feed, and
 * usage is read from its UsageStore objects (./feed.ts).
 */

import { createHmac } from "node:crypto";
import { localSecret } from "../../scripts/dev-state";
import type { LocalPlatformOptions } from "../../scripts/local-platform";
import { DEFAULT_STATE_DIR, openLocalPlatform } from "../../scripts/local-platform";
import type { LeakAction } from "../../src/config/variables";
import { ConfigError, enumVar, sessionClaimsFrom, settingsFrom } from "../../src/config/variables";
import type { KeySettings } from "../../src/keys/issue";
import type { Outcome } from "../../src/keys/lifecycle";
import type { KvLike } from "../../src/keys/store/kv";
import type { ManageDeps } from "../../src/manage/context";
import {
  auditEvents,
  createKey,
  importKey,
  listKeys,
  revokeKey,
  rotateKey,
  showKey,
  updateKey,
} from "../../src/manage/keys";
import { parseLeakReport, reportLeaks } from "../../src/manage/leaks";
import { importKeys, migrationStatus, shadowReport } from "../../src/manage/migration";
import { orgSet, orgShow, usage } from "../../src/manage/orgs";
import type { Principal } from "../../src/manage/principal";
import type { ShadowQuery } from "../../src/manage/shadow";
import { tokenCreate, tokenList, tokenRevoke } from "../../src/manage/tokens";
import type { UsageAnswer, UsageQuery } from "../../src/manage/usage";
import { GRANULARITY_MINUTES, usageAnswer } from "../../src/manage/usage";
import {
  keyLeakedTo,
  webhookCreate,
  webhookDelete,
  webhookDeliveries,
  webhookList,
  webhookTest,
} from "../../src/manage/webhooks";
import type { ShadowSums } from "../../src/objects/protocol";
import type { Json } from "../args";
import { Refused } from "../args";
import type { Answer, Backend } from "./backend";
import type { LocalFeed } from "./feed";
import { localFeed } from "./feed";

/** The CLI on local state acts as root (it holds the state itself); audit events name it "cli". */
const ROOT: Principal = { kind: "root" };

/**
 * The key settings from the local configuration (wrangler.toml and .dev.vars), as the
 * gateway reads them. The CLI's only read of configuration variables.
 */
export function keySettingsOf(env: Record<string, unknown>): KeySettings {
  // KEY_PREFIX and KEY_PEPPER, read and checked as the gateway does (src/config/variables.ts):
  // a CLI must not mint keys the gateway would not read.
  try {
    return settingsFrom(env).key;
  } catch (err) {
    throw new Refused(`${(err as Error).message} (wrangler configuration)`);
  }
}

/** LEAKED_KEY_ACTION from the local configuration, read and checked as the gateway reads it. */
export function leakActionOf(env: Record<string, unknown>): LeakAction {
  try {
    return enumVar(env, "LEAKED_KEY_ACTION");
  } catch (err) {
    throw new Refused(`${(err as Error).message} (wrangler configuration)`);
  }
}

/** Waits before each retry of a local KV call the state's lock refused (ms). */
const BUSY_RETRY_MS = [25, 50, 100, 200, 400, 800];

/**
 * The local KV binding, retrying a call that the local state's database refused because
 * another process holds its lock: a running `wrangler dev` writes the same SQLite state
 * (last-used entries, the demo key), and the runtime reports that as an "internal error"
 * (its log says SQLITE_BUSY). Every KvLike call is safe to repeat: reads, puts of a whole
 * value, deletes. Any other error, or the last retry's, is the caller's.
 */
export function retryingBusy(kv: KvLike, waits: readonly number[] = BUSY_RETRY_MS): KvLike {
  const retry = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (
          attempt >= waits.length ||
          !/internal error|SQLITE_BUSY|database is locked/i.test((err as Error)?.message ?? "")
        )
          throw err;
        await new Promise((resolve) => setTimeout(resolve, waits[attempt]));
      }
    }
  };
  return {
    get: (key, options) => retry(() => kv.get(key, options)),
    put: (key, value, options) => retry(() => kv.put(key, value, options)),
    delete: (key) => retry(() => kv.delete(key)),
    list: (options) => retry(() => kv.list(options)),
  };
}

export async function localBackend(opts: LocalPlatformOptions): Promise<Backend> {
  const proxy = await openLocalPlatform(opts);
  const binding = proxy.env.KEYS as KvLike | undefined;
  const kv = binding && retryingBusy(binding);
  if (!kv) {
    await proxy.dispose();
    throw new Refused("no KEYS KV namespace binding in the wrangler configuration");
  }
  let settings: KeySettings;
  let leakAction: LeakAction;
  try {
    settings = keySettingsOf(proxy.env);
    leakAction = leakActionOf(proxy.env);
  } catch (err) {
    await proxy.dispose();
    throw err;
  }
  const feed = localFeed(opts.configPath ?? "wrangler.toml", opts.environment, opts.persistTo);
  // A token's change goes on the feed too; its revocation ends the console sessions it opened.
  const deps = (): ManageDeps => ({
    kv,
    settings,
    now: Date.now(),
    actor: "cli",
    publish: feed.publish,
    orgPublish: feed.publishOrg,
    tokenChanged: feed.publishToken,
    usage: (q) => localUsage(feed, q),
    shadow: (q) => localShadow(feed, q),
    legacyPublish: feed.publishLegacy,
    // No Worker's 1,000 operations here: many imports at once, over wrangler's local state.
    importConcurrency: LOCAL_IMPORT_CONCURRENCY,
    // Balances are kept by the running gateway's objects: null (unknown) when none answers.
    balance: (credits) => feed.balance(credits),
    // Webhooks live in the running gateway's hub; changes made here are told to them there.
    webhooks: feed.webhooks,
    emit: feed.emit,
    onKeyLeaked: keyLeakedTo(feed.emit),
    // Local state is development: a receiver on this machine (http://127.0.0.1:…) is fine.
    webhookLoopback: true,
  });
  const json = <T>(p: Promise<Outcome<T>>) => p as unknown as Answer;
  return {
    create: (body) => json(createKey(deps(), ROOT, body)),
    import: (body) => json(importKey(deps(), ROOT, body)),
    list: (query) => json(listKeys(deps(), ROOT, query)),
    show: (id) => json(showKey(deps(), ROOT, id)),
    update: (id, body) => json(updateKey(deps(), ROOT, id, body)),
    revoke: (id) => json(revokeKey(deps(), ROOT, id)),
    rotate: (id, body) => json(rotateKey(deps(), ROOT, id, body)),
    audit: (query) => json(auditEvents(deps(), ROOT, query)),
    orgShow: (org) => json(orgShow(deps(), ROOT, org)),
    orgSet: (org, body) => json(orgSet(deps(), ROOT, org, body)),
    usage: (query) => json(usage(deps(), ROOT, query)),
    importMany: (items) => json(importKeys(deps(), ROOT, items)),
    migration: (query) => json(migrationStatus(deps(), ROOT, query)),
    shadow: (query) => json(shadowReport(deps(), ROOT, query)),
    tokenCreate: (body) => json(tokenCreate(deps(), ROOT, body)),
    tokenList: (query) => json(tokenList(deps(), ROOT, query)),
    tokenRevoke: (id) => json(tokenRevoke(deps(), ROOT, id)),
    webhookCreate: (body) => json(webhookCreate(deps(), ROOT, body)),
    webhookList: () => json(webhookList(deps(), ROOT)),
    webhookRemove: (id) => json(webhookDelete(deps(), ROOT, id)),
    webhookTest: (id) => json(webhookTest(deps(), ROOT, id)),
    webhookDeliveries: (id, query) => json(webhookDeliveries(deps(), ROOT, id, query)),
    leaked: async (body) => {
      const parsed = parseLeakReport(body);
      if (!parsed.ok) return { ok: false, error: "invalid", errors: parsed.errors };
      const outcome = await reportLeaks({ ...deps(), leakAction }, ROOT, parsed.value);
      // As POST /leaks answers it.
      return outcome.ok ? { ok: true, value: { results: outcome.value } } : outcome;
    },
    signSession: async (claims) => ({
      ok: true,
      value: signLocalSession(proxy.env, opts.persistTo ?? DEFAULT_STATE_DIR, claims, Date.now()),
    }),
    close: async () => {
      await feed.close();
      await proxy.dispose();
    },
  };
}

/** Imports stored at once by a bulk import on local state. */
const LOCAL_IMPORT_CONCURRENCY = 32;

/**
 * Report mode's comparisons are kept by the running gateway's ShadowStore object: read
 * from the running `wrangler dev`'s; none running, nothing to read (refused with how to get it).
 */
async function localShadow(feed: LocalFeed, q: ShadowQuery): Promise<ShadowSums> {
  try {
    const store = await feed.shadowStore();
    return await store.sums(q.fromMinute, q.toMinute, q.route, q.org);
  } catch (err) {
    throw new Refused(
      `the shadow report is kept by the running gateway, and no running \`wrangler dev\` of this local state answered (${feed.reason(err)}): start it with \`npm run dev\` (same --persist-to), or use --url`,
    );
  }
}

/**
 * Usage is kept by the running gateway's UsageStore objects: read from the running
 * `wrangler dev`'s object; none running, nothing to read (refused with how to get it).
 */
async function localUsage(feed: LocalFeed, q: UsageQuery): Promise<UsageAnswer> {
  try {
    const store = await feed.usageStore(q.org);
    const g = GRANULARITY_MINUTES[q.granularity];
    const [buckets, statuses] = await Promise.all([
      store.query(q.key, q.fromMinute, q.toMinute, g),
      store.statuses(q.key, q.fromMinute, q.toMinute),
    ]);
    return usageAnswer(q, buckets, statuses);
  } catch (err) {
    throw new Refused(
      `usage is kept by the running gateway, and no running \`wrangler dev\` of this local state answered (${feed.reason(err)}): start it with \`npm run dev\` (same --persist-to), or use --url`,
    );
  }
}

/** `value` at the dot path `at` in `into` (SESSION_ORG_CLAIM "o.slg" → {o: {slg: value}}). */
function setClaim(into: Json, at: readonly string[], value: unknown): void {
  let node = into;
  for (const part of at.slice(0, -1)) node = (node[part] ??= {}) as Json;
  node[at.at(-1)!] = value;
}

/**
 * A session JWT the local gateway accepts (cli/verbs/session.ts): HS256 with the
 * configuration's SESSION_JWT_SECRET (.dev.vars) or, without one, the secret `npm run dev`
 * keeps in the state (scripts/dev-state.ts: made here if dev has not run yet), and the
 * claims where the configuration's SESSION_* variables put them.
 */
export function signLocalSession(
  env: Record<string, unknown>,
  stateDir: string,
  input: Json,
  now: number,
): Json & { token: string } {
  let claims: ReturnType<typeof sessionClaimsFrom>;
  try {
    claims = sessionClaimsFrom({
      ...env,
      SESSION_JWT_SECRET: env.SESSION_JWT_SECRET || localSecret(stateDir, "SESSION_JWT_SECRET"),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new Refused(`${err.message} (wrangler configuration)`);
    throw err;
  }
  const iat = Math.floor(now / 1000);
  const exp = iat + Number(input.ttl_seconds);
  const scopes = input.scopes as string[];
  const payload: Json = { sub: input.sub, iat, exp };
  setClaim(payload, claims.orgClaim, input.org);
  if (scopes.length) setClaim(payload, claims.scopesClaim, scopes.join(" "));
  if (claims.issuer !== null) payload.iss = claims.issuer;
  if (claims.audience !== null) payload.aud = claims.audience;
  const part = (o: Json) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const signed = `${part({ alg: "HS256", typ: "JWT" })}.${part(payload)}`;
  const signature = createHmac("sha256", claims.secret!).update(signed).digest("base64url");
  return {
    token: `${signed}.${signature}`,
    sub: input.sub,
    org: input.org,
    scopes,
    expires_at: new Date(exp * 1000).toISOString(),
  };
}
