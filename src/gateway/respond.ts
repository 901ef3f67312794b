/**
 * From a decision to what the client and the log see: a Refusal rendered in the
 * profile's shape (errors/render.ts), and the access-log fields derived from an Admission
 * — the one place they are written for the gateway and the self-service API.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Config } from "../config";
import type { ErrorCode } from "../errors/codes";
import type { ErrorOptions } from "../errors/render";
import { renderError } from "../errors/render";
import type { RequestLog } from "../log";
import type { Admission, Facts, Refusal } from "./admit";

type Ctx = Context<AppEnv>;

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
}

/** A refusal in the profile's shape (no log write: see logAdmission). */
export function renderRefusal(config: Config, requestId: string, r: Refusal): Response {
  return renderError(
    { errorFormat: config.errorFormat, missingStatus: config.missingStatus, challenge: config.challenge, requestId },
    r.code,
    { ...(r.detail !== undefined ? { detail: r.detail } : {}), ...(r.headers ? { headers: r.headers } : {}) },
  );
}

/** A refusal decided in a Hono handler: logged (facts and outcome) and rendered. */
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
    { errorFormat: config.errorFormat, missingStatus: config.missingStatus, challenge: config.challenge, requestId: c.get("requestId") },
    code,
    opts,
  );
}
