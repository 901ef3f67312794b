/**
 * The one backend interface every verb (keys, orgs, usage, tokens) calls, and how the CLI
 * picks one from the common flags:
 * - local (default, ./local.ts): the lifecycle functions on the state `wrangler dev` reads;
 * - remote (--url URL, ./remote.ts): the admin API of a running or deployed gateway, with
 *   the token from KEYGATE_ADMIN_TOKEN.
 * Each verb hands the admin API's JSON body (or query) to the backend, so both refuse the
 * same inputs, and `--json` prints exactly the API's answer.
 */
import type { Outcome } from "../../src/keys/lifecycle";
import type { Json, Values } from "../args";
import { LOCAL_FLAGS, UsageError } from "../args";

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
  // scoped admin tokens
  tokenCreate(body: Json): Answer;
  tokenList(query: Json): Answer;
  tokenRevoke(id: string): Answer;
  close(): Promise<void>;
}

/** What a verb needs from the backend chooser: the flags, and how to name the admin token. */
export interface OpenOptions {
  /** "root admin token" for verbs only the root ADMIN_TOKEN may call. */
  tokenKind?: string;
  env?: Record<string, string | undefined>;
}

export type OpenBackend = (values: Values, opts?: OpenOptions) => Promise<Backend>;

/** The backend the flags ask for: --url → remote, otherwise local state. */
export const openBackend: OpenBackend = async (values, opts = {}) => {
  if (values.url === undefined) {
    const { localBackend } = await import("./local");
    return localBackend({
      configPath: values.config as string | undefined,
      environment: values.env as string | undefined,
      persistTo: values["persist-to"] as string | undefined,
    });
  }
  for (const local of LOCAL_FLAGS) {
    if (values[local] !== undefined) throw new UsageError(`--${local} is for local state; it cannot be combined with --url`);
  }
  const token = (opts.env ?? process.env).KEYGATE_ADMIN_TOKEN;
  if (!token) throw new UsageError(`--url needs the gateway's ${opts.tokenKind ?? "admin token"} in the KEYGATE_ADMIN_TOKEN environment variable`);
  const { remoteBackend } = await import("./remote");
  return remoteBackend(values.url as string, token);
};
