/**
 * Helpers for the self-service API tests (inside workerd, through the real worker, against
 * Miniflare's real KV and the real test origin).
 */
import type { Env } from "../../../../src/env";
import type { OriginCall, Vars } from "../../../support/worker-helpers";
import { makeEnv, mint, originCalls, probe, send } from "../../../support/worker-helpers";

export const PATH = "/api/keys";

/** An env with the self-service API at /api/keys (plus `vars`). */
export function ssEnv(vars: Vars = {}): Env {
  return makeEnv({ SELF_SERVICE_PATH: PATH, ...vars });
}

export interface Call {
  /** Sent as X-API-Key unless `headers` says otherwise. */
  key?: string;
  headers?: Record<string, string>;
  body?: unknown;
  env?: Env;
}

export interface Answer {
  res: Response;
  text: string;
  json: any;
  /** What the origin received for this request (tagged with a fresh x-probe). */
  calls: OriginCall[];
}

/** One request through the gateway; returns the answer and what the origin saw of it. */
export async function call(method: string, path: string, opts: Call = {}): Promise<Answer> {
  const id = probe();
  const headers = new Headers(opts.headers);
  if (opts.key !== undefined) headers.set("x-api-key", opts.key);
  headers.set("x-probe", id);
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const res = await send(path, { method, headers, ...(body !== undefined ? { body } : {}) }, opts.env ?? ssEnv());
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res, text, json, calls: await originCalls(id) };
}

let orgCounter = 0;
/** An org no other test uses (KV is shared by the tests of a file). */
export function uniqueOrg(): string {
  return `ss-${Date.now().toString(36)}-${orgCounter++}`;
}

/** A key of `org` (default: a fresh org) minted straight into KV. */
export async function holder(opts: { org?: string; orgs?: string[]; scopes?: string[]; name?: string } = {}) {
  const orgs = opts.orgs ?? [opts.org ?? uniqueOrg()];
  const minted = await mint({ orgs, scopes: opts.scopes ?? [], name: opts.name ?? "holder" });
  return { ...minted, org: orgs[0]! };
}
