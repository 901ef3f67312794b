/**
 * Helpers for the console's tests inside workerd: a browser's requests to the console (on
 * the gateway's host under /_keygate/ui, or at the root of CONSOLE_HOST), through the real
 * worker, with its cookie and its forms.
 */
import { expect } from "vitest";
import type { Env } from "../../../../src/env";
import { send } from "../../../support/worker-helpers";
import { adminEnv, TOKEN } from "../admin/support";

/** The console's base URL on the gateway's host (no CONSOLE_HOST). */
export const UI = "https://gateway.test/_keygate/ui";

/** What a browser sends from a console page at `base` (its Origin), with an optional cookie. */
export function get(url: string, cookie: string | null, e: Env): Promise<Response> {
  return send(url, { headers: cookie ? { cookie } : {} }, e);
}

export function post(
  url: string,
  fields: Record<string, string>,
  cookie: string | null,
  e: Env,
  origin = new URL(url).origin,
): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", origin };
  if (cookie) headers.cookie = cookie;
  return send(url, { method: "POST", headers, body: new URLSearchParams(fields).toString() }, e);
}

/** The cookie a response sets, as a request Cookie header value. */
export function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie");
  expect(set, "a Set-Cookie header").not.toBeNull();
  return set!.split(";")[0]!;
}

export function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  expect(m, `hidden field ${name}`).not.toBeNull();
  return m![1]!;
}

export interface Signed {
  cookie: string;
  csrf: string;
}

/** Sign in at the console `base` with `token`: the session cookie and its CSRF token. */
export async function signIn(base: string, e: Env = adminEnv(), token = TOKEN): Promise<Signed> {
  const res = await post(`${base}/login`, { token }, null, e);
  expect(res.status, "sign-in").toBe(303);
  const cookie = cookieOf(res);
  const page = await get(`${base}/orgs`, cookie, e);
  return { cookie, csrf: hidden(await page.text(), "csrf") };
}

/** The create form's fields for `org`, as the page at `base` issues them (its one-time form id included). */
export async function createForm(
  base: string,
  s: Signed,
  org: string,
  e: Env,
  name = "ci",
): Promise<Record<string, string>> {
  const html = await (await get(`${base}/new?org=${org}`, s.cookie, e)).text();
  return {
    csrf: s.csrf,
    form_id: hidden(html, "form_id"),
    name,
    org,
    scopes: "read",
    expires: "",
    rate_limit: "",
    rate_period: "60",
  };
}

/** The key shown on a show-once page. */
export function keyIn(html: string): string {
  const m = /id="key-value">([^<]+)<\/code>/.exec(html);
  if (!m) throw new Error(`no key on the page:\n${html.slice(0, 3000)}`);
  return m[1]!;
}
