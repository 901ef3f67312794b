/**
 * The worker's side of the console's server-side state (objects/console-sessions.ts): one object for
 * the account, addressed by name, each call bounded by SESSIONS_TIMEOUT_MS. Any failure —
 * no binding, the object unreachable or slow — is a SessionStoreFault, which the console
 * and the admin API answer 503: without the store nothing is let in (fail closed).
 *
 * What a console request waits for: one call to the object (`touch`), wherever in the
 * world the object lives (one location for the account: ~10–300 ms by distance). Signing
 * in, opening a portal link or a user's session: one more (`open`, and `takeLink` first for
 * a link). Signing out: one more (`end`).
 */
import { StoreFault } from "../../keys/store/kv";
import type { ConsoleSessions } from "../../objects/console-sessions";
import type { LinkView, NewLinkRow, NewSessionRow, SessionRow } from "../../objects/protocol";
import { SESSIONS_OBJECT_NAME } from "../../objects/protocol";

/** Bound on a call to the object. */
export const SESSIONS_TIMEOUT_MS = 5_000;

type Namespace = DurableObjectNamespace<ConsoleSessions> | undefined;

/** The console's session store failed or is not configured: answered 503, nothing let in. */
export class SessionStoreFault extends StoreFault {
  override name = "SessionStoreFault";
}

async function call<T>(
  ns: Namespace,
  what: string,
  op: (stub: DurableObjectStub<ConsoleSessions>) => Promise<unknown>,
): Promise<T> {
  if (!ns) throw new SessionStoreFault("no CONSOLE_SESSIONS binding: the console's sessions need it (wrangler.toml)");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`did not answer within ${SESSIONS_TIMEOUT_MS} ms`)),
        SESSIONS_TIMEOUT_MS,
      );
    });
    return (await Promise.race([op(ns.get(ns.idFromName(SESSIONS_OBJECT_NAME))), timeout])) as T;
  } catch (err) {
    throw new SessionStoreFault(`console sessions ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export function openSessionRow(ns: Namespace, row: NewSessionRow, now: number): Promise<boolean> {
  return call(ns, "open", (s) => Promise.resolve(s.open(row, now)));
}

export function touchSession(
  ns: Namespace,
  key: string,
  now: number,
  post: { csrf: string; form: string | null } | null,
): Promise<SessionRow | null> {
  return call(ns, "touch", (s) => Promise.resolve(s.touch(key, now, post)));
}

export function endSession(ns: Namespace, key: string, now: number): Promise<void> {
  return call(ns, "end", (s) => Promise.resolve(s.end(key, now)));
}

/** End every session `opener` opened ("token:<id>", "portal-link:<id>") and refuse new ones. */
export function revokeOpener(ns: Namespace, opener: string, now: number): Promise<number> {
  return call(ns, "revoke", (s) => Promise.resolve(s.revokeOpener(opener, now)));
}

export function createLinkRow(ns: Namespace, row: NewLinkRow, now: number): Promise<void> {
  return call(ns, "link create", (s) => Promise.resolve(s.createLink(row, now)));
}

export function takeLinkRow(
  ns: Namespace,
  tokenHash: string,
  now: number,
): Promise<{ id: string; link: string } | null> {
  return call(ns, "link use", (s) => Promise.resolve(s.takeLink(tokenHash, now)));
}

export function revokeLinkRow(ns: Namespace, id: string, orgs: string[] | null, now: number): Promise<LinkView | null> {
  return call(ns, "link revoke", (s) => Promise.resolve(s.revokeLink(id, orgs, now)));
}
