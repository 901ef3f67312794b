/**
 * Property-based tests (fast-check) over the three parsers an attacker controls the input
 * of: the credential parser, the path normalizer, the header sanitizer. Plus: any
 * one-character change to a valid minted key is refused.
 */

import { env } from "cloudflare:test";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { Config } from "../../../../src/config/config";
import { parseConfig } from "../../../../src/config/config";
import { extractCredential } from "../../../../src/edge/auth/credentials";
import { verifyKey } from "../../../../src/edge/auth/verify";
import { isolateOf } from "../../../../src/edge/gateway/isolate";
import { targetUrl } from "../../../../src/edge/proxy/forward";
import { upstreamHeaders } from "../../../../src/edge/proxy/headers";
import { normalizePath } from "../../../../src/edge/routes/normalize";
import { BASE62, checksumOf, classifyKey, isWellFormedKey, MAX_KEY_LENGTH } from "../../../../src/keys/format";
import { basic, makeEnv, mint, through } from "../../../support/worker-helpers";

const config = (vars: Record<string, unknown> = {}): Config => parseConfig(makeEnv(vars));

// ---------- generators ----------

const PRINTABLE = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i));
/** Characters that matter to paths: separators, dots, escapes, parameters, hex digits. */
const PATH_ALPHABET = [
  ...[
    "/",
    "/",
    "\\",
    ".",
    ".",
    "%",
    "%",
    "2",
    "5",
    "e",
    "E",
    "f",
    "F",
    "c",
    "C",
    "0",
    "1",
    ";",
    "a",
    "A",
    "@",
    ":",
    "~",
    "-",
    "_",
    "?",
    "#",
    " ",
    "é",
    "\u0000",
    "\t",
  ],
  // Whole escapes and their encodings, so double encodings come up often.
  ...[
    "%2e",
    "%2E",
    "%25",
    "%2f",
    "%5c",
    "%00",
    "%32",
    "%65",
    "%41",
    "..",
    "..;",
    "//",
    "%c3%a9",
    "%252e",
    "%252F",
    "%25%32%65",
    "%2500",
    "2e",
  ],
];
const pathLike = fc.array(fc.constantFrom(...PATH_ALPHABET), { maxLength: 40 }).map((a) => a.join(""));
const anyString = fc.string({ unit: "binary", maxLength: 60 });

/**
 * A header value Headers accepts: no NUL, CR, LF. Non-ASCII is generated only where it is
 * the point (workerd prints a warning for each such value).
 */
const headerValueOf = (extra: string[]) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(...PRINTABLE),
        fc.constantFrom("Bearer ", "Basic ", "bearer ", ":", ",", "=", "==", "\t", "\u0001", "\u007f", "kg_", ...extra),
      ),
      {
        maxLength: 40,
      },
    )
    .map((a) => a.join(""));
const headerValue = headerValueOf([]);

const INJECTED_AND_CLAIMS = [
  "x-org-slug",
  "x-api-key-id",
  "x-api-key-scopes",
  "x-keygate-signature",
  "x-request-id",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "forwarded",
  "x-real-ip",
  "x-original-url",
  "x-rewrite-url",
  "x-http-method-override",
  "x-api-key",
  "x-user-id",
  "x-auth-method",
  "authorization",
  "connection",
  "upgrade",
  "te",
  "expect",
  "host",
  "x-custom",
];
/** A name from the list, in random case, with random `-` → `_`. */
const headerName = fc
  .tuple(
    fc.constantFrom(...INJECTED_AND_CLAIMS),
    fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
  )
  .map(([name, upper, underscore]) =>
    [...name].map((ch, i) => (ch === "-" && underscore[i] ? "_" : upper[i] ? ch.toUpperCase() : ch)).join(""),
  );
const headerSet = fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 });

function toHeaders(pairs: [string, string][]): Headers {
  const h = new Headers();
  for (const [n, v] of pairs) {
    try {
      h.append(n, v);
    } catch {
      /* a value Headers refuses can never reach the gateway either */
    }
  }
  return h;
}

const canon = (name: string) => name.toLowerCase().replace(/_/g, "-");

// ---------- credential parser ----------

describe("credential parser", () => {
  const sources = config().sources; // default profile: x-api-key, bearer, basic

  test.prop([headerSet], { numRuns: 500 })("never throws; a present key is always well formed", (pairs) => {
    const result = extractCredential(toHeaders(pairs), sources);
    expect(["missing", "malformed", "present"]).toContain(result.kind);
    if (result.kind === "present") {
      expect(isWellFormedKey(result.key)).toBe(true);
      expect(result.key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    }
  });

  // A key that would be well formed but for its non-ASCII characters (at least one, at
  // any position): the branch under test is the character check, so every run reaches it.
  const asciiPart = fc
    .array(fc.constantFrom(...PRINTABLE.filter((c) => isWellFormedKey(c))), { maxLength: 24 })
    .map((a) => a.join(""));
  const nonAsciiChar = fc.constantFrom("é", "\u00ff", "\u0080", "ß", "Ω", "€", "日");
  const nonAsciiKey = fc
    .tuple(asciiPart, fc.array(fc.tuple(nonAsciiChar, asciiPart), { minLength: 1, maxLength: 3 }))
    .map(([head, rest]) => head + rest.map(([c, tail]) => c + tail).join(""));
  it("non-ASCII in x-api-key, Bearer or Basic is malformed, never a present key (200 runs, all asserted)", () => {
    const runs = { total: 0, asserted: 0 };
    fc.assert(
      fc.property(nonAsciiKey, (key) => {
        fc.pre(/[^\x00-\x7f]/.test(key));
        runs.total++;
        const utf8Basic = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${key}:`)))}`;
        for (const h of [
          { "x-api-key": key },
          { authorization: `Bearer ${key}` },
          { authorization: utf8Basic },
        ] as Record<string, string>[]) {
          const result = extractCredential(new Headers(h), sources);
          expect(result, JSON.stringify(h)).toMatchObject({
            kind: "malformed",
            reason: expect.stringMatching(/outside printable ASCII|malformed bearer token/),
          });
          runs.asserted++;
        }
      }),
      { numRuns: 200 },
    );
    // Every run had a non-ASCII input and asserted on it in all three locations.
    expect(runs).toEqual({ total: 200, asserted: 600 });
  });

  test.prop([anyString, anyString], { numRuns: 300 })(
    "never throws on arbitrary Authorization and x-api-key values",
    (a, b) => {
      const h = new Headers();
      try {
        h.set("authorization", a);
        h.set("x-api-key", b);
      } catch {
        return;
      }
      expect(() => extractCredential(h, sources)).not.toThrow();
    },
  );

  const keyChars = fc.constantFrom(...PRINTABLE.filter((c) => isWellFormedKey(c)));
  const wellFormedKey = fc.array(keyChars, { minLength: 1, maxLength: MAX_KEY_LENGTH }).map((a) => a.join(""));

  test.prop([wellFormedKey], { numRuns: 300 })(
    "a well-formed key is read back exactly from x-api-key and Basic",
    (key) => {
      expect(extractCredential(new Headers({ "x-api-key": key }), sources)).toEqual({
        kind: "present",
        key,
        via: "header",
      });
      expect(extractCredential(new Headers({ authorization: basic(key) }), sources)).toEqual({
        kind: "present",
        key,
        via: "basic",
      });
    },
  );

  test.prop(
    [fc.string({ unit: fc.constantFrom(...PRINTABLE), minLength: MAX_KEY_LENGTH + 1, maxLength: MAX_KEY_LENGTH + 40 })],
    { numRuns: 50 },
  )("anything longer than the limit is malformed, in every location", (long) => {
    for (const h of [
      { "x-api-key": long },
      { authorization: `Bearer ${long}` },
      { authorization: `Basic ${btoa(`${long}:`)}` },
    ] as Record<string, string>[]) {
      expect(extractCredential(new Headers(h), sources).kind).toBe("malformed");
    }
  });
});

// ---------- path normalizer ----------

describe("path normalizer", () => {
  const check = (raw: string) => {
    const n = normalizePath(raw);
    if (!n.ok) return;
    // Idempotent.
    expect(normalizePath(n.path)).toEqual(n);
    // Canonical: rooted, no empty or dot segments, only visible ASCII, only kept escapes.
    expect(n.path.startsWith("/")).toBe(true);
    expect(n.path).not.toMatch(/\/\//);
    expect(n.path.split("/").some((s) => s === "." || s === "..")).toBe(false);
    expect(n.path).not.toMatch(/[^\x21-\x7e]|\\/);
    expect(n.path).not.toMatch(/%(?![0-9A-F]{2})|%2[EF]|%5C|%[01][0-9A-F]|%7F|%25(2e|2f|5c|25)/i);
  };

  test.prop([pathLike], { numRuns: 2000 })("never throws, idempotent, canonical (path-shaped input)", (raw) => {
    expect(() => normalizePath("/" + raw)).not.toThrow();
    check("/" + raw);
  });

  test.prop([fc.string({ unit: "binary", maxLength: 80 })], { numRuns: 1000 })(
    "never throws, idempotent (any string)",
    (raw) => {
      expect(() => normalizePath(raw)).not.toThrow();
      check(raw);
    },
  );

  const ORIGINS = ["http://127.0.0.1:9999", "https://api.internal.example/v2"];
  test.prop([pathLike, fc.constantFrom(...ORIGINS)], { numRuns: 2000 })(
    "what is forwarded always stays on ORIGIN_URL's origin and under its base path",
    (raw, originBase) => {
      let url: URL;
      try {
        url = new URL("/" + raw, "https://gateway.test"); // as the runtime parses a request
      } catch {
        return;
      }
      const n = normalizePath(url.pathname);
      if (!n.ok) return;
      const sent = new URL(targetUrl(originBase, n.path, url.search));
      const base = new URL(originBase);
      expect(sent.origin).toBe(base.origin);
      expect(sent.pathname.startsWith(base.pathname.replace(/\/$/, "") + "/")).toBe(true);
      // The origin's own parser reads the same path back: nothing left to resolve.
      expect(sent.pathname).toBe(base.pathname.replace(/\/$/, "") + n.path);
    },
  );
});

// ---------- header sanitizer ----------

describe("header sanitizer", () => {
  const cfg = config();
  const identity = { keyId: "key_AAAAAAAAAAAAAAAAAAAA", org: "acme", scopes: ["read"] };
  const RESERVED = [
    "x-org-slug",
    "x-api-key-id",
    "x-api-key-scopes",
    "x-keygate-signature",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-for",
    "x-request-id",
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-api-key",
    "x-user-id",
    "x-auth-method",
  ];

  test.prop([headerSet, fc.boolean()], { numRuns: 1000 })(
    "no generated header set changes the injected identity or smuggles a reserved header",
    (pairs, authenticated) => {
      const inbound = toHeaders(pairs);
      const connection = inbound.get("connection");
      const out = upstreamHeaders(inbound, cfg, {
        requestId: "rid",
        clientIp: "203.0.113.9",
        proto: "https",
        host: "gateway.test",
        websocket: false,
        identity: authenticated ? identity : null,
      });
      expect(out.get("x-org-slug")).toBe(authenticated ? "acme" : null);
      expect(out.get("x-api-key-id")).toBe(authenticated ? identity.keyId : null);
      expect(out.get("x-api-key-scopes")).toBe(authenticated ? "read" : null);
      expect(out.get("x-auth-method")).toBe(authenticated ? "key" : null);
      expect(out.get("x-user-id")).toBeNull();
      expect(out.get("x-forwarded-for")).toBe("203.0.113.9");
      expect(out.get("x-forwarded-host")).toBe("gateway.test");
      expect(out.get("x-request-id")).toBe("rid");
      const ours = [
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-request-id",
        ...(authenticated ? ["x-org-slug", "x-api-key-id", "x-api-key-scopes", "x-auth-method"] : []),
      ];
      for (const [name] of out) {
        // Every reserved name that survives is one the gateway set itself (lower case, with "-").
        if (RESERVED.includes(canon(name))) expect(ours).toContain(name);
        expect([
          "connection",
          "upgrade",
          "te",
          "expect",
          "host",
          "x-api-key",
          "forwarded",
          "x-keygate-signature",
        ]).not.toContain(name);
      }
      // A header the client named in Connection is hop-by-hop: dropped, unless it is ours.
      for (const token of (connection ?? "")
        .toLowerCase()
        .split(",")
        .map((t) => t.trim())) {
        if (/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(token) && !ours.includes(token)) expect(out.has(token)).toBe(false);
      }
      // A Bearer/Basic credential never survives; another scheme may pass to the origin.
      const auth = out.get("authorization");
      if (auth !== null) expect(auth.trim().split(" ", 1)[0]!.toLowerCase()).not.toMatch(/^(bearer|basic)$/);
    },
  );

  test.prop([headerSet], { numRuns: 25 })(
    "through the real gateway: a valid key is forwarded with exactly its identity, whatever else is sent",
    async (pairs) => {
      const { key, record } = await mint({ orgs: ["acme"], scopes: ["read"] });
      // Control characters are left out here: the gateway passes them on, and the Node origin
      // then refuses the request itself (an empty 400 that says nothing about the gateway).
      const headers = toHeaders(pairs.map(([n, v]) => [n, v.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "")]));
      headers.delete("x-api-key");
      headers.delete("authorization");
      headers.delete("x-probe");
      headers.delete("host");
      headers.set("x-api-key", key);
      const { res, body, calls } = await through("/things", { headers }, makeEnv());
      // Whatever else is sent, the one credential is valid: always forwarded (a gateway that
      // refused everything would otherwise pass a check that only looks at what got through).
      expect(res.status, body).toBe(200);
      expect(calls).toHaveLength(1);
      const seen = calls[0]!.headers;
      expect(seen["x-org-slug"]).toBe("acme");
      expect(seen["x-api-key-id"]).toBe(record.id);
      expect(seen["x-api-key-scopes"]).toBe("read");
      expect(seen["x-auth-method"]).toBe("key");
      expect(seen["x-user-id"]).toBeUndefined();
      for (const name of Object.keys(seen)) {
        if (RESERVED.includes(canon(name)))
          expect([
            "x-org-slug",
            "x-api-key-id",
            "x-api-key-scopes",
            "x-auth-method",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-request-id",
          ]).toContain(name);
      }
    },
  );
});

// ---------- minted keys: one-character changes ----------

describe("minted keys", () => {
  const random32 = fc.array(fc.constantFrom(...BASE62), { minLength: 32, maxLength: 32 }).map((a) => a.join(""));
  const keyChar = fc.constantFrom(...PRINTABLE.filter((c) => c !== " "));

  const mutate = (key: string, kind: "substitute" | "delete" | "insert", at: number, ch: string): string | null => {
    const i = at % (kind === "insert" ? key.length + 1 : key.length);
    if (kind === "delete") return key.slice(0, i) + key.slice(i + 1);
    if (kind === "insert") return key.slice(0, i) + ch + key.slice(i);
    return key[i] === ch ? null : key.slice(0, i) + ch + key.slice(i + 1);
  };
  const change = fc.tuple(
    fc.constantFrom("substitute", "delete", "insert") as fc.Arbitrary<"substitute" | "delete" | "insert">,
    fc.nat(),
    keyChar,
  );

  test.prop([random32, change], { numRuns: 3000 })(
    "classifyKey: a change after the prefix is corrupt, one inside it makes a foreign key",
    (random, [kind, at, ch]) => {
      const key = "kg_" + random + checksumOf(random);
      expect(classifyKey(key, "kg_")).toBe("minted");
      const mutant = mutate(key, kind, at, ch);
      if (mutant === null) return;
      const shape = classifyKey(mutant, "kg_");
      if (mutant.startsWith("kg_")) expect(shape).toBe("corrupt");
      else expect(shape).toBe("foreign"); // looked up, and unknown: see below
    },
  );

  test.prop([change], { numRuns: 200 })(
    "verifyKey refuses every one-character change of a stored key",
    async ([kind, at, ch]) => {
      const { key } = await minted;
      const mutant = mutate(key, kind, at, ch);
      if (mutant === null) return;
      const cfg = config();
      const verdict = await verifyKey(mutant, {
        kv: env.KEYS,
        cache: isolateOf({}, cfg.cache.maxEntries).cache,
        config: cfg,
        now: Date.now(),
      });
      expect(verdict.kind).toBe("unknown");
    },
  );

  test.prop([change], { numRuns: 40 })("through the gateway: 400 or 401, never forwarded", async ([kind, at, ch]) => {
    const { key } = await minted;
    const mutant = mutate(key, kind, at, ch);
    if (mutant === null) return;
    const { res, calls } = await through("/things", { headers: { "x-api-key": mutant } });
    expect([400, 401]).toContain(res.status);
    expect(calls).toHaveLength(0);
  });

  const minted = mint();
});
