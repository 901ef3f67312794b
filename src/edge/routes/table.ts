/**
 * The route table (ROUTES): first match wins, an unmatched path needs a key. A table in
 * which an earlier route takes requests from a later, more specific one with a different
 * policy is refused at start (checkShadowing): first match is then always most specific.
 *
 * Patterns: literal segments; `:name` or `*` for exactly one segment; a final `*` for
 * any rest, including none (`/api/v1/samples/*` matches `/api/v1/samples` and everything
 * below it). Matching is on matchSegments(): case-insensitive, `;params` and trailing
 * slash ignored.
 */
import { SCOPE_RE } from "../../keys/record";
import { matchSegments, normalizePath } from "./normalize";

export interface Route {
  /** The pattern as configured, for logs. */
  path: string;
  /** Upper-case methods; null = any. GET also matches HEAD. */
  methods: string[] | null;
  auth: "public" | "key";
  scopes: string[];
  /** Answer 404 instead of 403, so a forbidden resource's existence is not revealed. */
  hide: boolean;
  /** This route's own enforcement (docs/migrating.md); absent: ENFORCEMENT's. */
  enforcement?: "enforce" | "report";
  segments: string[];
  rest: boolean;
}

/** What applies to paths no entry matches. */
export const DEFAULT_ROUTE: Route = {
  path: "(default)",
  methods: null,
  auth: "key",
  scopes: [],
  hide: false,
  segments: [],
  rest: true,
};

const ROUTE_FIELDS = new Set(["path", "methods", "auth", "scopes", "hide", "enforcement"]);
const METHOD_RE = /^[A-Z]+$/;

/** Parse and validate ROUTES. Throws an Error whose message names the bad entry and field. */
export function parseRoutes(value: unknown): Route[] {
  if (!Array.isArray(value)) throw new Error("must be a JSON array of route objects");
  const routes = value.map((entry, i): Route => {
    const where = `entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new Error(`${where}: must be an object`);
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      // A typo ("scope") must not silently drop a restriction: refuse unknown fields.
      if (!ROUTE_FIELDS.has(k)) throw new Error(`${where}: unknown field "${k}"`);
    }
    if (typeof e.path !== "string" || !e.path.startsWith("/"))
      throw new Error(`${where}: "path" must be a string starting with "/"`);
    const methods = e.methods ?? null;
    if (
      methods !== null &&
      (!Array.isArray(methods) ||
        methods.length === 0 ||
        !methods.every((m) => typeof m === "string" && METHOD_RE.test(m.toUpperCase())))
    ) {
      throw new Error(`${where}: "methods" must be a non-empty array of HTTP methods`);
    }
    const auth = e.auth ?? "key";
    if (auth !== "public" && auth !== "key") throw new Error(`${where}: "auth" must be "public" or "key"`);
    const scopes = e.scopes ?? [];
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && SCOPE_RE.test(s))) {
      throw new Error(`${where}: "scopes" must be an array of scope names`);
    }
    if (auth === "public" && scopes.length > 0) throw new Error(`${where}: a public route cannot require scopes`);
    const hide = e.hide ?? false;
    if (typeof hide !== "boolean") throw new Error(`${where}: "hide" must be true or false`);
    const enforcement = e.enforcement;
    if (enforcement !== undefined && enforcement !== "enforce" && enforcement !== "report")
      throw new Error(`${where}: "enforcement" must be "enforce" or "report"`);
    // The pattern in the canonical form requests are matched in (edge/routes/normalize.ts):
    // `/a%40b` and `/a@b` are one pattern, and one that requests could never match is refused.
    if (e.path.split(/[/\\]/).some((seg) => seg === "." || seg === ".."))
      throw new Error(`${where}: "path" must not contain "." or ".." segments`);
    const canonical = normalizePath(e.path);
    if (!canonical.ok) throw new Error(`${where}: "path" ${canonical.reason}`);
    const segments = matchSegments(canonical.path);
    const rest = segments[segments.length - 1] === "*" && e.path.endsWith("*");
    const upper = methods === null ? null : (methods as string[]).map((m) => m.toUpperCase());
    if (upper?.includes("GET") && !upper.includes("HEAD")) upper.push("HEAD");
    return {
      path: e.path,
      methods: upper,
      auth,
      scopes: scopes as string[],
      hide,
      ...(enforcement !== undefined ? { enforcement } : {}),
      segments: rest ? segments.slice(0, -1) : segments,
      rest,
    };
  });
  checkShadowing(routes);
  return routes;
}

const isWildcard = (seg: string) => seg === "*" || seg.startsWith(":");

/** Whether some path matches both patterns. */
function pathsOverlap(a: Route, b: Route): boolean {
  if (!a.rest && !b.rest && a.segments.length !== b.segments.length) return false;
  if (a.rest && !b.rest && b.segments.length < a.segments.length) return false;
  if (!a.rest && b.rest && a.segments.length < b.segments.length) return false;
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const x = a.segments[i]!;
    const y = b.segments[i]!;
    if (!isWildcard(x) && !isWildcard(y) && x !== y) return false;
  }
  return true;
}

/** Whether every path `a` matches, `b` matches too. */
function pathWithin(a: Route, b: Route): boolean {
  if (b.rest ? a.segments.length < b.segments.length : a.rest || a.segments.length !== b.segments.length) return false;
  for (let i = 0; i < b.segments.length; i++) {
    const x = a.segments[i]!;
    const y = b.segments[i]!;
    if (!isWildcard(y) && (isWildcard(x) || x !== y)) return false;
  }
  return true;
}

function methodsOverlap(a: Route, b: Route): boolean {
  return a.methods === null || b.methods === null || a.methods.some((m) => b.methods!.includes(m));
}

function methodsWithin(a: Route, b: Route): boolean {
  return b.methods === null || (a.methods?.every((m) => b.methods!.includes(m)) ?? false);
}

function samePolicy(a: Route, b: Route): boolean {
  return (
    a.auth === b.auth &&
    a.hide === b.hide &&
    a.enforcement === b.enforcement &&
    a.scopes.length === b.scopes.length &&
    a.scopes.every((s) => b.scopes.includes(s))
  );
}

/** A request both routes match, for the error message. */
function sharedRequest(a: Route, b: Route): string {
  const longer = a.segments.length >= b.segments.length ? a : b;
  const shorter = longer === a ? b : a;
  const segs = longer.segments.map((seg, i) => {
    const other = shorter.segments[i];
    if (!isWildcard(seg)) return seg;
    return other !== undefined && !isWildcard(other) ? other : "x";
  });
  const method =
    a.methods === null
      ? (b.methods?.[0] ?? "GET")
      : b.methods === null
        ? a.methods[0]!
        : a.methods.find((m) => b.methods!.includes(m))!;
  return `${method} /${segs.join("/")}`;
}

function describeRoute(r: Route): string {
  const methods =
    r.methods === null ? "any method" : r.methods.filter((m) => m !== "HEAD" || !r.methods!.includes("GET")).join(",");
  const policy = r.auth === "public" ? "public" : r.scopes.length ? `scopes ${r.scopes.join(",")}` : "key";
  return `"${r.path}" (${methods}, ${policy}${r.hide ? ", hide" : ""}${r.enforcement ? `, ${r.enforcement}` : ""})`;
}

/**
 * First match wins, so an earlier route that takes some of a later route's requests
 * decides them. That is meant when the earlier one is more specific (an exception before
 * a catch-all: `/health` before `/*`). When it is not — a broader or equally broad route
 * with a different policy listed first — the later route is unreachable for those
 * requests, and a restriction the table seems to state silently does not apply. Such a
 * table is refused at start (fail closed: every request 500 until it is fixed), naming
 * both routes. More specific: a strictly narrower set of paths, or the same paths and
 * strictly fewer methods. Overlaps between routes with the same policy are harmless.
 */
export function checkShadowing(routes: Route[]): void {
  for (let i = 0; i < routes.length; i++) {
    for (let j = i + 1; j < routes.length; j++) {
      const a = routes[i]!;
      const b = routes[j]!;
      if (samePolicy(a, b) || !pathsOverlap(a, b) || !methodsOverlap(a, b)) continue;
      const narrowerPaths = pathWithin(a, b) && !pathWithin(b, a);
      const samePathsFewerMethods = pathWithin(a, b) && pathWithin(b, a) && methodsWithin(a, b) && !methodsWithin(b, a);
      if (narrowerPaths || samePathsFewerMethods) continue;
      throw new Error(
        `entry ${i} ${describeRoute(a)} is listed before entry ${j} ${describeRoute(b)} and takes some of its requests ` +
          `(e.g. ${sharedRequest(a, b)}), so entry ${j} would never apply to them: list the more specific route first`,
      );
    }
  }
}

function matches(route: Route, segments: string[]): boolean {
  if (route.rest ? segments.length < route.segments.length : segments.length !== route.segments.length) return false;
  for (let i = 0; i < route.segments.length; i++) {
    const p = route.segments[i]!;
    if (p !== "*" && !p.startsWith(":") && p !== segments[i]) return false;
  }
  return true;
}

/** The first route that matches a normalized path and method, or DEFAULT_ROUTE. */
export function matchRoute(routes: Route[], path: string, method: string): Route {
  if (routes.length === 0) return DEFAULT_ROUTE;
  const segments = matchSegments(path);
  for (const route of routes) {
    if (route.methods !== null && !route.methods.includes(method)) continue;
    if (matches(route, segments)) return route;
  }
  return DEFAULT_ROUTE;
}
