/**
 * The one place that builds keygate's own responses. Each error format reproduces the
 * body an API's existing clients expect (the seed pages); all share the headers:
 * `Cache-Control: no-store`, `x-request-id`, and on 401 the `WWW-Authenticate` challenge
 * for the schemes the profile accepts (RFC 9110 §11.6.1).
 *
 * Unknown, revoked, disabled and expired keys all render invalid_key with one fixed
 * message, so bodies are byte-identical and reveal nothing about the key.
 */
import type { ErrorFormat } from "../config/profiles";
import type { ErrorCode } from "./codes";
import { detailOf, httpStatusOf, REASON_PHRASES } from "./codes";

export interface RenderContext {
  errorFormat: ErrorFormat;
  missingStatus: 400 | 401;
  /** WWW-Authenticate value for 401 answers. */
  challenge: string;
  requestId: string;
}

type Body = { contentType: string; body: unknown };
type Renderer = (status: number, code: ErrorCode, detail: string | undefined) => Body;

const JSON_TYPE = "application/json";

// Werkzeug's standard descriptions: what a Flask API (One Codex) answers.
const WERKZEUG: Record<number, string> = {
  400: "The browser (or proxy) sent a request that this server could not understand.",
  401: "The server could not verify that you are authorized to access the URL requested.  You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.",
  403: "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.",
  404: "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
  405: "The method is not allowed for the requested URL.",
  429: "This user has exceeded an allotted request count. Try again later.",
  500: "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
  502: "The proxy server received an invalid response from an upstream server.",
  503: "The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.",
  504: "The connection to an upstream server timed out.",
};

const RENDERERS: Record<ErrorFormat, Renderer> = {
  // RFC 9457 problem details, with our stable code as an extension member.
  problem: (status, code, detail) => ({
    contentType: "application/problem+json",
    body: { type: "about:blank", title: REASON_PHRASES[status], status, detail: detailOf(code, detail), code },
  }),

  // ARGOS: {"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}
  argos: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      error: {
        code: REASON_PHRASES[status]!.toUpperCase().replace(/ /g, "_"),
        status,
        message: status === 401 ? "Invalid or missing API key" : detailOf(code, detail),
      },
    },
  }),

  // Artanis shows no body; plain and consistent: status and message.
  artanis: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      error: REASON_PHRASES[status],
      status,
      message: status === 401 ? "Missing or invalid x-api-key" : detailOf(code, detail),
    },
  }),

  // Operate: {"success":false,"error":{"type":"authentication_error","message":"Missing API Key"}}
  operate: (_status, code, detail) => {
    let type = "api_error";
    let message = detailOf(code, detail);
    if (code === "missing_credential") message = "Missing API Key";
    else if (code === "invalid_key") message = "Invalid or expired API Key";
    else if (code === "forbidden") message = detail ?? "API key does not have access to the requested resource";
    if (
      code === "missing_credential" ||
      code === "malformed_credential" ||
      code === "invalid_key" ||
      code === "forbidden"
    ) {
      type = "authentication_error";
    } else if (code === "malformed_request") type = "invalid_request_error";
    else if (code === "not_found") type = "not_found_error";
    else if (code === "rate_limited") type = "rate_limit_error";
    return { contentType: JSON_TYPE, body: { success: false, error: { type, message } } };
  },

  // Argus (FastAPI): {"detail": "Not authenticated"}
  argus: (status, code, detail) => {
    let message = detailOf(code, detail);
    if (status === 401) message = "Not authenticated";
    else if (code === "forbidden") message = "Not enough permissions";
    else if (code === "not_found") message = "Not Found";
    return { contentType: JSON_TYPE, body: { detail: message } };
  },

  // One Codex (Flask/Werkzeug): {"message": "...", "status": 401}
  onecodex: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      message: status === 400 && detail !== undefined ? detail : (WERKZEUG[status] ?? detailOf(code, detail)),
      status,
    },
  }),
};

export interface ErrorOptions {
  detail?: string;
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  /**
   * RFC 9457 §3.2 extension members (e.g. the admin API's per-field `errors`). Rendered in
   * the problem format only: the other formats reproduce existing APIs' exact bodies.
   */
  extensions?: Record<string, unknown>;
}

/**
 * Bodies of the answers that do not vary per request (no detail of the caller's, no
 * extensions), by format, status and code: rendered once per isolate. The refusals of
 * the hot path (a missing or an invalid key) are such answers.
 */
const renderedBodies = new Map<string, { contentType: string; json: string }>();

function rendered(
  format: ErrorFormat,
  status: number,
  code: ErrorCode,
  detail: string | undefined,
): { contentType: string; json: string } {
  const cacheKey = detail === undefined ? `${format} ${status} ${code}` : null;
  const hit = cacheKey === null ? undefined : renderedBodies.get(cacheKey);
  if (hit !== undefined) return hit;
  const r = RENDERERS[format](status, code, detail);
  const out = { contentType: r.contentType, json: JSON.stringify(r.body) };
  if (cacheKey !== null) renderedBodies.set(cacheKey, out);
  return out;
}

/**
 * The status and body bytes (as text) of the answer renderError would give for `code` and
 * `detail` without extensions: what report mode compares with the origin's own answer.
 */
export function errorAnswer(
  ctx: Pick<RenderContext, "errorFormat" | "missingStatus">,
  code: ErrorCode,
  detail?: string,
): { status: number; body: string } {
  const status = httpStatusOf(code, ctx.missingStatus);
  return { status, body: rendered(ctx.errorFormat, status, code, detail).json };
}

export function renderError(ctx: RenderContext, code: ErrorCode, opts: ErrorOptions = {}): Response {
  const status = httpStatusOf(code, ctx.missingStatus);
  let contentType: string;
  let json: string;
  if (ctx.errorFormat === "problem" && opts.extensions) {
    // Extensions never replace a standard member (type, title, status, detail, code).
    const r = RENDERERS.problem(status, code, opts.detail);
    const body = r.body as Record<string, unknown>;
    contentType = r.contentType;
    json = JSON.stringify({
      ...body,
      ...Object.fromEntries(Object.entries(opts.extensions).filter(([k]) => !(k in body))),
    });
  } else {
    ({ contentType, json } = rendered(ctx.errorFormat, status, code, opts.detail));
  }
  // A plain object: one conversion in the runtime, instead of a Headers object and a call per header.
  const headers: Record<string, string> = { ...opts.headers };
  headers["content-type"] = contentType;
  headers["cache-control"] = "no-store";
  headers["x-request-id"] = ctx.requestId;
  if (status === 401) headers["www-authenticate"] = ctx.challenge;
  return new Response(json, { status, headers });
}
