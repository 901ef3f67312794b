/**
 * The closed set of answers keygate gives itself, as ONE table: each code's status (the
 * profile decides only missing_credential's: 401, or 400 where the API answers that) and
 * its default detail, and whether that detail is fixed whatever the caller passes (no
 * oracle: unknown, revoked, disabled and expired keys read the same). Profiles render
 * them (errors/render.ts); they never invent codes of their own. The access log's
 * `reason` is the code unless the decision names a more precise one (edge/gateway/admit.ts).
 */
interface ErrorSpec {
  /** "missing": the profile's missing-credential status (Config.missingStatus). */
  status: number | "missing";
  detail: string;
  /** The detail never varies, whatever the caller passes. */
  fixed?: true;
}

export const ERRORS = {
  missing_credential: { status: "missing", detail: "No API key was provided.", fixed: true },
  malformed_credential: { status: 400, detail: "The API key is malformed." },
  malformed_request: { status: 400, detail: "The request is malformed." },
  invalid_key: { status: 401, detail: "The API key is invalid, expired or revoked.", fixed: true },
  forbidden: { status: 403, detail: "The API key is not allowed to access this resource." },
  not_found: { status: 404, detail: "The requested resource was not found.", fixed: true },
  rate_limited: { status: 429, detail: "Too many requests; retry later." },
  misconfigured: { status: 500, detail: "The gateway is misconfigured." },
  internal_error: { status: 500, detail: "An internal error occurred." },
  upstream_unreachable: { status: 502, detail: "The upstream server could not be reached." },
  store_unavailable: { status: 503, detail: "The key store is unavailable; retry later." },
  upstream_timeout: { status: 504, detail: "The upstream server did not answer in time." },
  // The key-management answers: the admin API renders them as RFC 9457 problem details
  // whatever the profile, the self-service API (manage/self-service/api.ts) in the profile's shape.
  admin_unauthorized: { status: 401, detail: "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)." },
  invalid_input: { status: 400, detail: "The request has invalid fields." },
  method_not_allowed: { status: 405, detail: "The method is not allowed here." },
  conflict: { status: 409, detail: "The request conflicts with the key's current state." },
  payload_too_large: { status: 413, detail: "The request body is too large." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** HTTP status of each code. missing_credential is 401 unless the profile says 400. */
export function httpStatusOf(code: ErrorCode, missingStatus: 400 | 401 = 401): number {
  const status: number | "missing" = ERRORS[code].status;
  return status === "missing" ? missingStatus : status;
}

/** The detail a code's answer carries: the caller's, unless the code's is fixed. */
export function detailOf(code: ErrorCode, detail: string | undefined): string {
  const spec: ErrorSpec = ERRORS[code];
  return spec.fixed || detail === undefined ? spec.detail : detail;
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
