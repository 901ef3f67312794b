import { describe, expect, it } from "vitest";
import { DEFAULT_ROUTE, matchRoute, parseRoutes } from "../../../../src/edge/routes/table";

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
    expect(
      parseRoutes([
        { path: "/A/b/" },
        { path: "/files/*", methods: ["get", "post"], scopes: ["read"], hide: true },
        { path: "/x*" },
        { path: "/a/*;v" },
        { path: "/h", methods: ["HEAD", "GET"] },
      ]),
    ).toEqual([
      { path: "/A/b/", methods: null, auth: "key", scopes: [], hide: false, segments: ["a", "b"], rest: false },
      {
        path: "/files/*",
        methods: ["GET", "POST", "HEAD"],
        auth: "key",
        scopes: ["read"],
        hide: true,
        segments: ["files"],
        rest: true,
      },
      { path: "/x*", methods: null, auth: "key", scopes: [], hide: false, segments: ["x*"], rest: false },
      { path: "/a/*;v", methods: null, auth: "key", scopes: [], hide: false, segments: ["a", "*"], rest: false },
      { path: "/h", methods: ["HEAD", "GET"], auth: "key", scopes: [], hide: false, segments: ["h"], rest: false },
    ]);
  });

  it("the default route: any method, a key, no scopes, not hidden, any path", () => {
    expect(DEFAULT_ROUTE).toEqual({
      path: "(default)",
      methods: null,
      auth: "key",
      scopes: [],
      hide: false,
      segments: [],
      rest: true,
    });
  });
});

describe("matchRoute", () => {
  // The README's example (docs/configuration.md): the more specific route first. Parsed
  // inside each test, not while the file is collected: a parse error must fail the tests
  // (mutation testing cannot see a file that fails to load).
  const routes = () =>
    parseRoutes([
      { path: "/health", auth: "public" },
      { path: "/api/v1/samples/:id/private", scopes: ["samples"], hide: true },
      { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
      { path: "/api/v1/admin/*", scopes: ["admin"] },
      { path: "/files/*/meta", scopes: ["files"] },
      { path: "/users/:id/*", scopes: ["users"] },
    ]);
  const m = (path: string, method = "GET") => matchRoute(routes(), path, method).path;

  it("first match wins; a final * matches the rest, including nothing", () => {
    expect(m("/health")).toBe("/health");
    expect(m("/api/v1/samples")).toBe("/api/v1/samples/*");
    expect(m("/api/v1/samples/abc/private")).toBe("/api/v1/samples/:id/private");
    expect(m("/api/v1/admin/users/1", "DELETE")).toBe("/api/v1/admin/*");
  });

  it("methods restrict a route; GET implies HEAD", () => {
    expect(m("/api/v1/samples/x", "HEAD")).toBe("/api/v1/samples/*");
    expect(m("/api/v1/samples/abc/private", "HEAD")).toBe("/api/v1/samples/:id/private");
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

describe("route tables that shadow themselves (issue 8, class 2)", () => {
  it.each([
    // The README's old example: the public GET catch-all took GET /…/private.
    [
      [
        { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
        { path: "/api/v1/samples/:id/private", scopes: ["samples"], hide: true },
      ],
      'entry 0 "/api/v1/samples/*" (GET, public) is listed before entry 1 "/api/v1/samples/:id/private" (any method, scopes samples, hide) and takes some of its requests (e.g. GET /api/v1/samples/x/private)',
    ],
    [
      [
        { path: "/api/*", auth: "public" },
        { path: "/api/admin", scopes: ["admin"] },
      ],
      'entry 0 "/api/*"',
    ],
    [
      [
        { path: "/*", auth: "key" },
        { path: "/health", auth: "public" },
      ],
      'entry 1 "/health"',
    ],
    [
      [
        { path: "/a/:id", auth: "public" },
        { path: "/a/:x", scopes: ["x"] },
      ],
      "never apply",
    ],
    [
      [
        { path: "/a/*", auth: "public" },
        { path: "/a/:id", scopes: ["x"] },
      ],
      "never apply",
    ],
    [
      [
        { path: "/a/x", auth: "public" },
        { path: "/A/x/", scopes: ["x"] },
      ],
      "never apply",
    ],
    [
      [
        { path: "/a/:id/b", auth: "public" },
        { path: "/a/c/:id", scopes: ["x"] },
      ],
      "e.g. GET /a/c/b",
    ],
    [
      [
        { path: "/a", methods: ["GET", "POST"], auth: "public" },
        { path: "/a", methods: ["POST"], scopes: ["w"] },
      ],
      "e.g. POST /a",
    ],
    [
      [
        { path: "/a/*", scopes: ["a"] },
        { path: "/a/b", scopes: ["a"], hide: true },
      ],
      "hide",
    ],
    [
      [
        { path: "/a/*", scopes: ["a"] },
        { path: "/a/b", scopes: ["a", "b"] },
      ],
      "scopes a,b",
    ],
    [[{ path: "/x/*" }, { path: "/x/%41", scopes: ["a"] }], "never apply"],
    // Where the paths meet, and the example request the message gives for it.
    [
      [
        { path: "/a/*", auth: "public" },
        { path: "/a/b/c", scopes: ["x"] },
      ],
      "takes some of its requests (e.g. GET /a/b/c)",
    ],
    [
      [
        { path: "/:p/b", auth: "public" },
        { path: "/a/*", scopes: ["x"] },
      ],
      "e.g. GET /a/b",
    ],
    [
      [
        { path: "/a/*", methods: ["DELETE"], auth: "public" },
        { path: "/a/:id", scopes: ["x"] },
      ],
      "e.g. DELETE /a/x",
    ],
    [
      [
        { path: "/a/*", auth: "public" },
        { path: "/a/:id", methods: ["PUT"], scopes: ["x"] },
      ],
      "e.g. PUT /a/x",
    ],
    [
      [
        { path: "/a", methods: ["PATCH", "POST"], auth: "public" },
        { path: "/a", methods: ["POST", "PUT"], scopes: ["w"] },
      ],
      "e.g. POST /a",
    ],
    [
      [
        { path: "/*", auth: "public" },
        { path: "/b", scopes: ["x", "y"] },
      ],
      '"/b" (any method, scopes x,y)',
    ],
    [
      [
        { path: "/*", methods: ["GET"], scopes: ["r"] },
        { path: "/b", methods: ["GET"], auth: "public" },
      ],
      '"/*" (GET, scopes r)',
    ],
    [
      [
        { path: "/*", scopes: ["a", "b"] },
        { path: "/b", scopes: ["a", "c"] },
      ],
      "scopes a,c",
    ],
  ])("refuses %j", (table, message) => {
    expect(() => parseRoutes(table)).toThrow(message);
  });

  it.each([
    // An exception before a catch-all: the earlier route is the more specific one.
    [{ path: "/health", auth: "public" }, { path: "/*" }],
    [
      { path: "/api/v1/samples/:id/private", scopes: ["s"], hide: true },
      { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
    ],
    [{ path: "/a", methods: ["GET"], auth: "public" }, { path: "/a" }],
    [
      { path: "/a/b/*", scopes: ["x"] },
      { path: "/a/*", auth: "public" },
    ],
    // Overlapping routes with the same policy, disjoint routes, disjoint methods.
    [
      { path: "/a/*", scopes: ["x"] },
      { path: "/*/b", scopes: ["x"] },
    ],
    [
      { path: "/a/*", auth: "public" },
      { path: "/b/*", scopes: ["x"] },
    ],
    [
      { path: "/a", methods: ["GET"], auth: "public" },
      { path: "/a", methods: ["POST"], scopes: ["w"] },
    ],
    // Paths that can never meet: a fixed path shorter than a pattern's fixed part, longer
    // without a rest, a different literal in any segment.
    [
      { path: "/a/b/*", auth: "public" },
      { path: "/a", scopes: ["x"] },
    ],
    [
      { path: "/a", auth: "public" },
      { path: "/a/b/*", scopes: ["x"] },
    ],
    [
      { path: "/a/b", auth: "public" },
      { path: "/a", scopes: ["x"] },
    ],
    [
      { path: "/a/:id/c", auth: "public" },
      { path: "/a/b/d", scopes: ["x"] },
    ],
    // Same policy whatever the order of the scopes.
    [
      { path: "/*", scopes: ["a", "b"] },
      { path: "/b", scopes: ["b", "a"] },
    ],
    // The earlier route is strictly narrower: fewer methods on the same paths, a literal for a parameter.
    [{ path: "/a/:id", methods: ["GET"], auth: "public" }, { path: "/a/:x" }],
    [{ path: "/a/b", auth: "public" }, { path: "/a/:id" }],
    [
      { path: "/a/:id", methods: ["DELETE"], auth: "public" },
      { path: "/a/*", scopes: ["x"] },
    ],
    [
      { path: "/a/:id", auth: "public" },
      { path: "/a/*", methods: ["PUT"], scopes: ["x"] },
    ],
  ])("accepts %j then %j", (a, b) => {
    expect(parseRoutes([a, b])).toHaveLength(2);
  });

  it("so first match is most specific: every accepted table agrees with its reverse wherever both are accepted", () => {
    const table = [
      { path: "/api/v1/samples/:id/private", scopes: ["s"], hide: true },
      { path: "/api/v1/samples/*", methods: ["GET"], auth: "public" },
      { path: "/*" },
    ];
    expect(() => parseRoutes([...table].reverse())).toThrow(/list the more specific route first/);
    expect(matchRoute(parseRoutes(table), "/api/v1/samples/1/private", "GET").path).toBe("/api/v1/samples/:id/private");
  });
});
