/**
 * Which requests belong to the admin API. The prefix is matched on the *normalized* path
 * (edge/routes/normalize.ts) and in the loose form route matching uses (case-folded, `;params`
 * dropped), so `/%5fkeygate/keys`, `//_keygate/keys`, `/x/../_keygate/keys` and
 * `/_KEYGATE;p/keys` are all admin requests: none of them can slip past to the origin,
 * nor around the admin API's token check.
 */

/**
 * The realm of the admin API's 401 challenge (manage/admin/auth.ts): a client tells the
 * admin API's 401 from the gateway's own (the keys CLI: a wrong --url, not a bad token).
 */
export const ADMIN_REALM = "keygate-admin";
/**
 * The path below the admin prefix ("/keys/key_…", "/" for the prefix itself), or null when
 * the request is not for the admin API. Takes the *normalized* path (normalizedPathOf); a
 * path that does not normalize is not admin: the gateway refuses it (400) unforwarded.
 * `admin.segments` are the prefix's lowercased segments (Config["admin"]).
 *
 * Runs on every request, so it stops at the first segment that differs from the prefix
 * (nearly always the first one) instead of splitting the whole path.
 */
export function adminPath(admin: { readonly segments: readonly string[] }, normalizedPath: string): string | null {
  let pos = 0;
  let matched = 0;
  while (matched < admin.segments.length) {
    if (pos >= normalizedPath.length) return null;
    let end = normalizedPath.indexOf("/", pos + 1);
    if (end < 0) end = normalizedPath.length;
    const bare = bareSegment(normalizedPath.slice(pos + 1, end));
    pos = end;
    if (bare === "") continue; // a ";params"-only segment: ignored, as by matchSegments
    if (bare.toLowerCase() !== admin.segments[matched]) return null;
    matched++;
  }
  const rest: string[] = [];
  for (const seg of normalizedPath.slice(pos).split("/")) {
    const bare = bareSegment(seg);
    if (bare !== "") rest.push(bare);
  }
  return "/" + rest.join("/");
}

/** A segment without its `;parameters`. */
function bareSegment(segment: string): string {
  const semi = segment.indexOf(";");
  return semi < 0 ? segment : segment.slice(0, semi);
}
