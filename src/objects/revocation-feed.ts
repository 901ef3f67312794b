/**
 * The revocation feed's Durable Object: a short, versioned log of key changes in SQLite
 * storage. Every lifecycle change (create, import, update, revoke, rotate) appends the
 * changed key's hash and its record as written (a scoped admin token's creation or
 * revocation, its hash and record, kind "token"; an org's rate limit, kind "org"; the legacy
 * algorithms with pending imported keys, kind "legacy"); each
 * gateway isolate reads the entries after its cursor (see edge/revocation/follower.ts for the
 * policy and docs/revocation.md for the bound). Versions come from AUTOINCREMENT, so they
 * only grow, even across pruning. Entries are kept FEED_RETENTION_MS.
 *
 * One class, three roles, by the object's name:
 * - the primary (FEED_OBJECT_NAME): where changes are published. It gives them their
 *   versions, then copies them to every region's replica before it answers, and says which
 *   replicas did not store them in time (publish → PublishResult.missing). It remembers how
 *   far each replica has stored (`replicas` table) and catches a lagging one up from its own
 *   log — at the next publish, and from an alarm that retries until every replica has it.
 * - a replica (regionalName(FEED_OBJECT_NAME, region), created with that location hint):
 *   what the isolates of that region poll. It stores what the primary sends with the
 *   primary's versions (so a cursor means the same everywhere); until its first copy it
 *   answers no poll (pollers ask the primary meanwhile) and asks the primary for one.
 * - any other name (the tests' own objects): a log on its own, no replicas.
 */
import { DurableObject } from "cloudflare:workers";
import type { RateLimit } from "../keys/record";
import { ORG_RE } from "../keys/record";
import { clock } from "../lib/clock";
import { withDeadline } from "../lib/deadline";
import { link } from "./link";
import type { FeedChange, FeedEntry, FeedPage, PublishResult, Region, ReplicaBatch } from "./protocol";
import {
  FEED_OBJECT_NAME,
  FEED_PAGE_SIZE,
  FEED_RETENTION_MS,
  REGIONS,
  REPLICA_TIMEOUT_MS,
  regionalName,
} from "./protocol";

const HASH_RE = /^[0-9a-f]{64}$/;
/** Pages one catch-up sends a replica at most; a longer backlog continues at the next one. */
const CATCH_UP_PAGES = 20;
/** A lagging replica is retried after this, doubling up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;

/** The one binding the feed reads: its own namespace, to reach its replicas (or its primary). */
interface FeedEnv {
  REVOCATION_FEED?: DurableObjectNamespace<RevocationFeed>;
}

type Role = { kind: "primary" } | { kind: "replica"; region: Region } | { kind: "standalone" };

type Row = {
  version: number;
  at: number;
  kind: string;
  hash: string;
  record: string;
};

function entryOf(r: Row): FeedEntry {
  return {
    version: r.version,
    at: r.at,
    ...(r.kind === "org" || r.kind === "token" || r.kind === "legacy" ? { kind: r.kind } : {}),
    hash: r.hash,
    record: JSON.parse(r.record) as unknown,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, () => new Error(`${what} did not answer within ${ms} ms`));
}

export class RevocationFeed extends DurableObject<FeedEnv> {
  #role: Role | undefined;
  /** Primary: how far each replica has stored (its head as it last answered). */
  #acked: Map<Region, number> | undefined;
  /** Primary: catch-ups in flight, one per replica. */
  readonly #syncing = new Map<Region, Promise<boolean>>();
  #retryMs = RETRY_MIN_MS;

  constructor(ctx: DurableObjectState, env: FeedEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS changes (version INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL DEFAULT 'key', hash TEXT NOT NULL, record TEXT NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS changes_at ON changes (at)");
    // Org settings (docs/limits.md): every org with a setting, so a new isolate gets them all.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS orgs (org TEXT PRIMARY KEY, settings TEXT NOT NULL)");
    // The legacy algorithms with pending imported keys (docs/migrating.md), so a new isolate knows them.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS legacy (id INTEGER PRIMARY KEY, algorithms TEXT NOT NULL)");
    // Primary: each replica's stored head. Replica: its own head ("head"), set by each copy.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS replicas (region TEXT PRIMARY KEY, acked INTEGER NOT NULL)");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  }

  #roleOf(): Role {
    if (this.#role) return this.#role;
    const ns = this.env.REVOCATION_FEED;
    let role: Role = { kind: "standalone" };
    if (ns) {
      const id = this.ctx.id;
      if (id.equals(ns.idFromName(FEED_OBJECT_NAME))) role = { kind: "primary" };
      else {
        const region = REGIONS.find((r) => id.equals(ns.idFromName(regionalName(FEED_OBJECT_NAME, r))));
        if (region) role = { kind: "replica", region };
      }
    }
    this.#role = role;
    return role;
  }

  #meta(k: string): number | null {
    return this.ctx.storage.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  #head(): number {
    const row = this.ctx.storage.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM changes").one();
    // A replica's head is the primary's version it was last brought to (its log may be empty).
    const copied = this.#meta("head") ?? 0;
    if (row.v !== null) return Math.max(row.v, copied);
    // Empty table: AUTOINCREMENT's counter survives deletes, so read it from sqlite_sequence.
    const seq = this.ctx.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
      .toArray()[0];
    return Math.max(seq?.seq ?? 0, copied);
  }

  #oldest(): number | null {
    return this.ctx.storage.sql.exec<{ v: number | null }>("SELECT MIN(version) AS v FROM changes").one().v;
  }

  /** Whether the log still holds everything after `cursor`. */
  #continuable(cursor: number): boolean {
    const oldest = this.#oldest();
    return cursor <= this.#head() && (oldest === null || cursor >= oldest - 1);
  }

  #insert(at: number, kind: string, hash: string, record: unknown, version?: number): void {
    if (version === undefined)
      this.ctx.storage.sql.exec(
        "INSERT INTO changes (at, kind, hash, record) VALUES (?, ?, ?, ?)",
        at,
        kind,
        hash,
        JSON.stringify(record),
      );
    else
      this.ctx.storage.sql.exec(
        "INSERT OR IGNORE INTO changes (version, at, kind, hash, record) VALUES (?, ?, ?, ?, ?)",
        version,
        at,
        kind,
        hash,
        JSON.stringify(record),
      );
  }

  #setOrg(org: string, rateLimit: RateLimit | null): void {
    if (rateLimit === null) this.ctx.storage.sql.exec("DELETE FROM orgs WHERE org = ?", org);
    else
      this.ctx.storage.sql.exec(
        "INSERT OR REPLACE INTO orgs (org, settings) VALUES (?, ?)",
        org,
        JSON.stringify(rateLimit),
      );
  }

  #allOrgs(): { org: string; rate_limit: RateLimit }[] {
    return this.ctx.storage.sql
      .exec<{ org: string; settings: string }>("SELECT org, settings FROM orgs")
      .toArray()
      .map((r) => ({ org: r.org, rate_limit: JSON.parse(r.settings) as RateLimit }));
  }

  /** The legacy algorithms with pending imported keys, as last published ([] when none). */
  #legacy(): string[] {
    const row = this.ctx.storage.sql.exec<{ algorithms: string }>("SELECT algorithms FROM legacy").toArray()[0];
    return row === undefined ? [] : (JSON.parse(row.algorithms) as string[]);
  }

  #setLegacy(algorithms: string[]): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO legacy (id, algorithms) VALUES (1, ?)",
      JSON.stringify(algorithms),
    );
  }

  /**
   * Append changes; the feed's version after them, and (the primary) the regions whose
   * replica did not store them within REPLICA_TIMEOUT_MS.
   */
  async publish(changes: FeedChange[]): Promise<PublishResult> {
    const now = clock.now();
    for (const c of changes) {
      if (typeof c.hash !== "string" || !HASH_RE.test(c.hash))
        throw new Error("feed: a change must name a key hash (or a token hash)");
      if (c.kind !== undefined && c.kind !== "token") throw new Error("feed: a change is a key's or a token's");
    }
    this.ctx.storage.transactionSync(() => {
      for (const c of changes) this.#insert(now, c.kind ?? "key", c.hash, c.record);
      this.ctx.storage.sql.exec("DELETE FROM changes WHERE at < ?", now - FEED_RETENTION_MS);
    });
    return { version: this.#head(), missing: await this.#fanOut() };
  }

  /** An org's rate limit changed (null: removed); the feed's version after it, and the replicas that missed it. */
  async publishOrg(org: string, rateLimit: RateLimit | null): Promise<PublishResult> {
    if (typeof org !== "string" || !ORG_RE.test(org)) throw new Error("feed: an org change must name an org slug");
    const now = clock.now();
    this.ctx.storage.transactionSync(() => {
      this.#insert(now, "org", org, rateLimit);
      this.#setOrg(org, rateLimit);
    });
    return { version: this.#head(), missing: await this.#fanOut() };
  }

  /**
   * The legacy algorithms with pending imported keys changed (docs/migrating.md): the feed's
   * version after it, and the replicas that missed it (every replica carries them, like org
   * settings, so a new isolate of any region knows them).
   */
  async publishLegacy(algorithms: string[]): Promise<PublishResult> {
    if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === "string" && /^[a-z0-9-]{1,32}$/.test(a)))
      throw new Error("feed: legacy algorithms must be a list of algorithm names");
    this.ctx.storage.transactionSync(() => {
      this.#insert(clock.now(), "legacy", "legacy", algorithms);
      this.#setLegacy(algorithms);
    });
    return { version: this.#head(), missing: await this.#fanOut() };
  }

  /**
   * The entries after `cursor` (oldest first, at most FEED_PAGE_SIZE; `more` when there are
   * others). With no cursor (a new isolate) or a cursor the feed cannot continue (pruned
   * past it, or ahead of it: storage was reset), the entries of the last `windowMs`,
   * with `reset` set in the second case so the isolate drops everything it cached, and
   * every org's settings (`orgs`). A replica that never had its first copy, or is behind the
   * cursor, answers `behind` (its poller asks the primary) and asks the primary for a copy.
   */
  since(cursor: number | null, windowMs: number): FeedPage {
    const role = this.#roleOf();
    const head = this.#head();
    // A replica never copied, or behind a cursor its pollers got elsewhere (the primary, while it lagged).
    if (role.kind === "replica" && (this.#meta("head") === null || (cursor !== null && cursor > head))) {
      this.#askForCopy(role.region);
      return { version: head, entries: [], more: false, reset: false, behind: true };
    }
    const continuable = cursor !== null && this.#continuable(cursor);
    const rows = continuable
      ? this.ctx.storage.sql.exec<Row>(
          "SELECT version, at, kind, hash, record FROM changes WHERE version > ? ORDER BY version LIMIT ?",
          cursor,
          FEED_PAGE_SIZE + 1,
        )
      : this.ctx.storage.sql.exec<Row>(
          "SELECT version, at, kind, hash, record FROM changes WHERE kind IN ('key', 'token') AND at >= ? ORDER BY version LIMIT ?",
          clock.now() - windowMs,
          FEED_PAGE_SIZE + 1,
        );
    const all = rows.toArray();
    const more = all.length > FEED_PAGE_SIZE;
    const entries = all.slice(0, FEED_PAGE_SIZE).map(entryOf);
    const version = more ? entries[entries.length - 1]!.version : head;
    const orgs = continuable ? undefined : this.#allOrgs();
    const legacy = continuable ? undefined : this.#legacy();
    return {
      version,
      entries,
      more,
      reset: cursor !== null && !continuable,
      ...(orgs ? { orgs } : {}),
      ...(legacy ? { legacy } : {}),
    };
  }

  // ------------------------------------------------------------------ replicas (the replica's side)

  /**
   * Store what the primary sends (its versions kept). A batch continues the replica's head
   * (`from`), or replaces everything (`reset`: the replica's first copy, or one the primary's
   * log no longer continues). Returns the replica's head after it: `to` when stored, its
   * unchanged head when the batch does not continue it (the primary then resends from there).
   */
  replicate(batch: ReplicaBatch): number {
    const head = this.#meta("head");
    if (!batch.reset && batch.from !== head) return head ?? -1;
    const now = clock.now();
    this.ctx.storage.transactionSync(() => {
      if (batch.reset) {
        this.ctx.storage.sql.exec("DELETE FROM changes");
        this.ctx.storage.sql.exec("DELETE FROM orgs");
        for (const o of batch.orgs ?? []) this.#setOrg(o.org, o.rate_limit);
        this.#setLegacy(batch.legacy ?? []);
      }
      for (const e of batch.entries) {
        this.#insert(e.at, e.kind ?? "key", e.hash, e.record, e.version);
        if (e.kind === "org") this.#setOrg(e.hash, (e.record as RateLimit | null) ?? null);
        if (e.kind === "legacy" && Array.isArray(e.record)) this.#setLegacy(e.record as string[]);
      }
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('head', ?)", batch.to);
      this.ctx.storage.sql.exec("DELETE FROM changes WHERE at < ?", now - FEED_RETENTION_MS);
    });
    return batch.to;
  }

  /** A replica without its first copy asks the primary for it (in the background: its poller has gone to the primary). */
  #askForCopy(region: Region): void {
    const ns = this.env.REVOCATION_FEED;
    if (!ns) return;
    const self = regionalName(FEED_OBJECT_NAME, region);
    const head = this.#meta("head") ?? -1;
    void Promise.resolve(link.to(ns, FEED_OBJECT_NAME, self).catchUp(region, head)).catch(() => {});
  }

  // ------------------------------------------------------------------ replicas (the primary's side)

  #ackedOf(): Map<Region, number> {
    if (!this.#acked) {
      this.#acked = new Map();
      for (const r of this.ctx.storage.sql.exec<{ region: string; acked: number }>(
        "SELECT region, acked FROM replicas",
      ))
        this.#acked.set(r.region as Region, r.acked);
    }
    return this.#acked;
  }

  /** Bring every replica to the head; the regions that did not get there in time. */
  async #fanOut(): Promise<Region[]> {
    if (this.#roleOf().kind !== "primary") return [];
    const results = await Promise.all(
      REGIONS.map(async (region) => ({
        region,
        ok: await withTimeout(this.#catchUp(region), REPLICA_TIMEOUT_MS, `feed replica ${region}`).catch(() => false),
      })),
    );
    const missing = results.filter((r) => !r.ok).map((r) => r.region);
    if (missing.length > 0) await this.#scheduleRetry();
    else this.#retryMs = RETRY_MIN_MS;
    return missing;
  }

  /**
   * Bring one replica to the head (the primary only): whether it got there. `head`: where
   * the replica says it is (a replica asking for a copy: -1 when it has none), which the
   * primary takes over what it last heard (the replica may have lost its storage).
   */
  async catchUp(region: Region, head?: number): Promise<boolean> {
    if (this.#roleOf().kind !== "primary" || !REGIONS.includes(region)) return false;
    if (head !== undefined && Number.isInteger(head)) this.#ackedOf().set(region, head);
    return this.#catchUp(region);
  }

  /** One catch-up per replica at a time: a second caller shares the one in flight, then checks again. */
  #catchUp(region: Region): Promise<boolean> {
    const inflight = this.#syncing.get(region);
    if (inflight) return inflight.then(() => this.#catchUp(region));
    const p = this.#sendTo(region).finally(() => this.#syncing.delete(region));
    this.#syncing.set(region, p);
    return p;
  }

  async #sendTo(region: Region): Promise<boolean> {
    const ns = this.env.REVOCATION_FEED!;
    const stub = link.to(ns, regionalName(FEED_OBJECT_NAME, region), FEED_OBJECT_NAME);
    const acked = this.#ackedOf();
    for (let page = 0; page < CATCH_UP_PAGES; page++) {
      const head = this.#head();
      const from = acked.get(region);
      if (from === head) return true;
      const batch = this.#batchFrom(from, head);
      const stored = await stub.replicate(batch);
      acked.set(region, stored);
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO replicas (region, acked) VALUES (?, ?)", region, stored);
    }
    return acked.get(region) === this.#head();
  }

  /** What a replica at `from` (undefined: never copied) needs next: the rest of the log, or a fresh copy of all of it. */
  #batchFrom(from: number | undefined, head: number): ReplicaBatch {
    const incremental = from !== undefined && from >= 0 && this.#continuable(from);
    const rows = incremental
      ? this.ctx.storage.sql
          .exec<Row>(
            "SELECT version, at, kind, hash, record FROM changes WHERE version > ? ORDER BY version LIMIT ?",
            from,
            FEED_PAGE_SIZE + 1,
          )
          .toArray()
      : this.ctx.storage.sql
          .exec<Row>(
            "SELECT version, at, kind, hash, record FROM changes WHERE at >= ? ORDER BY version LIMIT ?",
            clock.now() - FEED_RETENTION_MS,
            FEED_PAGE_SIZE + 1,
          )
          .toArray();
    const more = rows.length > FEED_PAGE_SIZE;
    const entries = rows.slice(0, FEED_PAGE_SIZE).map(entryOf);
    const to = more ? entries[entries.length - 1]!.version : head;
    return incremental
      ? { reset: false, from: from!, to, entries }
      : { reset: true, from: null, to, entries, orgs: this.#allOrgs(), legacy: this.#legacy() };
  }

  async #scheduleRetry(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.#retryMs);
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
  }

  /** The primary's retry: every replica not at the head is caught up; still lagging ones are retried later. */
  override async alarm(): Promise<void> {
    if (this.#roleOf().kind !== "primary") return;
    const head = this.#head();
    const acked = this.#ackedOf();
    const lagging = REGIONS.filter((r) => acked.get(r) !== head);
    const results = await Promise.all(
      lagging.map((r) => withTimeout(this.#catchUp(r), REPLICA_TIMEOUT_MS, `feed replica ${r}`).catch(() => false)),
    );
    if (results.some((ok) => !ok)) await this.#scheduleRetry();
    else this.#retryMs = RETRY_MIN_MS;
  }

  /** The primary's view of its replicas: each one's stored head against the feed's (admin diagnostics and tests). */
  replicaStatus(): { version: number; replicas: Partial<Record<Region, number>> } {
    return { version: this.#head(), replicas: Object.fromEntries(this.#ackedOf()) };
  }
}
