import { describe, expect, it } from "vitest";
import { DEFAULT_ROUTE, matchRoute, parseRoutes } from "../../../src/routes/table";

describe("parseRoutes", () => {
  it.each([
    [{}, "must be a JSON array"],
    [[1], "entry 0: must be an object"],
    [[{ path: "/a", scope: ["x"] }], 'unknown field "scope"'],
    [[{ path: "a" }], '"path" must be a string starting with "/"'],
    [[{ path: "/a", methods: [] }], '"methods"'],
    [[{ path: "/a", methods: ["G T"] }], '"methods"'],
    [[{ path: "/a", auth: "none" }], '"auth" must be "public" or "key"'],
    [[{ path: "/a", scopes: "admin" }], '"scopes"'],
    [[{ path: "/a", auth: "public", scopes: ["x"] }], "a public route cannot require scopes"],
    [[{ path: "/a", hide: "yes" }], '"hide"'],
    [[null], "entry 0: must be an object"],
    [[[]], "entry 0: must be an object"],
    [[{ path: "/ok" }, "x"], "entry 1: must be an object"],
    [[{ path: 5 }], '"path" must be a string starting with "/"'],
    [[{ path: "/a", methods: ["GET", 5] }], '"methods"'],
    [[{ path: "/a", methods: ["GET", "G T"] }], '"methods"'],
    [[{ path: "/a", methods: "GET" }], '"methods"'],
    [[{ path: "/a", scopes: ["read", 5] }], '"scopes"'],
    [[{ path: "/a", scopes: ["read", "has space"] }], '"scopes"'],
  ])("refuses %j", (value, message) => {
    expect(() => parseRoutes(value)).toThrow(message);
  });
});

describe("parseRoutes: the parsed form", () => {
  it("fills defaults, upper-cases methods, adds HEAD to GET, splits the pattern", () => {
    expect(parseRoutes([{ path: "/A/b/" }, { path: "/files/*", methods: ["get", "post"], scopes: ["read"], hide: true }, { path: "/x*" }, { path: "/a/*;v" }, { path: "/h", methods: ["HEAD", "GET"] }])).toEqual([
      { path: "/A/b/", methods: null, auth: "key", scopes: [], hide: false, segments: ["a", "b"], rest: false },
      { path: "/files/*", methods: ["GET", "POST", "HEAD"], auth: "key", scopes: ["read"], hide: true, segments: ["files"], rest: true },
      { path: "/x*", methods: null, auth: "key", scopes: [], hide: false, segments: ["x*"], rest: false },
      { path: "/a/*;v", methods: null, auth: "key", scopes: [], hide: false, segments: ["a", "*"], rest: false },
      { path: "/h", methods: ["HEAD", "GET"], auth: "key", scopes: [], hide: false, segments: ["h"], rest: false },
    ]);
  });

  it("the default route: any method, a key, no scopes, not hidden, any path", () => {
    expect(DEFAULT_ROUTE).toEqual({ path: "(default)", methods: null, auth: "key", scopes: [], hide: false, segments: [], rest: true });
  });
});

describe("matchRoute", () => {
  // Parsed inside each test, not while the file is collected: a parse error must fail
  // the tests (mutation testing cannot see a file that fails to load).
  const routes = () => parseRoutes([
    { path: "/health", auth: "public" },
    { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
    { path: "/api/v1/admin/*", scopes: ["admin"] },
    { path: "/api/v1/samples/:id/private", scopes: ["samples"], hide: true },
    { path: "/files/*/meta", scopes: ["files"] },
    { path: "/users/:id/*", scopes: ["users"] },
  ]);
  const m = (path: string, method = "GET") => matchRoute(routes(), path, method).path;

  it("first match wins; a final * matches the rest, including nothing", () => {
    expect(m("/health")).toBe("/health");
    expect(m("/api/v1/samples")).toBe("/api/v1/samples/*");
    expect(m("/api/v1/samples/abc/private")).toBe("/api/v1/samples/*"); // listed first
    expect(m("/api/v1/admin/users/1", "DELETE")).toBe("/api/v1/admin/*");
  });

  it("methods restrict a route; GET implies HEAD", () => {
    expect(m("/api/v1/samples/x", "HEAD")).toBe("/api/v1/samples/*");
    expect(m("/api/v1/samples/abc/private", "POST")).toBe("/api/v1/samples/:id/private");
    expect(m("/api/v1/samples/x", "POST")).toBe(DEFAULT_ROUTE.path);
  });

  it("a middle * or :param matches exactly one segment", () => {
    expect(m("/files/a/meta")).toBe("/files/*/meta");
    expect(m("/files/a/b/meta")).toBe(DEFAULT_ROUTE.path);
    expect(m("/files/a/meta/x")).toBe(DEFAULT_ROUTE.path);
    expect(m("/health/x")).toBe(DEFAULT_ROUTE.path);
    expect(m("/users/7")).toBe("/users/:id/*");
    expect(m("/users/7/keys/1")).toBe("/users/:id/*");
    expect(m("/users")).toBe(DEFAULT_ROUTE.path); // a rest pattern still needs its fixed part
  });

  it("case, trailing slash and ;params cannot dodge a restricted route", () => {
    expect(m("/API/V1/ADMIN/users", "POST")).toBe("/api/v1/admin/*");
    expect(m("/api/v1/admin;x=1/users", "POST")).toBe("/api/v1/admin/*");
    expect(m("/Health/")).toBe("/health");
  });

  it("unmatched paths fall to the default: a key is needed", () => {
    expect(matchRoute(routes(), "/other", "GET")).toBe(DEFAULT_ROUTE);
    expect(DEFAULT_ROUTE.auth).toBe("key");
    expect(matchRoute([], "/anything", "GET")).toBe(DEFAULT_ROUTE);
  });
});
