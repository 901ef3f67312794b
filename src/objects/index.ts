/**
 * The Durable Object classes, together: the entry (src/index.ts) exports them for the
 * bindings wrangler.toml names. What the Worker exchanges with each is protocol.ts.
 */
export { ConsoleSessions } from "./console-sessions";
export { KeyRateLimiter } from "./key-rate-limiter";
export { RevocationFeed } from "./revocation-feed";
export { ShadowStore } from "./shadow-store";
export { UsageStore } from "./usage-store";
export { WebhookHub } from "./webhooks";
