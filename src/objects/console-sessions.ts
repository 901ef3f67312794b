/**
 * The web console's server-side state, in one Durable Object (binding CONSOLE_SESSIONS,
 * one instance named SESSIONS_OBJECT_NAME, SQLite storage): its sessions, the form ids each
 * session has used, and portal links. Strongly consistent and single-threaded, so a form id
 * is used once, a portal link opens once, and ending a session (sign-out) or everything an
 * opener opened (a revoked admin token, a revoked portal link) holds at the next console
 * request everywhere. The worker side, with the cookie and timeouts, is
 * manage/console/sessions.ts;
 * docs/console.md states what it guarantees and what it costs.
 *
 * Nothing secret is stored in a form that opens anything: a session is stored under the
 * SHA-256 of its id (the cookie carries the id), a portal link under the SHA-256 of its
 * token (the URL carries the token). The principal is stored as the console gave it (JSON)
 * and given back unchanged.
 *
 * Times are the caller's (`now`, ms since epoch), like the rest of the console.
 */
import { DurableObject } from "cloudflare:workers";
import type { LinkView, NewLinkRow, NewSessionRow, SessionRow } from "./protocol";

/** How long an ended or expired session, a used or expired link and a revoked opener are kept (then pruned). */
export const SESSIONS_RETENTION_MS = 24 * 3_600_000;

const HEX64_RE = /^[0-9a-f]{64}$/;

const encoder = new TextEncoder();

/** Constant-time equality of two strings (equal lengths compared by timingSafeEqual; a length differs → false). */
function sameString(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

// Its bindings are not read (DurableObject<unknown>): nothing here imports the Env type.
export class ConsoleSessions extends DurableObject<unknown> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, principal TEXT NOT NULL, opener TEXT NOT NULL, csrf TEXT NOT NULL, back TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, ended_at INTEGER)",
    );
    sql.exec("CREATE INDEX IF NOT EXISTS sessions_opener ON sessions (opener)");
    sql.exec("CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at)");
    sql.exec(
      "CREATE TABLE IF NOT EXISTS forms (session TEXT NOT NULL, form TEXT NOT NULL, PRIMARY KEY (session, form))",
    );
    sql.exec(
      "CREATE TABLE IF NOT EXISTS links (id TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, org TEXT NOT NULL, link TEXT NOT NULL, issuer TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, revoked_at INTEGER)",
    );
    sql.exec("CREATE INDEX IF NOT EXISTS links_issuer ON links (issuer)");
    sql.exec("CREATE TABLE IF NOT EXISTS revoked (opener TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  /** Drop what can no longer open anything, a day after it stopped. */
  #prune(now: number): void {
    const before = now - SESSIONS_RETENTION_MS;
    const sql = this.ctx.storage.sql;
    sql.exec(
      "DELETE FROM forms WHERE session IN (SELECT key FROM sessions WHERE expires_at < ? OR ended_at < ?)",
      before,
      before,
    );
    sql.exec("DELETE FROM sessions WHERE expires_at < ? OR ended_at < ?", before, before);
    sql.exec("DELETE FROM links WHERE expires_at < ?", before);
    sql.exec("DELETE FROM revoked WHERE at < ?", before);
  }

  /** Store a new session; false (nothing stored) when its opener was revoked. */
  open(s: NewSessionRow, now: number): boolean {
    if (!HEX64_RE.test(s.key) || typeof s.principal !== "string" || typeof s.opener !== "string" || s.opener === "")
      throw new Error("sessions: malformed session");
    this.#prune(now);
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM revoked WHERE opener = ?", s.opener).toArray().length > 0) return false;
    sql.exec(
      "INSERT INTO sessions (key, principal, opener, csrf, back, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      s.key,
      s.principal,
      s.opener,
      s.csrf,
      s.back,
      now,
      s.expiresAt,
    );
    return true;
  }

  /**
   * The session stored under `key`, while it is neither ended nor expired; else null. For a
   * POST, `post` carries the presented CSRF token and form id: the answer says whether the
   * token is the session's, and — only then — records the form id as used, answering
   * "fresh" the first time and "used" after. One call per console request.
   */
  touch(key: string, now: number, post: { csrf: string; form: string | null } | null): SessionRow | null {
    const sql = this.ctx.storage.sql;
    const row = sql
      .exec<{ principal: string; opener: string; csrf: string; back: string | null; expires_at: number }>(
        "SELECT principal, opener, csrf, back, expires_at FROM sessions WHERE key = ? AND ended_at IS NULL AND expires_at > ?",
        key,
        now,
      )
      .toArray()[0];
    if (!row) return null;
    const out: SessionRow = {
      principal: row.principal,
      opener: row.opener,
      csrf: row.csrf,
      back: row.back,
      expiresAt: row.expires_at,
    };
    if (post === null) return out;
    out.csrfOk = typeof post.csrf === "string" && sameString(post.csrf, row.csrf);
    if (out.csrfOk && typeof post.form === "string") {
      const used = sql.exec("SELECT 1 FROM forms WHERE session = ? AND form = ?", key, post.form).toArray().length > 0;
      if (!used) sql.exec("INSERT INTO forms (session, form) VALUES (?, ?)", key, post.form);
      out.form = used ? "used" : "fresh";
    }
    return out;
  }

  /** End one session (sign-out). */
  end(key: string, now: number): void {
    this.ctx.storage.sql.exec("UPDATE sessions SET ended_at = ? WHERE key = ? AND ended_at IS NULL", now, key);
  }

  /**
   * An opener was revoked: end every session it opened and refuse the ones it would open.
   * A revoked admin token also revokes the portal links it issued (and ends their sessions).
   * Returns the number of sessions ended.
   */
  revokeOpener(opener: string, now: number): number {
    if (typeof opener !== "string" || opener === "") throw new Error("sessions: an opener is required");
    const sql = this.ctx.storage.sql;
    const openers = [opener];
    if (opener.startsWith("token:")) {
      for (const l of sql.exec<{ id: string }>("SELECT id FROM links WHERE issuer = ?", opener).toArray())
        openers.push(`portal-link:${l.id}`);
      sql.exec("UPDATE links SET revoked_at = ? WHERE issuer = ? AND revoked_at IS NULL", now, opener);
    }
    let ended = 0;
    for (const o of openers) {
      sql.exec("INSERT OR REPLACE INTO revoked (opener, at) VALUES (?, ?)", o, now);
      ended += sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sessions WHERE opener = ? AND ended_at IS NULL", o)
        .one().n;
      sql.exec("UPDATE sessions SET ended_at = ? WHERE opener = ? AND ended_at IS NULL", now, o);
    }
    return ended;
  }

  /** Store a new portal link. */
  createLink(l: NewLinkRow, now: number): void {
    if (!HEX64_RE.test(l.token) || typeof l.id !== "string" || typeof l.link !== "string")
      throw new Error("sessions: malformed portal link");
    this.#prune(now);
    this.ctx.storage.sql.exec(
      "INSERT INTO links (id, token, org, link, issuer, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      l.id,
      l.token,
      l.org,
      l.link,
      l.issuer,
      now,
      l.expiresAt,
    );
  }

  /**
   * Use a portal link: its id and the link as issued, the first time it is opened before
   * its expiry and unrevoked; null otherwise (unknown, used, expired or revoked).
   */
  takeLink(token: string, now: number): { id: string; link: string } | null {
    const sql = this.ctx.storage.sql;
    const row = sql
      .exec<{ id: string; link: string; expires_at: number; used_at: number | null; revoked_at: number | null }>(
        "SELECT id, link, expires_at, used_at, revoked_at FROM links WHERE token = ?",
        token,
      )
      .toArray()[0];
    if (!row || row.used_at !== null || row.revoked_at !== null || row.expires_at <= now) return null;
    sql.exec("UPDATE links SET used_at = ? WHERE id = ?", now, row.id);
    return { id: row.id, link: row.link };
  }

  /**
   * Revoke a portal link by id: it cannot be opened any more, and the session it opened
   * ends. `orgs`: the caller's orgs (null: every org; "*" in it: every org) — a link of
   * another org is not found. Returns the link as revoked, or null when not found.
   * Revoking a revoked link changes nothing.
   */
  revokeLink(id: string, orgs: string[] | null, now: number): LinkView | null {
    const sql = this.ctx.storage.sql;
    const row = sql
      .exec<{
        id: string;
        org: string;
        issuer: string;
        created_at: number;
        expires_at: number;
        used_at: number | null;
        revoked_at: number | null;
      }>("SELECT id, org, issuer, created_at, expires_at, used_at, revoked_at FROM links WHERE id = ?", id)
      .toArray()[0];
    if (!row || (orgs !== null && !orgs.includes("*") && !orgs.includes(row.org))) return null;
    if (row.revoked_at === null) {
      sql.exec("UPDATE links SET revoked_at = ? WHERE id = ?", now, id);
      row.revoked_at = now;
    }
    this.revokeOpener(`portal-link:${id}`, now);
    return {
      id: row.id,
      org: row.org,
      issuer: row.issuer,
      status: "revoked",
      created_at: iso(row.created_at)!,
      expires_at: iso(row.expires_at)!,
      used_at: iso(row.used_at),
      revoked_at: iso(row.revoked_at),
    };
  }
}
