/**
 * The one backend interface every verb (keys, orgs, usage, tokens) calls (how the CLI
 * picks one from the common flags: open.ts):
 * - local (default, ./local.ts): the management core on the state `wrangler dev` reads;
 * - remote (--url URL, ./remote.ts): the admin API of a running or deployed gateway, with
 *   the token from KEYGATE_ADMIN_TOKEN.
 * (verbs: keys, orgs, usage, tokens, webhooks) Each verb hands the admin API's JSON body (or query) to the backend, so both refuse the
 * same inputs, and `--json` prints exactly the API's answer.
 */
import type { Outcome } from "../../src/keys/lifecycle";
import type { Json, Values } from "../args";

export type Answer = Promise<Outcome<Json>>;

export interface Backend {
  // keys
  create(body: Json): Answer;
  import(body: Json): Answer;
  list(query: Json): Answer;
  show(id: string): Answer;
  update(id: string, body: Json): Answer;
  revoke(id: string): Answer;
  rotate(id: string, body: Json): Answer;
  audit(query: Json): Answer;
  // orgs and usage
  orgShow(org: string): Answer;
  orgSet(org: string, body: Json): Answer;
  usage(query: Json): Answer;
  // migration (docs/migrating.md): a batch of imports, the imports' progress, the shadow report
  importMany(items: Json[]): Answer;
  migration(query: Json): Answer;
  shadow(query: Json): Answer;
  // scoped admin tokens
  tokenCreate(body: Json): Answer;
  tokenList(query: Json): Answer;
  tokenRevoke(id: string): Answer;
  // webhooks
  webhookCreate(body: Json): Answer;
  webhookList(): Answer;
  webhookRemove(id: string): Answer;
  webhookTest(id: string): Answer;
  webhookDeliveries(id: string, query: Json): Answer;
  // leaked keys (POST /leaks)
  leaked(body: Json): Answer;
  // a session JWT for local use (local state only: signed with the local SESSION_JWT_SECRET)
  signSession(claims: Json): Answer;
  close(): Promise<void>;
}

/** What a verb needs from the backend chooser: the flags, and how to name the admin token. */
export interface OpenOptions {
  /** "root admin token" for verbs only the root ADMIN_TOKEN may call. */
  tokenKind?: string;
  env?: Record<string, string | undefined>;
}

export type OpenBackend = (values: Values, opts?: OpenOptions) => Promise<Backend>;
