/**
 * Known bypass attempts, each sent through the real gateway to the real origin, in every
 * profile. Each answer is a deliberate 4xx in the profile's shape (the origin never
 * called) or a forward on the normalized path with exactly the key's identity — never a
 * 5xx, never a bypass. Raw-wire variants a Fetch client cannot send (`//host/x`,
 * absolute-form targets, raw non-ASCII) are in test/e2e/hardening.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import type { ProfileCase } from "../../../support/profile-shapes";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { basic, makeEnv, mint, ORIGIN, patchRecord, through, unknownKey } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([
  { path: "/public/*", auth: "public", methods: ["GET"] },
  { path: "/admin/*", scopes: ["admin"] },
  { path: "/private/*", scopes: ["admin"], hide: true },
]);

type Expect = "protected" | "hidden" | "bad" | { forward: string };

/** Path attempts at the protected /admin and /private trees from the public one. */
const PATHS: [string, Expect][] = [
  ["/public/%2e%2e/admin/users", "protected"],
  ["/public/%2E%2E/admin/users", "protected"],
  ["/public/.%2e/admin/users", "protected"],
  ["/public/%2e./admin/users", "protected"],
  ["/public/x/%2e%2e/%2e%2e/admin/users", "protected"],
  ["/public/%2e%2e/%2e%2e/%2e%2e/admin/users", "protected"],
  ["/public/%252e%252e/admin/users", "bad"],
  ["/public/%25252e%25252e/admin/users", "bad"],
  ["/public/%25%32%65%25%32%65/admin/users", "bad"],
  ["/public/..%2fadmin/users", "bad"],
  ["/public/..%2Fadmin/users", "bad"],
  ["/public/%2e%2e%2fadmin/users", "bad"],
  ["/public/..%252fadmin/users", "bad"],
  ["/public/..%5cadmin/users", "bad"],
  ["/public/%5c..%5cadmin/users", "bad"],
  ["/public\\..\\admin/users", "protected"],
  ["/public/..\\admin/users", "protected"],
  ["/public/..;/admin/users", "bad"],
  ["/public/%2e%2e;/admin/users", "bad"],
  ["/public/..;jsessionid=1/admin/users", "bad"],
  ["/admin;x=1/users", "protected"],
  ["/admin;/users", "protected"],
  ["/ADMIN;foo/users", "protected"],
  ["/admin%00/users", "bad"],
  // The URL parser resolves ".." before the gateway sees the path: a public path, forwarded.
  ["/public/%00/../admin/users", { forward: "/public/admin/users" }],
  ["/public/%00/%2e%2e/admin/users", { forward: "/public/admin/users" }],
  ["/public/%00", "bad"],
  ["/admin/users%00.json", "bad"],
  ["/public/%0a/admin", "bad"],
  ["/public/%7f", "bad"],
  ["/public/%zz", "bad"],
  ["/public/%", "bad"],
  ["/ADMIN/users", "protected"],
  ["/Admin/Users", "protected"],
  ["/aDmIn", "protected"],
  ["/admin", "protected"],
  ["/admin/", "protected"],
  ["/admin//", "protected"],
  ["/admin///users//", "protected"],
  ["/%61dmin/users", "protected"],
  ["/%41DMIN/users", "protected"],
  ["/public/../admin/users", "protected"],
  ["/PRIVATE/sample-1", "hidden"],
  ["/private;x/sample-1/", "hidden"],
  ["/public/%2e%2e/private/sample-1", "hidden"],
  // Forwarded on the normalized path: decoded unreserved characters, kept escapes.
  ["/public/a%2Eb", { forward: "/public/a.b" }],
  ["/public/%41%42c", { forward: "/public/ABc" }],
  ["/public/caf%c3%a9", { forward: "/public/caf%C3%A9" }],
  ["/public/café", { forward: "/public/caf%C3%A9" }],
  ["/public/%e9", { forward: "/public/%E9" }],
  ["/public//x//", { forward: "/public/x/" }],
  ["/public/x/./y/../z", { forward: "/public/x/z" }],
  ["/public/%20space", { forward: "/public/%20space" }],
  // An encoded delimiter is refused (issue 8, class 1): an origin may decode it to `;`.
  ["/public/a%3Bb", "bad"],
  // A segment ending in a dot or a space is refused (issue 20, class 3): IIS/Windows drop
  // them (`/private.` is `/private` there), Spring's suffix matching too.
  ["/private./sample-1", "bad"],
  ["/private%2e/sample-1", "bad"],
  ["/private%2E/sample-1", "bad"],
  ["/private%20/sample-1", "bad"],
  ["/private.%20./sample-1", "bad"],
  ["/admin./users", "bad"],
  ["/admin%20/users", "bad"],
  ["/ADMIN.;x/users", "bad"],
  ["/public/..%20/admin/users", "bad"],
  ["/public/.%20/admin/users", "bad"],
  ["/public/%2e%2e%20/admin/users", "bad"],
  ["/public/x.", "bad"],
  ["/public/x%20", "bad"],
  ["/public/x./", "bad"],
  ["/public/.x/x.y", { forward: "/public/.x/x.y" }],
];

function statusFor(p: ProfileCase, e: Exclude<Expect, { forward: string }>, withKey: boolean): number {
  if (e === "bad") return 400;
  if (!withKey) return p.missingStatus;
  return e === "hidden" ? 404 : 403;
}

for (const p of PROFILE_CASES) {
  describe(`bypass attempts: ${p.name}`, () => {
    const env = () => makeEnv({ ...p.vars, ROUTES });

    it("paths: refused in the profile's shape, or forwarded on the normalized path", async () => {
      const { key } = await mint({ scopes: ["read"] });
      for (const [path, expected] of PATHS) {
        for (const withKey of [false, true]) {
          const headers = withKey ? p.present(key) : {};
          const { res, body, calls } = await through(path, { headers }, env());
          const label = `${p.name} ${path} ${withKey ? "read key" : "no key"}`;
          expect(res.status, label).toBeLessThan(500);
          if (typeof expected === "object") {
            expect(res.status, `${label}: ${body}`).toBe(200);
            expect(calls, label).toHaveLength(1);
            expect(calls[0]!.url, label).toBe(expected.forward);
          } else {
            expect(calls, label).toHaveLength(0);
            expectRefusal(p, res, body, statusFor(p, expected, withKey));
          }
        }
      }
    });

    it("an admin key reaches the normalized path, and only it", async () => {
      const { key } = await mint({ scopes: ["admin"] });
      for (const path of [
        "/public/%2e%2e/admin/users",
        "/public/.%2e/admin/users",
        "/ADMIN;x/users",
        "/public\\..\\admin/users",
      ]) {
        const { res, calls } = await through(path, { headers: p.present(key) }, env());
        expect(res.status, path).toBe(200);
        expect(calls[0]!.url.toLowerCase().replace(/;[^/]*/, ""), path).toBe("/admin/users");
      }
    });

    it("injected headers: duplicates, case and underscore variants, Connection, Host and rewrites never reach the origin", async () => {
      const { key, record } = await mint({ orgs: ["acme"], scopes: ["read"] });
      const attempts: [string, Record<string, string> | [string, string][]][] = [
        [
          "duplicate x-org-slug",
          [
            ["x-org-slug", "evil"],
            ["x-org-slug", "evil2"],
          ],
        ],
        [
          "mixed case",
          { "X-Org-Slug": "evil", "X-API-KEY-ID": "key_spoofedspoofedspoof", "X-Api-Key-Scopes": "admin" },
        ],
        [
          "underscores",
          {
            x_org_slug: "evil",
            x_api_key_id: "key_spoofedspoofedspoof",
            X_API_KEY_SCOPES: "admin",
            "x-api_key-scopes": "admin",
          },
        ],
        ["Connection names ours", { connection: "x-org-slug, x-api-key-id, x-api-key-scopes", "x-org-slug": "acme" }],
        ["Host", { host: "evil.example" }],
        [
          "X-Forwarded-*",
          {
            "x-forwarded-host": "evil.example",
            "x-forwarded-for": "6.6.6.6",
            "x-forwarded-proto": "gopher",
            forwarded: "for=6.6.6.6;host=evil.example",
            "x-real-ip": "6.6.6.6",
          },
        ],
        [
          "URL rewrites",
          { "x-original-url": "/admin/users", "x-rewrite-url": "/admin/users", "x-original-uri": "/admin/users" },
        ],
        [
          "method override",
          { "x-http-method-override": "DELETE", "x-http-method": "DELETE", "x-method-override": "DELETE" },
        ],
        ["forged signature", { "x-keygate-signature": "v1;kid=k;t=1;sig=" + "0".repeat(64), X_KEYGATE_SIGNATURE: "x" }],
      ];
      let asserted = 0;
      for (const [label, extra] of attempts) {
        const headers = new Headers(extra as HeadersInit);
        for (const [n, v] of Object.entries(p.present(key)))
          headers.set(n, p.name === "artanis" && n === "x-org-slug" && headers.has(n) ? headers.get(n)! : v);
        headers.set("cf-connecting-ip", "198.51.100.7");
        // Artanis reads the org from x-org-slug: an attempt naming another org (or two) is
        // refused there, and only there. The same attempt is then sent again naming the
        // key's own org, so every attempt is checked for identity in every profile.
        const variants: Headers[] = [headers];
        const named = headers.get("x-org-slug");
        if (p.name === "artanis" && named !== "acme") {
          const { res, body, calls } = await through("/things?x=1", { headers }, env());
          expect(calls, `${p.name} ${label}: ${body}`).toHaveLength(0);
          expectRefusal(p, res, body, 403);
          const own = new Headers(headers);
          own.set("x-org-slug", "acme");
          variants[0] = own;
        }
        for (const h of variants) {
          const { res, body, calls } = await through("/things?x=1", { headers: h }, env());
          expect(res.status, `${p.name} ${label}: ${body}`).toBe(200);
          expect(calls, `${p.name} ${label}`).toHaveLength(1);
          const seen = calls[0]!;
          expect(seen.url, label).toBe("/things?x=1");
          expect(seen.method, label).toBe("GET");
          expect(seen.headers["x-org-slug"], label).toBe("acme");
          expect(seen.headers["x-api-key-id"], label).toBe(record.id);
          expect(seen.headers["x-api-key-scopes"], label).toBe("read");
          expect(seen.headers.host, label).toBe(new URL(ORIGIN).host);
          expect(seen.headers["x-forwarded-host"], label).toBe("gateway.test");
          expect(seen.headers["x-forwarded-for"], label).toBe("198.51.100.7");
          expect(seen.headers["x-forwarded-proto"], label).toBe("https");
          for (const name of Object.keys(seen.headers)) {
            expect(name, label).not.toMatch(
              /_|^(forwarded|x-real-ip|x-original-ur[li]|x-rewrite-url|x-http-method(-override)?|x-method-override|connection|x-keygate-signature)$/,
            );
          }
          asserted++;
        }
      }
      expect(asserted, p.name).toBe(attempts.length);
    });

    it("non-ASCII and control characters in every credential location: 400 or no credential, never forwarded", async () => {
      const bad = ["kg_caf\u00e9", "abc\u0001def", "abc\tdef", "abc def", "a\u007fb", "\u00ff\u00fe"];
      const attempts: Record<string, string>[] = [];
      for (const v of bad) {
        attempts.push(
          { "x-api-key": v },
          { authorization: `Bearer ${v}` },
          { authorization: `Basic ${btoa(`${v}:`)}` },
        );
      }
      attempts.push(
        { authorization: "Basic !!!" },
        { authorization: "Bearer" },
        { authorization: "Basic " },
        { authorization: basic("\u00e9") },
      );
      const sources = parseConfig(env()).sources;
      const reads = (h: Record<string, string>): boolean => {
        if ("x-api-key" in h) return sources.some((s) => s.kind === "header" && s.name === "x-api-key");
        const scheme = h.authorization!.split(" ", 1)[0]!.toLowerCase();
        return sources.some((s) => s.kind === scheme);
      };
      let malformed = 0;
      for (const headers of attempts) {
        const { res, body, calls } = await through("/things", { headers }, env());
        const label = `${p.name} ${JSON.stringify(headers)}`;
        expect(calls, label).toHaveLength(0);
        // The profile reads this location: malformed (400). It does not: no credential.
        const expected = reads(headers) ? 400 : p.missingStatus;
        if (reads(headers)) malformed++;
        expect(res.status, label).toBe(expected);
        expectRefusal(p, res, body, expected);
        if (reads(headers) && expected !== p.missingStatus)
          expect(res.headers.get("www-authenticate"), label).toBeNull();
      }
      expect(malformed, p.name).toBeGreaterThanOrEqual(bad.length); // x-api-key, read by every profile
    });

    it("keys at the length limit pass; past it they are refused", async () => {
      const at = "L".repeat(480) + crypto.randomUUID().replace(/-/g, "");
      expect(at).toHaveLength(512);
      const { record } = await mint({ key: at });
      const ok = await through("/things", { headers: p.present(at) }, env());
      expect(ok.res.status, p.name).toBe(200);
      expect(ok.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
      for (const over of [at + "x", "k".repeat(8 * 1024)]) {
        const { res, body, calls } = await through("/things", { headers: p.present(over) }, env());
        expect(calls).toHaveLength(0);
        expectRefusal(p, res, body, 400);
      }
    });

    it("unknown, checksum-failed, revoked, disabled and expired keys: byte-identical 401s (no oracle)", async () => {
      const minted = await mint();
      const corrupt = minted.key.slice(0, -1) + (minted.key.endsWith("A") ? "B" : "A");
      const revoked = await mint();
      await patchRecord(revoked.key, { revoked_at: new Date().toISOString() });
      const disabled = await mint();
      await patchRecord(disabled.key, { disabled: true });
      const expired = await mint();
      await patchRecord(expired.key, { expires_at: new Date(Date.now() - 1000).toISOString() });
      const answers = [];
      for (const key of [unknownKey(), corrupt, revoked.key, disabled.key, expired.key]) {
        const { res, body, calls } = await through("/things", { headers: p.present(key) }, env());
        expect(calls).toHaveLength(0);
        const headers = [...res.headers].filter(([n]) => n !== "x-request-id");
        answers.push({ status: res.status, headers, body });
      }
      expect(answers[0]!.status).toBe(401);
      for (const a of answers) expect(a).toEqual(answers[0]);
    });
  });
}

describe("issue 20, class 3: the review's trailing dots and spaces", () => {
  // The review's layout: a hidden route under a public tree (most specific first).
  const env = () =>
    makeEnv({
      ROUTES: JSON.stringify([
        { path: "/api/v1/samples/:id/private", scopes: ["admin"], hide: true },
        { path: "/api/v1/samples/*", auth: "public" },
      ]),
    });

  it("/private is hidden; /private. /private%2e /private%20 and ..%20 are 400, never forwarded as the public route", async () => {
    const hidden = await through("/api/v1/samples/1/private", {}, env());
    expect(hidden.calls).toHaveLength(0);
    expect(hidden.res.status).toBe(401);
    for (const path of [
      "/api/v1/samples/1/private.",
      "/api/v1/samples/1/private%2e",
      "/api/v1/samples/1/private%20",
      "/api/v1/samples/..%20/admin/x",
      "/api/v1/samples/1/private.%20",
    ]) {
      const { res, body, calls } = await through(path, {}, env());
      expect(calls, path).toHaveLength(0);
      expect(res.status, `${path}: ${body}`).toBe(400);
      expect(JSON.parse(body), path).toMatchObject({
        status: 400,
        code: "malformed_request",
        detail: "Invalid path: path segment ending in a dot or a space",
      });
    }
    const pub = await through("/api/v1/samples/1/public.json", {}, env());
    expect(pub.res.status).toBe(200);
    expect(pub.calls[0]!.url).toBe("/api/v1/samples/1/public.json");
  });
});
