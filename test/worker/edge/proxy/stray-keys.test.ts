/**
 * Issue 8, class 6: a keygate key never reaches the origin. A value carrying KEY_PREFIX in
 * a header, an Authorization scheme (plain or base64, as in Basic), a cookie or a query
 * parameter the profile does not read is removed before forwarding — on public routes
 * too. It never counts as the request's credential: a protected route still answers the
 * profile's "no key" refusal, exactly as the seed contracts say (argus: Basic → 401).
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import { forwardedSearch, upstreamHeaders } from "../../../../src/edge/proxy/headers";
import { mintKey } from "../../../../src/keys/format";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import { basic, makeEnv, mint, through } from "../../../support/worker-helpers";

const ROUTES = JSON.stringify([{ path: "/public/*", auth: "public" }]);

/** Which profiles read which Authorization schemes (README "Profiles"). */
const READS: Record<string, { bearer: boolean; basic: boolean }> = {
  default: { bearer: true, basic: true },
  argos: { bearer: false, basic: false },
  artanis: { bearer: false, basic: false },
  operate: { bearer: false, basic: false },
  argus: { bearer: true, basic: false },
  onecodex: { bearer: false, basic: true },
};

/** Places a key can be sent that no profile reads, or that this profile does not. */
function strayPlaces(profile: string, key: string): [string, Record<string, string>, string][] {
  const places: [string, Record<string, string>, string][] = [
    ["x-auth-token header", { "x-auth-token": key }, ""],
    ["api-key header", { "api-key": key }, ""],
    ["a cookie", { cookie: `theme=dark; session=${key}` }, ""],
    ["a token scheme", { authorization: `Token ${key}` }, ""],
    ["an ApiKey scheme", { authorization: `ApiKey key="${key}"` }, ""],
    ["a query parameter", {}, `?api_key=${key}`],
    ["a query parameter, percent-encoded", {}, `?token=${encodeURIComponent(key).replace("g", "%67")}`],
  ];
  if (!READS[profile]!.bearer) places.push(["Authorization: Bearer", { authorization: `Bearer ${key}` }, ""]);
  if (!READS[profile]!.basic) places.push(["Authorization: Basic", { authorization: basic(key) }, ""]);
  return places;
}

describe("a keygate key never reaches the origin (issue 8, class 6)", () => {
  for (const p of PROFILE_CASES) {
    it(`${p.name}: a key where the profile does not read it never reaches the origin, public routes included`, async () => {
      const { key } = await mint({ orgs: ["acme"] });
      const env = makeEnv({ ...p.vars, ROUTES });
      for (const [where, headers, query] of strayPlaces(p.name, key)) {
        // Public route: forwarded, without the stray key.
        const pub = await through("/public/echo" + query, { headers }, env);
        expect(pub.res.status, `${where}: ${pub.body}`).toBe(200);
        expect(JSON.stringify(pub.calls), where).not.toContain(key);
        expect(JSON.stringify(pub.calls), where).not.toContain(btoa(`${key}:`));
        // Protected route: the stray key is not a credential: the profile's "no key" answer.
        const prot = await through("/v1/things" + query, { headers }, env);
        expect(prot.calls, where).toHaveLength(0);
        expectRefusal(p, prot.res, prot.body, p.missingStatus);
        // With the key where the profile reads it: forwarded, the stray copy removed.
        if ("authorization" in headers && "authorization" in p.present(key)) continue;
        const both = await through("/v1/things" + query, { headers: { ...p.present(key), ...headers } }, env);
        expect(both.res.status, where).toBe(200);
        expect(JSON.stringify(both.calls), where).not.toContain(key);
        expect(JSON.stringify(both.calls), where).not.toContain(btoa(`${key}:`));
      }
    });
  }

  it("a cookie loses only the pair that carries the key; other query parameters keep their bytes", async () => {
    const { key } = await mint();
    const { res, calls } = await through(
      `/public/x?a=1%20b&api_key=${key}&c`,
      { headers: { cookie: `theme=dark; session=${key}; lang=en` } },
      makeEnv({ ROUTES }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers.cookie).toBe("theme=dark; lang=en");
    expect(calls[0]!.url).toBe("/public/x?a=1%20b&c");
  });

  it("values that merely contain the prefix inside a word, and other schemes, still pass", async () => {
    const { key } = await mint();
    const { res, calls } = await through(
      "/v1/things?q=pkg_name",
      {
        headers: {
          "x-api-key": key,
          "x-note": "pkg_name",
          "x-short": "xkg_abc",
          authorization: "Digest username=alice",
        },
      },
      makeEnv({ AUTH_PROFILE: "argos" }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe("/v1/things?q=pkg_name");
    expect(calls[0]!.headers["x-note"]).toBe("pkg_name");
    expect(calls[0]!.headers["x-short"]).toBe("xkg_abc");
    expect(calls[0]!.headers.authorization).toBe("Digest username=alice");
  });

  it("a custom KEY_PREFIX is what is looked for", async () => {
    const env = makeEnv({ KEY_PREFIX: "acme_", ROUTES });
    const { res, calls } = await through(
      "/public/x",
      { headers: { "x-token": "acme_" + "A".repeat(38), "x-other": "kg_" + "A".repeat(38) } },
      env,
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers["x-token"]).toBeUndefined();
    expect(calls[0]!.headers["x-other"]).toBe("kg_" + "A".repeat(38));
  });

  const config = parseConfig(makeEnv({ AUTH_PROFILE: "argos" }));
  const ctx = { requestId: "rid", clientIp: null, proto: "https", host: "gw", websocket: false, identity: null };
  test.prop([
    fc.constantFrom(
      "x-auth",
      "authorization",
      "cookie",
      "x-api-token",
      "x_api_key",
      "proxy-authorization",
      "x-custom",
      "referer",
    ),
    fc.constantFrom("", " ", "Bearer ", "Basic ", "Token ", "session=", "a;b=", '"', "k:", "x,"),
    fc.constantFrom("", ";", " ", '"', ",x", "/1"),
    fc.boolean(),
  ])(
    "property: wherever a minted key is put in a header (plain or base64), it is not forwarded",
    (name, before, after, b64) => {
      const key = mintKey("kg_");
      const value = before + (b64 ? btoa(`${key}:`) : key) + after;
      const headers = new Headers([[name, value]]);
      const out = upstreamHeaders(headers, config, ctx);
      for (const [, v] of out) expect(v.includes(key) || v.includes(btoa(`${key}:`))).toBe(false);
    },
  );

  test.prop([fc.constantFrom("", "x", "Bearer ", "a b ", "glued"), fc.boolean(), fc.boolean()])(
    "property: a query parameter's value carrying a key is not forwarded",
    (before, encode, b64) => {
      const key = mintKey("kg_");
      const raw = before + (b64 ? btoa(`${key}:`) : key);
      const search = `?a=1&v=${encode ? encodeURIComponent(raw) : raw}&z=%41`;
      const out = forwardedSearch(search, config);
      expect(out).toBe("?a=1&z=%41");
    },
  );
});

describe("issue 20, class 2: the key in other spellings never reaches the origin", () => {
  for (const p of PROFILE_CASES) {
    it(`${p.name}: the review's requests — a key as a query parameter's name, percent-encoded in a cookie or a header`, async () => {
      const { key } = await mint({ orgs: ["acme"] });
      const enc = key.replace("_", "%5F");
      const env = makeEnv({
        ...p.vars,
        ROUTES: JSON.stringify([
          { path: "/health", auth: "public" },
          { path: "/public/*", auth: "public" },
        ]),
      });
      const attempts: [string, string, Record<string, string> | [string, string][]][] = [
        ["a query parameter's name", `/health?${key}&n=1`, {}],
        ["a query parameter's name, with a value", `/health?n=1&${key}=1`, {}],
        ["a query parameter's name, percent-encoded", `/health?${enc}&n=1`, {}],
        ["a cookie, percent-encoded", "/health?n=1", { cookie: `theme=dark; enc=${enc}` }],
        ["a header, percent-encoded", "/health?n=1", { "x-enc": enc }],
        ["a header, encoded twice", "/health?n=1", { "x-enc": key.replace("_", "%255F") }],
        ["a header's name", "/health?n=1", [[key, "1"]]],
        ["a query value, encoded twice", `/health?n=1&k=${key.replace("_", "%255F")}`, {}],
      ];
      for (const [where, path, headers] of attempts) {
        const { res, body, calls } = await through(path, { headers }, env);
        expect(res.status, `${where}: ${body}`).toBe(200);
        const seen = JSON.stringify(calls);
        expect(seen, where).not.toContain(key.slice(3));
        expect(seen, where).not.toContain(key.slice(3).toLowerCase());
        expect(calls[0]!.url, where).toBe(path.startsWith("/health") ? "/health?n=1" : path);
        if ("cookie" in headers) expect(calls[0]!.headers.cookie, where).toBe("theme=dark");
      }
    });
  }
});

describe("a keygate key in the path (issue 20, re-checked from outside)", () => {
  it("a whole key in a segment or its ;parameters, plain or percent-encoded, is refused (400) in the profile's shape and never forwarded", async () => {
    for (const p of PROFILE_CASES) {
      const { key } = await mint({ orgs: ["acme"] });
      const env = makeEnv({ ...p.vars, ROUTES });
      for (const path of [
        `/public/${key}`,
        `/public/x${key}y/z`,
        `/public/1;k=${key}`,
        `/public/${key.replace("_", "%5F")}`,
        `/public/${key.replace("_", "%5f")}/`,
      ]) {
        const { res, body, calls } = await through(path, { headers: p.present(key) }, env);
        expect(calls, `${p.name} ${path}`).toHaveLength(0);
        expectRefusal(p, res, body, 400);
        expect(body, path).not.toContain(key);
      }
    }
  });

  it("the prefix alone, or a key's length short of one, is an ordinary path", async () => {
    const { key } = await mint();
    for (const path of ["/public/kg_intro", `/public/${key.slice(0, -1)}`, "/public/docs/kg_/x"]) {
      const { res, calls } = await through(path, {}, makeEnv({ ROUTES }));
      expect(res.status, path).toBe(200);
      expect(calls, path).toHaveLength(1);
    }
  });
});
