/**
 * Where a key verdict came from (edge/auth/verify.ts), as the access log records it. Its own
 * module, free of Workers types, so that lib/log.ts — and everything that logs, the key
 * lifecycle the Node CLI also runs included — does not pull the verifier in.
 */
export type Tier = "format" | "memory" | "kv" | "stale" | "feed";
