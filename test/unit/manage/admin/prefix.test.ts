/**
 * adminPath: which normalized paths belong to the admin API, and the path below the prefix.
 * Same loose reading as route matching (case-folded, `;params` dropped).
 */
import { describe, expect, it } from "vitest";
import { normalizePath } from "../../../../src/edge/routes/normalize";
import { adminPath } from "../../../../src/manage/admin/prefix";

const one = { segments: ["_keygate"] };
const two = { segments: ["ops", "admin"] };

describe("adminPath", () => {
  const CASES: [typeof one, string, string | null][] = [
    [one, "/_keygate", "/"],
    [one, "/_keygate/", "/"],
    [one, "/_keygate/keys", "/keys"],
    [one, "/_keygate/keys/key_1/rotate/", "/keys/key_1/rotate"],
    [one, "/_KeyGate/keys", "/keys"],
    [one, "/_keygate;v=1/keys;x", "/keys"],
    [one, "/;x/_keygate/keys", "/keys"],
    [one, "/", null],
    [one, "/_keygatex/keys", null],
    [one, "/x/_keygate/keys", null],
    [one, "/keys", null],
    [two, "/ops/admin/keys", "/keys"],
    [two, "/OPS;a/Admin", "/"],
    [two, "/ops", null],
    [two, "/ops/other/keys", null],
  ];
  for (const [admin, path, expected] of CASES) {
    it(`${admin.segments.join("/")}: ${path} → ${expected}`, () => {
      expect(adminPath(admin, path)).toBe(expected);
    });
  }

  it("spellings that normalize to the prefix are the admin API", () => {
    for (const raw of [
      "/%5fkeygate/keys",
      "/%5Fkeygate/keys",
      "//_keygate//keys",
      "/a/../_keygate/./keys",
      "\\_keygate\\keys",
    ]) {
      const n = normalizePath(raw);
      expect(n.ok && adminPath(one, n.path), raw).toBe("/keys");
    }
  });
});
