/**
 * Issue 8, class 1: encoded delimiters. Property tests (fast-check) over the path
 * normalizer and the route table: an encoded variant of a path — any character
 * percent-encoded, in either case, once or twice, `\` for `/` — is either refused or is
 * the very same canonical path, so it can never match a less restrictive route than the
 * decoded path, nor be forwarded (under ORIGIN_URL's base path) as anything an origin
 * that decodes it would read differently.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { targetUrl } from "../../../../src/edge/proxy/forward";
import { normalizePath } from "../../../../src/edge/routes/normalize";
import type { Route } from "../../../../src/edge/routes/table";
import { matchRoute, parseRoutes } from "../../../../src/edge/routes/table";
import { makeEnv, mint, ORIGIN, through } from "../../../support/worker-helpers";

// ---------- a table with every level of restriction ----------

const TABLE = [
  { path: "/public/*", auth: "public" },
  { path: "/docs/:page", methods: ["GET"], auth: "public" },
  { path: "/api/admin;v=1/*", scopes: ["admin"] },
  { path: "/api/a@b/*", scopes: ["mail"], hide: true },
  { path: "/api/admin/*", scopes: ["admin"] },
  { path: "/api/*", scopes: ["read"] },
];
const ROUTES = parseRoutes(TABLE);

/** How restrictive a route is: public < any key < scoped (more scopes, more) ; hidden above its scopes. */
function rank(route: Route): number {
  if (route.auth === "public") return 0;
  return 1 + route.scopes.length * 2 + (route.hide ? 1 : 0);
}

// ---------- generators ----------

/** Characters a decoded path segment may hold (a pathname never holds a literal ? or #). */
const SEGMENT_CHARS = [..."abcdemnoprstuvwxyzAD0129-._~!$&'()*+,;=:@[]|^"];
const WORDS = ["public", "docs", "api", "admin", "a@b", "ADMIN", "admin;v=1", "x", ".", "..", "..;", "%2e", ";"];
const segment = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.array(fc.constantFrom(...SEGMENT_CHARS), { minLength: 1, maxLength: 8 }).map((a) => a.join("")),
);
/** A decoded path: what the client means. */
const decodedPath = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 6 }), fc.boolean())
  .map(([segs, slash]) => "/" + segs.join("/") + (slash && segs.length > 0 ? "/" : ""))
  .filter((p) => normalizePath(p).ok);

const hex = (code: number, upper: boolean) => {
  const h = code.toString(16).padStart(2, "0");
  return upper ? h.toUpperCase() : h.toLowerCase();
};

/**
 * An encoded variant of `path`: each character kept, percent-encoded (upper or lower hex),
 * or double-encoded; a `/` may become `\`.
 */
function variantOf(path: string, choices: number[]): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    const c = choices[i % choices.length]!;
    const code = ch.charCodeAt(0);
    if (ch === "/") out += c % 7 === 0 ? "\\" : c % 11 === 0 ? "%2F" : c % 13 === 0 ? "%2f" : "/";
    else if (c % 5 === 0) out += "%" + hex(code, c % 2 === 0);
    else if (c % 17 === 0) out += "%25" + hex(code, c % 2 === 0);
    else out += ch;
  }
  return out;
}
const choices = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 64 });
const method = fc.constantFrom("GET", "HEAD", "POST", "DELETE");

/** What an origin that percent-decodes the path once before routing reads. */
function originReading(path: string): string {
  return path.replace(/%([0-9A-F]{2})/g, (m, h: string) => {
    const b = parseInt(h, 16);
    return b < 0x80 ? String.fromCharCode(b) : m;
  });
}

describe("encoded delimiters (issue 8, class 1): properties", () => {
  test.prop([decodedPath, choices])(
    "an encoded variant is refused or normalizes to the decoded path's canonical form",
    (path, c) => {
      const variant = variantOf(path, c);
      const n = normalizePath(variant);
      if (!n.ok) return;
      expect(n.path).toBe((normalizePath(path) as { path: string }).path);
    },
  );

  test.prop([decodedPath, choices, method])(
    "an encoded variant never matches a less restrictive route than the decoded path",
    (path, c, m) => {
      const decoded = normalizePath(path);
      const n = normalizePath(variantOf(path, c));
      if (!decoded.ok || !n.ok) return;
      expect(rank(matchRoute(ROUTES, n.path, m))).toBeGreaterThanOrEqual(rank(matchRoute(ROUTES, decoded.path, m)));
    },
  );

  test.prop([decodedPath, choices, method, fc.constantFrom("", "/base", "/v1/base")])(
    "what is forwarded, under any base path, reads (to an origin that decodes it) as the route the gateway matched",
    (path, c, m, base) => {
      const n = normalizePath(variantOf(path, c));
      if (!n.ok) return;
      const target = new URL(targetUrl(`https://origin.example${base}`, n.path, ""));
      expect(target.origin).toBe("https://origin.example");
      expect(target.pathname.startsWith(base + "/")).toBe(true);
      const rest = target.pathname.slice(base.length);
      expect(rest).toBe(n.path);
      // The origin decodes once more: the same route, no delimiter appearing.
      const read = originReading(rest);
      expect(normalizePath(read).ok && (normalizePath(read) as { path: string }).path).toBe(n.path);
      expect(matchRoute(ROUTES, read, m)).toBe(matchRoute(ROUTES, n.path, m));
    },
  );

  test.prop([
    fc.constantFrom("2f", "5c", "3b", "3f", "23", "25", "00", "0a", "7f"),
    fc.boolean(),
    fc.boolean(),
    decodedPath,
  ])(
    "every encoded delimiter, in either case, single or double encoded, anywhere: refused",
    (code, upper, double, path) => {
      const enc = (double ? "%25" : "%") + (upper ? code.toUpperCase() : code);
      const at = Math.floor(path.length / 2);
      const n = normalizePath(path.slice(0, at) + enc + path.slice(at));
      expect(n.ok).toBe(false);
    },
  );

  test.prop([decodedPath])("normalizing is idempotent", (path) => {
    const once = normalizePath(path);
    if (!once.ok) return;
    expect(normalizePath(once.path)).toEqual(once);
  });
});

describe("encoded delimiters (issue 8, class 1): through the gateway to the real origin", () => {
  const routes = JSON.stringify([
    { path: "/public/*", auth: "public" },
    { path: "/admin/*", scopes: ["admin"] },
    { path: "/api/a@b/*", scopes: ["mail"] },
  ]);
  const env = () => makeEnv({ ROUTES: routes, ORIGIN_URL: `${ORIGIN}/base` });

  it.each([
    "/public/..%3B/admin/users",
    "/public/..%3b/admin/users",
    "/public/%2e%2e%3b/admin/users",
    "/admin%3Bx/users",
    "/public/%25%32%65%25%32%65/admin/users",
    "/public/%252e%252e%253b/admin/users",
    "/public/%c0%ae%c0%ae/admin/users",
    "/public/%ef%bc%8e%ef%bc%8e/admin/users",
    "/public/..%2Fadmin/users",
    "/public/..%5Cadmin/users",
    "/public/%00/admin",
  ])("%s: 400, nothing forwarded, with or without a key", async (path) => {
    const { key } = await mint({ scopes: ["read"] });
    const variants: Record<string, string>[] = [{}, { "x-api-key": key }];
    for (const headers of variants) {
      const { res, calls } = await through(path, { headers }, env());
      expect(res.status, path).toBe(400);
      expect(calls).toHaveLength(0);
    }
  });

  // The URL parser resolves a literal `..` before the gateway sees the path: these reach
  // /admin/users, which is protected — never the public route an origin decoding %3B,
  // %3F or %23 would have been tricked into.
  it.each(["/public%3B/../admin/users", "/public/x%3F/../../admin/users", "/public/x%23/../../admin/users"])(
    "%s: refused, never forwarded",
    async (path) => {
      const { key } = await mint({ scopes: ["read"] });
      const variants: Record<string, string>[] = [{}, { "x-api-key": key }];
      for (const headers of variants) {
        const { res, calls } = await through(path, { headers }, env());
        expect([400, 401, 403], path).toContain(res.status);
        expect(calls).toHaveLength(0);
      }
    },
  );

  it("an encoded sub-delimiter is the literal one: matched and forwarded identically, under the base path", async () => {
    const { key } = await mint({ scopes: ["read"] });
    const noScope = await through("/api/a%40b/inbox", { headers: { "x-api-key": key } }, env());
    expect(noScope.res.status).toBe(403);
    expect(noScope.calls).toHaveLength(0);
    const { key: mail } = await mint({ scopes: ["mail"] });
    for (const path of ["/api/a%40b/inbox", "/api/a@b/inbox", "/API/A%40B/inbox"]) {
      const ok = await through(path, { headers: { "x-api-key": mail } }, env());
      expect(ok.res.status, path).toBe(200);
      expect(ok.calls[0]!.url.toLowerCase()).toBe("/base/api/a@b/inbox");
    }
    const pub = await through("/public/%61%3A%2C", {}, env());
    expect(pub.calls[0]!.url).toBe("/base/public/a:,");
  });
});
