/**
 * Helpers for the management core's tests (inside workerd, through the real worker, on
 * Miniflare's real KV and Durable Objects): one env with every surface on (the admin API,
 * the console, the self-service API at /api/keys, sessions), principals signed in through
 * their real flows, keys created by root through the admin API (so they carry audit
 * events), and the requests of each surface.
 */
import type { Env } from "../../../../src/env";
import type { Role } from "../../../../src/manage/principal";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, mint, send } from "../../../support/worker-helpers";
import { claims, hs256, SECRET } from "../../edge/sessions/support";
import { api, TOKEN } from "../admin/support";

export const PATH = "/api/keys";
export const UI = "/_keygate/ui";
export const SITE = "https://gateway.test";
export const SESSION_COOKIE = "__session";

/** Every surface on; `vars` on top. */
export function manageEnv(vars: Vars = {}): Env {
  return makeEnv({ ADMIN_TOKEN: TOKEN, SELF_SERVICE_PATH: PATH, SESSION_JWT_SECRET: SECRET, SESSION_COOKIE, ...vars });
}

let counter = 0;
/** An org no other test uses (KV is shared by the tests of a file). */
export function uniqueOrg(prefix = "m"): string {
  return `${prefix}-${Date.now().toString(36)}-${counter++}`;
}

export interface Answer {
  status: number;
  text: string;
  json: any;
  headers: Headers;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** A JSON request with these headers. */
export async function jsonCall(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
  e: Env,
): Promise<Answer> {
  const h = new Headers(headers);
  if (body !== undefined) h.set("content-type", "application/json");
  return answer(
    await send(path, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, e),
  );
}

/** The admin API with a bearer token. */
export const adminCall = (token: string, method: string, path: string, body: unknown, e: Env) =>
  jsonCall(method, `/_keygate${path}`, { authorization: `Bearer ${token}` }, body, e);

/** A key created by root through the admin API (with its audit event); `body` on top. */
export async function rootKey(org: string, e: Env, body: Record<string, unknown> = {}): Promise<any> {
  const r = await adminCall(TOKEN, "POST", "/keys", { orgs: [org], name: "target", scopes: ["read"], ...body }, e);
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  return r.json;
}

/** A scoped admin token for `orgs`, minted by root. */
export async function scopedToken(
  orgs: string[],
  role: "read" | "write",
  e: Env,
): Promise<{ token: string; id: string }> {
  const r = await adminCall(TOKEN, "POST", "/tokens", { name: "t", orgs, role }, e);
  if (r.status !== 201) throw new Error(`token failed: ${r.status} ${r.text}`);
  return r.json;
}

/** A session JWT (HS256) for `org` with these scopes, for user `sub`. */
export function sessionJwt(org: string, scope: string, sub = `user_${counter++}`): Promise<string> {
  return hs256(claims({ sub, org_slug: org, scope }));
}

// ---- the console ----

export interface ConsoleSession {
  cookie: string;
  csrf: string;
}

export function hidden(html: string, name: string): string | null {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m ? m[1]! : null;
}

/**
 * What a browser submits for the form posting to `action` on this page: its enabled inputs
 * (hidden ones included) and selects (the selected option, else the first), by name.
 */
export function formFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  if (start < 0) throw new Error(`no form posting to ${action}`);
  const form = html.slice(start, html.indexOf("</form>", start));
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input([^>]*)>/g)) {
    const attrs = m[1]!;
    const name = /name="([^"]*)"/.exec(attrs)?.[1];
    if (!name || /\sdisabled/.test(attrs)) continue;
    fields[name] = /value="([^"]*)"/.exec(attrs)?.[1] ?? "";
  }
  for (const m of form.matchAll(/<select([^>]*)>([\s\S]*?)<\/select>/g)) {
    const name = /name="([^"]*)"/.exec(m[1]!)?.[1];
    if (!name || /\sdisabled/.test(m[1]!)) continue;
    const options = [...m[2]!.matchAll(/<option value="([^"]*)"([^>]*)>/g)];
    fields[name] = (options.find((o) => /selected/.test(o[2]!)) ?? options[0])?.[1] ?? "";
  }
  return fields;
}

function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie");
  if (!set) throw new Error(`no session cookie (${res.status})`);
  return set.split(";")[0]!;
}

export function consoleGet(path: string, s: ConsoleSession | null, e: Env): Promise<Answer> {
  return send(path, { headers: s ? { cookie: s.cookie } : {} }, e).then(answer);
}

export function consolePost(path: string, fields: Record<string, string>, s: ConsoleSession, e: Env): Promise<Answer> {
  const headers = { "content-type": "application/x-www-form-urlencoded", origin: SITE, cookie: s.cookie };
  return send(
    path,
    { method: "POST", headers, body: new URLSearchParams({ csrf: s.csrf, ...fields }).toString() },
    e,
  ).then(answer);
}

/** A signed-in console session, through the principal's real way in. */
export async function consoleAs(
  role: Role,
  org: string,
  e: Env,
  opts: { scopes?: string } = {},
): Promise<ConsoleSession> {
  let res: Response;
  const scopes = opts.scopes ?? "read write";
  if (role === "root" || role === "token:write" || role === "token:read") {
    const token =
      role === "root" ? TOKEN : (await scopedToken([org], role === "token:write" ? "write" : "read", e)).token;
    res = await send(
      `${UI}/login`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: SITE },
        body: `token=${encodeURIComponent(token)}`,
      },
      e,
    );
  } else if (role === "session") {
    res = await send(`${UI}/session`, { headers: { cookie: `${SESSION_COOKIE}=${await sessionJwt(org, scopes)}` } }, e);
  } else if (role === "portal") {
    const link = await adminCall(TOKEN, "POST", "/portal-links", { org, scopes: scopes.split(" ") }, e);
    if (link.status !== 201) throw new Error(`portal link: ${link.status} ${link.text}`);
    res = await send(new URL(link.json.url).pathname, {}, e);
  } else throw new Error(`no console sign-in for ${role}`);
  const cookie = cookieOf(res);
  const page = await consoleGet(`${UI}/orgs`, { cookie, csrf: "" }, e);
  const csrf = hidden(page.text, "csrf");
  if (!csrf) throw new Error(`no csrf on the orgs page (${page.status})`);
  return { cookie, csrf };
}

// ---- the self-service API ----

/** The headers a self-service caller presents: a key of `org` (its record) or a session. */
export async function selfServiceAs(
  role: Role,
  org: string,
  opts: { scopes?: string[]; expires_at?: string | null } = {},
): Promise<{ headers: Record<string, string>; record?: any; key?: string }> {
  const scopes = opts.scopes ?? ["read", "write"];
  if (role === "key") {
    const minted = await mint({ orgs: [org], scopes, name: "holder", expires_at: opts.expires_at ?? null });
    return { headers: { "x-api-key": minted.key }, record: minted.record, key: minted.key };
  }
  if (role === "session")
    return { headers: { cookie: `${SESSION_COOKIE}=${await sessionJwt(org, scopes.join(" "))}` } };
  throw new Error(`no self-service caller for ${role}`);
}

export const selfServiceCall = (headers: Record<string, string>, method: string, path: string, body: unknown, e: Env) =>
  jsonCall(method, `${PATH}${path}`, headers, body, e);

/** Whether an answer names `field` among its field errors (or, a console page, in its text). */
export function names(a: Answer, field: string): boolean {
  if (a.json && Array.isArray(a.json.errors)) return a.json.errors.some((x: { field: string }) => x.field === field);
  if (a.json && typeof a.json.detail === "string") return a.json.detail.includes(`${field}:`);
  // A console page marks each field's error with the field's name.
  return a.text.includes(`data-field="${field}"`);
}

export { api, TOKEN };
