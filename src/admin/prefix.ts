/**
 * Which requests belong to the admin API. The prefix is matched on the *normalized* path
 * (routes/normalize.ts) and in the loose form route matching uses (case-folded, `;params`
 * dropped), so `/%5fkeygate/keys`, `//_keygate/keys`, `/x/../_keygate/keys` and
 * `/_KEYGATE;p/keys` are all admin requests: none of them can slip past to the origin,
 * nor around the admin API's token check.
 */
import type { Config } from "../config";
import { normalizePath } from "../routes/normalize";

/**
 * The path below the admin prefix ("/keys/key_…", "/" for the prefix itself), or null when
 * the request is not for the admin API. A path that does not normalize is not admin: the
 * gateway refuses it (400) without forwarding it.
 */
export function adminPath(admin: Config["admin"], rawPath: string): string | null {
  const normalized = normalizePath(rawPath);
  if (!normalized.ok) return null;
  const segments: string[] = [];
  for (const seg of normalized.path.split("/")) {
    const bare = seg.split(";", 1)[0]!;
    if (bare !== "") segments.push(bare);
  }
  if (segments.length < admin.segments.length) return null;
  for (let i = 0; i < admin.segments.length; i++) {
    if (segments[i]!.toLowerCase() !== admin.segments[i]) return null;
  }
  return "/" + segments.slice(admin.segments.length).join("/");
}
