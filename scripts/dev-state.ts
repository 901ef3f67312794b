/**
 * What `npm run dev` keeps for local use in the local state folder (.wrangler/state, or
 * `--persist-to DIR`; ignored by git), beside wrangler's own data, each file 0600:
 * - keygate-demo-key.json: the demo key's id and plaintext (reused while it has > 8 days);
 * - keygate-dev-admin-token.json: the admin token the console signs in with, unless the
 *   developer sets ADMIN_TOKEN;
 * - keygate-dev-session-secret.json: SESSION_JWT_SECRET, unless the developer sets it, so
 *   `npm run keys -- session` can mint session JWTs this gateway accepts.
 * Both secrets are made by whichever of `npm run dev` and the keys CLI needs one first.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const DEMO_KEY_FILE = "keygate-demo-key.json";

/** The local secrets `npm run dev` sets when the developer does not (file names in the state). */
export const LOCAL_SECRETS = {
  ADMIN_TOKEN: "keygate-dev-admin-token.json",
  SESSION_JWT_SECRET: "keygate-dev-session-secret.json",
} as const;
export type LocalSecretName = keyof typeof LOCAL_SECRETS;

const SECRET_RE = /^[0-9a-f]{64}$/;

/** The saved value of `name` in this state, or null. */
function readSecret(file: string): string | null {
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { secret?: unknown; token?: unknown };
    // `token`: the admin token's file before the session secret joined it.
    const value = saved.secret ?? saved.token;
    return typeof value === "string" && SECRET_RE.test(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * The state's local `name` (64 hex characters): read, or made and saved once (0600). Made
 * with an exclusive create, so a `npm run dev` and a CLI making it at the same moment end
 * up with the same one; an unreadable file is replaced.
 */
export function localSecret(stateDir: string, name: LocalSecretName): string {
  const file = path.join(stateDir, LOCAL_SECRETS[name]);
  const saved = readSecret(file);
  if (saved !== null) return saved;
  mkdirSync(stateDir, { recursive: true });
  const secret = randomBytes(32).toString("hex");
  const body = JSON.stringify({ secret }) + "\n";
  try {
    writeFileSync(file, body, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Made by another process a moment ago, or a damaged file: the other's, else ours.
    const theirs = readSecret(file);
    if (theirs !== null) return theirs;
    writeFileSync(file, body, { mode: 0o600 });
    return secret;
  }
}
