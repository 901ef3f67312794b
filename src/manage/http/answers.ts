/**
 * How the management APIs (the admin API, the self-service API) answer what did not
 * succeed: field errors as invalid_input (a detail listing them, and the list itself as
 * the problem format's `errors` member), a lifecycle failure as its error code, a path no
 * endpoint serves (405 with Allow, or 404), and what was thrown (a body over the limit,
 * the key store or the revocation feed failing, a bug). Each API renders
 * the answer in its own shape (RFC 9457 problems for the admin API, the profile's shape for
 * self-service).
 */
import type { ErrorCode } from "../../errors/codes";
import type { ErrorOptions } from "../../errors/render";
import type { FieldError } from "../../keys/issue";
import type { Outcome } from "../../keys/lifecycle";
import { StoreFault } from "../../keys/store/kv";
import { logLine } from "../../lib/log";
import { FeedUnavailable } from "../publish";
import { bodyTooLarge, TOO_LARGE_DETAIL } from "./json-body";

export interface Answer {
  code: ErrorCode;
  options: ErrorOptions;
}

/** Field errors: invalid_input. */
export function invalidAnswer(errors: FieldError[]): Answer {
  return {
    code: "invalid_input",
    options: { detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "), extensions: { errors } },
  };
}

/** A lifecycle operation that failed: its code, and the detail it gave. */
export function failureAnswer(outcome: Exclude<Outcome<unknown>, { ok: true }>): Answer {
  switch (outcome.error) {
    case "invalid":
      return invalidAnswer(outcome.errors);
    case "not_found":
      return { code: "not_found", options: {} };
    case "conflict":
    case "forbidden":
      return { code: outcome.error, options: { detail: outcome.message } };
    case "rate_limited":
      return {
        code: "rate_limited",
        options: { detail: outcome.message, headers: { "retry-after": String(outcome.retryAfter) } },
      };
    case "unavailable":
      return { code: "store_unavailable", options: { detail: outcome.message } };
  }
}

/** A request no route of the API took: 405 with Allow when an endpoint has that path, else 404. */
export function unmatchedAnswer(rest: string, endpoints: readonly (readonly [RegExp, string])[]): Answer {
  const allow = endpoints.find(([re]) => re.test(rest))?.[1];
  if (allow) return { code: "method_not_allowed", options: { detail: `Allowed here: ${allow}.`, headers: { allow } } };
  return { code: "not_found", options: {} };
}

/**
 * What a handler threw, logged (never the body or a credential) and answered. `surface`
 * names the API in the log; `feedDetail` tells its callers that a change is stored but
 * not yet published (repeating the request publishes it).
 */
export function thrownAnswer(err: unknown, where: { surface: string; requestId: string; feedDetail: string }): Answer {
  const request_id = where.requestId;
  if (bodyTooLarge(err)) return { code: "payload_too_large", options: { detail: TOO_LARGE_DETAIL } };
  if (err instanceof FeedUnavailable) {
    logLine("error", `revocation feed unreachable: change stored, not yet published (${where.surface})`, {
      request_id,
      cause: err.message,
    });
    // Say which regions were not told (their replicas are caught up from the primary by themselves).
    const detail =
      err.regions.length > 0
        ? `${where.feedDetail} Not yet told: the revocation feed's replicas in ${err.regions.join(", ")}.`
        : where.feedDetail;
    return { code: "store_unavailable", options: { detail } };
  }
  if (err instanceof StoreFault) {
    logLine("error", `key store failure (${where.surface})`, { request_id, cause: err.message });
    return { code: "store_unavailable", options: {} };
  }
  logLine("error", `unhandled error (${where.surface})`, {
    request_id,
    error: err instanceof Error ? err.message : String(err),
  });
  return { code: "internal_error", options: {} };
}
