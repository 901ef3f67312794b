import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  matchSegments,
  normalizedPathOf,
  normalizePath,
  normalizeSegments,
  requestUrlOf,
} from "../../../../src/edge/routes/normalize";

const ok = (p: string) => {
  const n = normalizePath(p);
  if (!n.ok) throw new Error(`expected ${p} to normalize, got ${n.reason}`);
  return n.path;
};

describe("normalizePath", () => {
  it.each([
    ["/", "/"],
    ["", "/"],
    ["/a/b", "/a/b"],
    ["/a//b///c", "/a/b/c"],
    ["/a/./b/../c", "/a/c"],
    ["/../../etc/passwd", "/etc/passwd"],
    ["/a/%2e%2e/b", "/b"],
    ["/a/.%2E/b", "/b"],
    ["/a/%2e/b", "/a/b"],
    ["/%61%62c", "/abc"],
    ["/a%7e%5f", "/a~_"],
    ["/a%20b/%c3%a9", "/a%20b/%C3%A9"],
    ["/a%40b/%3a%2C%2b%3D%26%21%24%27%28%29%2A", "/a@b/:,+=&!$'()*"],
    ["/a%7C%5e%5B%5D^", "/a|%5E[]%5E"],
    ['/a"b<c>d`e{f}', "/a%22b%3Cc%3Ed%60e%7Bf%7D"],
    ["/a%22b%3c", "/a%22b%3C"],
    ["/a\\b\\..\\c", "/a/c"],
    ["/a/b/", "/a/b/"],
    ["/a/b/..", "/a"],
    ["/a;v=1/b", "/a;v=1/b"],
    ["/a/.well-known/x", "/a/.well-known/x"],
    ["/a/..x/x;y.z", "/a/..x/x;y.z"],
    ["/a/.x/..x/x.y/...z", "/a/.x/..x/x.y/...z"],
    ["/a%20b/c%20d", "/a%20b/c%20d"],
    // A no-break space inside a segment, a colon and a dollar apart: ordinary paths.
    ["/a%C2%A0b/c%e3%80%80d", "/a%C2%A0b/c%E3%80%80d"],
    ["/v1/jobs/x:run", "/v1/jobs/x:run"],
    ["/a/$x:y/price$:1", "/a/$x:y/price$:1"],
  ])("%s → %s", (input, expected) => {
    expect(ok(input)).toBe(expected);
  });

  it.each([
    ["/a/%2f/b", "encoded slash"],
    ["/a/%2F..%2Fadmin", "encoded slash"],
    ["/a%5cb", "encoded slash or backslash"],
    ["/a%00b", "control"],
    ["/a%0ab", "control"],
    ["/a%7fb", "control"],
    ["/a%zz", "malformed"],
    ["/a%2", "malformed"],
    ["/public/..;/admin", "dot segment"],
    ["/a/%252e%252e/b", "encoded percent"],
    ["/a/%252F", "encoded percent"],
    ["/a/50%25off", "encoded percent"],
    ["/a/%251z/%2520", "encoded percent"],
    ["/public/..%3B/admin", "encoded delimiter (;)"],
    ["/admin%3bx", "encoded delimiter (;)"],
    ["/admin%3Fx", "encoded delimiter (?)"],
    ["/admin%23x", "encoded delimiter (#)"],
    ["/a/%c0%ae%c0%ae/b", "overlong or look-alike"],
    ["/a/%e0%80%ae", "overlong or look-alike"],
    ["/a/%ef%bc%8e%ef%bc%8e/b", "overlong or look-alike"],
    ["/a/%ef%bc%8f", "overlong or look-alike"],
    ["/public/.;x/admin", "dot segment"],
    ["/a b", "invalid character"],
    ["/é", "invalid character"],
    // Issue 20: a segment ending in a dot or a space (Windows/IIS drop them; Spring's
    // suffix matching reads `private.` as `private`), literal or encoded, before or after
    // its ;parameters. The dot segments themselves are rule 5's.
    ["/api/v1/samples/1/private.", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%2e", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%2E", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%20", "ending in a dot or a space"],
    ["/api/v1/samples/..%20/admin/x", "ending in a dot or a space"],
    ["/api/v1/samples/.%20/admin/x", "ending in a dot or a space"],
    ["/a/x.%20.%20", "ending in a dot or a space"],
    ["/a/private./", "ending in a dot or a space"],
    ["/a/.../b/", "ending in a dot or a space"],
    ["/a/x.;y", "ending in a dot or a space"],
    ["/a/x%20;y", "ending in a dot or a space"],
    ["/a/x;y.", "ending in a dot or a space"],
    ["/a/%20", "ending in a dot or a space"],
    // Re-checked from outside: a space an NFKC origin folds into one, and NTFS streams
    // (Windows reads `private::$DATA` as `private`).
    ["/api/v1/samples/1/private%C2%A0", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%c2%a0", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%E3%80%80", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%E2%80%80", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%E2%80%8A", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%E2%80%AF", "ending in a dot or a space"],
    ["/api/v1/samples/1/private%E2%81%9F;x", "ending in a dot or a space"],
    ["/api/v1/samples/1/private::$DATA", "NTFS stream"],
    ["/api/v1/samples/1/private:$DATA", "NTFS stream"],
    ["/api/v1/samples/1/private::%24DATA", "NTFS stream"],
    ["/api/v1/samples/1/private%3A%3A%24data/", "NTFS stream"],
    ["/api/v1/samples/1/private::$INDEX_ALLOCATION/x", "NTFS stream"],
  ])("refuses %s (%s)", (input, reason) => {
    const n = normalizePath(input);
    expect(n.ok).toBe(false);
    if (!n.ok) expect(n.reason).toContain(reason);
  });

  it("is idempotent on every example", () => {
    for (const p of ["/a//b/./c/../d/", "/%7Euser/%41", "/x/%40%3A/y", '/a"b', "/a;b/c;d=1/", "/%E9/%C3%A9"]) {
      const once = ok(p);
      expect(ok(once)).toBe(once);
    }
  });
});

describe("matchSegments (route matching view only)", () => {
  it("folds case, drops ;params and ignores a trailing slash", () => {
    expect(matchSegments("/API/v1/Samples/")).toEqual(["api", "v1", "samples"]);
    expect(matchSegments("/admin;jsessionid=1/users")).toEqual(["admin", "users"]);
    expect(matchSegments("/")).toEqual([]);
    expect(matchSegments("/;p/admin/;x")).toEqual(["admin"]);
  });
});

describe("normalizedPathOf / requestUrlOf (once per request)", () => {
  it("the request's normalized path and parsed URL, computed once and shared", () => {
    const req = new Request("https://gateway.test/a/%2e%2e/B/./c?q=1");
    expect(normalizedPathOf(req)).toEqual({ ok: true, path: "/B/c" });
    const url = requestUrlOf(req);
    expect(url.href).toBe("https://gateway.test/B/c?q=1");
    expect(requestUrlOf(req)).toBe(url);
    expect(normalizedPathOf(req)).toBe(normalizedPathOf(req));
    const other = new Request("https://gateway.test/a%2fb");
    expect(normalizedPathOf(other)).toEqual({ ok: false, reason: "encoded slash or backslash in path" });
    expect(requestUrlOf(other)).not.toBe(url);
  });
});

describe("the shortcut for canonical paths", () => {
  // Characters that matter to normalization, and plain ones: every branch of the full
  // pass is reachable, and so is the shortcut (a path of plain segments).
  const piece = fc.constantFrom(
    "a",
    "B",
    "0",
    "-",
    ".",
    "..",
    "_",
    "~",
    "%2e",
    "%2F",
    "%41",
    "%",
    ";",
    "\\",
    "/",
    "//",
    "[",
    "|",
    "@",
    " ",
    "%C0%AE",
    "é",
  );
  const path = fc.array(piece, { minLength: 0, maxLength: 10 }).map((p) => "/" + p.join(""));
  let shortcut = 0;

  test.prop([path], { numRuns: 2000 })("answers exactly what the full pass answers", (p) => {
    const fast = normalizePath(p);
    expect(fast).toEqual(normalizeSegments(p));
    if (fast.ok && fast.path === p) shortcut++;
  });

  it("and the generated paths did take it", () => {
    expect(shortcut).toBeGreaterThan(100);
  });

  it("keeps what a canonical path is, and sends the rest through the full pass", () => {
    expect(normalizePath("/v1/things/123")).toEqual({ ok: true, path: "/v1/things/123" });
    expect(normalizePath("/a/...b/c.d/")).toEqual({ ok: true, path: "/a/...b/c.d/" });
    expect(normalizePath("/a/./b/../c")).toEqual({ ok: true, path: "/a/c" });
    expect(normalizePath("/a//b")).toEqual({ ok: true, path: "/a/b" });
    expect(normalizePath("/a/%2e%2e/b")).toEqual({ ok: true, path: "/b" });
  });

  it("the full pass keeps a trailing slash, except on the root", () => {
    for (const [raw, path] of [
      ["/a/./b/", "/a/b/"],
      ["/a//", "/a/"],
      ["/%61/", "/a/"],
      ["/a/../", "/"],
      ["//", "/"],
      ["/%61", "/a"],
      ["/a/.", "/a"],
    ] as const) {
      expect(normalizeSegments(raw), raw).toEqual({ ok: true, path });
      expect(normalizePath(raw), raw).toEqual({ ok: true, path });
    }
  });
});
