/** @jsxImportSource hono/jsx */
/**
 * The console's pages (server-rendered with hono/jsx). No inline script or style: the CSP
 * allows only the two assets (manage/console/assets.ts). Every form works without JavaScript.
 */
import type { Child, FC } from "hono/jsx";
import type { KeyView } from "../../keys/fields";
import type { LeakRecord } from "../../keys/record";
import type { AuditEvent } from "../../keys/store/audit";
import type { DeliveriesView, HookView } from "../../objects/protocol";
import { may } from "../authority";
import type { MigrationAnswer } from "../migration";
import type { Principal } from "../principal";
import type { ShadowAnswer, ShadowTotals } from "../shadow";
import { ASSET_VERSION } from "./assets";
import type { UsageCharts } from "./chart";
import { UsageSection } from "./chart";

export interface Chrome {
  /** "{ADMIN_PREFIX}/ui", or "" on CONSOLE_HOST (its root). */
  base: string;
  /** The console shares its origin with the API (no CONSOLE_HOST): say so to operators. */
  sameOrigin?: boolean;
  principal?: Principal;
  csrf?: string;
  /** Portal sessions: the API owner's app. */
  back?: string;
  /** The organization the page is about: the nav's "Create key" creates a key there. */
  org?: string;
}

function whoLabel(p: Principal): string {
  switch (p.kind) {
    case "root":
      return "Admin (root token)";
    case "token":
      return `Token ${p.id} · ${p.role}`;
    case "portal":
      return `Organization ${p.org}`;
    case "session":
      return `${p.sub} · ${p.org}`;
    case "key":
      return `Key ${p.record.id}`;
    case "reporter":
      return `Leak reporter (${p.via})`; // never signs in to the console: for completeness
  }
}

/** A holder signed in to the console (portal link, own session): one org, no organizations list. */
function holderOrg(p: Principal | undefined): string | null {
  return p && (p.kind === "portal" || p.kind === "session") ? p.org : null;
}

export const Csrf: FC<{ token: string | undefined }> = ({ token }) => (
  <input type="hidden" name="csrf" value={token ?? ""} />
);

export const Layout: FC<{ chrome: Chrome; title: string; children?: Child; refresh?: string }> = ({
  chrome,
  title,
  children,
  refresh,
}) => {
  const p = chrome.principal;
  const own = holderOrg(p);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        {refresh ? <meta http-equiv="refresh" content={`0;url=${refresh}`} /> : null}
        <title>{`${title} · keygate`}</title>
        <link rel="icon" type="image/svg+xml" href={`${chrome.base}/assets/${ASSET_VERSION}/favicon.svg`} />
        <link rel="stylesheet" href={`${chrome.base}/assets/${ASSET_VERSION}/console.css`} />
        <script src={`${chrome.base}/assets/${ASSET_VERSION}/console.js`} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href={own ? `${chrome.base}/orgs/${own}` : `${chrome.base}/orgs`}>
            keygate
          </a>
          <nav aria-label="Main">
            {p && !own ? <a href={`${chrome.base}/orgs`}>Organizations</a> : null}
            {own ? <a href={`${chrome.base}/orgs/${own}`}>API keys</a> : null}
            {p && may(p, "create") ? (
              <a
                href={
                  own || chrome.org
                    ? `${chrome.base}/new?org=${encodeURIComponent(own ?? chrome.org!)}`
                    : `${chrome.base}/new`
                }
              >
                Create key
              </a>
            ) : null}
            {p && (may(p, "shadow") || may(p, "migration")) ? <a href={`${chrome.base}/migration`}>Migration</a> : null}
            {p && may(p, "webhook_list") ? <a href={`${chrome.base}/webhooks`}>Webhooks</a> : null}
            {chrome.back ? <a href={chrome.back}>{`Back to ${new URL(chrome.back).host}`}</a> : null}
          </nav>
          {p ? (
            <div class="who">
              <span>{whoLabel(p)}</span>
              <form method="post" action={`${chrome.base}/logout`}>
                <Csrf token={chrome.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          ) : null}
        </header>
        <main id="main">
          {chrome.sameOrigin ? (
            <p class="notice" role="note">
              This console shares its address with the API it protects: a page the API serves through this gateway could
              read this console and act in it. Serve the console on its own host (CONSOLE_HOST, see docs/console.md).
            </p>
          ) : null}
          {children}
        </main>
      </body>
    </html>
  );
};

export const LoginPage: FC<{ chrome: Chrome; error?: string }> = ({ chrome, error }) => (
  <Layout chrome={chrome} title="Sign in">
    <div class="card narrow">
      <h1>Sign in</h1>
      <p class="sub">Manage API keys with an admin token.</p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <form method="post" action={`${chrome.base}/login`}>
        <div class="field">
          <label for="token">Admin token</label>
          <input id="token" name="token" type="password" autocomplete="off" required autofocus />
        </div>
        <button type="submit">Sign in</button>
      </form>
    </div>
  </Layout>
);

export const MessagePage: FC<{
  chrome: Chrome;
  title: string;
  message: string;
  link?: { href: string; label: string };
}> = ({ chrome, title, message, link }) => (
  <Layout chrome={chrome} title={title}>
    <div class="card narrow">
      <h1>{title}</h1>
      <p>{message}</p>
      {link ? <a href={link.href}>{link.label}</a> : null}
    </div>
  </Layout>
);

export const RedirectPage: FC<{ chrome: Chrome; to: string; label: string }> = ({ chrome, to, label }) => (
  <Layout chrome={chrome} title="Opening" refresh={to}>
    <div class="card narrow">
      <h1>Opening…</h1>
      <p>
        <a href={to}>{label}</a>
      </p>
    </div>
  </Layout>
);

export const OrgsPage: FC<{
  chrome: Chrome;
  q: string;
  orgs: string[];
  more: boolean;
  limited: boolean;
  exact: string | null;
}> = ({ chrome, q, orgs, more, limited, exact }) => (
  <Layout chrome={chrome} title="Organizations">
    <h1>Organizations</h1>
    <p class="sub">
      {limited
        ? "The organizations this session may manage."
        : "Organizations that have API keys. Search by the start of a slug."}
    </p>
    {limited ? null : (
      <form method="get" action={`${chrome.base}/orgs`} class="filters" role="search">
        <div class="field">
          <label for="q">Search organizations</label>
          <input id="q" name="q" type="search" value={q} />
        </div>
        <button type="submit" class="secondary">
          Search
        </button>
      </form>
    )}
    <div class="card">
      {orgs.length === 0 && !exact ? <p class="muted">No organization found.</p> : null}
      <ul class="orgs">
        {exact ? (
          <li>
            <a href={`${chrome.base}/orgs/${exact}`}>{`Open ${exact}`}</a> <span class="muted">(no keys yet)</span>
          </li>
        ) : null}
        {orgs.map((org) => (
          <li>
            <a href={`${chrome.base}/orgs/${org}`}>{org}</a>
          </li>
        ))}
      </ul>
      {more ? <p class="muted">More organizations exist: narrow the search.</p> : null}
    </div>
  </Layout>
);

function when(iso: string | null | undefined, none = "—"): Child {
  if (!iso) return <span class="muted">{none}</span>;
  const text = iso.slice(0, 16).replace("T", " ") + " UTC";
  return <time datetime={iso}>{text}</time>;
}

const Status: FC<{ status: string }> = ({ status }) => <span class={`badge s-${status}`}>{status}</span>;

export const STATUSES = ["active", "disabled", "expired", "revoked", "rotating", "rotated"] as const;

export const KeysPage: FC<{
  chrome: Chrome;
  org: string;
  keys: KeyView[];
  /** The org has no key at all (an empty listing, no filter): said as such, not as "no match". */
  noKeysYet: boolean;
  status: string;
  q: string;
  next: string | null;
  writable: boolean;
  usage: UsageCharts | null | "refused";
}> = ({ chrome, org, keys, noKeysYet, status, q, next, writable, usage }) => (
  <Layout chrome={chrome} title={`API keys · ${org}`}>
    <h1>API keys</h1>
    <p class="sub">
      Organization <strong>{org}</strong>
    </p>
    <form method="get" action={`${chrome.base}/orgs/${org}`} class="filters" role="search">
      <div class="field">
        <label for="q">Name or prefix</label>
        <input id="q" name="q" type="search" value={q} />
      </div>
      <div class="field">
        <label for="status">Status</label>
        <select id="status" name="status">
          <option value="" selected={status === ""}>
            Any
          </option>
          {STATUSES.map((s) => (
            <option value={s} selected={status === s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" class="secondary">
        Filter
      </button>
      {writable ? (
        <a class="button" href={`${chrome.base}/new?org=${org}`}>
          Create key
        </a>
      ) : null}
    </form>
    <table>
      <caption class="skip">{`API keys of ${org}`}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col">Prefix</th>
          <th scope="col">Scopes</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">Expires</th>
        </tr>
      </thead>
      <tbody>
        {keys.length === 0 ? (
          <tr>
            <td colspan={7} class="muted">
              {noKeysYet ? (
                writable ? (
                  <>
                    {"This organization has no keys yet. "}
                    <a href={`${chrome.base}/new?org=${org}`}>Create its first key</a>.
                  </>
                ) : (
                  "This organization has no keys yet."
                )
              ) : (
                "No keys match."
              )}
            </td>
          </tr>
        ) : null}
        {keys.map((k) => (
          <tr>
            <td>
              <a href={`${chrome.base}/keys/${k.id}`}>{k.name || k.id}</a>
            </td>
            <td>
              <Status status={k.status} />
            </td>
            <td>
              <code>{k.key_prefix}…</code>
            </td>
            <td>
              {k.scopes.length ? k.scopes.map((s) => <span class="tag">{s}</span>) : <span class="muted">none</span>}
            </td>
            <td>{when(k.created_at)}</td>
            <td>{when(k.last_used_at, "never")}</td>
            <td>{when(k.expires_at, "never")}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {next ? (
      <p class="pager">
        <a href={next}>Next page</a>
      </p>
    ) : null}
    <UsageSection usage={usage} of={org} />
  </Layout>
);

export interface NewKeyValues {
  name: string;
  org: string;
  scopes: string;
  expires: string;
  rate_limit: string;
  rate_period: string;
}

export const EXPIRY_CHOICES: [string, string][] = [
  ["", "Never"],
  ["7", "In 7 days"],
  ["30", "In 30 days"],
  ["90", "In 90 days"],
  ["365", "In 1 year"],
];
export const PERIOD_CHOICES: [string, string][] = [
  ["1", "second"],
  ["60", "minute"],
  ["3600", "hour"],
  ["86400", "day"],
];

const FieldErrors: FC<{ id: string; errors: Record<string, string> | undefined; field: string }> = ({
  id,
  errors,
  field,
}) =>
  errors?.[field] ? (
    <p class="field-error" id={id} data-field={field}>
      {errors[field]}
    </p>
  ) : null;

/** What the create form shows a principal (the authority table's field rules: manage/console/ui.tsx formFor). */
export interface NewKeyForm {
  /** Where it may create keys: a fixed list, or null for any org (a text field). */
  orgChoices: string[] | null;
  /** It names the org (an operator); else the org is its own, shown but not sent. */
  org: boolean;
  /** It sets a rate limit (an operator); else the key gets none of its own (or its creator's). */
  rateLimit: boolean;
}

/** The form's fields, for errors on fields it has no control for. */
const FORM_FIELDS = ["name", "orgs", "scopes", "expires_at", "rate_limit"];

export const NewKeyPage: FC<{
  chrome: Chrome;
  values: NewKeyValues;
  form: NewKeyForm;
  formId: string;
  errors?: Record<string, string>;
  problem?: string;
}> = ({ chrome, values, form, formId, errors, problem }) => {
  const orgChoices = form.org ? form.orgChoices : [values.org];
  const elsewhere = Object.entries(errors ?? {}).filter(
    ([field]) =>
      !FORM_FIELDS.includes(field) || (field === "orgs" && !form.org) || (field === "rate_limit" && !form.rateLimit),
  );
  return (
    <Layout chrome={chrome} title="Create an API key">
      <h1>Create an API key</h1>
      <p class="sub">The key is shown once, right after it is created.</p>
      {problem ? (
        <p class="error" role="alert">
          {`The key was not created: ${problem}`}
        </p>
      ) : errors && Object.keys(errors).length ? (
        <div class="error" role="alert">
          <p>The key was not created: correct the fields below.</p>
          {elsewhere.length ? (
            <ul>
              {elsewhere.map(([field, msg]) => (
                <li data-field={field}>{msg}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      <form method="post" action={`${chrome.base}/keys`} class="card">
        <Csrf token={chrome.csrf} />
        <input type="hidden" name="form_id" value={formId} />
        <div class="row">
          <div class="field">
            <label for="name">Name</label>
            <input
              id="name"
              name="name"
              value={values.name}
              maxlength={200}
              required
              autofocus
              aria-describedby="name-err"
            />
            <FieldErrors id="name-err" errors={errors} field="name" />
          </div>
          <div class="field">
            <label for="org">Organization</label>
            {orgChoices ? (
              // A holder's org is its own: shown, not sent (the field is the operator's).
              <select id="org" name="org" disabled={!form.org}>
                {orgChoices.map((o) => (
                  <option value={o} selected={o === values.org}>
                    {o}
                  </option>
                ))}
              </select>
            ) : (
              <input id="org" name="org" value={values.org} required aria-describedby="org-err" />
            )}
            <FieldErrors id="org-err" errors={errors} field="orgs" />
          </div>
        </div>
        <div class="field">
          <label for="scopes">Scopes</label>
          <input id="scopes" name="scopes" value={values.scopes} aria-describedby="scopes-hint" />
          <p class="hint" id="scopes-hint">
            Separated by spaces or commas, e.g. <code>read write</code>. Leave empty for none.
          </p>
          <FieldErrors id="scopes-err" errors={errors} field="scopes" />
        </div>
        <div class="row">
          <div class="field">
            <label for="expires">Expires</label>
            <select id="expires" name="expires">
              {EXPIRY_CHOICES.map(([v, label]) => (
                <option value={v} selected={v === values.expires}>
                  {label}
                </option>
              ))}
            </select>
            <FieldErrors id="expires-err" errors={errors} field="expires_at" />
          </div>
          {form.rateLimit ? (
            <>
              <div class="field">
                <label for="rate_limit">Rate limit (requests)</label>
                <input
                  id="rate_limit"
                  name="rate_limit"
                  type="number"
                  min={1}
                  value={values.rate_limit}
                  aria-describedby="rate-hint"
                />
                <p class="hint" id="rate-hint">
                  Empty: unlimited.
                </p>
                <FieldErrors id="rate-err" errors={errors} field="rate_limit" />
              </div>
              <div class="field">
                <label for="rate_period">Per</label>
                <select id="rate_period" name="rate_period">
                  {PERIOD_CHOICES.map(([v, label]) => (
                    <option value={v} selected={v === values.rate_period}>
                      {label}
                    </option>
                  ))}
                </select>
              </div>
            </>
          ) : null}
        </div>
        <button type="submit">Create</button>
      </form>
    </Layout>
  );
};

export const ShowOncePage: FC<{
  chrome: Chrome;
  title: string;
  secret: string;
  view: KeyView;
  curl: string;
  org: string;
  note?: string;
  curlUrlVariable?: string;
}> = ({ chrome, title, secret, view, curl, org, note, curlUrlVariable }) => (
  <Layout chrome={chrome} title={title}>
    <h1>{title}</h1>
    <p class="sub">
      <strong>{view.name || view.id}</strong> · organization {org}
    </p>
    <p class="notice" role="note">
      Copy this key now and store it somewhere safe: it is shown only this once. keygate keeps only its hash.
    </p>
    {note ? <p class="muted">{note}</p> : null}
    <div class="card">
      <h2>API key</h2>
      <div class="secret">
        <code id="key-value">{secret}</code>
        <button type="button" data-copy="key-value" data-label="Copy" hidden>
          Copy
        </button>
      </div>
      <h2>Try it</h2>
      <div class="secret">
        <code id="curl-line">{curl}</code>
        <button type="button" data-copy="curl-line" data-label="Copy curl" hidden>
          Copy curl
        </button>
      </div>
      {curlUrlVariable ? (
        <p class="hint">{`First set ${curlUrlVariable.replace(/^\$/, "")} to your API's address through keygate (this console runs on a host of its own), e.g. export ${curlUrlVariable.replace(/^\$/, "")}=https://api.example.com`}</p>
      ) : null}
      <p id="copy-status" class="muted" role="status" aria-live="polite"></p>
    </div>
    <p>
      <a class="button" href={`${chrome.base}/orgs/${org}`}>
        Done
      </a>{" "}
      <a class="button secondary" href={`${chrome.base}/keys/${view.id}`}>
        View key
      </a>
    </p>
  </Layout>
);

export const GRACE_CHOICES: [string, string][] = [
  ["0", "None: the old key stops now"],
  ["3600", "1 hour"],
  ["86400", "24 hours"],
  ["604800", "7 days"],
];

function describe(e: AuditEvent): string {
  switch (e.action) {
    case "create":
      return "Created";
    case "import":
      return "Imported";
    case "revoke":
      return "Revoked";
    case "rotate":
      return `Rotated to ${e.new_key_id ?? "a new key"} (grace ${e.grace_seconds ?? 0} s)`;
    case "migrate":
      return "Re-indexed under keygate's hash at its first use";
    case "update": {
      const parts = Object.entries(e.changes ?? {}).map(([f, c]) =>
        f === "enabled" ? (c.to ? "enabled" : "disabled") : `${f} changed`,
      );
      return parts.length ? `Updated: ${parts.join(", ")}` : "Updated";
    }
    case "token_create":
      return "Admin token created";
    case "token_revoke":
      return "Admin token revoked";
    case "webhook_create":
      return `Webhook ${e.webhook_id} created`;
    case "webhook_delete":
      return `Webhook ${e.webhook_id} removed`;
    case "webhook_disable":
      return `Webhook ${e.webhook_id} disabled: ${e.reason ?? ""}`;
    case "key.leaked":
      return `Reported leaked${e.leak?.url ? ` at ${e.leak.url}` : ""}${LEAK_DONE[e.leak?.action ?? "none"]}`;
  }
}

/** What a leak report did, as the audit timeline says it. */
const LEAK_DONE: Record<string, string> = {
  revoke: ": revoked",
  disable: ": disabled",
  report: ": recorded only (LEAKED_KEY_ACTION=report)",
  none: "",
};

/** Who reported a leak, in words (the audit actor of the report). */
function reporterName(actor: string): string {
  if (actor === "reporter:github") return "GitHub secret scanning";
  if (actor === "reporter:gitlab") return "GitLab secret detection";
  if (actor === "reporter:scanner") return "a scanner (LEAK_REPORT_TOKEN)";
  return actor;
}

/** "Reported leaked at <url> on <date>": the key page's notice of a leak report (docs/leaked-keys.md). */
const Leaked: FC<{ leak: LeakRecord }> = ({ leak }) => (
  <p class="error" role="alert" data-leaked="">
    {leak.url ? (
      <>
        Reported leaked at{" "}
        <a href={leak.url} rel="noopener noreferrer nofollow">
          {leak.url}
        </a>{" "}
        on {when(leak.at)}
      </>
    ) : (
      <>Reported leaked on {when(leak.at)}</>
    )}
    {` by ${reporterName(leak.reporter)} (${leak.source})${LEAK_DONE[leak.action]}.`}
  </p>
);

/** The actions this principal may take on the key (the authority table: manage/console/ui.tsx detail). */
export interface KeyActions {
  enable: boolean;
  disable: boolean;
  rotate: boolean;
  revoke: boolean;
}

export const KeyDetailPage: FC<{
  chrome: Chrome;
  k: KeyView;
  usage: UsageCharts | null | "refused";
  events: AuditEvent[];
  can: KeyActions;
  formId: string;
  error?: string;
  errorField?: string;
  /** What the last action did (revoked, disabled, enabled). */
  notice?: string;
}> = ({ chrome, k, usage, events, can, formId, error, errorField, notice }) => {
  const live = k.status !== "revoked" && k.status !== "expired" && k.status !== "rotated";
  const toggle = k.enabled ? can.disable : can.enable;
  const rotate = can.rotate && live && !k.replaced_by;
  const any = k.status !== "revoked" && (can.revoke || (live && toggle) || rotate);
  return (
    <Layout chrome={chrome} title={`Key ${k.name || k.id}`}>
      <h1>{k.name || k.id}</h1>
      <p class="sub">
        <Status status={k.status} /> <code>{k.id}</code>
      </p>
      {k.leaked ? <Leaked leak={k.leaked} /> : null}
      {error ? (
        <p class="error" role="alert" data-field={errorField}>
          {error}
        </p>
      ) : null}
      {notice ? (
        <p class="notice done" role="status">
          {notice}
        </p>
      ) : null}
      <div class="card">
        <dl class="props">
          <dt>Prefix</dt>
          <dd>
            <code>{k.key_prefix}…</code>
          </dd>
          <dt>Organizations</dt>
          <dd>
            {k.orgs.map((o) => (
              <a class="tag" href={`${chrome.base}/orgs/${o}`}>
                {o}
              </a>
            ))}
          </dd>
          <dt>Scopes</dt>
          <dd>
            {k.scopes.length ? k.scopes.map((s) => <span class="tag">{s}</span>) : <span class="muted">none</span>}
          </dd>
          <dt>Created</dt>
          <dd>{when(k.created_at)}</dd>
          <dt>Last used</dt>
          <dd>{when(k.last_used_at, "never")}</dd>
          <dt>Expires</dt>
          <dd>{when(k.expires_at, "never")}</dd>
          <dt>Rate limit</dt>
          <dd>
            {k.rate_limit ? (
              `${k.rate_limit.limit} per ${k.rate_limit.period_seconds} s, ${k.rate_limit.mode === "exact" ? "exact" : "per region"}`
            ) : (
              <span class="muted">unlimited</span>
            )}
          </dd>
          {k.credits ? (
            <>
              <dt>Credits</dt>
              <dd>
                {k.credits.remaining === null ? (
                  <span class="muted">balance unavailable right now</span>
                ) : (
                  <strong>{`${k.credits.remaining.toLocaleString("en-US")} left`}</strong>
                )}
                {k.credits.refill ? (
                  <>
                    {` · refilled to ${k.credits.refill.amount.toLocaleString("en-US")} on `}
                    {when(k.credits.refills_at)}
                  </>
                ) : (
                  <span class="muted"> · no refill</span>
                )}
              </dd>
            </>
          ) : null}
          {k.replaced_by ? (
            <>
              <dt>Replaced by</dt>
              <dd>
                <a href={`${chrome.base}/keys/${k.replaced_by}`}>{k.replaced_by}</a>
              </dd>
            </>
          ) : null}
          {k.replaces ? (
            <>
              <dt>Replaces</dt>
              <dd>
                <a href={`${chrome.base}/keys/${k.replaces}`}>{k.replaces}</a>
              </dd>
            </>
          ) : null}
          {k.revoked_at ? (
            <>
              <dt>Revoked</dt>
              <dd>{when(k.revoked_at)}</dd>
            </>
          ) : null}
        </dl>
      </div>
      {any ? (
        <>
          <h2>Actions</h2>
          <div class="actions">
            {live && toggle ? (
              <form
                method="post"
                action={`${chrome.base}/keys/${k.id}/${k.enabled ? "disable" : "enable"}`}
                class="card"
              >
                <h3>{k.enabled ? "Disable" : "Enable"}</h3>
                <p class="muted">
                  {k.enabled ? "Requests with this key get 401 until it is enabled again." : "The key works again."}
                </p>
                <Csrf token={chrome.csrf} />
                <button type="submit" class="secondary">
                  {k.enabled ? "Disable key" : "Enable key"}
                </button>
              </form>
            ) : null}
            {rotate ? (
              <form method="post" action={`${chrome.base}/keys/${k.id}/rotate`} class="card">
                <h3>Rotate</h3>
                <Csrf token={chrome.csrf} />
                <input type="hidden" name="form_id" value={formId} />
                <div class="field">
                  <label for="grace">Grace period for the old key</label>
                  <select id="grace" name="grace_seconds">
                    {GRACE_CHOICES.map(([v, label]) => (
                      <option value={v}>{label}</option>
                    ))}
                  </select>
                </div>
                <button type="submit" class="secondary">
                  Rotate key
                </button>
              </form>
            ) : null}
            {can.revoke ? (
              <form method="post" action={`${chrome.base}/keys/${k.id}/revoke`} class="card">
                <h3>Revoke</h3>
                <Csrf token={chrome.csrf} />
                <div class="field">
                  <label for="confirm">{`Type the key's prefix (${k.key_prefix}) to confirm`}</label>
                  <input id="confirm" name="confirm" autocomplete="off" required />
                </div>
                <button type="submit" class="danger">
                  Revoke key
                </button>
              </form>
            ) : null}
          </div>
        </>
      ) : null}
      <UsageSection usage={usage} of="this key" />
      <h2>Audit timeline</h2>
      <div class="card">
        {events.length === 0 ? <p class="muted">No events.</p> : null}
        <ol class="timeline">
          {events.map((e) => (
            <li>
              {when(e.at)} · <strong>{describe(e)}</strong> <span class="muted">by {e.actor}</span>
            </li>
          ))}
        </ol>
      </div>
    </Layout>
  );
};

/** A part of the migration page: what the core answered, or why it could not (null: this session may not read it). */
export type Section<T> = { ok: true; value: T } | { ok: false; message: string } | null;

const SHADOW_COLUMNS: [keyof ShadowTotals, string][] = [
  ["requests", "Requests"],
  ["agree", "Agree"],
  ["would_break", "Would break"],
  ["would_admit", "Would admit"],
  ["status_differs", "Status differs"],
  ["body_differs", "Body differs"],
];

/**
 * Moving an API behind keygate (docs/migrating.md): in one line, whether it is safe to
 * switch report mode to enforce (the shadow report of the last days), the comparisons per
 * route with the request ids of what disagrees, and the keys imported, migrated and pending.
 */
export const MigrationPage: FC<{
  chrome: Chrome;
  days: number;
  shadow: Section<ShadowAnswer>;
  migration: Section<MigrationAnswer>;
}> = ({ chrome, days, shadow, migration }) => (
  <Layout chrome={chrome} title="Migration">
    <h1>Migration</h1>
    <p class="sub">Report mode first (decide, compare with the origin, never refuse), then enforce.</p>
    {shadow ? (
      <section class="card" id="shadow" aria-labelledby="shadow-title">
        <h2 id="shadow-title">{`Report mode, last ${days} days`}</h2>
        {shadow.ok ? (
          <>
            <p
              class={shadow.value.safe_to_switch ? "verdict" : "verdict notice"}
              data-safe={String(shadow.value.safe_to_switch)}
            >
              <strong>{shadow.value.summary}</strong>
            </p>
            {shadow.value.routes.length ? (
              <table>
                <caption class="skip">Comparisons per route</caption>
                <thead>
                  <tr>
                    <th scope="col">Route</th>
                    {SHADOW_COLUMNS.map(([, label]) => (
                      <th scope="col">{label}</th>
                    ))}
                    <th scope="col">Disagreeing requests</th>
                  </tr>
                </thead>
                <tbody>
                  {shadow.value.routes.map((r) => (
                    <tr>
                      <td>
                        <code>{r.route}</code>
                      </td>
                      {SHADOW_COLUMNS.map(([k]) => (
                        <td>{String(r.totals[k])}</td>
                      ))}
                      <td>
                        {(["would_break", "status_differs", "body_differs", "would_admit"] as const).flatMap((cls) =>
                          (r.samples[cls] ?? []).slice(0, 3).map((s) => (
                            <span
                              class="tag"
                              title={`${s.method} ${s.path} · origin ${s.origin_status} · ${s.verdict}`}
                            >
                              {`${cls} ${s.request_id}`}
                            </span>
                          )),
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </>
        ) : (
          <p class="muted">{shadow.message}</p>
        )}
      </section>
    ) : null}
    {migration ? (
      <section class="card" id="imports" aria-labelledby="imports-title">
        <h2 id="imports-title">Imported keys</h2>
        {migration.ok ? (
          <>
            <p data-pending={String(migration.value.totals.pending)}>
              {`${migration.value.totals.imported} imported, ${migration.value.totals.migrated} migrated, ${migration.value.totals.pending} pending` +
                (migration.value.totals.retired ? `, ${migration.value.totals.retired} retired unused` : "") +
                (migration.value.legacy_lookups.length
                  ? ` (missed keys are looked up under ${migration.value.legacy_lookups.join(", ")} while some are pending)`
                  : "")}
            </p>
            {migration.value.orgs.length ? (
              <table>
                <caption class="skip">Imported keys per organization</caption>
                <thead>
                  <tr>
                    <th scope="col">Organization</th>
                    <th scope="col">Imported</th>
                    <th scope="col">Migrated</th>
                    <th scope="col">Pending</th>
                    <th scope="col">Retired</th>
                  </tr>
                </thead>
                <tbody>
                  {migration.value.orgs.map((o) => (
                    <tr>
                      <td>
                        <a href={`${chrome.base}/orgs/${o.org}`}>{o.org}</a>
                      </td>
                      <td>{String(o.imported)}</td>
                      <td>{String(o.migrated)}</td>
                      <td>{String(o.pending)}</td>
                      <td>{String(o.retired)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </>
        ) : (
          <p class="muted">{migration.message}</p>
        )}
      </section>
    ) : null}
  </Layout>
);

// ---- webhooks (docs/webhooks.md) ----

export interface NewHookValues {
  url: string;
  events: string[];
  orgs: string;
}

const HookStatus: FC<{ h: HookView }> = ({ h }) => (
  <span class={`badge s-${h.status === "active" ? "active" : "disabled"}`}>{h.status}</span>
);

export const WebhooksPage: FC<{
  chrome: Chrome;
  hooks: HookView[];
  eventTypes: readonly string[];
  values: NewHookValues;
  formId: string;
  canCreate: boolean;
  errors?: Record<string, string>;
  problem?: string;
}> = ({ chrome, hooks, eventTypes, values, formId, canCreate, errors, problem }) => (
  <Layout chrome={chrome} title="Webhooks">
    <h1>Webhooks</h1>
    <p class="sub">
      Events sent to your endpoints as they happen, signed as Standard Webhooks say (<code>webhook-id</code>,{" "}
      <code>webhook-timestamp</code>, <code>webhook-signature</code>).
    </p>
    <table>
      <caption class="skip">Webhooks</caption>
      <thead>
        <tr>
          <th scope="col">Endpoint</th>
          <th scope="col">Status</th>
          <th scope="col">Events</th>
          <th scope="col">Organizations</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {hooks.length === 0 ? (
          <tr>
            <td colspan={5} class="muted">
              No webhooks yet.
            </td>
          </tr>
        ) : null}
        {hooks.map((h) => (
          <tr>
            <td>
              <a href={`${chrome.base}/webhooks/${h.id}`}>
                <code>{h.url}</code>
              </a>
            </td>
            <td>
              <HookStatus h={h} />
            </td>
            <td>
              {h.events.map((e) => (
                <span class="tag">{e}</span>
              ))}
            </td>
            <td>{h.orgs === null ? <span class="muted">every org</span> : h.orgs.join(", ")}</td>
            <td>{when(h.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {canCreate ? (
      <>
        <h2>Add a webhook</h2>
        {problem ? (
          <p class="error" role="alert">
            {`The webhook was not added: ${problem}`}
          </p>
        ) : errors && Object.keys(errors).length ? (
          <p class="error" role="alert">
            The webhook was not added: correct the fields below.
          </p>
        ) : null}
        <form method="post" action={`${chrome.base}/webhooks`} class="card">
          <Csrf token={chrome.csrf} />
          <input type="hidden" name="form_id" value={formId} />
          <div class="field">
            <label for="hook-url">Endpoint URL</label>
            <input
              id="hook-url"
              name="url"
              type="url"
              value={values.url}
              required
              placeholder="https://hooks.example.com/keygate"
              aria-describedby="hook-url-err"
            />
            <FieldErrors id="hook-url-err" errors={errors} field="url" />
          </div>
          <fieldset class="events" aria-describedby="hook-events-err">
            <legend>Events</legend>
            {eventTypes.map((e) => (
              <label>
                <input type="checkbox" name="events" value={e} checked={values.events.includes(e)} /> {e}
              </label>
            ))}
          </fieldset>
          <FieldErrors id="hook-events-err" errors={errors} field="events" />
          <div class="field">
            <label for="hook-orgs">Organizations</label>
            <input id="hook-orgs" name="orgs" value={values.orgs} aria-describedby="hook-orgs-hint hook-orgs-err" />
            <p class="hint" id="hook-orgs-hint">
              Separated by spaces or commas. Empty: every organization this session manages.
            </p>
            <FieldErrors id="hook-orgs-err" errors={errors} field="orgs" />
          </div>
          <button type="submit">Add webhook</button>
        </form>
      </>
    ) : null}
  </Layout>
);

export const WebhookCreatedPage: FC<{ chrome: Chrome; hook: HookView; secret: string }> = ({
  chrome,
  hook,
  secret,
}) => (
  <Layout chrome={chrome} title="Webhook added">
    <h1>Webhook added</h1>
    <p class="sub">
      <code>{hook.url}</code>
    </p>
    <p class="notice" role="note">
      Copy the signing secret now and store it with your endpoint: it is shown only this once. Your endpoint verifies
      each delivery with it (verifyWebhook from keygate/verifier, or any Standard Webhooks library).
    </p>
    <div class="card">
      <h2>Signing secret</h2>
      <div class="secret">
        <code id="key-value">{secret}</code>
        <button type="button" data-copy="key-value" data-label="Copy" hidden>
          Copy
        </button>
      </div>
      <p id="copy-status" class="muted" role="status" aria-live="polite"></p>
    </div>
    <p>
      <a class="button" href={`${chrome.base}/webhooks/${hook.id}`}>
        View webhook
      </a>{" "}
      <a class="button secondary" href={`${chrome.base}/webhooks`}>
        All webhooks
      </a>
    </p>
  </Layout>
);

export const WebhookPage: FC<{ chrome: Chrome; hook: HookView; log: DeliveriesView }> = ({ chrome, hook, log }) => (
  <Layout chrome={chrome} title={`Webhook ${hook.id}`}>
    <h1>Webhook</h1>
    <p class="sub">
      <HookStatus h={hook} /> <code>{hook.id}</code>
    </p>
    <div class="card">
      <dl class="props">
        <dt>Endpoint</dt>
        <dd>
          <code>{hook.url}</code>
        </dd>
        <dt>Events</dt>
        <dd>
          {hook.events.map((e) => (
            <span class="tag">{e}</span>
          ))}
        </dd>
        <dt>Organizations</dt>
        <dd>{hook.orgs === null ? <span class="muted">every org</span> : hook.orgs.join(", ")}</dd>
        <dt>Created</dt>
        <dd>
          {when(hook.created_at)} <span class="muted">by {hook.created_by}</span>
        </dd>
        {hook.failing_since ? (
          <>
            <dt>Failing since</dt>
            <dd>{when(hook.failing_since)}</dd>
          </>
        ) : null}
        {hook.disabled_at ? (
          <>
            <dt>Disabled</dt>
            <dd>
              {when(hook.disabled_at)} <span class="muted">{hook.disabled_reason}</span>
            </dd>
          </>
        ) : null}
      </dl>
    </div>
    <div class="actions">
      {hook.status === "active" ? (
        <form method="post" action={`${chrome.base}/webhooks/${hook.id}/test`} class="card">
          <h3>Test</h3>
          <p class="muted">Sends a webhook.test event; its attempt appears below.</p>
          <Csrf token={chrome.csrf} />
          <button type="submit" class="secondary">
            Send a test event
          </button>
        </form>
      ) : null}
      <form method="post" action={`${chrome.base}/webhooks/${hook.id}/remove`} class="card">
        <h3>Remove</h3>
        <p class="muted">Nothing more is sent to this endpoint; events waiting for it are dropped.</p>
        <Csrf token={chrome.csrf} />
        <button type="submit" class="danger">
          Remove webhook
        </button>
      </form>
    </div>
    <h2>Delivery attempts</h2>
    {log.pending > 0 ? <p class="muted">{`${log.pending} event(s) waiting for a first attempt.`}</p> : null}
    <table>
      <caption class="skip">Delivery attempts, newest first</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Event</th>
          <th scope="col">Attempt</th>
          <th scope="col">Answer</th>
          <th scope="col">Time</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {log.attempts.length === 0 ? (
          <tr>
            <td colspan={6} class="muted">
              No attempts yet.
            </td>
          </tr>
        ) : null}
        {log.attempts.map((a) => (
          <tr>
            <td>{when(a.at)}</td>
            <td>
              {a.type} <code class="muted">{a.event_id}</code>
            </td>
            <td>{a.attempt}</td>
            <td>{a.status !== null ? String(a.status) : (a.error ?? "—")}</td>
            <td>{`${a.duration_ms} ms`}</td>
            <td>
              {a.outcome}
              {a.next_retry_at ? (
                <>
                  {", next "}
                  {when(a.next_retry_at)}
                </>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </Layout>
);
