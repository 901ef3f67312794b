/**
 * The six profiles as a client sees them: how it sends a key, and the shape of every
 * answer keygate gives itself. Shared by the hardening suites, which assert that each
 * refusal is a deliberate 4xx in the profile's shape.
 */
import { expect } from "vitest";
import type { Vars } from "./worker-helpers";
import { basic } from "./worker-helpers";

export interface ProfileCase {
  name: string;
  vars: Vars;
  /** How an existing client of this API sends its key. */
  present: (key: string) => Record<string, string>;
  missingStatus: number;
  contentType: string;
  /** WWW-Authenticate on its 401 answers (and only on those). */
  challenge: string;
  /** Throws unless `body` has the profile's error shape with `status`. */
  shape: (body: unknown, status: number) => void;
}

const str = expect.any(String);

export const PROFILE_CASES: ProfileCase[] = [
  {
    name: "default",
    vars: {},
    present: (key) => ({ authorization: `Bearer ${key}` }),
    missingStatus: 401,
    contentType: "application/problem+json",
    challenge: 'ApiKey realm="api", header="x-api-key", Bearer realm="api", Basic realm="api", charset="UTF-8"',
    shape: (b, status) => expect(b).toEqual({ type: "about:blank", title: str, status, detail: str, code: str }),
  },
  {
    name: "argos",
    vars: { AUTH_PROFILE: "argos" },
    present: (key) => ({ "x-api-key": key }),
    missingStatus: 401,
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
    shape: (b, status) => expect(b).toEqual({ error: { code: str, status, message: str } }),
  },
  {
    name: "artanis",
    vars: { AUTH_PROFILE: "artanis" },
    present: (key) => ({ "x-api-key": key, "x-org-slug": "acme" }),
    missingStatus: 401,
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
    shape: (b, status) => expect(b).toEqual({ error: str, status, message: str }),
  },
  {
    name: "operate",
    vars: { AUTH_PROFILE: "operate" },
    present: (key) => ({ "x-api-key": key }),
    missingStatus: 400,
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key"',
    shape: (b) => expect(b).toEqual({ success: false, error: { type: str, message: str } }),
  },
  {
    name: "argus",
    vars: { AUTH_PROFILE: "argus" },
    present: (key) => ({ "X-API-Key": key }),
    missingStatus: 401,
    contentType: "application/json",
    challenge: 'ApiKey realm="api", header="x-api-key", Bearer realm="api"',
    shape: (b) => expect(b).toEqual({ detail: str }),
  },
  {
    name: "onecodex",
    vars: { AUTH_PROFILE: "onecodex" },
    present: (key) => ({ authorization: basic(key) }),
    missingStatus: 401,
    contentType: "application/json",
    challenge: 'Basic realm="api", charset="UTF-8", ApiKey realm="api", header="x-api-key"',
    shape: (b, status) => expect(b).toEqual({ message: str, status }),
  },
];

/** A refusal keygate produced itself: expected status, the profile's shape and headers. */
export function expectRefusal(p: ProfileCase, res: Response, body: string, status: number): void {
  expect(res.status, body).toBe(status);
  expect(res.headers.get("content-type")).toBe(p.contentType);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
  expect(res.headers.get("www-authenticate")).toBe(status === 401 ? p.challenge : null);
  p.shape(JSON.parse(body), status);
}
