/**
 * SELF_SERVICE_PATH and SELF_SERVICE_SCOPE → Config["selfService"]. Validated once, with
 * the rest of the config: a bad value fails closed (every request answers 500 until it is
 * fixed), never a self-service API at a path nobody meant.
 */
import type { Env } from "../env";
import { ConfigError, pathVar, raw, stringVar } from "./variables";

export interface SelfServiceConfig {
  /** Normalized, without a trailing slash ("/api/keys"). */
  path: string;
  /** Lowercased segments of `path`, matched like the admin prefix's (manage/admin/prefix.ts). */
  segments: string[];
  /** A scope every caller must hold; null = any key (or session) of the org. */
  scope: string | null;
}

/** One path is the other or lies below it (segment-wise, case-insensitive). */
function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The self-service API's settings, or null when SELF_SERVICE_PATH is unset (off: the path
 * is then an ordinary gateway path). `adminSegments` are ADMIN_PREFIX's: the two reserved
 * paths must not overlap, or one API would shadow part of the other.
 */
export function parseSelfService(env: Env, adminSegments: readonly string[]): SelfServiceConfig | null {
  const scope = raw(env, "SELF_SERVICE_SCOPE") ?? null;
  if (raw(env, "SELF_SERVICE_PATH") === undefined) {
    if (scope !== null)
      throw new ConfigError("SELF_SERVICE_SCOPE", "is set but SELF_SERVICE_PATH is not (the self-service API is off)");
    return null;
  }
  const path = pathVar(env, "SELF_SERVICE_PATH")!;
  const segments = path.toLowerCase().split("/").slice(1);
  if (overlaps(segments, adminSegments)) {
    throw new ConfigError(
      "SELF_SERVICE_PATH",
      `"${path}" overlaps ADMIN_PREFIX "/${adminSegments.join("/")}": pick paths that are not inside each other`,
    );
  }
  return { path, segments, scope: stringVar(env, "SELF_SERVICE_SCOPE") };
}
