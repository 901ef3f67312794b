/**
 * Structured logs: one JSON line per request (access log) plus error lines. Never a key,
 * never an Authorization value: only the key's id and what the gateway decided.
 */
import type { Tier } from "../edge/auth/tier";

/**
 * Filled in by the request path — for the gateway and the self-service caller, from the
 * decision's Admission in one place (edge/gateway/respond.ts) — and written once by the
 * access-log middleware (app.ts).
 */
export interface RequestLog {
  path?: string;
  route?: string;
  key_id?: string;
  /** How the request authenticated (sessions: docs/sessions.md). */
  auth?: "key" | "session" | "passthrough";
  /** A session's user (the JWT's `sub`). */
  user_id?: string;
  org?: string;
  cache?: Tier;
  outcome?: "forwarded" | "rejected" | "admin" | "self_service";
  reason?: string;
  /** Set once the request's key is known: whom usage counts it for (edge/usage/counter.ts). Not logged. */
  usage?: { org: string; keyId: string | null };
}

export function logLine(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
}
