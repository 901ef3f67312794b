/**
 * The local backend: the lifecycle functions (src/keys/lifecycle.ts, src/keys/token.ts,
 * src/orgs/settings.ts) on the same local state `wrangler dev` reads (`.wrangler/state`,
 * or --persist-to exactly as `wrangler dev --persist-to`), through wrangler's
 * getPlatformProxy() (scripts/local-platform.ts). Audit records say who: "cli".
 *
 * A running `wrangler dev` learns of each key or org change from the revocation feed, and
 * usage is read from its UsageStore objects (./feed.ts).
 */
import type { KeySettings } from "../../src/keys/issue";
import type { LifecycleContext, Outcome } from "../../src/keys/lifecycle";
import { auditEvents, createKey, importKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../../src/keys/lifecycle";
import type { KvLike } from "../../src/keys/store";
import { createToken, listTokens, revokeToken } from "../../src/keys/token";
import { setOrg, showOrg } from "../../src/orgs/settings";
import { GRANULARITY_MINUTES, usageAnswer, validateUsageQuery } from "../../src/usage/query";
import type { LocalPlatformOptions } from "../../scripts/local-platform";
import { openLocalPlatform } from "../../scripts/local-platform";
import type { Json } from "../args";
import { Refused } from "../args";
import type { Answer, Backend } from "./backend";
import type { LocalFeed } from "./feed";
import { localFeed } from "./feed";
import { settingsFrom } from "../../src/config/variables";

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
        if (attempt >= waits.length || !/internal error|SQLITE_BUSY|database is locked/i.test((err as Error)?.message ?? "")) throw err;
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
  try {
    settings = keySettingsOf(proxy.env);
  } catch (err) {
    await proxy.dispose();
    throw err;
  }
  const feed = localFeed(opts.configPath ?? "wrangler.toml", opts.environment, opts.persistTo);
  const ctx = (): LifecycleContext => ({ kv, settings, actor: "cli", now: Date.now(), publish: feed.publish });
  // Tokens are not in the feed: a running `wrangler dev` sees a revocation within CACHE_TTL_MS.
  const tokenCtx = (): LifecycleContext => ({ kv, settings, actor: "cli", now: Date.now() });
  const json = <T>(p: Promise<Outcome<T>>) => p as unknown as Answer;
  return {
    create: (body) => json(createKey(ctx(), body)),
    import: (body) => json(importKey(ctx(), body)),
    list: (query) => json(listKeys(ctx(), query)),
    show: (id) => json(showKey(ctx(), id)),
    update: (id, body) => json(updateKey(ctx(), id, body)),
    revoke: (id) => json(revokeKey(ctx(), id)),
    rotate: (id, body) => json(rotateKey(ctx(), id, body)),
    audit: (query) => json(auditEvents(ctx(), query)),
    orgShow: (org) => json(showOrg({ kv, now: Date.now() }, org)),
    orgSet: (org, body) => json(setOrg({ kv, now: Date.now(), publish: feed.publishOrg }, org, body)),
    usage: (query) => localUsage(feed, query),
    tokenCreate: (body) => json(createToken(tokenCtx(), body)),
    tokenList: (query) => json(listTokens(tokenCtx(), query)),
    tokenRevoke: (id) => json(revokeToken(tokenCtx(), id)),
    close: async () => {
      await feed.close();
      await proxy.dispose();
    },
  };
}

/**
 * Usage is kept by the running gateway's UsageStore objects: the same validation and answer
 * as the admin API, on the running `wrangler dev`'s object; none running, nothing to read.
 */
async function localUsage(feed: LocalFeed, query: Json): Answer {
  const checked = validateUsageQuery(query, Date.now());
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const q = checked.value;
  try {
    const store = await feed.usageStore(q.org);
    const g = GRANULARITY_MINUTES[q.granularity];
    const [buckets, statuses] = await Promise.all([store.query(q.key, q.fromMinute, q.toMinute, g), store.statuses(q.key, q.fromMinute, q.toMinute)]);
    return { ok: true, value: usageAnswer(q, buckets, statuses) as unknown as Json };
  } catch (err) {
    return {
      ok: false,
      error: "not_found",
      message: `usage is kept by the running gateway: start it with \`npm run dev\` (same --persist-to), or use --url (${(err as Error).message.split("\n")[0]})`,
    };
  }
}
