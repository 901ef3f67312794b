/**
 * Scoped admin tokens in the management core: mint, list, revoke (keys/token.ts does the
 * work). The authority table gives them to root alone.
 */
import type { Outcome } from "../keys/lifecycle";
import type { IssuedTokenView, TokenView } from "../keys/token";
import { createToken, listTokens, revokeToken } from "../keys/token";
import { decide } from "./authority";
import type { ManageDeps } from "./context";
import { failure, lifecycleOf } from "./context";
import type { Principal } from "./principal";

/**
 * The token operations' context: a change drops the token from this isolate's token cache,
 * is published on the revocation feed, and a revocation ends the console sessions the token
 * opened (tokenChanged).
 */
function tokenContext(deps: ManageDeps, p: Principal) {
  const { purge: _keys, publish: _feed, ...ctx } = lifecycleOf(deps, p);
  return {
    ...ctx,
    ...(deps.purgeToken ? { purge: deps.purgeToken } : {}),
    ...(deps.tokenChanged ? { tokenChanged: deps.tokenChanged } : {}),
  };
}

export async function tokenCreate(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<IssuedTokenView>> {
  const d = decide(p, "token_create");
  return d.ok ? createToken(tokenContext(deps, p), body) : failure(d);
}

export async function tokenList(
  deps: ManageDeps,
  p: Principal,
  query: Record<string, unknown>,
): Promise<Outcome<{ tokens: TokenView[]; cursor: string | null }>> {
  const d = decide(p, "token_list");
  return d.ok ? listTokens(tokenContext(deps, p), query) : failure(d);
}

export async function tokenRevoke(deps: ManageDeps, p: Principal, id: string): Promise<Outcome<TokenView>> {
  const d = decide(p, "token_revoke");
  return d.ok ? revokeToken(tokenContext(deps, p), id) : failure(d);
}
