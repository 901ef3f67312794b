/**
 * Helpers for the admin API tests (inside workerd, against Miniflare's real KV and the
 * real origin through the real worker).
 */
import { env } from "cloudflare:test";
import type { Env } from "../../../../src/env";
import type { KvLike } from "../../../../src/keys/store/kv";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, send } from "../../../support/worker-helpers";

/** A root ADMIN_TOKEN of the accepted shape; audit events name its uses "root". */
export const TOKEN = "test-admin-token-0123456789abcdef0123456789";

/** The admin API's 401, byte for byte: an RFC 9457 problem. */
export const PROBLEM_401 = {
  type: "about:blank",
  title: "Unauthorized",
  status: 401,
  detail: "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>).",
  code: "admin_unauthorized",
};

/** An env with the admin API on (plus `vars`). */
export function adminEnv(vars: Vars = {}): Env {
  return makeEnv({ ADMIN_TOKEN: TOKEN, ...vars });
}

export interface AdminCall {
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
  env?: Env;
}

/** Call the admin API through the real worker; returns the response and its parsed JSON. */
export async function api(method: string, path: string, call: AdminCall = {}): Promise<{ res: Response; json: any }> {
  const headers = new Headers(call.headers);
  const token = call.token === undefined ? TOKEN : call.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  let body: string | undefined;
  if (call.body !== undefined) {
    body = typeof call.body === "string" ? call.body : JSON.stringify(call.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const res = await send(path, { method, headers, ...(body !== undefined ? { body } : {}) }, call.env ?? adminEnv());
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { res, json };
}

/** Create a key through the admin API; fails the test when it is not created. */
export async function createViaApi(body: Record<string, unknown> = {}, e?: Env): Promise<any> {
  const { res, json } = await api("POST", "/_keygate/keys", {
    body: { orgs: [uniqueOrg()], ...body },
    ...(e ? { env: e } : {}),
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

let orgCounter = 0;
/** An org no other test uses (KV is shared by the tests of a file). */
export function uniqueOrg(): string {
  return `org-${Date.now().toString(36)}-${orgCounter++}`;
}

export interface CountingKv extends KvLike {
  puts: string[];
  gets: string[];
  lists: string[];
}

/** The real KV binding, with every put/get/list name recorded (a wrapper, not a fake). */
export function countingKv(real: KVNamespace = env.KEYS): KVNamespace & CountingKv {
  const puts: string[] = [];
  const gets: string[] = [];
  const lists: string[] = [];
  const wrapper = {
    puts,
    gets,
    lists,
    get: (key: string, options?: unknown) => {
      gets.push(key);
      return real.get(key, options as never);
    },
    getWithMetadata: (key: string, options?: unknown) => {
      gets.push(key);
      return real.getWithMetadata(key, options as never);
    },
    put: (key: string, value: string, options?: KVNamespacePutOptions) => {
      puts.push(key);
      return real.put(key, value, options);
    },
    delete: (key: string) => real.delete(key),
    list: (options?: KVNamespaceListOptions) => {
      lists.push(options?.prefix ?? "");
      return real.list(options);
    },
  };
  return wrapper as unknown as KVNamespace & CountingKv;
}

/** Mint a scoped admin token through the admin API (root); fails the test when it is not created. */
export async function mintToken(
  body: Record<string, unknown>,
  e?: Env,
): Promise<{ token: string; id: string; [k: string]: unknown }> {
  const { res, json } = await api("POST", "/_keygate/tokens", {
    body: { name: "test", ...body },
    ...(e ? { env: e } : {}),
  });
  if (res.status !== 201) throw new Error(`token create failed: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
