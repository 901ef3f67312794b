/**
 * SELF_SERVICE_PATH and SELF_SERVICE_SCOPE → Config["selfService"]. Validated once, with
 * the rest of the config: a bad value fails closed (every request answers 500 until it is
 * fixed), never a self-service API at a path nobody meant.
 */
import { ConfigError } from "../config";
import type { Env } from "../config";
import { SCOPE_RE } from "../keys/record";

export interface SelfServiceConfig {
  /** Normalized, without a trailing slash ("/api/keys"). */
  path: string;
  /** Lowercased segments of `path`, matched like the admin prefix's (admin/prefix.ts). */
  segments: string[];
  /** A scope every caller must hold; null = any key (or session) of the org. */
  scope: string | null;
}

/** Path segments of unreserved characters (RFC 3986 §2.3), no dot segments: ADMIN_PREFIX's rule. */
const PATH_RE = /^(\/[A-Za-z0-9\-._~]+)+$/;

function value(env: Env, name: "SELF_SERVICE_PATH" | "SELF_SERVICE_SCOPE"): string | undefined {
  const v = env[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ConfigError(name, "must be a string");
  const t = v.trim();
  return t === "" ? undefined : t;
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
  const raw = value(env, "SELF_SERVICE_PATH");
  const scope = value(env, "SELF_SERVICE_SCOPE") ?? null;
  if (raw === undefined) {
    if (scope !== null) throw new ConfigError("SELF_SERVICE_SCOPE", "is set but SELF_SERVICE_PATH is not (the self-service API is off)");
    return null;
  }
  const path = raw.replace(/\/+$/, "");
  if (!PATH_RE.test(path) || path.split("/").some((seg) => seg === "." || seg === "..")) {
    throw new ConfigError("SELF_SERVICE_PATH", `must be a path like /api/keys (segments of letters, digits, "-", ".", "_", "~"); got "${raw}"`);
  }
  const segments = path.toLowerCase().split("/").slice(1);
  if (overlaps(segments, adminSegments)) {
    throw new ConfigError("SELF_SERVICE_PATH", `"${path}" overlaps ADMIN_PREFIX "/${adminSegments.join("/")}": pick paths that are not inside each other`);
  }
  if (scope !== null && !SCOPE_RE.test(scope)) {
    throw new ConfigError("SELF_SERVICE_SCOPE", `must be one scope ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128); got "${scope}"`);
  }
  return { path, segments, scope };
}
