/**
 * The revocation feed's Durable Object (one instance, named FEED_OBJECT_NAME): a short,
 * versioned log of key changes in SQLite storage. Every lifecycle change (create, import,
 * update, revoke, rotate) appends the changed key's hash and its record as written (a
 * scoped admin token's creation or revocation, its hash and record, kind "token"; the
 * legacy algorithms with pending imported keys, kind "legacy"); each
 * gateway isolate reads the entries after its cursor (see edge/revocation/follower.ts for the policy and
 * docs/revocation.md for the bound). Versions come from AUTOINCREMENT, so they only grow,
 * even across pruning. Entries are kept FEED_RETENTION_MS.
 */
import { DurableObject } from "cloudflare:workers";
import type { RateLimit } from "../keys/record";
import { ORG_RE } from "../keys/record";
import { clock } from "../lib/clock";
import type { FeedChange, FeedEntry, FeedPage } from "./protocol";
import { FEED_PAGE_SIZE, FEED_RETENTION_MS } from "./protocol";

const HASH_RE = /^[0-9a-f]{64}$/;

// Its bindings are not read (DurableObject<unknown>): nothing here imports the Env type.
export class RevocationFeed extends DurableObject<unknown> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS changes (version INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL DEFAULT 'key', hash TEXT NOT NULL, record TEXT NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS changes_at ON changes (at)");
    // Org settings (docs/limits.md): every org with a setting, so a new isolate gets them all.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS orgs (org TEXT PRIMARY KEY, settings TEXT NOT NULL)");
    // The legacy algorithms with pending imported keys (docs/migrating.md), so a new isolate knows them.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS legacy (id INTEGER PRIMARY KEY, algorithms TEXT NOT NULL)");
  }

  #head(): number {
    const row = this.ctx.storage.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM changes").one();
    // Empty table: AUTOINCREMENT's counter survives deletes, so read it from sqlite_sequence.
    if (row.v !== null) return row.v;
    const seq = this.ctx.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
      .toArray()[0];
    return seq?.seq ?? 0;
  }

  /** Append changes; returns the feed's version after them. */
  publish(changes: FeedChange[]): number {
    const now = clock.now();
    for (const c of changes) {
      if (typeof c.hash !== "string" || !HASH_RE.test(c.hash))
        throw new Error("feed: a change must name a key hash (or a token hash)");
      if (c.kind !== undefined && c.kind !== "token") throw new Error("feed: a change is a key's or a token's");
      this.ctx.storage.sql.exec(
        "INSERT INTO changes (at, kind, hash, record) VALUES (?, ?, ?, ?)",
        now,
        c.kind ?? "key",
        c.hash,
        JSON.stringify(c.record),
      );
    }
    this.ctx.storage.sql.exec("DELETE FROM changes WHERE at < ?", now - FEED_RETENTION_MS);
    return this.#head();
  }

  /** An org's rate limit changed (null: removed); returns the feed's version after it. */
  publishOrg(org: string, rateLimit: RateLimit | null): number {
    if (typeof org !== "string" || !ORG_RE.test(org)) throw new Error("feed: an org change must name an org slug");
    const now = clock.now();
    this.ctx.storage.sql.exec(
      "INSERT INTO changes (at, kind, hash, record) VALUES (?, 'org', ?, ?)",
      now,
      org,
      JSON.stringify(rateLimit),
    );
    if (rateLimit === null) this.ctx.storage.sql.exec("DELETE FROM orgs WHERE org = ?", org);
    else
      this.ctx.storage.sql.exec(
        "INSERT OR REPLACE INTO orgs (org, settings) VALUES (?, ?)",
        org,
        JSON.stringify(rateLimit),
      );
    return this.#head();
  }

  /** The legacy algorithms with pending imported keys changed (docs/migrating.md); returns the feed's version after it. */
  publishLegacy(algorithms: string[]): number {
    if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === "string" && /^[a-z0-9-]{1,32}$/.test(a)))
      throw new Error("feed: legacy algorithms must be a list of algorithm names");
    const value = JSON.stringify(algorithms);
    this.ctx.storage.sql.exec(
      "INSERT INTO changes (at, kind, hash, record) VALUES (?, 'legacy', 'legacy', ?)",
      clock.now(),
      value,
    );
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO legacy (id, algorithms) VALUES (1, ?)", value);
    return this.#head();
  }

  /**
   * The entries after `cursor` (oldest first, at most FEED_PAGE_SIZE; `more` when there are
   * others). With no cursor (a new isolate) or a cursor the feed cannot continue (pruned
   * past it, or ahead of it: storage was reset), the entries of the last `windowMs`,
   * with `reset` set in the second case so the isolate drops everything it cached, and
   * every org's settings (`orgs`).
   */
  since(cursor: number | null, windowMs: number): FeedPage {
    const head = this.#head();
    const oldest = this.ctx.storage.sql.exec<{ v: number | null }>("SELECT MIN(version) AS v FROM changes").one().v;
    const continuable = cursor !== null && cursor <= head && (oldest === null || cursor >= oldest - 1);
    const rows = continuable
      ? this.ctx.storage.sql.exec<{ version: number; at: number; kind: string; hash: string; record: string }>(
          "SELECT version, at, kind, hash, record FROM changes WHERE version > ? ORDER BY version LIMIT ?",
          cursor,
          FEED_PAGE_SIZE + 1,
        )
      : this.ctx.storage.sql.exec<{ version: number; at: number; kind: string; hash: string; record: string }>(
          "SELECT version, at, kind, hash, record FROM changes WHERE kind IN ('key', 'token') AND at >= ? ORDER BY version LIMIT ?",
          clock.now() - windowMs,
          FEED_PAGE_SIZE + 1,
        );
    const all = rows.toArray();
    const more = all.length > FEED_PAGE_SIZE;
    const entries: FeedEntry[] = all.slice(0, FEED_PAGE_SIZE).map((r) => ({
      version: r.version,
      at: r.at,
      ...(r.kind === "org" || r.kind === "token" || r.kind === "legacy" ? { kind: r.kind } : {}),
      hash: r.hash,
      record: JSON.parse(r.record) as unknown,
    }));
    const version = more ? entries[entries.length - 1]!.version : head;
    const orgs = continuable
      ? undefined
      : this.ctx.storage.sql
          .exec<{ org: string; settings: string }>("SELECT org, settings FROM orgs")
          .toArray()
          .map((r) => ({ org: r.org, rate_limit: JSON.parse(r.settings) as RateLimit }));
    const legacy = continuable
      ? undefined
      : (JSON.parse(
          this.ctx.storage.sql.exec<{ algorithms: string }>("SELECT algorithms FROM legacy").toArray()[0]?.algorithms ??
            "[]",
        ) as string[]);
    return {
      version,
      entries,
      more,
      reset: cursor !== null && !continuable,
      ...(orgs ? { orgs } : {}),
      ...(legacy ? { legacy } : {}),
    };
  }
}
