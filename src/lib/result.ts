/**
 * The one shape of a result that can fail, across modules: `{ ok: true, value }`, or
 * `{ ok: false, …why }` (an error message, field errors, an error code and detail). Checks,
 * validations, lifecycle operations and calls to a limiter all answer in it.
 *
 * A decision with more than two outcomes is tagged by `kind` instead — a credential
 * (missing, malformed, present: edge/auth/credentials.ts), a key's verdict (edge/auth/verify.ts),
 * the gateway's Admission (forward or refuse: edge/gateway/admit.ts).
 */
export type Result<T, Failure extends object = { error: string }> = { ok: true; value: T } | ({ ok: false } & Failure);

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function failed(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
