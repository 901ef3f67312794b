/**
 * The origin-side verifier (verifier/index.js), run both inside workerd ("workers") and
 * on Node ("verifier-node"): it is shipped for origins on either.
 */
import { describe, expect, it } from "vitest";
import type { RequestLike } from "../../../verifier/index.js";
import {
  coveredHeaders,
  createVerifier,
  DEFAULT_IDENTITY_HEADERS,
  parseSigningSecrets,
  signatureHeader,
} from "../../../verifier/index.js";

const OLD = { kid: "2026-01", secret: "o".repeat(16) + "ld-secret-value-for-tests-0001" };
const NEW = { kid: "2026-06", secret: "n".repeat(16) + "ew-secret-value-for-tests-0002" };
const NOW_MS = 1_780_000_000_000;
const NOW_S = NOW_MS / 1000;

interface Req {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
}

const IDENTITY = {
  "x-org-slug": "acme",
  "x-api-key-id": "key_AbCdEfGhIjKlMnOpQrSt",
  "x-api-key-scopes": "read,write",
  "x-auth-method": "key",
  "x-request-id": "req-1",
};
const SESSION = {
  "x-org-slug": "acme",
  "x-user-id": "user_2abc",
  "x-api-key-scopes": "read",
  "x-auth-method": "session",
  "x-request-id": "req-3",
};

/** What keygate does: sign a request and attach the header. */
async function signed(req: Req, signer = NEW, timestamp = NOW_S): Promise<Req> {
  const get = (n: string) => req.headers[n] ?? "";
  const sig = await signatureHeader(signer, {
    method: req.method,
    path: req.path,
    query: req.query,
    timestamp,
    kid: signer.kid,
    headers: coveredHeaders(get, DEFAULT_IDENTITY_HEADERS),
  });
  return { ...req, headers: { ...req.headers, "x-keygate-signature": sig } };
}

/** As Node's http server hands it over: raw target, lower-case header object. */
const nodeReq = (r: Req): RequestLike => ({
  method: r.method,
  url: r.path + (r.query ? `?${r.query}` : ""),
  headers: { ...r.headers },
});
/** As a Workers origin receives it. */
const fetchReq = (r: Req): Request =>
  new Request(`https://origin.example${r.path}${r.query ? `?${r.query}` : ""}`, {
    method: r.method,
    headers: r.headers,
  });

const BASE: Req = { method: "GET", path: "/v1/things", query: "limit=5&x=%20", headers: { ...IDENTITY } };
const verifier = (secrets = `${NEW.kid}:${NEW.secret},${OLD.kid}:${OLD.secret}`) =>
  createVerifier({ secrets, now: () => NOW_MS });

describe("origin signature verifier", () => {
  it("accepts a valid signature from a Node-style and a Fetch request, with the identity", async () => {
    const req = await signed(BASE);
    for (const input of [nodeReq(req), fetchReq(req)]) {
      expect(await verifier()(input)).toEqual({
        ok: true,
        kid: NEW.kid,
        timestamp: NOW_S,
        identity: {
          method: "key",
          org: "acme",
          keyId: "key_AbCdEfGhIjKlMnOpQrSt",
          userId: null,
          scopes: ["read", "write"],
        },
        verdict: null,
      });
    }
  });

  it("a session's identity: method session, the user id, no key id", async () => {
    const req = await signed({ ...BASE, headers: { ...SESSION } });
    expect(await verifier()(nodeReq(req))).toMatchObject({
      ok: true,
      identity: { method: "session", org: "acme", keyId: null, userId: "user_2abc", scopes: ["read"] },
    });
  });

  it("a public-route request (no identity) verifies with identity null", async () => {
    const req = await signed({ ...BASE, headers: { "x-request-id": "req-2" } });
    expect(await verifier()(nodeReq(req))).toMatchObject({ ok: true, identity: null });
  });

  it("refuses a missing or malformed signature", async () => {
    expect(await verifier()(nodeReq(BASE))).toEqual({ ok: false, reason: "missing" });
    const good = (await signed(BASE)).headers["x-keygate-signature"]!;
    for (const bad of [
      "v1",
      good.replace("v1;", "v2;"),
      good.slice(0, -1),
      good + "0",
      good.toUpperCase(),
      good.replace(";t=", ";t=-"),
      `${good},${good}`,
    ]) {
      expect(
        await verifier()(nodeReq({ ...BASE, headers: { ...BASE.headers, "x-keygate-signature": bad } })),
        bad,
      ).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("refuses a wrong secret and an unknown kid", async () => {
    const forged = await signed(BASE, { kid: NEW.kid, secret: "x".repeat(40) });
    expect(await verifier()(nodeReq(forged))).toEqual({ ok: false, reason: "bad_signature" });
    const unknown = await signed(BASE, { kid: "other", secret: NEW.secret });
    expect(await verifier()(nodeReq(unknown))).toEqual({ ok: false, reason: "unknown_kid" });
  });

  it("refuses a signature more than 300 s away from the verifier's clock, either way", async () => {
    for (const [t, ok] of [
      [NOW_S - 300, true],
      [NOW_S + 300, true],
      [NOW_S - 301, false],
      [NOW_S + 301, false],
      [0, false],
    ] as const) {
      const result = await verifier()(nodeReq(await signed(BASE, NEW, t)));
      expect(result.ok, String(t - NOW_S)).toBe(ok);
      if (!ok) expect(result).toEqual({ ok: false, reason: "stale" });
    }
  });

  it("refuses any change to a covered field", async () => {
    const req = await signed(BASE);
    const changes: [string, Req][] = [
      ["method", { ...req, method: "DELETE" }],
      ["path", { ...req, path: "/v1/things/1" }],
      ["path case", { ...req, path: "/V1/things" }],
      ["path dot", { ...req, path: "/v1/./things" }],
      ["query", { ...req, query: "limit=500&x=%20" }],
      ["query dropped", { ...req, query: "" }],
      ["org", { ...req, headers: { ...req.headers, "x-org-slug": "globex" } }],
      ["org appended", { ...req, headers: { ...req.headers, "x-org-slug": "acme, globex" } }],
      ["key id", { ...req, headers: { ...req.headers, "x-api-key-id": "key_ZZZZZZZZZZZZZZZZZZZZ" } }],
      ["scopes", { ...req, headers: { ...req.headers, "x-api-key-scopes": "read,write,admin" } }],
      ["request id", { ...req, headers: { ...req.headers, "x-request-id": "req-9" } }],
      ["user id added", { ...req, headers: { ...req.headers, "x-user-id": "user_evil" } }],
      ["auth method", { ...req, headers: { ...req.headers, "x-auth-method": "session" } }],
      ["auth method dropped", { ...req, headers: { ...req.headers, "x-auth-method": "" } }],
      [
        "timestamp",
        {
          ...req,
          headers: {
            ...req.headers,
            "x-keygate-signature": req.headers["x-keygate-signature"]!.replace(`t=${NOW_S}`, `t=${NOW_S + 1}`),
          },
        },
      ],
      [
        "kid swapped",
        {
          ...req,
          headers: {
            ...req.headers,
            "x-keygate-signature": req.headers["x-keygate-signature"]!.replace(`kid=${NEW.kid}`, `kid=${OLD.kid}`),
          },
        },
      ],
    ];
    for (const [label, changed] of changes) {
      expect(await verifier()(nodeReq(changed)), label).toEqual({ ok: false, reason: "bad_signature" });
    }
    // Identity headers added to a request signed without them (a public route).
    const anon = await signed({ ...BASE, headers: { "x-request-id": "r" } });
    expect(
      await verifier()(
        nodeReq({
          ...anon,
          headers: { ...anon.headers, "x-org-slug": "acme", "x-api-key-id": "key_AbCdEfGhIjKlMnOpQrSt" },
        }),
      ),
    ).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    // A session's user swapped.
    const session = await signed({ ...BASE, headers: { ...SESSION } });
    expect(
      await verifier()(nodeReq({ ...session, headers: { ...session.headers, "x-user-id": "user_other" } })),
    ).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("rotation: two kids valid at once, the old one refused once removed", async () => {
    const byOld = await signed(BASE, OLD);
    const byNew = await signed(BASE, NEW);
    const both = verifier();
    expect(await both(nodeReq(byOld))).toMatchObject({ ok: true, kid: OLD.kid });
    expect(await both(nodeReq(byNew))).toMatchObject({ ok: true, kid: NEW.kid });
    const newOnly = verifier(`${NEW.kid}:${NEW.secret}`);
    expect(await newOnly(nodeReq(byOld))).toEqual({ ok: false, reason: "unknown_kid" });
    expect(await newOnly(nodeReq(byNew))).toMatchObject({ ok: true });
  });

  it("custom identity header names", async () => {
    const headers = {
      "x-tenant": "acme",
      "x-key": "key_AbCdEfGhIjKlMnOpQrSt",
      "x-perms": "",
      "x-auth-method": "key",
      "x-request-id": "r",
    };
    const names = { org: "x-tenant", keyId: "x-key", scopes: "x-perms" };
    const sig = await signatureHeader(NEW, {
      method: "POST",
      path: "/p",
      query: "",
      timestamp: NOW_S,
      kid: NEW.kid,
      headers: coveredHeaders((n) => headers[n as keyof typeof headers] ?? "", names),
    });
    const v = createVerifier({ secrets: [NEW], headers: names, now: () => NOW_MS });
    expect(await v({ method: "POST", url: "/p", headers: { ...headers, "x-keygate-signature": sig } })).toMatchObject({
      ok: true,
      identity: { org: "acme", scopes: [] },
    });
  });

  it("parseSigningSecrets: kid:secret pairs, refused with a message that never shows the secret", () => {
    expect(parseSigningSecrets(` ${NEW.kid}:${NEW.secret} , ${OLD.kid}:${OLD.secret}`)).toEqual([NEW, OLD]);
    expect(parseSigningSecrets(`k:${"a:b,".slice(0, 3)}${"c".repeat(40)}`)[0]!.secret).toBe(`a:b${"c".repeat(40)}`); // a colon in a secret is kept
    for (const bad of [
      "",
      "nokid",
      `:${NEW.secret}`,
      "k:short",
      `bad kid:${NEW.secret}`,
      `k:${NEW.secret},k:${OLD.secret}`,
    ]) {
      let message = "";
      try {
        parseSigningSecrets(bad);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad).not.toBe("");
      expect(message).not.toContain(NEW.secret);
    }
  });
});
