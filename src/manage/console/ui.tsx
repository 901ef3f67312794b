/** @jsxImportSource hono/jsx */
/**
 * The web console, served under {ADMIN_PREFIX}/ui — or, with CONSOLE_HOST set, at the root
 * of that host and nowhere else (src/manage/app.ts routes it). Server-rendered pages and plain
 * HTML forms; the only script is the copy button. Paths below are relative to that base.
 * Every operation is the management core's (src/manage/), exactly as the admin API's and
 * the self-service API's: this app parses forms and renders pages; what the signed-in
 * principal may do — and which buttons and fields it is shown — is the authority table's
 * (manage/authority.ts).
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
 *   GET  /migration?org=                        report mode's verdict in one line, the imports' progress
 *   GET  /webhooks, POST /webhooks             webhooks: list, add → the secret, shown once
 *   GET  /webhooks/:id                          a webhook and its delivery attempts
 *   POST /webhooks/:id/test|remove
 *   GET  /assets/<version>/console.css|js       the only assets (immutable)
 *
 * Security: off unless ADMIN_TOKEN is set (the profile's 404, like the admin API);
 * hono/csrf (Origin / Sec-Fetch-Site) on every POST plus the session's CSRF token in a
 * hidden field; a strict CSP; `Cache-Control: no-store` on every page; a key appears only
 * in the body of the POST response that created it (never in a URL, a cookie or a log);
 * failed sign-ins and bad portal links count against the management side's per-IP
 * failure budget (edge/abuse/auth-failures.ts: apart from the gateway's).
 *
 * Sessions are server-side (manage/console/sessions.ts, one call to the store per request): the
 * cookie carries only a session id. Signing out ends the session for every copy of the
 * cookie; revoking the admin token or the portal link that opened a session ends it; a
 * session opened by a user's JWT (/session) ends at the JWT's `exp`; create and rotate
 * forms carry a one-time id that the store accepts once.
 */
import { Hono } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { curlCredentialArgs } from "../../config/client";
import type { Config } from "../../config/config";
import { blockedFor, clientKey, recordFailure } from "../../edge/abuse/auth-failures";
import { JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "../../edge/auth/session";
import type { IsolateState } from "../../edge/gateway/isolate";
import { isolateOf } from "../../edge/gateway/isolate";
import { normalizedPathOf } from "../../edge/routes/normalize";
import { EVENT_TYPES } from "../../events/types";
import type { KeyView } from "../../keys/fields";
import type { Outcome } from "../../keys/lifecycle";
import { ORG_RE } from "../../keys/record";
import type { KvLike } from "../../keys/store/kv";
import { actor, StoreFault } from "../../keys/store/kv";
import { searchOrgs } from "../../keys/store/listings";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import { callerOf, resolveTokenRecord } from "../admin/tokens";
import { may, mayName } from "../authority";
import type { ManageDeps } from "../context";
import { limitBody } from "../http/body";
import type { AppEnv, Ctx } from "../http/context";
import { reject } from "../http/context";
import { auditEvents, createKey, listKeys, revokeKey, rotateKey, setEnabled, showKey } from "../keys";
import { migrationStatus, shadowReport } from "../migration";
import { usage as readOrgUsage } from "../orgs";
import { hashPortalToken, readPortalLink } from "../portal";
import type { Principal } from "../principal";
import { isPrincipal, orgsOf } from "../principal";
import { FeedUnavailable } from "../publish";
import { digestHex, randomToken } from "../secret";
import { webhookCreate, webhookDelete, webhookDeliveries, webhookList, webhookTest } from "../webhooks";
import { workerDeps } from "../worker";
import { ASSET_VERSION, CONSOLE_CSS, CONSOLE_JS, FAVICON_SVG } from "./assets";
import type { UsageBucketView, UsageCharts } from "./chart";
import type { Session } from "./cookie";
import { cookieSpec, openCookie, readCookie, SESSION_SECONDS, sameSecret, sealCookie, setCookieHeader } from "./cookie";
import { endSession, openSessionRow, SessionStoreFault, takeLinkRow, touchSession } from "./sessions";
import type { Chrome, NewHookValues, NewKeyForm, NewKeyValues, Section } from "./views";
import {
  KeyDetailPage,
  KeysPage,
  LoginPage,
  MessagePage,
  MigrationPage,
  NewKeyPage,
  OrgsPage,
  RedirectPage,
  ShowOncePage,
  STATUSES,
  WebhookCreatedPage,
  WebhookPage,
  WebhooksPage,
} from "./views";
import { plainFieldErrors, plainFieldMessage } from "./words";

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const MAX_FORM_BYTES = 16 * 1024;

/** A session about to be opened: who, what opened it (sessions-object.ts `opener`), until when at most. */
interface Opening {
  principal: Principal;
  opener: string;
  /** ms since epoch, or null: the console's own SESSION_SECONDS only. */
  until: number | null;
}

/**
 * What an admin token signs in as, or null. Root: ADMIN_TOKEN (constant-time); else an
 * org-scoped admin token, by the admin API's own lookup (manage/admin/tokens.ts), whose session
 * ends with the token (its expiry; its revocation ends it in the store).
 */
async function tokenOpening(kv: KvLike, isolate: IsolateState, config: Config, token: string): Promise<Opening | null> {
  if (config.admin.token !== null && (await sameSecret(token, config.admin.token)))
    return { principal: { kind: "root" }, opener: actor.root, until: null };
  const record = await resolveTokenRecord(token, { kv, config, now: clock.now(), isolate });
  if (record === null) return null;
  return {
    principal: callerOf(record),
    opener: actor.token(record.id),
    until: record.expires_at === null ? null : Date.parse(record.expires_at),
  };
}

/** The console's base path: "" on CONSOLE_HOST (its root), else "{ADMIN_PREFIX}/ui". */
function base(c: Ctx): string {
  const config = c.get("config");
  return config.consoleHost !== null ? "" : `${config.admin.prefix}/ui`;
}

/** The page's chrome; `org`: the organization the page is about (the nav's "Create key" is for it). */
function chrome(c: Ctx, org?: string): Chrome {
  const session = c.get("session") as Session | undefined;
  // One host with the API (no CONSOLE_HOST): operators are told of the same-origin risk.
  const sameOrigin =
    c.get("config").consoleHost === null && session?.p.kind !== "portal" && session?.p.kind !== "session";
  return {
    base: base(c),
    ...(sameOrigin ? { sameOrigin } : {}),
    ...(org ? { org } : {}),
    ...(session ? { principal: session.p, csrf: session.csrf, ...(session.back ? { back: session.back } : {}) } : {}),
  };
}

function home(c: Ctx, p: Principal): string {
  const limited = orgsOf(p);
  return limited && limited.length === 1 ? `${base(c)}/orgs/${limited[0]}` : `${base(c)}/orgs`;
}

/**
 * Open a console session for `o` (in the store, then the cookie): at most SESSION_SECONDS,
 * never past `o.until`. False when nothing was opened: the opener is revoked, or its end
 * has already come.
 */
async function startSession(c: Ctx, o: Opening, back?: string): Promise<boolean> {
  const now = clock.now();
  const exp = Math.min(now + SESSION_SECONDS * 1000, o.until ?? Infinity);
  if (exp <= now) return false;
  const id = randomToken();
  const opened = await openSessionRow(
    c.env.CONSOLE_SESSIONS,
    {
      key: await digestHex(id),
      principal: JSON.stringify(o.principal),
      opener: o.opener,
      csrf: randomToken(),
      back: back ?? null,
      expiresAt: exp,
    },
    now,
  );
  if (!opened) return false;
  const value = await sealCookie(id, exp, c.get("config").admin.token!);
  c.header("set-cookie", setCookieHeader(cookieSpec(c.req.url, base(c)), value, (exp - now) / 1000));
  return true;
}

/** What the management core runs with for this request (manage/worker.ts), and who asks. */
function core(c: Ctx): [ManageDeps, Principal] {
  return [workerDeps(c.env, c.get("config"), c.get("requestId"), c.req.url), c.get("session").p];
}

function message(
  c: Ctx,
  status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 429 | 500 | 503,
  title: string,
  text: string,
  link?: { href: string; label: string },
) {
  return c.html(<MessagePage chrome={chrome(c)} title={title} message={text} {...(link ? { link } : {})} />, status);
}

const notFound = (c: Ctx) =>
  message(c, 404, "Not found", "There is nothing here, or this session may not see it.", {
    href: `${base(c)}/`,
    label: "Go to the console",
  });
const forbidden = (c: Ctx, why = "This session may not change that.") =>
  message(c, 403, "Not allowed", why, { href: `${base(c)}/`, label: "Go to the console" });

/** An operation that did not happen, as a page (not found, refused, conflict, bounds, unavailable). */
function failed(c: Ctx, outcome: Exclude<Outcome<unknown>, { ok: true }>) {
  switch (outcome.error) {
    case "not_found":
      return notFound(c);
    case "forbidden":
      return forbidden(c, outcome.message);
    case "rate_limited":
      c.header("retry-after", String(outcome.retryAfter));
      return message(c, 429, "Too many keys", outcome.message);
    case "unavailable":
      return message(c, 503, "Unavailable", outcome.message);
    case "conflict":
      return message(c, 409, "Not changed", outcome.message);
    case "invalid":
      return message(c, 400, "Bad request", plainFieldErrors(outcome.errors));
  }
}

async function form(c: Ctx): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v;
  return out;
}

/** The client's failure-budget identity (the management side's budget); answers 429 when it is over budget. */
function blocked(c: Ctx): Response | null {
  const client = clientKey(c.req.header("cf-connecting-ip") ?? null);
  const wait =
    client === null
      ? 0
      : blockedFor(isolateOf(c.env, c.get("config").cache.maxEntries).managementBlocked, client, clock.now());
  if (wait === 0) return null;
  c.header("retry-after", String(wait));
  c.get("log").reason = "auth_failures";
  return message(
    c,
    429,
    "Too many attempts",
    "Too many failed sign-in attempts from this address. Try again later.",
  ) as Response;
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
  return message(
    c,
    429,
    "Too many attempts",
    "Too many failed sign-in attempts from this address. Try again later.",
  ) as Response;
}

/** The `curl` line that uses a key against this gateway, in the profile's scheme (config/client.ts). */
export function curlLine(config: Config, origin: string, key: string, org: string): string {
  return [`curl ${origin}/`, ...curlCredentialArgs(config, key, org)].join(" ");
}

/** The web console's routes: manage/app.ts mounts them for `{ADMIN_PREFIX}/ui`, or the whole of CONSOLE_HOST. */
export const consoleApp = new Hono<AppEnv>();

consoleApp.use(async function consoleGate(c, next) {
  const config = c.get("config");
  const log = c.get("log");
  const normalized = normalizedPathOf(c.req.raw);
  log.path = normalized.ok ? normalized.path.replace(/\/portal\/[^/]+$/, "/portal/(token)") : "(invalid)";
  log.route = "(console)";
  // Off: like the rest of the admin prefix, the profile's 404; never forwarded.
  if (config.admin.token === null) return reject(c, "not_found", { reason: "admin_disabled" });
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
consoleApp.use(limitBody<AppEnv>(MAX_FORM_BYTES, (c) => message(c, 413, "Too large", "The form was too large.")));

const ASSET_CACHE = "public, max-age=31536000, immutable";
consoleApp.get(`/assets/${ASSET_VERSION}/console.css`, (c) =>
  c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": ASSET_CACHE }),
);
consoleApp.get(`/assets/${ASSET_VERSION}/console.js`, (c) =>
  c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": ASSET_CACHE }),
);
// Named by every page (<link rel="icon">): a browser asks for no /favicon.ico, which on the
// API's host would go through the gateway and be logged as a 401.
consoleApp.get(`/assets/${ASSET_VERSION}/favicon.svg`, (c) =>
  c.body(FAVICON_SVG, 200, { "content-type": "image/svg+xml", "cache-control": ASSET_CACHE }),
);

consoleApp.get("/login", (c) => c.html(<LoginPage chrome={chrome(c)} />));

consoleApp.post("/login", async (c) => {
  const over = blocked(c);
  if (over) return over;
  const token = (await form(c)).token ?? "";
  const config = c.get("config");
  const opening =
    token === "" ? null : await tokenOpening(c.env.KEYS, isolateOf(c.env, config.cache.maxEntries), config, token);
  // A token revoked a moment ago may still read as valid in this location's KV: the
  // session store, told of every revocation, refuses to open a session for it.
  if (!opening || !(await startSession(c, opening))) {
    c.get("log").reason = "console_login_failed";
    const tooMany = await failure(c);
    if (tooMany) return tooMany;
    return c.html(<LoginPage chrome={chrome(c)} error="That token is not valid." />, 401);
  }
  return c.redirect(home(c, opening.principal), 303);
});

consoleApp.get("/portal/:token", async (c) => {
  const over = blocked(c);
  if (over) return over;
  const token = c.req.param("token");
  // Taken in the session store: once, before its expiry, unless revoked (manage/portal.ts).
  const taken = /^[A-Za-z0-9_-]{43}$/.test(token)
    ? await takeLinkRow(c.env.CONSOLE_SESSIONS, await hashPortalToken(token), clock.now())
    : null;
  const link = taken === null ? null : readPortalLink(taken.link);
  // The link's scope ceiling comes with it (none when its issuer set none).
  const opened =
    link !== null && Date.parse(link.expires_at) > clock.now() && ORG_RE.test(link.org)
      ? await startSession(
          c,
          {
            principal: { kind: "portal", org: link.org, scopes: link.scopes ?? null },
            opener: `portal-link:${taken!.id}`,
            until: null,
          },
          link.return_url,
        )
      : false;
  if (!opened) {
    c.get("log").reason = "portal_link_invalid";
    const tooMany = await failure(c);
    if (tooMany) return tooMany;
    return message(
      c,
      410,
      "Link expired",
      "This link has expired or was already used. Open the API keys page again from your app to get a new one.",
    );
  }
  const to = `${base(c)}/orgs/${link!.org}`;
  // A page, not a redirect: a SameSite=Strict cookie set during a cross-site navigation is
  // sent only on the next same-site one (this page's refresh or link).
  return c.html(<RedirectPage chrome={{ base: base(c) }} to={to} label={`Open the API keys of ${link!.org}`} />);
});

/**
 * A user signed in to the API itself (a session JWT in SESSION_COOKIE, or Bearer) opens
 * their own org's key page directly, as with a portal link: the console session is limited
 * to the session's org, ends at the JWT's `exp` (at most SESSION_SECONDS), changes are
 * audited as session:<sub>, and SELF_SERVICE_SCOPE, when set, is required here too (the
 * same people who may manage keys over the API).
 */
consoleApp.get("/session", async (c) => {
  const config = c.get("config");
  if (config.session === null)
    return message(c, 404, "Not available", "Sign-in with an account session is not configured on this gateway.");
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
    return c.html(
      <LoginPage
        chrome={chrome(c)}
        error="No valid account session was found: sign in to your account first, or use an admin token."
      />,
      401,
    );
  }
  const required = config.selfService?.scope ?? null;
  if (required !== null && !verdict.scopes.includes(required)) {
    c.get("log").reason = "console_session_scope";
    return message(c, 403, "Not allowed", "Your account may not manage API keys.");
  }
  // A session principal: the JWT's user, org and scopes (its scopes are its ceiling here too).
  const opening: Opening = {
    principal: { kind: "session", sub: verdict.sub, org: verdict.org, scopes: verdict.scopes },
    opener: actor.session(verdict.sub),
    until: verdict.exp * 1000,
  };
  if (!(await startSession(c, opening))) {
    c.get("log").reason = "console_session_invalid";
    return c.html(
      <LoginPage chrome={chrome(c)} error="Your account session has ended: sign in to your account again." />,
      401,
    );
  }
  const to = `${base(c)}/orgs/${verdict.org}`;
  return c.html(<RedirectPage chrome={{ base: base(c) }} to={to} label={`Open the API keys of ${verdict.org}`} />);
});

/** A form's one-time id, when it has one's shape (a UUID, as the pages issue them). */
function formIdOf(body: Record<string, string>): string | null {
  const id = body.form_id;
  return typeof id === "string" && /^[0-9a-f-]{36}$/.test(id) ? id : null;
}

// Everything below needs a session; every POST below also needs its CSRF token. One call
// to the session store: the session (ended, expired or unknown: none), and for a POST the
// CSRF check and the claim of its one-time form id (create, rotate), in one step.
consoleApp.use(async function requireSession(c, next) {
  const config = c.get("config");
  const now = clock.now();
  const post = c.req.method !== "GET" && c.req.method !== "HEAD";
  const cookie = await openCookie(
    readCookie(c.req.header("cookie") ?? null, cookieSpec(c.req.url, base(c)).name),
    config.admin.token!,
    now,
  );
  let session: Session | null = null;
  if (cookie) {
    const key = await digestHex(cookie.id);
    const body = post ? await form(c) : null;
    const row = await touchSession(
      c.env.CONSOLE_SESSIONS,
      key,
      now,
      body ? { csrf: body.csrf ?? "", form: formIdOf(body) } : null,
    );
    const p: unknown = row === null ? null : JSON.parse(row.principal);
    if (row !== null && isPrincipal(p)) {
      session = {
        p,
        key,
        exp: row.expiresAt,
        csrf: row.csrf,
        ...(row.back !== null ? { back: row.back } : {}),
        form: row.form ?? null,
      };
      if (post && row.csrfOk !== true) {
        c.set("session", session);
        c.get("log").reason = "csrf";
        return message(c, 403, "Form expired", "This form is no longer valid. Go back, reload the page and try again.");
      }
    }
  }
  if (!session) {
    if (!post) return c.redirect(`${base(c)}/login`, 303);
    return c.html(<LoginPage chrome={chrome(c)} error="Your session has ended: sign in again." />, 401);
  }
  c.set("session", session);
  await next();
});

consoleApp.get("/", (c) => c.redirect(home(c, c.get("session").p), 303));

// Ends the session in the store: every copy of the cookie stops working at once.
consoleApp.post("/logout", async (c) => {
  await endSession(c.env.CONSOLE_SESSIONS, c.get("session").key, clock.now());
  c.header("set-cookie", setCookieHeader(cookieSpec(c.req.url, base(c)), "", 0));
  return c.redirect(`${base(c)}/login`, 303);
});

consoleApp.get("/orgs", async (c) => {
  const p = c.get("session").p;
  const q = (c.req.query("q") ?? "").trim();
  const limited = orgsOf(p);
  if (limited) {
    const orgs = limited.filter((o) => o.startsWith(q) && may(p, "list", { orgs: [o] }));
    return c.html(<OrgsPage chrome={chrome(c)} q={q} orgs={orgs} more={false} limited={true} exact={null} />);
  }
  const searchable = q === "" || ORG_RE.test(q);
  const found = searchable ? await searchOrgs(c.env.KEYS, q) : { orgs: [], more: false };
  const exact = q !== "" && ORG_RE.test(q) && !found.orgs.includes(q) ? q : null;
  return c.html(
    <OrgsPage chrome={chrome(c)} q={q} orgs={found.orgs} more={found.more} limited={false} exact={exact} />,
  );
});

consoleApp.get("/orgs/:org", async (c) => {
  const p = c.get("session").p;
  const org = c.req.param("org");
  if (!ORG_RE.test(org)) return notFound(c);
  const status = STATUSES.includes(c.req.query("status") as (typeof STATUSES)[number]) ? c.req.query("status")! : "";
  const q = (c.req.query("q") ?? "").trim();
  const cursor = c.req.query("cursor");
  const listed = await listKeys(...core(c), { org, limit: "1000", ...(cursor ? { cursor } : {}) });
  // An org this session may not read does not exist for it.
  if (!listed.ok && listed.error === "forbidden") return notFound(c);
  if (!listed.ok)
    return message(c, 400, "Bad request", "That page of the listing does not exist.", {
      href: `${base(c)}/orgs/${org}`,
      label: "First page",
    });
  const needle = q.toLowerCase();
  const keys = listed.value.keys.filter(
    (k) =>
      (status === "" || k.status === status) &&
      (needle === "" ||
        k.name.toLowerCase().includes(needle) ||
        k.key_prefix.toLowerCase().startsWith(needle) ||
        k.id === q),
  );
  keys.sort((a, b) => b.created_at.localeCompare(a.created_at));
  const params = new URLSearchParams({ ...(q ? { q } : {}), ...(status ? { status } : {}) });
  // The org's usage, on its first page (a principal that may not read it sees none).
  const usage = cursor ? "refused" : await usageCharts(c, [org], null);
  const next = listed.value.cursor
    ? `${base(c)}/orgs/${org}?${new URLSearchParams([...params, ["cursor", listed.value.cursor]])}`
    : null;
  return c.html(
    <KeysPage
      chrome={chrome(c, org)}
      org={org}
      keys={keys}
      noKeysYet={listed.value.keys.length === 0 && cursor === undefined && listed.value.cursor === null}
      status={status}
      q={q}
      next={next}
      writable={may(p, "create", { orgs: [org] })}
      usage={usage}
    />,
  );
});

/** Where a principal may create keys: a fixed list, or null for any org (a text field). */
function orgChoices(p: Principal): string[] | null {
  const limited = orgsOf(p);
  return limited ? limited.filter((o) => may(p, "create", { orgs: [o] })) : null;
}

/** The create form's fields this principal may set (the others are the operator's: not shown, refused when posted). */
function formFor(p: Principal): NewKeyForm {
  return {
    orgChoices: orgChoices(p),
    org: mayName(p, "create", "orgs"),
    rateLimit: mayName(p, "create", "rate_limit"),
  };
}

consoleApp.get("/new", (c) => {
  const p = c.get("session").p;
  if (!may(p, "create")) return forbidden(c);
  const org = mayName(p, "create", "orgs") ? (c.req.query("org") ?? "") : (orgsOf(p)?.[0] ?? "");
  const values: NewKeyValues = { name: "", org, scopes: "", expires: "", rate_limit: "", rate_period: "60" };
  return c.html(
    <NewKeyPage chrome={chrome(c, org || undefined)} values={values} form={formFor(p)} formId={crypto.randomUUID()} />,
  );
});

/**
 * Where the gateway is, for the curl line: this request's origin when the console shares
 * the gateway's host; on CONSOLE_HOST the console cannot know which host the API is
 * served on, so the line names it `$KEYGATE_URL` (the page says so).
 */
export const API_URL_PLACEHOLDER = "$KEYGATE_URL";

function showOnce(c: Ctx, title: string, key: string, view: KeyView, note?: string) {
  const org = view.orgs[0]!;
  const onConsoleHost = c.get("config").consoleHost !== null;
  const curl = curlLine(c.get("config"), onConsoleHost ? API_URL_PLACEHOLDER : new URL(c.req.url).origin, key, org);
  return c.html(
    <ShowOncePage
      chrome={chrome(c)}
      title={title}
      secret={key}
      view={view}
      curl={curl}
      org={org}
      {...(note ? { note } : {})}
      {...(onConsoleHost ? { curlUrlVariable: API_URL_PLACEHOLDER } : {})}
    />,
    201,
  );
}

function alreadySubmitted(c: Ctx, href: string) {
  return message(
    c,
    409,
    "Already submitted",
    "This form was already submitted. A new key is shown only once, right after it is created: it cannot be shown again.",
    {
      href,
      label: "Back to the keys",
    },
  );
}

/** The create form's own fields; any other field posted is passed on, for the core to refuse (400 naming it). */
const CREATE_FORM_FIELDS = new Set([
  "csrf",
  "form_id",
  "name",
  "org",
  "scopes",
  "expires",
  "rate_limit",
  "rate_period",
]);

/** The create form → the core's input: only the fields posted (a holder's form has no org or rate limit). */
function createInput(body: Record<string, string>, now: number): Record<string, unknown> {
  const input: Record<string, unknown> = { name: (body.name ?? "").trim() };
  if (body.org !== undefined) input.orgs = [body.org.trim()];
  if (body.scopes !== undefined) input.scopes = body.scopes.split(/[\s,]+/).filter(Boolean);
  const expires = body.expires ?? "";
  if (expires !== "") {
    // Days from now; a number of days past the last instant a date can hold is left as given, for the core's 400.
    const at = new Date(now + Number(expires) * 86_400_000);
    input.expires_at = Number.isNaN(at.getTime()) ? expires : at.toISOString();
  }
  const rate = (body.rate_limit ?? "").trim();
  if (rate !== "") input.rate_limit = { limit: Number(rate), period_seconds: Number(body.rate_period ?? "60") };
  for (const [name, value] of Object.entries(body)) if (!CREATE_FORM_FIELDS.has(name)) input[name] = value;
  return input;
}

consoleApp.post("/keys", async (c) => {
  const session = c.get("session");
  const body = await form(c);
  const org = (body.org ?? "").trim();
  // The form id was claimed in the store with the session (requireSession): once only.
  if (session.form === null) return message(c, 400, "Bad request", "The form is incomplete: reload it and try again.");
  if (session.form === "used")
    return alreadySubmitted(
      c,
      ORG_RE.test(org) && may(session.p, "list", { orgs: [org] }) ? `${base(c)}/orgs/${org}` : `${base(c)}/`,
    );
  const values: NewKeyValues = {
    name: body.name ?? "",
    org: body.org === undefined ? (orgsOf(session.p)?.[0] ?? "") : org,
    scopes: body.scopes ?? "",
    expires: body.expires ?? "",
    rate_limit: (body.rate_limit ?? "").trim(),
    rate_period: body.rate_period ?? "60",
  };
  const [deps, p] = core(c);
  const outcome = await createKey(deps, p, createInput(body, deps.now));
  if (!outcome.ok) {
    // Not allowed to create here at all: the refusal page. Otherwise the form again, saying
    // why: invalid or operator's fields (400), a scope or expiry beyond the ceiling (403),
    // a holder's creation bound (429 or 403).
    if (
      outcome.error === "forbidden" &&
      !outcome.field &&
      !may(p, "create", mayName(p, "create", "orgs") ? { orgs: [org] } : {})
    )
      return forbidden(c, outcome.message);
    const errors: Record<string, string> = {};
    let problem: string | undefined;
    if (outcome.error === "invalid") for (const e of outcome.errors) errors[e.field] ??= plainFieldMessage(e);
    else if (outcome.error === "forbidden" && outcome.field) errors[outcome.field] = outcome.message;
    else if (outcome.error !== "not_found") problem = outcome.message;
    if (outcome.error === "rate_limited") c.header("retry-after", String(outcome.retryAfter));
    const status = (
      { invalid: 400, forbidden: 403, rate_limited: 429, unavailable: 503, conflict: 409, not_found: 404 } as const
    )[outcome.error];
    // The submitted form id is spent: the corrected form carries a new one.
    return c.html(
      <NewKeyPage
        chrome={chrome(c)}
        values={values}
        form={formFor(p)}
        formId={crypto.randomUUID()}
        errors={errors}
        {...(problem ? { problem } : {})}
      />,
      status,
    );
  }
  c.get("log").key_id = outcome.value.id;
  const { key, ...view } = outcome.value;
  return showOnce(c, "Your new API key", key, view);
});

/** Days the migration page's shadow report covers. */
const MIGRATION_DAYS = 7;

// Moving an API behind keygate (docs/migrating.md): the shadow report and the imports' progress,
// each shown when the authority table lets this session read it; neither: the page does not exist for it.
consoleApp.get("/migration", async (c) => {
  const [deps, p] = core(c);
  if (!may(p, "shadow") && !may(p, "migration")) return notFound(c);
  const org = c.req.query("org");
  const scope = org !== undefined && ORG_RE.test(org) ? { org } : {};
  const section = <T,>(o: Outcome<T>): Section<T> =>
    o.ok
      ? { ok: true, value: o.value }
      : {
          ok: false,
          message:
            o.error === "invalid"
              ? o.errors.map((e) => `${e.field}: ${e.message}`).join("; ")
              : "message" in o
                ? o.message
                : "Not available.",
        };
  const [shadow, migration] = await Promise.all([
    may(p, "shadow")
      ? shadowReport(deps, p, { ...scope, from: new Date(deps.now - MIGRATION_DAYS * 86_400_000).toISOString() }).then(
          section,
        )
      : null,
    may(p, "migration") ? migrationStatus(deps, p, scope).then(section) : null,
  ]);
  return c.html(<MigrationPage chrome={chrome(c)} days={MIGRATION_DAYS} shadow={shadow} migration={migration} />);
});

/** The key, when this session may see it (else null: answered 404, like a key that does not exist). */
async function visibleKey(c: Ctx, id: string): Promise<KeyView | null> {
  const shown = await showKey(...core(c), id);
  return shown.ok ? shown.value : null;
}

/**
 * Usage per hour over the last 48 hours and per day over the last 30 days — of one key
 * (summed over the orgs of the key whose usage this principal may read; usage is kept per
 * org), or of an org. "refused" when it may read none of it (the page shows no usage);
 * null when usage is not recorded here (no USAGE_STORE binding) or cannot be read now.
 */
async function usageCharts(
  c: Ctx,
  orgs: readonly string[],
  keyId: string | null,
): Promise<UsageCharts | null | "refused"> {
  const [deps, p] = core(c);
  const hour = 3_600_000;
  const day = 86_400_000;
  // Whole buckets ending with the current one, each span given both ends: exactly 48 rows
  // of hours, and 30 of days (today and the 29 before it, UTC) — never one more.
  const endOfHour = Math.floor(deps.now / hour) * hour + hour;
  const today = Math.floor(deps.now / day) * day;
  const iso = (t: number) => new Date(t).toISOString();
  const spans = {
    hourly: { granularity: "hour", from: iso(endOfHour - 48 * hour), to: iso(endOfHour) },
    daily: { granularity: "day", from: iso(today - 29 * day), to: iso(today + day) },
  } as const;
  const out: UsageCharts = { hourly: [], daily: [] };
  let readable = false;
  try {
    for (const [which, span] of Object.entries(spans) as [keyof UsageCharts, (typeof spans)[keyof UsageCharts]][]) {
      const buckets = new Map<string, UsageBucketView>();
      for (const org of orgs) {
        const read = await readOrgUsage(deps, p, {
          org,
          ...(keyId ? { key: keyId } : {}),
          from: span.from,
          to: span.to,
          granularity: span.granularity,
        });
        if (!read.ok && read.error === "unavailable") return null;
        if (!read.ok) continue;
        readable = true;
        for (const b of read.value.series) {
          const sum = buckets.get(b.start) ?? { start: b.start, requests: 0, forwarded: 0, rejected: 0 };
          sum.requests += b.requests;
          sum.forwarded += b.forwarded;
          sum.rejected += b.rejected;
          buckets.set(b.start, sum);
        }
      }
      out[which] = [...buckets.values()].sort((a, b) => a.start.localeCompare(b.start));
    }
  } catch (err) {
    logLine("warn", "usage unreadable for the console", {
      request_id: c.get("requestId"),
      ...(keyId ? { key_id: keyId } : {}),
      cause: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
  return readable ? out : "refused";
}

/** What the key page says after an action (`?done=`, set by the action's redirect). */
export const DONE_NOTICES: Record<string, string> = {
  revoked: "Revoked. Requests with this key are refused from now on: here at once, everywhere within a few seconds.",
  disabled: "Disabled. Requests with this key get 401 until it is enabled again.",
  enabled: "Enabled. The key works again.",
};

async function detail(
  c: Ctx,
  k: KeyView,
  status: 200 | 400 | 403 | 429 | 503 = 200,
  error?: string,
  errorField?: string,
  notice?: string,
) {
  const [deps, p] = core(c);
  const [events, usage] = await Promise.all([
    auditEvents(deps, p, { key_id: k.id, limit: "100" }),
    usageCharts(c, k.orgs, k.id),
  ]);
  const can = {
    enable: may(p, "enable", { key: k }),
    disable: may(p, "disable", { key: k }),
    rotate: may(p, "rotate", { key: k }),
    revoke: may(p, "revoke", { key: k }),
  };
  return c.html(
    <KeyDetailPage
      chrome={chrome(c, k.orgs[0])}
      k={k}
      usage={usage}
      events={events.ok ? events.value.events : []}
      can={can}
      formId={crypto.randomUUID()}
      {...(error ? { error } : {})}
      {...(errorField ? { errorField } : {})}
      {...(notice ? { notice } : {})}
    />,
    status,
  );
}

consoleApp.get("/keys/:id", async (c) => {
  const k = await visibleKey(c, c.req.param("id"));
  c.get("log").key_id = c.req.param("id");
  const done = c.req.query("done");
  const notice = done !== undefined && Object.hasOwn(DONE_NOTICES, done) ? DONE_NOTICES[done] : undefined;
  return k ? detail(c, k, 200, undefined, undefined, notice) : notFound(c);
});

for (const action of ["enable", "disable"] as const) {
  consoleApp.post(`/keys/:id/${action}`, async (c) => {
    const id = c.req.param("id");
    c.get("log").key_id = id;
    const outcome = await setEnabled(...core(c), id, action === "enable");
    if (!outcome.ok) return failed(c, outcome);
    return c.redirect(`${base(c)}/keys/${id}?done=${action}d`, 303);
  });
}

/** The rotate form's own fields; any other is passed on, for the core to refuse. */
const ROTATE_FORM_FIELDS = new Set(["csrf", "form_id", "grace_seconds"]);

consoleApp.post("/keys/:id/rotate", async (c) => {
  const id = c.req.param("id");
  c.get("log").key_id = id;
  const session = c.get("session");
  const k = await visibleKey(c, id);
  if (!k) return notFound(c);
  const body = await form(c);
  if (session.form === null) return message(c, 400, "Bad request", "The form is incomplete: reload it and try again.");
  if (session.form === "used") return alreadySubmitted(c, `${base(c)}/keys/${id}`);
  const grace = /^\d{1,8}$/.test(body.grace_seconds ?? "") ? Number(body.grace_seconds) : -1;
  const input: Record<string, unknown> = { grace_seconds: grace };
  for (const [name, value] of Object.entries(body)) if (!ROTATE_FORM_FIELDS.has(name)) input[name] = value;
  const outcome = await rotateKey(...core(c), id, input);
  if (!outcome.ok) {
    if (outcome.error === "not_found") return notFound(c);
    if (outcome.error === "rate_limited") c.header("retry-after", String(outcome.retryAfter));
    const status =
      outcome.error === "forbidden"
        ? 403
        : outcome.error === "rate_limited"
          ? 429
          : outcome.error === "unavailable"
            ? 503
            : 400;
    const field =
      outcome.error === "invalid"
        ? outcome.errors[0]?.field
        : outcome.error === "forbidden"
          ? outcome.field
          : undefined;
    return detail(
      c,
      k,
      status,
      outcome.error === "invalid" ? plainFieldErrors(outcome.errors) : outcome.message,
      field,
    );
  }
  const { key, previous, ...view } = outcome.value;
  const note =
    grace === 0
      ? `The previous key (${previous.key_prefix}…) stopped working now.`
      : `The previous key (${previous.key_prefix}…) keeps working until ${previous.expires_at}.`;
  return showOnce(c, "Your rotated API key", key, view, note);
});

consoleApp.post("/keys/:id/revoke", async (c) => {
  const id = c.req.param("id");
  c.get("log").key_id = id;
  const k = await visibleKey(c, id);
  if (!k) return notFound(c);
  const confirm = ((await form(c)).confirm ?? "").trim();
  if (!may(c.get("session").p, "revoke", { key: k })) return forbidden(c);
  if (confirm !== k.key_prefix)
    return detail(c, k, 400, `Not revoked: type the key's prefix, ${k.key_prefix}, to confirm.`);
  const outcome = await revokeKey(...core(c), id);
  if (!outcome.ok) return failed(c, outcome);
  return c.redirect(`${base(c)}/keys/${id}?done=revoked`, 303);
});

// ---- webhooks (docs/webhooks.md): the management core's, as on the admin API ----

function hookFormValues(body: Record<string, string | string[]>): NewHookValues {
  const events = body.events;
  return {
    url: typeof body.url === "string" ? body.url : "",
    events: Array.isArray(events) ? events : typeof events === "string" ? [events] : [],
    orgs: typeof body.orgs === "string" ? body.orgs : "",
  };
}

async function webhooksPage(
  c: Ctx,
  values: NewHookValues = { url: "", events: [], orgs: "" },
  status: 200 | 400 | 403 | 409 | 503 = 200,
  errors?: Record<string, string>,
  problem?: string,
) {
  const [deps, p] = core(c);
  const listed = await webhookList(deps, p);
  if (!listed.ok) return failed(c, listed);
  return c.html(
    <WebhooksPage
      chrome={chrome(c)}
      hooks={listed.value.webhooks}
      eventTypes={EVENT_TYPES}
      values={values}
      formId={crypto.randomUUID()}
      canCreate={may(p, "webhook_create")}
      {...(errors ? { errors } : {})}
      {...(problem ? { problem } : {})}
    />,
    status,
  );
}

consoleApp.get("/webhooks", (c) => webhooksPage(c));

consoleApp.post("/webhooks", async (c) => {
  const session = c.get("session");
  const body = await c.req.parseBody({ all: true });
  const values = hookFormValues(body as Record<string, string | string[]>);
  if (session.form === null) return message(c, 400, "Bad request", "The form is incomplete: reload it and try again.");
  if (session.form === "used")
    return message(c, 409, "Already submitted", "This form was already submitted: the secret was shown then.", {
      href: `${base(c)}/webhooks`,
      label: "Back to the webhooks",
    });
  const orgs = values.orgs.split(/[\s,]+/).filter(Boolean);
  const outcome = await webhookCreate(...core(c), {
    url: values.url.trim(),
    events: values.events,
    ...(orgs.length ? { orgs } : {}),
  });
  if (!outcome.ok) {
    if (outcome.error === "invalid") {
      const errors: Record<string, string> = {};
      for (const e of outcome.errors) errors[e.field] ??= plainFieldMessage(e);
      return webhooksPage(c, values, 400, errors);
    }
    if (outcome.error === "forbidden" && !may(session.p, "webhook_create")) return forbidden(c, outcome.message);
    const status = outcome.error === "forbidden" ? 403 : outcome.error === "conflict" ? 409 : 503;
    return webhooksPage(c, values, status, undefined, "message" in outcome ? outcome.message : undefined);
  }
  const { secret, ...hook } = outcome.value;
  return c.html(<WebhookCreatedPage chrome={chrome(c)} hook={hook} secret={secret} />, 201);
});

consoleApp.get("/webhooks/:id", async (c) => {
  const log = await webhookDeliveries(...core(c), c.req.param("id"), { limit: "100" });
  if (!log.ok) return failed(c, log);
  return c.html(<WebhookPage chrome={chrome(c)} hook={log.value.webhook} log={log.value} />);
});

consoleApp.post("/webhooks/:id/test", async (c) => {
  const id = c.req.param("id");
  const outcome = await webhookTest(...core(c), id);
  if (!outcome.ok) return failed(c, outcome);
  return c.redirect(`${base(c)}/webhooks/${id}`, 303);
});

consoleApp.post("/webhooks/:id/remove", async (c) => {
  const outcome = await webhookDelete(...core(c), c.req.param("id"));
  if (!outcome.ok) return failed(c, outcome);
  return c.redirect(`${base(c)}/webhooks`, 303);
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
  if (err instanceof SessionStoreFault) {
    logLine("error", "console session store failure", { request_id: c.get("requestId"), cause: err.message });
    return message(c, 503, "Unavailable", "Console sessions cannot be checked right now. Try again in a moment.");
  }
  if (err instanceof StoreFault) {
    logLine("error", "key store failure (console)", { request_id: c.get("requestId"), cause: err.message });
    return message(c, 503, "Unavailable", "The key store is unavailable. Try again in a moment.");
  }
  if (err instanceof FeedUnavailable) {
    logLine("error", "revocation feed unreachable: change stored, not yet published (console)", {
      request_id: c.get("requestId"),
      cause: err.message,
    });
    return message(
      c,
      503,
      "Not yet everywhere",
      "The change is saved, but other locations could not be told yet. Repeat it in a moment to make it take effect everywhere.",
    );
  }
  logLine("error", "unhandled error (console)", {
    request_id: c.get("requestId"),
    error: err instanceof Error ? err.message : String(err),
  });
  return message(c, 500, "Error", "Something went wrong.");
});
