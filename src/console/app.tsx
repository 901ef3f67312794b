/** @jsxImportSource hono/jsx */
/**
 * The web console, served under {ADMIN_PREFIX}/ui (src/app.ts mounts it before the admin
 * API). Server-rendered pages and plain HTML forms; the only script is the copy button.
 * Every key operation goes through keys/lifecycle.ts, exactly as the admin API's.
 *
 *   GET  /login, POST /login, POST /logout      sign in with an admin token (session cookie)
 *   GET  /portal/:token                         a portal link: a session limited to one org
 *   GET  /session                               the same, for a user signed in to the API
 *                                               (a verified session JWT: docs/sessions.md)
 *   GET  /orgs?q=                               organizations (search)
 *   GET  /orgs/:org?q=&status=&cursor=          an org's keys, filters in the URL
 *   GET  /new?org=, POST /keys                  create → show-once page
 *   GET  /keys/:id                              detail + audit timeline
 *   POST /keys/:id/enable|disable|rotate|revoke
 *   GET  /assets/<version>/console.css|js       the only assets (immutable)
 *
 * Security: off unless ADMIN_TOKEN is set (the profile's 404, like the admin API);
 * hono/csrf (Origin / Sec-Fetch-Site) on every POST plus the session's CSRF token in a
 * hidden field; a strict CSP; `Cache-Control: no-store` on every page; a key appears only
 * in the body of the POST response that created it (never in a URL, a cookie or a log);
 * failed sign-ins and bad portal links count against the management side's per-IP
 * failure budget (abuse/auth-failures.ts: apart from the gateway's).
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { blockedFor, clientKey, recordFailure } from "../abuse/auth-failures";
import { resolveToken } from "../admin/tokens";
import type { AppEnv } from "../app-env";
import { isolateOf } from "../gateway/isolate";
import { clock } from "../clock";
import type { Config } from "../config";
import { reject } from "../gateway";
import type { KeyView, LifecycleContext } from "../keys/lifecycle";
import { auditEvents, createKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../keys/lifecycle";
import { ORG_RE } from "../keys/record";
import { findTokenById, searchOrgs, StoreFault, takePortalLink } from "../keys/store";
import { FeedUnavailable, publisherFor } from "../revocation/publish";
import { usableToken } from "../keys/token";
import type { KvLike } from "../keys/store";
import { logLine } from "../log";
import { normalizedPathOf } from "../routes/normalize";
import { ASSET_VERSION, CONSOLE_CSS, CONSOLE_JS } from "./assets";
import { hashPortalToken } from "./portal";
import type { Principal } from "./principal";
import { actorOf, canRead, canReadKey, canWrite, canWriteAny, canWriteKey, orgsOf } from "./principal";
import type { Session } from "./session";
import { cookieSpec, markUsed, newSession, openSession, readCookie, sameSecret, sealSession, SESSION_SECONDS, setCookieHeader } from "./session";
import type { Chrome, NewKeyValues } from "./views";
import { KeyDetailPage, KeysPage, LoginPage, MessagePage, NewKeyPage, OrgsPage, RedirectPage, ShowOncePage, STATUSES } from "./views";
import { JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "../auth/session";
import { readUsage } from "../admin/usage";
import { limitBody } from "../http/body";
import { validateUsageQuery } from "../usage/query";
import type { UsageDay } from "./views";

type CEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & { session: Session } };
type Ctx = Context<CEnv>;

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const MAX_FORM_BYTES = 16 * 1024;

/**
 * The principal an admin token signs in as, or null. Root: ADMIN_TOKEN (constant-time);
 * else an org-scoped admin token, by the admin API's own lookup (admin/tokens.ts).
 */
async function principalForToken(kv: KvLike, config: Config, token: string): Promise<Principal | null> {
  if (config.admin.token !== null && (await sameSecret(token, config.admin.token))) return { kind: "root" };
  return resolveToken(token, { kv, config, now: clock.now() });
}

/**
 * A token principal as it stands now: its record re-read by id on every console request,
 * so revoking or expiring the token ends its console sessions at once, and a role or org
 * change applies at the next page. Null when the token no longer authenticates.
 */
async function currentPrincipal(kv: KvLike, p: Principal): Promise<Principal | null> {
  if (p.kind !== "token") return p;
  const found = await findTokenById(kv, p.id);
  const usable = usableToken(found?.record ?? null, clock.now());
  return usable === null ? null : { kind: "token", id: usable.id, orgs: usable.orgs, role: usable.role };
}

function base(c: Ctx): string {
  return `${c.get("config").admin.prefix}/ui`;
}

function chrome(c: Ctx): Chrome {
  const session = c.get("session") as Session | undefined;
  return { base: base(c), ...(session ? { principal: session.p, csrf: session.csrf, ...(session.back ? { back: session.back } : {}) } : {}) };
}

function home(c: Ctx, p: Principal): string {
  const limited = orgsOf(p);
  return limited && limited.length === 1 ? `${base(c)}/orgs/${limited[0]}` : `${base(c)}/orgs`;
}

async function setSessionCookie(c: Ctx, s: Session): Promise<void> {
  const spec = cookieSpec(c.req.url, base(c));
  const value = await sealSession(s, c.get("config").admin.token!);
  c.header("set-cookie", setCookieHeader(spec, value, (s.exp - clock.now()) / 1000));
}

async function lifecycle(c: Ctx): Promise<LifecycleContext> {
  const config = c.get("config");
  return {
    kv: c.env.KEYS,
    settings: { prefix: config.keyPrefix, ...(config.pepper ? { pepper: config.pepper } : {}) },
    actor: actorOf(c.get("session").p),
    // Defence in depth: the lifecycle enforces the principal's orgs too (canRead/canWrite decide the pages).
    ...(orgsOf(c.get("session").p) ? { scope: orgsOf(c.get("session").p)! } : {}),
    now: clock.now(),
    requestId: c.get("requestId"),
    purge: (hash) => isolateOf(c.env, config.cache.maxEntries).cache.delete(hash),
    // Every isolate learns of the change through the revocation feed (docs/revocation.md).
    ...publisherFor(c.env.REVOCATION_FEED),
  };
}

function message(c: Ctx, status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 429 | 500 | 503, title: string, text: string, link?: { href: string; label: string }) {
  return c.html(<MessagePage chrome={chrome(c)} title={title} message={text} {...(link ? { link } : {})} />, status);
}

const notFound = (c: Ctx) => message(c, 404, "Not found", "There is nothing here, or this session may not see it.", { href: `${base(c)}/`, label: "Go to the console" });
const forbidden = (c: Ctx) => message(c, 403, "Not allowed", "This session may not change that.", { href: `${base(c)}/`, label: "Go to the console" });

async function form(c: Ctx): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v;
  return out;
}

/** The client's failure-budget identity (the management side's budget); answers 429 when it is over budget. */
function blocked(c: Ctx): Response | null {
  const client = clientKey(c.req.header("cf-connecting-ip") ?? null);
  const wait = client === null ? 0 : blockedFor(isolateOf(c.env, c.get("config").cache.maxEntries).managementBlocked, client, clock.now());
  if (wait === 0) return null;
  c.header("retry-after", String(wait));
  c.get("log").reason = "auth_failures";
  return message(c, 429, "Too many attempts", "Too many failed sign-in attempts from this address. Try again later.") as Response;
}

/** Count a failed sign-in / portal link; 429 when that puts the client over budget. */
async function failure(c: Ctx): Promise<Response | null> {
  const client = clientKey(c.req.header("cf-connecting-ip") ?? null);
  if (client === null) return null;
  const wait = await recordFailure(
    isolateOf(c.env, c.get("config").cache.maxEntries).managementBlocked,
    c.env.AUTH_FAILURE_LIMITER,
    client,
    clock.now(),
    c.get("config").authFailureBlockSeconds,
    (cause) => logLine("error", "auth failure limiter unavailable", { request_id: c.get("requestId"), cause }),
    "management",
  );
  if (wait === 0) return null;
  c.header("retry-after", String(wait));
  return message(c, 429, "Too many attempts", "Too many failed sign-in attempts from this address. Try again later.") as Response;
}

/** The `curl` line that uses a key against this gateway, in the profile's scheme. */
export function curlLine(config: Config, origin: string, key: string, org: string): string {
  const src = config.sources[0]!;
  const parts = [`curl ${origin}/`];
  if (src.kind === "basic") parts.push(`-u '${key}:'`);
  else if (src.kind === "bearer") parts.push(`-H 'Authorization: Bearer ${key}'`);
  else parts.push(`-H '${config.profile === "argus" && src.name === "x-api-key" ? "X-API-Key" : src.name}: ${key}'`);
  if (config.orgSource === "header") parts.push(`-H '${config.headers.org}: ${org}'`);
  return parts.join(" ");
}

const consoleApp = new Hono<CEnv>();
/** What src/app.ts mounts at ADMIN_MOUNT + "/ui" (its own variables are a superset of AppEnv's). */
export const consoleRoutes = consoleApp as unknown as Hono<AppEnv>;

consoleApp.use(async function consoleGate(c, next) {
  const config = c.get("config");
  const log = c.get("log");
  const normalized = normalizedPathOf(c.req.raw);
  log.path = normalized.ok ? normalized.path.replace(/\/portal\/[^/]+$/, "/portal/(token)") : "(invalid)";
  log.route = "(console)";
  // Off: like the rest of the admin prefix, the profile's 404; never forwarded.
  if (config.admin.token === null) return reject(c as unknown as Context<AppEnv>, "not_found", { reason: "admin_disabled" });
  log.outcome = "admin";
  await next();
  const h = c.res.headers;
  if (!h.has("cache-control")) h.set("cache-control", "no-store");
  h.set("content-security-policy", CONSOLE_CSP);
  h.set("x-frame-options", "DENY");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  h.set("x-request-id", c.get("requestId"));
});

consoleApp.use(csrf());
consoleApp.use(limitBody<CEnv>(MAX_FORM_BYTES, (c) => message(c, 413, "Too large", "The form was too large.")));

const ASSET_CACHE = "public, max-age=31536000, immutable";
consoleApp.get(`/assets/${ASSET_VERSION}/console.css`, (c) => c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": ASSET_CACHE }));
consoleApp.get(`/assets/${ASSET_VERSION}/console.js`, (c) => c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": ASSET_CACHE }));

consoleApp.get("/login", (c) => c.html(<LoginPage chrome={chrome(c)} />));

consoleApp.post("/login", async (c) => {
  const over = blocked(c);
  if (over) return over;
  const token = (await form(c)).token ?? "";
  const principal = token === "" ? null : await principalForToken(c.env.KEYS, c.get("config"), token);
  if (!principal) {
    c.get("log").reason = "console_login_failed";
    const tooMany = await failure(c);
    if (tooMany) return tooMany;
    return c.html(<LoginPage chrome={chrome(c)} error="That token is not valid." />, 401);
  }
  await setSessionCookie(c, newSession(principal, clock.now()));
  return c.redirect(home(c, principal), 303);
});

consoleApp.get("/portal/:token", async (c) => {
  const over = blocked(c);
  if (over) return over;
  const token = c.req.param("token");
  const link = /^[A-Za-z0-9_-]{43}$/.test(token) ? await takePortalLink(c.env.KEYS, await hashPortalToken(token)) : null;
  if (link === null || Date.parse(link.expires_at) <= clock.now() || !ORG_RE.test(link.org)) {
    c.get("log").reason = "portal_link_invalid";
    const tooMany = await failure(c);
    if (tooMany) return tooMany;
    return message(c, 410, "Link expired", "This link has expired or was already used. Open the API keys page again from your app to get a new one.");
  }
  const session = newSession({ kind: "portal", org: link.org }, clock.now(), link.return_url);
  await setSessionCookie(c, session);
  const to = `${base(c)}/orgs/${link.org}`;
  // A page, not a redirect: a SameSite=Strict cookie set during a cross-site navigation is
  // sent only on the next same-site one (this page's refresh or link).
  return c.html(<RedirectPage chrome={{ base: base(c) }} to={to} label={`Open the API keys of ${link.org}`} />);
});

/**
 * A user signed in to the API itself (a session JWT in SESSION_COOKIE, or Bearer) opens
 * their own org's key page directly, as with a portal link: the console session is limited
 * to the session's org, changes are audited as session:<sub>, and SELF_SERVICE_SCOPE, when
 * set, is required here too (the same people who may manage keys over the API).
 */
consoleApp.get("/session", async (c) => {
  const config = c.get("config");
  if (config.session === null) return message(c, 404, "Not available", "Sign-in with an account session is not configured on this gateway.");
  const over = blocked(c);
  if (over) return over;
  const token = sessionTokenOf(c.req.raw.headers, config.session);
  const verdict = token === null ? null : await verifySession(token, config.session, clock.now());
  if (verdict?.kind === "invalid" && verdict.reason === JWKS_UNAVAILABLE) {
    return message(c, 503, "Unavailable", "Your session cannot be checked right now. Try again in a moment.");
  }
  if (verdict === null || verdict.kind !== "ok") {
    c.get("log").reason = "console_session_invalid";
    if (verdict !== null) {
      const tooMany = await failure(c);
      if (tooMany) return tooMany;
    }
    return c.html(<LoginPage chrome={chrome(c)} error="No valid account session was found: sign in to your account first, or use an admin token." />, 401);
  }
  const required = config.selfService?.scope ?? null;
  if (required !== null && !verdict.scopes.includes(required)) {
    c.get("log").reason = "console_session_scope";
    return message(c, 403, "Not allowed", "Your account may not manage API keys.");
  }
  await setSessionCookie(c, newSession({ kind: "portal", org: verdict.org, sub: verdict.sub }, clock.now()));
  const to = `${base(c)}/orgs/${verdict.org}`;
  return c.html(<RedirectPage chrome={{ base: base(c) }} to={to} label={`Open the API keys of ${verdict.org}`} />);
});

// Everything below needs a session; every POST below also needs its CSRF token.
consoleApp.use(async function requireSession(c, next) {
  const config = c.get("config");
  const spec = cookieSpec(c.req.url, base(c));
  const opened = await openSession(readCookie(c.req.header("cookie") ?? null, spec.name), config.admin.token!, clock.now());
  const principal = opened ? await currentPrincipal(c.env.KEYS, opened.p) : null;
  const session = opened && principal ? { ...opened, p: principal } : null;
  if (!session) {
    if (c.req.method === "GET" || c.req.method === "HEAD") return c.redirect(`${base(c)}/login`, 303);
    return c.html(<LoginPage chrome={chrome(c)} error="Your session has ended: sign in again." />, 401);
  }
  c.set("session", session);
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    const sent = (await form(c)).csrf;
    if (typeof sent !== "string" || !(await sameSecret(sent, session.csrf))) {
      c.get("log").reason = "csrf";
      return message(c, 403, "Form expired", "This form is no longer valid. Go back, reload the page and try again.");
    }
  }
  await next();
});

consoleApp.get("/", (c) => c.redirect(home(c, c.get("session").p), 303));

consoleApp.post("/logout", (c) => {
  c.header("set-cookie", setCookieHeader(cookieSpec(c.req.url, base(c)), "", 0));
  return c.redirect(`${base(c)}/login`, 303);
});


consoleApp.get("/orgs", async (c) => {
  const p = c.get("session").p;
  const q = (c.req.query("q") ?? "").trim();
  const limited = orgsOf(p);
  if (limited) {
    const orgs = limited.filter((o) => o.startsWith(q) && canRead(p, o));
    return c.html(<OrgsPage chrome={chrome(c)} q={q} orgs={orgs} more={false} limited={true} exact={null} />);
  }
  const searchable = q === "" || ORG_RE.test(q);
  const found = searchable ? await searchOrgs(c.env.KEYS, q) : { orgs: [], more: false };
  const exact = q !== "" && ORG_RE.test(q) && !found.orgs.includes(q) ? q : null;
  return c.html(<OrgsPage chrome={chrome(c)} q={q} orgs={found.orgs} more={found.more} limited={false} exact={exact} />);
});

consoleApp.get("/orgs/:org", async (c) => {
  const p = c.get("session").p;
  const org = c.req.param("org");
  if (!ORG_RE.test(org) || !canRead(p, org)) return notFound(c);
  const status = STATUSES.includes(c.req.query("status") as (typeof STATUSES)[number]) ? c.req.query("status")! : "";
  const q = (c.req.query("q") ?? "").trim();
  const cursor = c.req.query("cursor");
  const listed = await listKeys(await lifecycle(c), { org, limit: "1000", ...(cursor ? { cursor } : {}) });
  if (!listed.ok) return message(c, 400, "Bad request", "That page of the listing does not exist.", { href: `${base(c)}/orgs/${org}`, label: "First page" });
  const needle = q.toLowerCase();
  const keys = listed.value.keys.filter(
    (k) => (status === "" || k.status === status) && (needle === "" || k.name.toLowerCase().includes(needle) || k.key_prefix.toLowerCase().startsWith(needle) || k.id === q),
  );
  keys.sort((a, b) => b.created_at.localeCompare(a.created_at));
  const params = new URLSearchParams({ ...(q ? { q } : {}), ...(status ? { status } : {}) });
  const next = listed.value.cursor ? `${base(c)}/orgs/${org}?${new URLSearchParams([...params, ["cursor", listed.value.cursor]])}` : null;
  return c.html(<KeysPage chrome={chrome(c)} org={org} keys={keys} status={status} q={q} next={next} writable={canWrite(p, org)} />);
});

/** Where a principal may create keys: a fixed list, or null for any org (a text field). */
function orgChoices(p: Principal): string[] | null {
  const limited = orgsOf(p);
  return limited ? limited.filter((o) => canWrite(p, o)) : null;
}

consoleApp.get("/new", (c) => {
  const p = c.get("session").p;
  if (!canWriteAny(p)) return forbidden(c);
  const values: NewKeyValues = { name: "", org: c.req.query("org") ?? "", scopes: "", expires: "", rate_limit: "", rate_period: "60" };
  return c.html(<NewKeyPage chrome={chrome(c)} values={values} orgChoices={orgChoices(p)} formId={crypto.randomUUID()} />);
});

/** A one-time form id (create, rotate): null when missing or already used in this session. */
function freshFormId(session: Session, body: Record<string, string>): string | null | "used" {
  const id = body.form_id;
  if (typeof id !== "string" || !/^[0-9a-f-]{36}$/.test(id)) return null;
  return session.used.includes(id) ? "used" : id;
}

function showOnce(c: Ctx, title: string, key: string, view: KeyView, note?: string) {
  const org = view.orgs[0]!;
  const curl = curlLine(c.get("config"), new URL(c.req.url).origin, key, org);
  return c.html(<ShowOncePage chrome={chrome(c)} title={title} secret={key} view={view} curl={curl} org={org} {...(note ? { note } : {})} />, 201);
}

function alreadySubmitted(c: Ctx, href: string) {
  return message(c, 409, "Already submitted", "This form was already submitted. A new key is shown only once, right after it is created: it cannot be shown again.", {
    href,
    label: "Back to the keys",
  });
}

consoleApp.post("/keys", async (c) => {
  const session = c.get("session");
  const body = await form(c);
  const formId = freshFormId(session, body);
  const org = (body.org ?? "").trim();
  if (formId === null) return message(c, 400, "Bad request", "The form is incomplete: reload it and try again.");
  if (formId === "used") return alreadySubmitted(c, ORG_RE.test(org) && canRead(session.p, org) ? `${base(c)}/orgs/${org}` : `${base(c)}/`);
  if (ORG_RE.test(org) ? !canWrite(session.p, org) : !canWriteAny(session.p)) return forbidden(c);
  const values: NewKeyValues = {
    name: body.name ?? "",
    org,
    scopes: body.scopes ?? "",
    expires: body.expires ?? "",
    rate_limit: (body.rate_limit ?? "").trim(),
    rate_period: body.rate_period ?? "60",
  };
  const ctx = await lifecycle(c);
  const days = values.expires === "" ? null : Number(values.expires);
  const input = {
    name: values.name.trim(),
    orgs: [org],
    scopes: values.scopes.split(/[\s,]+/).filter(Boolean),
    expires_at: days === null ? null : Number.isFinite(days) ? new Date(ctx.now + days * 86_400_000).toISOString() : values.expires,
    ...(values.rate_limit ? { rate_limit: { limit: Number(values.rate_limit), period_seconds: Number(values.rate_period) } } : {}),
  };
  const outcome = await createKey(ctx, input);
  if (!outcome.ok) {
    const errors: Record<string, string> = {};
    if (outcome.error === "invalid") for (const e of outcome.errors) errors[e.field] ??= e.message;
    return c.html(<NewKeyPage chrome={chrome(c)} values={values} orgChoices={orgChoices(session.p)} formId={formId} errors={errors} />, 400);
  }
  c.get("log").key_id = outcome.value.id;
  const { key, ...view } = outcome.value;
  await setSessionCookie(c, markUsed(session, formId));
  return showOnce(c, "Your new API key", key, view);
});

/** The key, when this session may see it (else null: answered 404, like a key that does not exist). */
async function visibleKey(c: Ctx, id: string): Promise<KeyView | null> {
  const shown = await showKey(await lifecycle(c), id);
  return shown.ok && canReadKey(c.get("session").p, shown.value) ? shown.value : null;
}

/**
 * A key's requests per day over the last 7 days, summed over the orgs of the key this
 * principal may read (usage is kept per org: admin/usage.ts). Null when usage is not
 * recorded here (no USAGE_STORE binding) or cannot be read now: the page says so.
 */
async function keyUsage(c: Ctx, k: KeyView): Promise<UsageDay[] | null> {
  const ns = c.env.USAGE_STORE;
  if (!ns) return null;
  const now = clock.now();
  const days = new Map<string, UsageDay>();
  try {
    for (const org of k.orgs.filter((o) => canRead(c.get("session").p, o))) {
      const q = validateUsageQuery({ org, key: k.id, from: new Date(now - 7 * 86_400_000).toISOString(), granularity: "day" }, now);
      if (!q.ok) continue;
      for (const b of (await readUsage(ns, q.value)).series) {
        const day = days.get(b.start) ?? { start: b.start, requests: 0, forwarded: 0, rejected: 0 };
        day.requests += b.requests;
        day.forwarded += b.forwarded;
        day.rejected += b.rejected;
        days.set(b.start, day);
      }
    }
  } catch (err) {
    logLine("warn", "usage unreadable for the console", { request_id: c.get("requestId"), key_id: k.id, cause: err instanceof Error ? err.message : String(err) });
    return null;
  }
  return [...days.values()].sort((a, b) => a.start.localeCompare(b.start));
}

async function detail(c: Ctx, k: KeyView, status: 200 | 400 = 200, error?: string) {
  const [events, usage] = await Promise.all([auditEvents(await lifecycle(c), { key_id: k.id, limit: "100" }), keyUsage(c, k)]);
  return c.html(
    <KeyDetailPage
      chrome={chrome(c)}
      k={k}
      usage={usage}
      events={events.ok ? events.value.events : []}
      writable={canWriteKey(c.get("session").p, k)}
      formId={crypto.randomUUID()}
      {...(error ? { error } : {})}
    />,
    status,
  );
}

consoleApp.get("/keys/:id", async (c) => {
  const k = await visibleKey(c, c.req.param("id"));
  c.get("log").key_id = c.req.param("id");
  return k ? detail(c, k) : notFound(c);
});

for (const action of ["enable", "disable"] as const) {
  consoleApp.post(`/keys/:id/${action}`, async (c) => {
    const id = c.req.param("id");
    c.get("log").key_id = id;
    const k = await visibleKey(c, id);
    if (!k) return notFound(c);
    if (!canWriteKey(c.get("session").p, k)) return forbidden(c);
    const outcome = await updateKey(await lifecycle(c), id, { enabled: action === "enable" });
    if (!outcome.ok) return message(c, 409, "Not changed", outcome.error === "invalid" ? outcome.errors.map((e) => e.message).join("; ") : outcome.message);
    return c.redirect(`${base(c)}/keys/${id}`, 303);
  });
}

consoleApp.post("/keys/:id/rotate", async (c) => {
  const id = c.req.param("id");
  c.get("log").key_id = id;
  const session = c.get("session");
  const k = await visibleKey(c, id);
  if (!k) return notFound(c);
  if (!canWriteKey(session.p, k)) return forbidden(c);
  const body = await form(c);
  const formId = freshFormId(session, body);
  if (formId === null) return message(c, 400, "Bad request", "The form is incomplete: reload it and try again.");
  if (formId === "used") return alreadySubmitted(c, `${base(c)}/keys/${id}`);
  const grace = /^\d{1,8}$/.test(body.grace_seconds ?? "") ? Number(body.grace_seconds) : -1;
  const outcome = await rotateKey(await lifecycle(c), id, { grace_seconds: grace });
  if (!outcome.ok) return detail(c, k, 400, outcome.error === "invalid" ? outcome.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : outcome.message);
  const { key, previous, ...view } = outcome.value;
  await setSessionCookie(c, markUsed(session, formId));
  const note = grace === 0 ? `The previous key (${previous.key_prefix}…) stopped working now.` : `The previous key (${previous.key_prefix}…) keeps working until ${previous.expires_at}.`;
  return showOnce(c, "Your rotated API key", key, view, note);
});

consoleApp.post("/keys/:id/revoke", async (c) => {
  const id = c.req.param("id");
  c.get("log").key_id = id;
  const k = await visibleKey(c, id);
  if (!k) return notFound(c);
  if (!canWriteKey(c.get("session").p, k)) return forbidden(c);
  const confirm = ((await form(c)).confirm ?? "").trim();
  if (confirm !== k.key_prefix) return detail(c, k, 400, `Not revoked: type the key's prefix, ${k.key_prefix}, to confirm.`);
  await revokeKey(await lifecycle(c), id);
  return c.redirect(`${base(c)}/keys/${id}`, 303);
});

consoleApp.all("*", (c) => notFound(c));

consoleApp.onError((err, c) => {
  if (err instanceof HTTPException) {
    if (err.status === 403) {
      c.get("log").reason = "csrf_origin";
      return message(c, 403, "Refused", "This form was sent from another site.");
    }
    if (err.status === 413) return message(c, 413, "Too large", "The form was too large.");
    return message(c, 400, "Bad request", "The request could not be read.");
  }
  if (err instanceof StoreFault) {
    logLine("error", "key store failure (console)", { request_id: c.get("requestId"), cause: err.message });
    return message(c, 503, "Unavailable", "The key store is unavailable. Try again in a moment.");
  }
  if (err instanceof FeedUnavailable) {
    logLine("error", "revocation feed unreachable: change stored, not yet published (console)", { request_id: c.get("requestId"), cause: err.message });
    return message(c, 503, "Not yet everywhere", "The change is saved, but other locations could not be told yet. Repeat it in a moment to make it take effect everywhere.");
  }
  logLine("error", "unhandled error (console)", { request_id: c.get("requestId"), error: err instanceof Error ? err.message : String(err) });
  return message(c, 500, "Error", "Something went wrong.");
});
