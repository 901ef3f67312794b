/**
 * The Worker's entry module: the Hono app (app.ts) and the Durable Object classes its
 * bindings name. Only handlers and classes may be exported here (wrangler dev refuses a
 * main module that exports anything else).
 */
export { default } from "./manage/app";
export { KeyRateLimiter } from "./objects/key-rate-limiter";
export { RevocationFeed } from "./objects/revocation-feed";
export { UsageStore } from "./objects/usage-store";
export { ConsoleSessions } from "./objects/console-sessions";
