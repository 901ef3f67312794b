import type { RequestIdVariables } from "hono/request-id";
import type { Caller } from "../admin/tokens";
import type { Config, Env } from "../../config/config";
import type { RequestLog } from "../../lib/log";
import type { Caller as SelfServiceCaller } from "../self-service/caller";

/** Hono's environment for every handler: bindings plus per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: Config;
    log: RequestLog;
    /** Admin API only: who calls (the root ADMIN_TOKEN or a scoped admin token). */
    adminCaller: Caller;
    /** Self-service API only: the authenticated caller (manage/self-service/caller.ts). */
    selfServiceCaller: SelfServiceCaller;
  };
};
