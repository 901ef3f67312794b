/**
 * The Worker's entry module: the Hono app (app.ts) and the Durable Object classes its
 * bindings name. Only handlers and classes may be exported here (wrangler dev refuses a
 * main module that exports anything else).
 */
export { default } from "./app";
export { KeyRateLimiter } from "./abuse/key-rate-limiter-object";
export { RevocationFeed } from "./revocation/feed-object";
export { UsageStore } from "./usage/store-object";
export { ConsoleSessions } from "./console/sessions-object";
