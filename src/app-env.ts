import type { RequestIdVariables } from "hono/request-id";
import type { Config, Env } from "./config";
import type { RequestLog } from "./log";
import type { Caller } from "./self-service/caller";

/** Hono's environment for every handler: bindings plus per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    log: RequestLog;
    /** Admin API only: who acts, for audit records ("admin:<token id>"). */
    adminActor: string;
    /** Self-service API only: the authenticated caller (self-service/caller.ts). */
    selfServiceCaller: Caller;
  };
};
