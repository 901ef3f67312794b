/**
 * The leak intake, under `{ADMIN_PREFIX}/leaks` (docs/leaked-keys.md): reports of leaked
 * keys in, each one the management core's `leak_report` (manage/leaks.ts) for a principal
 * the authority table knows.
 *
 *   POST /leaks/github                              GitHub secret scanning (partner format):
 *        signed by GitHub (github.ts), answered with the feedback array GitHub's partner
 *        documentation describes: [{"token_hash", "token_type", "label"}]
 *   GET  /leaks/gitlab/v1/revocable_token_types     GitLab's Token Revocation API: {"types": […]}
 *   POST /leaks/gitlab/v1/revoke_tokens             [{"type", "token", "location"}] → 204
 *   POST /leaks                                     your own scanners: {"tokens", "source", "url"?}
 *                                                   → {"results": [{"token_hash", "label", …}]}
 *
 * On with the admin API (ADMIN_TOKEN set): otherwise, like the rest of the prefix, the
 * profile's 404, never forwarded. GitLab's endpoints need LEAK_REPORT_TOKEN (404 without it),
 * sent as GitLab sends it — `Authorization: <token>` — or as a Bearer token; POST /leaks
 * takes LEAK_REPORT_TOKEN (a leak reporter) or an admin token (root, or a scoped token for
 * the keys of its orgs). A wrong secret or signature is a 401 that changes nothing and counts
 * against the management side's per-IP failure budget (manage/http/operator.ts); an address
 * over it is answered 429 before anything is compared. Nothing here tells an unauthenticated
 * caller which tokens exist: every verdict is behind the signature or the token. Answers
 * carry `Cache-Control: no-store`; errors are RFC 9457 problems, like the admin API's.
 */
import { Hono } from "hono";
import { normalizedPathOf } from "../../edge/routes/normalize";
import type { ErrorCode } from "../../errors/codes";
import type { ErrorOptions } from "../../errors/render";
import { renderError } from "../../errors/render";
import type { FieldError } from "../../keys/issue";
import type { Outcome } from "../../keys/lifecycle";
import { clock } from "../../lib/clock";
import { sameSecret } from "../admin/auth";
import { failureAnswer, invalidAnswer, thrownAnswer, unmatchedAnswer } from "../http/answers";
import { limitBody } from "../http/body";
import type { AppEnv, Ctx } from "../http/context";
import { reject } from "../http/context";
import { jsonBody } from "../http/json-body";
import { blockedSeconds, countFailure, operatorOf } from "../http/operator";
import type { LeakEntry, LeakVerdict } from "../leaks";
import { leakSource, leakUrl, MAX_LEAK_ENTRIES, parseLeakReport, reportLeaks } from "../leaks";
import type { Principal } from "../principal";
import { workerDeps } from "../worker";
import { verifyGithubReport } from "./github";

/** Where manage/app.ts mounts this app (reached only through its managementPathOf, like ADMIN_MOUNT). */
export const LEAKS_MOUNT = "/__keygate_leaks";

/** A report's body: 1,000 entries with long URLs fit; larger is refused (413) before any parsing. */
export const MAX_LEAK_BODY_BYTES = 1024 * 1024;

/** The one token type the GitLab Token Revocation API offers: a gitleaks rule id of "keygate_api_key". */
export const GITLAB_TOKEN_TYPE = "gitleaks_rule_id_keygate_api_key";

const REALM = "keygate-leaks";

/** Leak endpoints by path below the mount, for 405 answers with Allow (RFC 9110 §15.5.6). */
const ENDPOINTS: [RegExp, string][] = [
  [/^\/?$/, "POST"],
  [/^\/github$/, "POST"],
  [/^\/gitlab\/v1\/revocable_token_types$/, "GET, HEAD"],
  [/^\/gitlab\/v1\/revoke_tokens$/, "POST"],
];

function problem(c: Ctx, code: ErrorCode, opts: ErrorOptions & { challenge?: string } = {}): Response {
  c.get("log").reason = code;
  return renderError(
    { errorFormat: "problem", missingStatus: 401, challenge: opts.challenge ?? "", requestId: c.get("requestId") },
    code,
    opts,
  );
}

function invalid(c: Ctx, errors: FieldError[]): Response {
  const a = invalidAnswer(errors);
  return problem(c, a.code, a.options);
}

function failed(c: Ctx, outcome: Exclude<Outcome<unknown>, { ok: true }>): Response {
  const a = failureAnswer(outcome);
  return problem(c, a.code, a.options);
}

/** 401: `detail` says what proves a report here. A wrong secret counts against the address's budget. */
async function unauthorized(c: Ctx, detail: string, scheme: string, wrong: boolean): Promise<Response> {
  if (wrong) {
    const wait = await countFailure(c);
    if (wait > 0) return tooMany(c, wait);
  }
  return problem(c, "admin_unauthorized", { detail, challenge: `${scheme} realm="${REALM}"` });
}

function tooMany(c: Ctx, retryAfterSeconds: number): Response {
  c.get("log").outcome = "rejected";
  return problem(c, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

/** Run a report for `p` with the Worker's management deps. */
function report(c: Ctx, p: Principal, entries: LeakEntry[]): Promise<Outcome<LeakVerdict[]>> {
  return reportLeaks(workerDeps(c.env, c.get("config"), c.get("requestId")), p, entries);
}

/** LEAK_REPORT_TOKEN in an Authorization header: as GitLab sends it (the bare token) or as a Bearer token. */
async function reportTokenIn(authorization: string | null, token: string): Promise<"ok" | "missing" | "invalid"> {
  if (authorization === null || authorization.trim() === "") return "missing";
  const bare = authorization.trim().replace(/^bearer +/i, "");
  return (await sameSecret(bare, token)) ? "ok" : "invalid";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const leaks = new Hono<AppEnv>();

leaks.use(async function leaksGate(c, next) {
  const config = c.get("config");
  const log = c.get("log");
  const normalized = normalizedPathOf(c.req.raw);
  log.path = normalized.ok ? normalized.path : "(invalid)";
  log.route = "(leaks)";
  // Off with the admin API: like any path under the prefix, the profile's 404; never forwarded.
  if (config.admin.token === null) return reject(c, "not_found", { reason: "admin_disabled" });
  log.outcome = "admin";
  const blocked = blockedSeconds(c);
  if (blocked > 0) return tooMany(c, blocked);
  await next();
  c.res.headers.set("cache-control", "no-store");
  c.res.headers.set("x-request-id", c.get("requestId"));
});

leaks.use(limitBody<AppEnv>(MAX_LEAK_BODY_BYTES, (c) => problem(c, "payload_too_large", {})));

// ---- GitHub secret scanning (partner program) ----

leaks.post("/github", async (c) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const proof = await verifyGithubReport(c.req.raw.headers, body, c.get("config").leaks.githubKeysUrl, clock.now());
  if (proof === "unavailable")
    return problem(c, "store_unavailable", { detail: "GitHub's signing keys could not be fetched; retry later." });
  if (proof !== "ok")
    return unauthorized(
      c,
      "A report signed by GitHub is required (Github-Public-Key-Identifier and Github-Public-Key-Signature over the body).",
      "GitHub-Public-Key-Signature",
      proof === "invalid",
    );
  let items: unknown;
  try {
    items = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return invalid(c, [{ field: "(body)", message: "is not valid JSON" }]);
  }
  if (
    !Array.isArray(items) ||
    items.length > MAX_LEAK_ENTRIES ||
    !items.every((i) => isObject(i) && typeof i.token === "string" && i.token !== "" && typeof i.type === "string")
  )
    return invalid(c, [
      {
        field: "(body)",
        message: `must be a JSON array of at most ${MAX_LEAK_ENTRIES} matches {"token", "type", "url", "source"}`,
      },
    ]);
  const matches = items as { token: string; type: string; url?: unknown; source?: unknown }[];
  const outcome = await report(
    c,
    { kind: "reporter", via: "github" },
    matches.map((m) => ({ token: m.token, source: leakSource(m.source) ?? "unknown", url: leakUrl(m.url) })),
  );
  if (!outcome.ok) return failed(c, outcome);
  // The feedback GitHub's partner documentation describes: the token's SHA-256, never the token.
  const feedback: { token_hash: string; token_type: string; label: string }[] = [];
  const seen = new Set<string>();
  matches.forEach((m, i) => {
    const v = outcome.value[i]!;
    const id = `${v.token_hash}\n${m.type}`;
    if (seen.has(id)) return;
    seen.add(id);
    feedback.push({ token_hash: v.token_hash, token_type: m.type, label: v.label });
  });
  return c.json(feedback, 200);
});

// ---- GitLab's Token Revocation API ----

/** GitLab's endpoints: off (404) without LEAK_REPORT_TOKEN; else the token, or 401. */
async function gitlabCaller(c: Ctx): Promise<Response | null> {
  const token = c.get("config").leaks.reportToken;
  if (token === null) return reject(c, "not_found", { reason: "leak_report_token_unset" });
  const auth = await reportTokenIn(c.req.header("authorization") ?? null, token);
  if (auth === "ok") return null;
  return unauthorized(
    c,
    "LEAK_REPORT_TOKEN is required (Authorization: <token>, as GitLab sends it, or Bearer <token>).",
    "Bearer",
    auth === "invalid",
  );
}

leaks.get("/gitlab/v1/revocable_token_types", async (c) => {
  const refused = await gitlabCaller(c);
  if (refused) return refused;
  return c.json({ types: [GITLAB_TOKEN_TYPE] }, 200);
});

leaks.post("/gitlab/v1/revoke_tokens", async (c, next) => {
  const refused = await gitlabCaller(c);
  return refused ?? next();
});

leaks.post("/gitlab/v1/revoke_tokens", jsonBody<AppEnv>(true, invalid), async (c) => {
  const items: unknown = c.req.valid("json");
  if (
    !Array.isArray(items) ||
    items.length === 0 ||
    items.length > MAX_LEAK_ENTRIES ||
    !items.every((i) => isObject(i) && typeof i.token === "string" && i.token !== "" && typeof i.type === "string")
  )
    return invalid(c, [
      {
        field: "(body)",
        message: `must be a JSON array of 1–${MAX_LEAK_ENTRIES} tokens {"type", "token", "location"}`,
      },
    ]);
  const tokens = items as { type: string; token: string; location?: unknown }[];
  const unsupported = tokens.find((t) => t.type !== GITLAB_TOKEN_TYPE);
  if (unsupported)
    return invalid(c, [
      {
        field: "type",
        message: `"${unsupported.type.slice(0, 100)}" is not supported here (GET …/v1/revocable_token_types lists "${GITLAB_TOKEN_TYPE}")`,
      },
    ]);
  const outcome = await report(
    c,
    { kind: "reporter", via: "gitlab" },
    tokens.map((t) => ({ token: t.token, source: "gitlab", url: leakUrl(t.location) })),
  );
  if (!outcome.ok) return failed(c, outcome);
  // 204: every token accepted (GitLab's specification); nothing says which were keys.
  return c.body(null, 204);
});

// ---- your own scanners, and the CLI with --url ----

leaks.post("/", async (c, next) => {
  const authorization = c.req.header("authorization") ?? null;
  const token = c.get("config").leaks.reportToken;
  if (token !== null && authorization !== null && /^bearer +/i.test(authorization.trim())) {
    if ((await reportTokenIn(authorization, token)) === "ok") {
      c.set("leakReporter", { kind: "reporter", via: "scanner" });
      return next();
    }
  }
  const who = await operatorOf(c, authorization);
  if (who.auth !== "ok")
    return unauthorized(
      c,
      "LEAK_REPORT_TOKEN or an admin token is required (Authorization: Bearer <token>).",
      "Bearer",
      who.auth === "invalid",
    );
  c.set("leakReporter", who.caller);
  return next();
});

leaks.post("/", jsonBody<AppEnv>(true, invalid), async (c) => {
  const parsed = parseLeakReport(c.req.valid("json"));
  if (!parsed.ok) return invalid(c, parsed.errors);
  const outcome = await report(c, c.get("leakReporter"), parsed.value);
  if (!outcome.ok) return failed(c, outcome);
  return c.json({ results: outcome.value }, 200);
});

// Anything else under /leaks: 405 for a known endpoint, else 404. Never the gateway.
leaks.all("*", (c) => {
  const a = unmatchedAnswer(c.req.path.slice(LEAKS_MOUNT.length) || "/", ENDPOINTS);
  return problem(c, a.code, a.options);
});

leaks.onError((err, c) => {
  const a = thrownAnswer(err, {
    surface: "leaks",
    requestId: c.get("requestId"),
    feedDetail:
      "The report is stored, but the revocation feed could not be told: other isolates may accept the key for up to the cache bound. Send the report again to publish it.",
  });
  return problem(c, a.code, a.options);
});
