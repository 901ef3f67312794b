/**
 * The remote backend (--url URL): the admin API of a running or deployed gateway, with the
 * token given (KEYGATE_ADMIN_TOKEN). The gateway runs the same lifecycle functions as the
 * local backend; its answers come back as the same Outcomes.
 */

import { DEFAULTS } from "../../src/config/variables";
import type { FieldError } from "../../src/keys/issue";
import { ADMIN_REALM } from "../../src/manage/admin/prefix";
import type { Json } from "../args";
import { Refused, UsageError } from "../args";
import type { Answer, Backend } from "./backend";

/** The admin API's base URL: the gateway's URL plus ADMIN_PREFIX's default, or the URL given when it has a path. */
export function adminBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: "${url}" is not an absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new UsageError("--url: must be http:// or https://");
  if (parsed.search || parsed.hash) throw new UsageError("--url: must not have a query or fragment");
  const path = parsed.pathname.replace(/\/+$/, "");
  return parsed.origin + (path === "" ? DEFAULTS.ADMIN_PREFIX : path);
}

/** `?a=1&b=2` from the defined fields of a query, or "". */
export function queryString(query: Json): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}

export function remoteBackend(url: string, token: string, timeoutMs = 30_000): Backend {
  const base = adminBase(url);
  async function call(method: string, path: string, body?: Json): Answer {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new Refused(`cannot reach ${base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      /* not JSON: described below */
    }
    if (res.ok) return { ok: true, value: parsed };
    const detail = typeof parsed.detail === "string" ? parsed.detail : text.slice(0, 200);
    const tokens = path.startsWith("/tokens");
    if (res.status === 400 && Array.isArray(parsed.errors))
      return { ok: false, error: "invalid", errors: parsed.errors as FieldError[] };
    if (res.status === 401) {
      // The admin API's 401 names its own realm; any other 401 is the gateway answering a
      // path that is not its admin API (a wrong --url path: the token was taken for a key).
      if ((res.headers.get("www-authenticate") ?? "").includes(`realm="${ADMIN_REALM}"`))
        throw new Refused("the gateway refused the admin token (401): check KEYGATE_ADMIN_TOKEN");
      throw new Refused(
        `${base} is not keygate's admin API (its 401 is the gateway's answer to an API request): is --url right? ` +
          "Give the gateway's address, or the full admin prefix when ADMIN_PREFIX is not /_keygate",
      );
    }
    // Only the root ADMIN_TOKEN may manage tokens.
    if (res.status === 403 && tokens)
      throw new Refused(`the gateway refused (403): ${detail} KEYGATE_ADMIN_TOKEN must be the root ADMIN_TOKEN`);
    if (res.status === 404) {
      // One named key or token not found; otherwise the gateway answers 404 for the whole
      // prefix when its admin API is off.
      const one =
        (path.startsWith("/keys/") && method !== "POST") ||
        path.startsWith("/tokens/") ||
        path.startsWith("/webhooks/");
      const why = one ? "" : " (is the admin API on? set the ADMIN_TOKEN secret on the gateway; is --url right?)";
      return { ok: false, error: "not_found", message: `not found${why}` };
    }
    if (res.status === 409) return { ok: false, error: "conflict", message: detail };
    // A leak report that needs more than one request: done in part, to be sent again (cli/verbs/leaked.ts).
    if (res.status === 503 && path === "/leaks") return { ok: false, error: "unavailable", message: detail };
    throw new Refused(`the gateway answered ${res.status}: ${detail}`);
  }
  const id = (key: string) => encodeURIComponent(key);
  return {
    create: (body) => call("POST", "/keys", body),
    import: (body) => call("POST", "/keys/import", body),
    list: (query) => call("GET", `/keys${queryString(query)}`),
    show: (key) => call("GET", `/keys/${id(key)}`),
    update: (key, body) => call("PATCH", `/keys/${id(key)}`, body),
    revoke: (key) => call("DELETE", `/keys/${id(key)}`),
    rotate: (key, body) => call("POST", `/keys/${id(key)}/rotate`, body),
    audit: (query) => call("GET", `/audit${queryString(query)}`),
    orgShow: (org) => call("GET", `/orgs/${id(org)}`),
    orgSet: (org, body) => call("PUT", `/orgs/${id(org)}`, body),
    usage: (query) => call("GET", `/usage${queryString(query)}`),
    importMany: (items) => call("POST", "/keys/import", items as unknown as Json),
    migration: (query) => call("GET", `/migration${queryString(query)}`),
    shadow: (query) => call("GET", `/shadow${queryString(query)}`),
    tokenCreate: (body) => call("POST", "/tokens", body),
    tokenList: (query) => call("GET", `/tokens${queryString(query)}`),
    tokenRevoke: (tok) => call("DELETE", `/tokens/${id(tok)}`),
    webhookCreate: (body) => call("POST", "/webhooks", body),
    webhookList: () => call("GET", "/webhooks"),
    webhookRemove: (hook) => call("DELETE", `/webhooks/${id(hook)}`),
    webhookTest: (hook) => call("POST", `/webhooks/${id(hook)}/test`),
    webhookDeliveries: (hook, query) => call("GET", `/webhooks/${id(hook)}/deliveries${queryString(query)}`),
    leaked: (body) => call("POST", "/leaks", body),
    // No admin API mints sessions: a deployed gateway's come from its identity provider (cli/verbs/session.ts refuses --url first).
    signSession: async () => {
      throw new Refused("a gateway's admin API does not sign sessions: `npm run keys -- session` works on local state");
    },
    close: async () => {},
  };
}
