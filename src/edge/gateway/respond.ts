/**
 * From a decision to what the client and the log see: a Refusal rendered in the
 * profile's shape (errors/render.ts), the access-log fields derived from an Admission —
 * the one place they are written for the gateway and the self-service API — and the
 * access-log line itself (one per request, whatever answered it: writeAccessLog). The
 * management side's Hono helpers over these are manage/http/context.ts.
 */
import type { Config } from "../../config/config";
import type { ErrorCode } from "../../errors/codes";
import { GatewayError } from "../../errors/codes";
import { renderError } from "../../errors/render";
import { logLine, writeLine } from "../../lib/log";
import type { Admission, Facts, Refusal, RequestLog } from "../admission";
import { clientRequestId } from "../proxy/headers";

/** Copy what the decision learnt, and its outcome, into the request's log line. */
export function logAdmission(log: RequestLog, admission: Admission): void {
  logFacts(log, admission.facts);
  if (admission.kind === "forward") log.outcome = "forwarded";
  else {
    log.outcome = "rejected";
    log.reason = admission.reason;
  }
}

/** The facts alone (a self-service caller that is let through: its outcome is the API's). */
export function logFacts(log: RequestLog, facts: Facts): void {
  if (facts.path !== undefined) log.path = facts.path;
  if (facts.route !== undefined) log.route = facts.route;
  if (facts.auth !== undefined) log.auth = facts.auth;
  if (facts.user_id !== undefined) log.user_id = facts.user_id;
  if (facts.key_id !== undefined) log.key_id = facts.key_id;
  if (facts.org !== undefined) log.org = facts.org;
  if (facts.cache !== undefined) log.cache = facts.cache;
  if (facts.usage !== undefined) log.usage = facts.usage;
  if (facts.enforcement !== undefined) log.enforcement = facts.enforcement;
}

/** A refusal in the profile's shape (no log write: see logAdmission). */
export function renderRefusal(config: Config, requestId: string, r: Refusal): Response {
  return renderError(
    { errorFormat: config.errorFormat, missingStatus: config.missingStatus, challenge: config.challenge, requestId },
    r.code,
    { ...(r.detail !== undefined ? { detail: r.detail } : {}), ...(r.headers ? { headers: r.headers } : {}) },
  );
}

/**
 * A failure thrown while answering (the origin unreachable or too slow: a GatewayError;
 * anything else is a bug: internal_error), logged and rendered in the profile's shape.
 */
export function renderFailure(err: unknown, config: Config, requestId: string, log: RequestLog): Response {
  let code: ErrorCode = "internal_error";
  let detail: string | undefined;
  if (err instanceof GatewayError) {
    code = err.code;
    detail = err.detail;
    if (code === "upstream_unreachable" || code === "internal_error") {
      logLine("error", code, {
        request_id: requestId,
        cause: String((err.cause as Error | undefined)?.message ?? err.message),
      });
    }
  } else {
    logLine("error", "unhandled error", {
      request_id: requestId,
      error: err instanceof Error ? err.message : String(err),
    });
  }
  log.outcome = "rejected";
  log.reason = code;
  return renderError(
    { errorFormat: config.errorFormat, missingStatus: config.missingStatus, challenge: config.challenge, requestId },
    code,
    detail === undefined ? {} : { detail },
  );
}

/** Longest path written to a log line: a client chooses it (up to the platform's URL limit). */
const MAX_LOGGED_PATH = 512;

/**
 * The access-log line: one structured line per request, from its RequestLog (what the
 * decision learnt), its status and its start (ms). Never a key or a credential.
 */
export function writeAccessLog(
  request: Request,
  requestId: string,
  log: RequestLog,
  status: number,
  started: number,
): void {
  const path = log.path ?? "(invalid)";
  writeLine({
    level: status >= 500 ? "error" : "info",
    msg: "request",
    request_id: requestId,
    client_request_id: clientRequestId(request.headers),
    method: request.method,
    path: path.length > MAX_LOGGED_PATH ? path.slice(0, MAX_LOGGED_PATH) + "…" : path,
    route: log.route ?? null,
    status,
    latency_ms: Date.now() - started,
    key_id: log.key_id ?? null,
    auth: log.auth ?? null,
    user_id: log.user_id ?? null,
    org: log.org ?? null,
    cache: log.cache ?? null,
    outcome: log.outcome ?? null,
    reason: log.reason ?? null,
    // Report mode only (docs/migrating.md): the decision was compared, not enforced.
    ...(log.shadow !== undefined ? { enforcement: "report", shadow: log.shadow } : {}),
  });
}
