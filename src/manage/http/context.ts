/**
 * The management side's Hono context: its environment (bindings and per-request variables)
 * and the helpers that answer from a handler — a Refusal the edge decided (refuse) or one of
 * keygate's own errors (reject) — in the profile's shape, with the access log's fields set.
 * Hono stays on this side: the edge never sees a Hono context.
 */
import type { Context } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import type { Config } from "../../config/config";
import type { Refusal, RequestLog } from "../../edge/admission";
import { logAdmission, renderRefusal } from "../../edge/gateway/respond";
import type { Env } from "../../env";
import type { ErrorCode } from "../../errors/codes";
import type { ErrorOptions } from "../../errors/render";
import { renderError } from "../../errors/render";
import type { Session } from "../console/cookie";
import type { CredentialHolder, Operator, Principal } from "../principal";

/** Hono's environment for every handler of the management app: bindings plus per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    log: RequestLog;
    /** Admin API only: who calls (the root ADMIN_TOKEN or a scoped admin token). */
    adminCaller: Operator;
    /** Self-service API only: the authenticated caller (manage/self-service/caller.ts). */
    selfServiceCaller: CredentialHolder;
    /** Console only, once signed in: the session (manage/console/ui.tsx requireSession). */
    session: Session;
    /** Leak intake only (manage/leak-intake/api.ts POST /leaks): who reports, a leak reporter or an operator. */
    leakReporter: Principal;
  };
};

export type Ctx = Context<AppEnv>;

/** A refusal decided by the edge's steps in a Hono handler: logged (facts and outcome) and rendered. */
export function refuse(c: Ctx, r: Refusal): Response {
  logAdmission(c.get("log"), r);
  return renderRefusal(c.get("config"), c.get("requestId"), r);
}

/** Answer with one of keygate's own errors, in the profile's shape (admin API, console, self-service, onError). */
export function reject(c: Ctx, code: ErrorCode, opts?: ErrorOptions & { reason?: string }): Response {
  const config = c.get("config");
  c.get("log").outcome = "rejected";
  c.get("log").reason = opts?.reason ?? code;
  return renderError(
    {
      errorFormat: config.errorFormat,
      missingStatus: config.missingStatus,
      challenge: config.challenge,
      requestId: c.get("requestId"),
    },
    code,
    opts,
  );
}
