/**
 * Helpers for the leak intake's tests (inside workerd, through the real worker): a locally
 * generated P-256 key pair stands in for GitHub's secret scanning key — the test origin
 * (scripts/origin.ts, started by test/global-setup.ts) publishes its public half in GitHub's
 * `public_keys` shape and signs reports with its private half exactly as GitHub does (Node's
 * OpenSSL: ECDSA P-256, SHA-256, DER, base64), so the gateway's verification is checked
 * against an independent signer. Each test reads its own key set (a unique `set` name: its
 * own URL, so its own cache entry in the gateway).
 */
import { env } from "cloudflare:test";
import type { Env } from "../../../../src/env";
import type { KeyRecord } from "../../../../src/keys/record";
import { kvKey } from "../../../../src/keys/store/kv";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, ORIGIN, send } from "../../../support/worker-helpers";
import { TOKEN } from "../admin/support";

/** LEAK_REPORT_TOKEN of the accepted shape (≠ ADMIN_TOKEN). */
export const LEAK_TOKEN = "test-leak-report-token-0123456789abcdefghij";

export interface GithubKey {
  identifier: string;
  publicKeyPem: string;
  listed: boolean;
}

export const GITHUB_KEYS: GithubKey[] = JSON.parse(env.TEST_GITHUB_KEYS);
/** Published in the origin's default key set. */
export const LISTED = GITHUB_KEYS.find((k) => k.listed)!;
/** Held by the origin, published nowhere until a test puts it in its set. */
export const UNLISTED = GITHUB_KEYS.find((k) => !k.listed)!;

let sets = 0;
/** A key set of its own (the origin serves the listed keys for any set not PUT). */
export function keySet(): string {
  return `set-${Date.now().toString(36)}-${sets++}`;
}

export const keysUrl = (set: string) => `${ORIGIN}/__origin/github/public_keys?set=${set}`;

/** Replace the key set `set` the origin publishes (a key rotation at GitHub). */
export async function publishKeys(set: string, keys: GithubKey[]): Promise<void> {
  const body = {
    public_keys: keys.map((k, i) => ({ key_identifier: k.identifier, key: k.publicKeyPem, is_current: i === 0 })),
  };
  const res = await fetch(keysUrl(set), { method: "PUT", body: JSON.stringify(body) });
  if (res.status !== 204) throw new Error(`publishing keys failed: ${res.status}`);
}

/** The admin API and the leak intake on, GitHub's keys read from `set` (plus `vars`). */
export function leaksEnv(set = keySet(), vars: Vars = {}): Env {
  return makeEnv({
    ADMIN_TOKEN: TOKEN,
    LEAK_REPORT_TOKEN: LEAK_TOKEN,
    GITHUB_SECRET_SCANNING_KEYS_URL: keysUrl(set),
    ...vars,
  });
}

/** `body` signed as GitHub signs a report, with the origin's key `identifier`: base64 DER. */
export async function githubSign(body: string, identifier = LISTED.identifier): Promise<string> {
  const res = await fetch(`${ORIGIN}/__origin/github/sign?key=${identifier}`, { method: "POST", body });
  if (res.status !== 200) throw new Error(`signing failed: ${res.status}`);
  return ((await res.json()) as { signature: string }).signature;
}

export interface Match {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

/** GitHub's payload for `matches` (its own key order), as the raw body GitHub signs. */
export function githubBody(matches: Match[]): string {
  return JSON.stringify(
    matches.map((m) => ({
      token: m.token,
      type: m.type ?? "keygate_api_key",
      url: m.url ?? "https://github.com/octo/app/blob/5f3c2a1/config.js",
      source: m.source ?? "commit",
    })),
  );
}

/** POST {ADMIN_PREFIX}/leaks/github: `body` with `headers` (the signature headers, or anything else). */
export function postGithub(body: string, headers: Record<string, string>, e: Env): Promise<Response> {
  return send(
    "/_keygate/leaks/github",
    {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    },
    e,
  );
}

/** A report of `matches`, signed by `identifier` (the listed key by default), as GitHub sends it. */
export async function githubReport(matches: Match[], e: Env, identifier = LISTED.identifier): Promise<Response> {
  const body = githubBody(matches);
  return postGithub(
    body,
    { "github-public-key-identifier": identifier, "github-public-key-signature": await githubSign(body, identifier) },
    e,
  );
}

/** The stored record of a key (straight from KV). */
export async function recordOf(hash: string): Promise<KeyRecord> {
  return (await env.KEYS.get(kvKey.record(hash), { type: "json" })) as KeyRecord;
}

/** A gateway request with `key` (x-api-key, the default profile's header): its status. */
export async function statusWith(key: string, e: Env): Promise<number> {
  return (await send("/v1/things", { headers: { "x-api-key": key } }, e)).status;
}

/** Lowercase hex SHA-256 of `text`: what GitHub's feedback calls token_hash. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A JSON call to the leak intake with these headers. */
export async function leakCall(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
  e: Env,
): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const h = new Headers(headers);
  if (body !== undefined) h.set("content-type", "application/json");
  const res = await send(
    `/_keygate/leaks${path}`,
    {
      method,
      headers: h,
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    },
    e,
  );
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
