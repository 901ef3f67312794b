/** Config tests (inside workerd): a minimal env, and the ConfigError a bad one raises. */
import { env } from "cloudflare:test";
import { ConfigError, parseConfig } from "../../src/config/config";
import type { Env } from "../../src/env";

/** The smallest env that parses: the real KEYS binding and an origin, plus `vars`. */
export const base = (vars: Record<string, unknown> = {}): Env =>
  ({ KEYS: env.KEYS, ORIGIN_URL: "https://api.example.com", ...vars }) as Env;

/** The ConfigError that `vars` cause; throws when they are accepted. */
export function problem(vars: Record<string, unknown>): ConfigError {
  try {
    parseConfig(base(vars));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(vars)} to be refused`);
}
