/**
 * The closed set of answers keygate gives itself. Profiles render them (errors/render.ts);
 * they never invent codes of their own.
 */
export type ErrorCode =
  | "missing_credential"
  | "malformed_credential"
  | "malformed_request"
  | "invalid_key"
  | "forbidden"
  | "not_found"
  | "rate_limited"
  | "misconfigured"
  | "internal_error"
  | "upstream_unreachable"
  | "store_unavailable"
  | "upstream_timeout"
  // The key-management answers: the admin API renders them as RFC 9457 problem details
  // whatever the profile, the self-service API (self-service/app.ts) in the profile's shape.
  | "admin_unauthorized"
  | "invalid_input"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large";

/** Status of each code. missing_credential is 401 unless the profile says 400. */
export function statusOf(code: ErrorCode, missingStatus: 400 | 401 = 401): number {
  switch (code) {
    case "missing_credential":
      return missingStatus;
    case "malformed_credential":
    case "malformed_request":
      return 400;
    case "invalid_key":
    case "admin_unauthorized":
      return 401;
    case "invalid_input":
      return 400;
    case "method_not_allowed":
      return 405;
    case "conflict":
      return 409;
    case "payload_too_large":
      return 413;
    case "forbidden":
      return 403;
    case "not_found":
      return 404;
    case "rate_limited":
      return 429;
    case "misconfigured":
    case "internal_error":
      return 500;
    case "upstream_unreachable":
      return 502;
    case "store_unavailable":
      return 503;
    case "upstream_timeout":
      return 504;
  }
}

export const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** A failure raised below the HTTP layer, rendered by the app's onError. */
export class GatewayError extends Error {
  override name = "GatewayError";
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    cause?: unknown,
  ) {
    super(detail ?? code, cause === undefined ? undefined : { cause });
  }
}
