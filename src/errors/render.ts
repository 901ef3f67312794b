/**
 * The one place that builds keygate's own responses. Each error format reproduces the
 * body an API's existing clients expect (the seed pages); all share the headers:
 * `Cache-Control: no-store`, `x-request-id`, and on 401 the `WWW-Authenticate` challenge
 * for the schemes the profile accepts (RFC 9110 §11.6.1).
 *
 * Unknown, revoked, disabled and expired keys all render invalid_key with one fixed
 * message, so bodies are byte-identical and reveal nothing about the key.
 */
import type { ErrorFormat } from "../profiles";
import type { ErrorCode } from "./codes";
import { REASON_PHRASES, statusOf } from "./codes";

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

const DEFAULT_DETAIL: Record<ErrorCode, string> = {
  missing_credential: "No API key was provided.",
  malformed_credential: "The API key is malformed.",
  malformed_request: "The request is malformed.",
  invalid_key: "The API key is invalid, expired or revoked.",
  forbidden: "The API key is not allowed to access this resource.",
  not_found: "The requested resource was not found.",
  rate_limited: "Too many requests; retry later.",
  misconfigured: "The gateway is misconfigured.",
  internal_error: "An internal error occurred.",
  upstream_unreachable: "The upstream server could not be reached.",
  store_unavailable: "The key store is unavailable; retry later.",
  upstream_timeout: "The upstream server did not answer in time.",
  admin_unauthorized: "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>).",
  invalid_input: "The request has invalid fields.",
  method_not_allowed: "The method is not allowed here.",
  conflict: "The request conflicts with the key's current state.",
  payload_too_large: "The request body is too large.",
};

/** Codes whose message never varies, whatever the caller passes (no oracle). */
const FIXED = new Set<ErrorCode>(["missing_credential", "invalid_key", "not_found"]);

function detailFor(code: ErrorCode, detail: string | undefined): string {
  return FIXED.has(code) || detail === undefined ? DEFAULT_DETAIL[code] : detail;
}

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
    body: { type: "about:blank", title: REASON_PHRASES[status], status, detail: detailFor(code, detail), code },
  }),

  // ARGOS: {"error":{"code":"UNAUTHORIZED","status":401,"message":"Invalid or missing API key"}}
  argos: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      error: {
        code: REASON_PHRASES[status]!.toUpperCase().replace(/ /g, "_"),
        status,
        message: status === 401 ? "Invalid or missing API key" : detailFor(code, detail),
      },
    },
  }),

  // Artanis shows no body; plain and consistent: status and message.
  artanis: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      error: REASON_PHRASES[status],
      status,
      message: status === 401 ? "Missing or invalid x-api-key" : detailFor(code, detail),
    },
  }),

  // Operate: {"success":false,"error":{"type":"authentication_error","message":"Missing API Key"}}
  operate: (status, code, detail) => {
    let type = "api_error";
    let message = detailFor(code, detail);
    if (code === "missing_credential") message = "Missing API Key";
    else if (code === "invalid_key") message = "Invalid or expired API Key";
    else if (code === "forbidden") message = detail ?? "API key does not have access to the requested resource";
    if (code === "missing_credential" || code === "malformed_credential" || code === "invalid_key" || code === "forbidden") {
      type = "authentication_error";
    } else if (code === "malformed_request") type = "invalid_request_error";
    else if (code === "not_found") type = "not_found_error";
    else if (code === "rate_limited") type = "rate_limit_error";
    return { contentType: JSON_TYPE, body: { success: false, error: { type, message } } };
  },

  // Argus (FastAPI): {"detail": "Not authenticated"}
  argus: (status, code, detail) => {
    let message = detailFor(code, detail);
    if (status === 401) message = "Not authenticated";
    else if (code === "forbidden") message = "Not enough permissions";
    else if (code === "not_found") message = "Not Found";
    return { contentType: JSON_TYPE, body: { detail: message } };
  },

  // One Codex (Flask/Werkzeug): {"message": "...", "status": 401}
  onecodex: (status, code, detail) => ({
    contentType: JSON_TYPE,
    body: {
      message: status === 400 && detail !== undefined ? detail : (WERKZEUG[status] ?? detailFor(code, detail)),
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

export function renderError(ctx: RenderContext, code: ErrorCode, opts: ErrorOptions = {}): Response {
  const status = statusOf(code, ctx.missingStatus);
  const rendered = RENDERERS[ctx.errorFormat](status, code, opts.detail);
  const { contentType } = rendered;
  let body = rendered.body as Record<string, unknown>;
  if (ctx.errorFormat === "problem" && opts.extensions) {
    // Extensions never replace a standard member (type, title, status, detail, code).
    body = { ...body, ...Object.fromEntries(Object.entries(opts.extensions).filter(([k]) => !(k in body))) };
  }
  const headers = new Headers(opts.headers);
  headers.set("content-type", contentType);
  headers.set("cache-control", "no-store");
  headers.set("x-request-id", ctx.requestId);
  if (status === 401) headers.set("www-authenticate", ctx.challenge);
  return new Response(JSON.stringify(body), { status, headers });
}
