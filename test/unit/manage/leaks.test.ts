/**
 * What a leak report may carry (src/manage/leaks.ts): the URL kept with it (http(s) only:
 * the console links it), its source, and the body of POST {ADMIN_PREFIX}/leaks.
 */
import { describe, expect, it } from "vitest";
import { leakSource, leakUrl, MAX_LEAK_ENTRIES, MAX_LEAK_URL_LENGTH, parseLeakReport } from "../../../src/manage/leaks";

describe("leakUrl", () => {
  it("keeps http(s) URLs, drops everything else", () => {
    for (const ok of ["https://github.com/o/r/blob/abc/x.env", "http://intranet/wiki?a=1#b"])
      expect(leakUrl(ok)).toBe(ok);
    for (const no of [
      "",
      "javascript:alert(1)",
      "data:text/html,<b>",
      "ftp://x/y",
      "https://",
      "https://x/\u202e",
      `https://x/${"a".repeat(MAX_LEAK_URL_LENGTH)}`,
      42,
      null,
    ])
      expect(leakUrl(no), String(no)).toBeNull();
  });
});

describe("leakUrl: never a secret", () => {
  it("drops credentials in the URL (a scanner's clone URL), keeps the location", () => {
    expect(leakUrl("https://x-access-token:ghs_abc123@github.com/o/r.git")).toBe("https://github.com/o/r.git");
    expect(leakUrl("https://user@gitlab.example/o/r/-/blob/main/.env")).toBe(
      "https://gitlab.example/o/r/-/blob/main/.env",
    );
    expect(leakUrl("http://:pw@ci.example/job/1")).toBe("http://ci.example/job/1");
  });
});

describe("leakSource", () => {
  it("1–100 printable characters, trimmed", () => {
    expect(leakSource("  commit ")).toBe("commit");
    for (const no of ["", "   ", "x".repeat(101), "a\nb", 7]) expect(leakSource(no)).toBeNull();
  });
});

describe("parseLeakReport", () => {
  it("one source and URL for every token", () => {
    expect(parseLeakReport({ tokens: ["a", "b"], source: "gitleaks", url: "https://ci.example/1" })).toEqual({
      ok: true,
      value: [
        { token: "a", source: "gitleaks", url: "https://ci.example/1" },
        { token: "b", source: "gitleaks", url: "https://ci.example/1" },
      ],
    });
    expect(parseLeakReport({ tokens: ["a"], source: "x" })).toEqual({
      ok: true,
      value: [{ token: "a", source: "x", url: null }],
    });
  });

  it("refuses, naming each field", () => {
    const fields = (body: unknown) => {
      const r = parseLeakReport(body);
      return r.ok ? [] : r.errors.map((e) => e.field);
    };
    expect(fields([])).toEqual(["(body)"]);
    expect(fields({})).toEqual(["tokens", "source"]);
    expect(fields({ tokens: [""], source: "x" })).toEqual(["tokens"]);
    expect(fields({ tokens: new Array(MAX_LEAK_ENTRIES + 1).fill("t"), source: "x" })).toEqual(["tokens"]);
    expect(fields({ tokens: ["t"], source: "x", url: "ftp://x" })).toEqual(["url"]);
    expect(fields({ tokens: ["t"], source: "x", more: 1 })).toEqual(["more"]);
  });
});
