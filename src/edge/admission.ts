/**
 * The vocabulary of a decision on the edge: what every step gets (AdmitDeps), what it
 * learns about the request (Facts, the access log's fields: RequestLog), and what it
 * decides — forward (with the identity to vouch for and the headers to add) or refuse
 * (an error code of errors/codes.ts, a reason for the log, a detail, headers). Types and
 * one constructor only: the steps are auth/authenticate.ts, abuse/limits.ts and
 * gateway/admit.ts, which orchestrates them.
 */
import type { Config } from "../config/config";
import type { Env } from "../env";
import type { ErrorCode } from "../errors/codes";
import type { ShadowClass } from "../objects/protocol";
import type { Tier } from "./auth/verify";
import type { IsolateState } from "./gateway/isolate";
import type { Location } from "./location";
import type { Identity } from "./proxy/headers";

/** What a decision needs: the config, the bindings, this isolate's state, and a way to run work after the answer. */
export interface AdmitDeps {
  config: Config;
  env: Env;
  isolate: IsolateState;
  /** For error log lines. */
  requestId: string;
  waitUntil(promise: Promise<unknown>): void;
  /** Where the request is served (edge/location.ts): computed only when a regional object is asked. */
  where(): Location;
}

/**
 * One request's access-log fields: filled in by the request path — for the gateway and the
 * self-service caller, from the decision's Facts in one place (gateway/respond.ts
 * logAdmission) — and written once per request by writeAccessLog (the gateway's handler,
 * or the management app's access-log middleware).
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
  /** Set once the request's key is known: whom usage counts it for (usage/counter.ts). Not logged. */
  usage?: { org: string; keyId: string | null };
  /** The matched route's own `enforcement`, when it has one (else ENFORCEMENT applies: edge/shadow/report.ts). */
  enforcement?: "enforce" | "report";
  /** Report mode: how the origin's answer compared with the decision (edge/shadow/report.ts). */
  shadow?: ShadowClass;
}

/** What the decision learnt about the request, for the access log and usage. */
export type Facts = Pick<
  RequestLog,
  "path" | "route" | "auth" | "key_id" | "user_id" | "org" | "cache" | "usage" | "enforcement"
>;

export interface Refusal {
  kind: "refuse";
  code: ErrorCode;
  /** For the log: `code` unless more precise (method_refused, auth_failures, a key's denial…). */
  reason: string;
  detail?: string;
  headers?: Record<string, string>;
  facts: Facts;
}

export interface Forward {
  kind: "forward";
  /** The normalized path, forwarded. */
  path: string;
  url: URL;
  /** The identity vouched for to the origin; null: none (public route, preflight, passthrough cookie). */
  identity: Identity | null;
  /** Response headers to set (RateLimit, credits). */
  headers?: Record<string, string>;
  /** Response headers to add unless the origin sent them (Sunset, Deprecation: RFC 8594, RFC 9745). */
  fallbackHeaders?: Record<string, string>;
  /** A CORS preflight: forwarded without a body. */
  preflight: boolean;
  /** Forwarded without a verified credential: a preflight's Authorization and Cookie are dropped too. */
  anonymous: boolean;
  facts: Facts;
}

export type Admission = Forward | Refusal;

export function refusal(
  facts: Facts,
  code: ErrorCode,
  opts: { reason?: string; detail?: string; headers?: Record<string, string> } = {},
): Refusal {
  return {
    kind: "refuse",
    code,
    reason: opts.reason ?? code,
    facts,
    ...(opts.detail !== undefined ? { detail: opts.detail } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
  };
}
