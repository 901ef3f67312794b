/**
 * Scoped admin tokens: create, list, revoke. Called by the admin API (root ADMIN_TOKEN
 * only) and by the CLI against local state, like the key operations in lifecycle.ts.
 *
 * A token has the key format (format.ts) with its own prefix, `kgt_`: 32 random base62
 * characters and a CRC32 checksum, so a mistyped or forged one is refused without a KV
 * read. Only its hash is stored (hash.ts, with KEY_PEPPER when set), under
 * `admin-token:<hash>`; the plaintext is returned once, by create.
 */

import { tokenEvent } from "../events/types";
import { logLine } from "../lib/log";
import { classifyKey, displayStart, mintKey, randomBase62 } from "./format";
import { hashKey } from "./hash";
import { validateNewToken, validateTokenQuery } from "./issue";
import type { LifecycleContext, Outcome } from "./lifecycle";
import { audit } from "./lifecycle";
import type { TokenRecord, TokenRole } from "./record";
import { TOKEN_ID_RE } from "./record";
import { BadCursor } from "./store/kv";
import { findTokenById, listTokenRecords, writeToken } from "./store/tokens";

/** The prefix of every scoped admin token (never configurable: it is how they are recognised). */
export const TOKEN_PREFIX = "kgt_";

export type TokenStatus = "active" | "expired" | "revoked";

/** A token as the API and the CLI show it: never the plaintext (except once, on creation), never the hash. */
export interface TokenView {
  id: string;
  name: string;
  token_prefix: string;
  orgs: string[];
  role: TokenRole;
  status: TokenStatus;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export type IssuedTokenView = TokenView & { token: string };

export function tokenStatusOf(r: Pick<TokenRecord, "expires_at" | "revoked_at">, now: number): TokenStatus {
  if (r.revoked_at !== null) return "revoked";
  if (r.expires_at !== null && Date.parse(r.expires_at) <= now) return "expired";
  return "active";
}

function view(r: TokenRecord, now: number): TokenView {
  return {
    id: r.id,
    name: r.name,
    token_prefix: r.start,
    orgs: r.orgs,
    role: r.role,
    status: tokenStatusOf(r, now),
    created_at: r.created_at,
    expires_at: r.expires_at,
    revoked_at: r.revoked_at,
  };
}

/** Whether a presented bearer value has a token's shape (prefix and valid checksum): only those are looked up. */
export function isTokenShaped(value: string): boolean {
  return classifyKey(value, TOKEN_PREFIX) === "minted";
}

/** A token record that authenticates at `now`: neither revoked nor expired. */
export function usableToken(record: TokenRecord | null, now: number): TokenRecord | null {
  return record !== null && tokenStatusOf(record, now) === "active" ? record : null;
}

/** POST /tokens: mint a token. The plaintext is in this answer and nowhere else, ever. */
export async function createToken(ctx: LifecycleContext, body: unknown): Promise<Outcome<IssuedTokenView>> {
  const checked = validateNewToken(body, ctx.now);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const token = mintKey(TOKEN_PREFIX);
  const hash = await hashKey(token, ctx.settings.pepper);
  const record: TokenRecord = {
    v: 1,
    id: `tok_${randomBase62(20)}`,
    name: checked.value.name,
    orgs: checked.value.orgs,
    role: checked.value.role,
    start: displayStart(token, TOKEN_PREFIX),
    created_at: new Date(ctx.now).toISOString(),
    expires_at: checked.value.expires_at,
    revoked_at: null,
  };
  await writeToken(ctx.kv, hash, record);
  ctx.purge?.(hash);
  await audit(ctx, { action: "token_create", token_id: record.id });
  await ctx.emit?.(tokenEvent("token.created", record, ctx.actor, ctx.now));
  // Best effort, like a key's creation: the token is shown once and a retry would mint
  // another. Unpublished, other isolates learn of it within NEGATIVE_CACHE_TTL_MS.
  try {
    await ctx.tokenChanged?.({ hash, record });
  } catch (err) {
    logLine("error", "revocation feed unreachable: token created, other isolates learn of it within the cache bound", {
      ...(ctx.requestId ? { request_id: ctx.requestId } : {}),
      token_id: record.id,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  return { ok: true, value: { token, ...view(record, ctx.now) } };
}

/** GET /tokens: one page of tokens (cursor paging), revoked and expired ones included. */
export async function listTokens(
  ctx: LifecycleContext,
  query: Record<string, unknown>,
): Promise<Outcome<{ tokens: TokenView[]; cursor: string | null }>> {
  const checked = validateTokenQuery(query);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  try {
    const page = await listTokenRecords(ctx.kv, checked.value.limit, checked.value.cursor);
    return { ok: true, value: { tokens: page.items.map((r) => view(r, ctx.now)), cursor: page.cursor } };
  } catch (err) {
    if (err instanceof BadCursor)
      return {
        ok: false,
        error: "invalid",
        errors: [{ field: "cursor", message: "is not a cursor this listing returned" }],
      };
    throw err;
  }
}

/**
 * DELETE /tokens/:id: revoke. The record stays (revoked_at set), so the token keeps
 * answering 401 and stays listed. `ctx.purge` drops it from the isolate's token cache: it
 * stops there at once; `ctx.tokenChanged` tells every other isolate and ends the console
 * sessions it opened (a failure there throws: the revocation is stored, the caller
 * repeats it). Revoking a revoked token changes nothing but publishes again.
 */
export async function revokeToken(ctx: LifecycleContext, id: string): Promise<Outcome<TokenView>> {
  const found = TOKEN_ID_RE.test(id) ? await findTokenById(ctx.kv, id) : null;
  if (!found) return { ok: false, error: "not_found", message: `no token with id "${id}"` };
  let record = found.record;
  if (record.revoked_at === null) {
    record = { ...record, revoked_at: new Date(ctx.now).toISOString() };
    await writeToken(ctx.kv, found.hash, record);
    ctx.purge?.(found.hash);
    await audit(ctx, { action: "token_revoke", token_id: id });
    // Also stops the webhooks this token made (objects/webhooks.ts).
    await ctx.emit?.(tokenEvent("token.revoked", record, ctx.actor, ctx.now));
  }
  await ctx.tokenChanged?.({ hash: found.hash, record });
  return { ok: true, value: view(record, ctx.now) };
}
