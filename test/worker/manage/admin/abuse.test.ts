/**
 * Issue 8, class 8: admin API abuse and input. Wrong admin tokens count against the
 * per-IP failed-authentication budget (429 + Retry-After once over); impossible calendar
 * dates are 400, never silently moved; every admin field has a size limit, `meta` keys
 * and values included — each refusal a problem-details 400 naming the field.
 */
import { fc, test } from "@fast-check/vitest";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseDateTime } from "../../../../src/keys/fields";
import { api, createViaApi, TOKEN, uniqueOrg } from "./support";

/** wrangler.toml: AUTH_FAILURE_LIMITER simple = { limit = 30, period = 60 }. */
const FAILURE_BUDGET = 30;
let ipCounter = 0;
/** A fresh shared-address-space (RFC 6598) address per test: the binding's counters outlive tests. */
const freshIp = () =>
  `100.${64 + Math.floor(Math.random() * 60)}.${Math.floor(Math.random() * 250)}.${(ipCounter++ % 250) + 1}`;

async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((r) => setTimeout(r, left + 100));
}

const WRONG = "wrong-admin-token-0123456789abcdef0123456789";

afterEach(() => vi.restoreAllMocks());

describe("admin API: wrong tokens count against the per-IP failure budget (issue 8, class 8)", () => {
  beforeEach(awayFromWindowEdge);

  it("30 wrong tokens from one address are 401; the next is 429 with Retry-After, even with the right token; other addresses are unaffected", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      const { res } = await api("GET", "/_keygate/audit", { token: WRONG, headers: { "cf-connecting-ip": ip } });
      expect(res.status, `attempt ${i + 1}`).toBe(401);
    }
    const over = await api("GET", "/_keygate/audit", { token: WRONG, headers: { "cf-connecting-ip": ip } });
    expect(over.res.status).toBe(429);
    expect(over.res.headers.get("content-type")).toBe("application/problem+json");
    expect(over.res.headers.get("retry-after")).toBe("60");
    expect(over.json).toMatchObject({ status: 429, code: "rate_limited" });
    // Refused before the token is compared: no oracle for the right one.
    expect(
      (await api("GET", "/_keygate/audit", { token: TOKEN, headers: { "cf-connecting-ip": ip } })).res.status,
    ).toBe(429);
    expect(
      (await api("GET", "/_keygate/audit", { token: TOKEN, headers: { "cf-connecting-ip": freshIp() } })).res.status,
    ).toBe(200);
  });

  // Issue 20 (class 4) gave the management side its own budget: it used to be the
  // gateway's, so guessing API keys from an address locked its operator out.
  it("the management side has its own budget: wrong API keys do not lock the admin API out, wrong admin tokens do not lock the gateway out", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      const { res } = await api("GET", "/v1/things", {
        token: null,
        headers: { "x-api-key": `nope-${crypto.randomUUID()}`, "cf-connecting-ip": ip },
      });
      expect(res.status).toBe(401);
    }
    expect(
      (
        await api("GET", "/v1/things", {
          token: null,
          headers: { "x-api-key": `nope-${crypto.randomUUID()}`, "cf-connecting-ip": ip },
        })
      ).res.status,
    ).toBe(429);
    // The operator behind the same address: its token still works, a wrong one is a 401.
    expect((await api("GET", "/_keygate/audit", { headers: { "cf-connecting-ip": ip } })).res.status).toBe(200);
    expect(
      (await api("GET", "/_keygate/audit", { token: WRONG, headers: { "cf-connecting-ip": ip } })).res.status,
    ).toBe(401);

    const other = freshIp();
    for (let i = 0; i < FAILURE_BUDGET; i++) {
      expect(
        (await api("GET", "/_keygate/audit", { token: WRONG, headers: { "cf-connecting-ip": other } })).res.status,
      ).toBe(401);
    }
    expect(
      (await api("GET", "/_keygate/audit", { token: WRONG, headers: { "cf-connecting-ip": other } })).res.status,
    ).toBe(429);
    expect(
      (await api("GET", "/_keygate/audit", { token: TOKEN, headers: { "cf-connecting-ip": other } })).res.status,
    ).toBe(429);
    // The gateway's budget is untouched: a guess is still a plain 401 there.
    expect(
      (
        await api("GET", "/v1/things", {
          token: null,
          headers: { "x-api-key": `nope-${crypto.randomUUID()}`, "cf-connecting-ip": other },
        })
      ).res.status,
    ).toBe(401);
  });

  it("a request without any token is not a guess: it is 401 and not counted", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_BUDGET + 5; i++) {
      const { res } = await api("GET", "/_keygate/audit", { token: null, headers: { "cf-connecting-ip": ip } });
      expect(res.status).toBe(401);
    }
    expect((await api("GET", "/_keygate/audit", { headers: { "cf-connecting-ip": ip } })).res.status).toBe(200);
  });
});

describe("admin API: impossible calendar dates are 400 (issue 8, class 8)", () => {
  const BAD = [
    "2099-02-31T00:00:00Z",
    "2099-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2099-04-31T00:00:00Z",
    "2099-13-01T00:00:00Z",
    "2099-00-10T00:00:00Z",
    "2099-01-00T00:00:00Z",
    "2099-01-01T24:00:00Z",
    "2099-01-01T23:60:00Z",
    "2099-01-01T23:59:60Z",
    "2099-01-01T00:00:00+24:00",
    "2099-01-01T00:00:00+05:60",
    "2099-01-01T00:00:00",
    "2099-01-01",
    "2099-1-01T00:00:00Z",
    " 2099-01-01T00:00:00Z",
    "2099-01-01T00:00:00Z" + " ".repeat(100),
  ];

  it.each(BAD)("POST and PATCH expires_at %j: 400 naming expires_at, nothing stored", async (value) => {
    const org = uniqueOrg();
    const created = await api("POST", "/_keygate/keys", { body: { orgs: [org], expires_at: value } });
    expect(created.res.status).toBe(400);
    expect(created.json.errors).toEqual([
      { field: "expires_at", message: expect.stringContaining("real calendar date-time") },
    ]);
    expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys).toEqual([]);
    const key = await createViaApi();
    const patched = await api("PATCH", `/_keygate/keys/${key.id}`, { body: { expires_at: value } });
    expect(patched.res.status).toBe(400);
    expect(patched.json.errors[0].field).toBe("expires_at");
    expect((await api("GET", `/_keygate/keys/${key.id}`)).json.expires_at).toBeNull();
  });

  it.each([
    ["2096-02-29T00:00:00Z", "2096-02-29T00:00:00.000Z"],
    ["2099-12-31T23:59:59.999Z", "2099-12-31T23:59:59.999Z"],
    ["2098-06-01T12:00:00+02:00", "2098-06-01T10:00:00.000Z"],
    ["2098-06-01t12:00z", "2098-06-01T12:00:00.000Z"],
    ["2098-01-01T00:30:00-00:45", "2098-01-01T01:15:00.000Z"],
  ])("a real date-time %j is stored as %j", async (value, stored) => {
    const key = await createViaApi({ expires_at: value });
    expect(key.expires_at).toBe(stored);
  });

  test.prop([
    fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
  ])("property: every real instant's ISO string parses to itself", (d) => {
    expect(parseDateTime(d.toISOString())).toBe(d.getTime());
  });

  test.prop([fc.integer({ min: 1970, max: 2400 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 })])(
    "property: a date parses exactly when the calendar has that day",
    (y, m, d) => {
      const s = `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}T00:00:00Z`;
      const real = new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
      expect(parseDateTime(s) !== null).toBe(real);
    },
  );
});

describe("admin API: every field has a size limit (issue 8, class 8)", () => {
  const meta = (n: number, k = (i: number) => `k${i}`, v = () => "v") =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [k(i), v()]));

  it.each([
    ["name", { name: "n".repeat(201) }, "name"],
    ["orgs count", { orgs: Array.from({ length: 51 }, (_, i) => `o${i}`) }, "orgs"],
    ["org length", { orgs: ["o".repeat(129)] }, "orgs"],
    ["scopes count", { scopes: Array.from({ length: 101 }, (_, i) => `s${i}`) }, "scopes"],
    ["scope length", { scopes: ["s".repeat(129)] }, "scopes"],
    ["meta entries", { meta: meta(21) }, "meta"],
    ["meta key length", { meta: { ["k".repeat(65)]: "v" } }, "meta"],
    ["meta empty key", { meta: { "": "v" } }, "meta"],
    ["meta key control", { meta: { "a\nb": "v" } }, "meta"],
    ["meta value length", { meta: { note: "v".repeat(201) } }, "meta"],
    ["meta value control", { meta: { note: "a\u0000b" } }, "meta"],
    ["meta value type", { meta: { note: 1 } }, "meta"],
    ["expires_at length", { expires_at: "2099-01-01T00:00:00." + "0".repeat(200) + "Z" }, "expires_at"],
  ])("%s: 400 problem details naming the field", async (_, body, field) => {
    const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], ...body } });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(json.code).toBe("invalid_input");
    expect(json.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(json.detail).toContain(`${field}:`);
    if (String(_).startsWith("meta value")) expect(json.detail).toContain('"note"');
  });

  it("limits are inclusive: 20 meta entries of 64-character keys and 200-character values are accepted", async () => {
    const ok = await createViaApi({
      meta: meta(
        20,
        (i) => `${i}`.padStart(64, "k"),
        () => "v".repeat(200),
      ),
    });
    expect(ok.id).toMatch(/^key_/); // createViaApi throws unless 201
  });

  it("an unknown field's name is echoed bounded, never whole", async () => {
    const long = "x".repeat(5000);
    const { res, json } = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], [long]: 1 } });
    expect(res.status).toBe(400);
    expect(json.errors[0].field.length).toBeLessThanOrEqual(65);
    expect(JSON.stringify(json).length).toBeLessThan(1000);
  });

  it("an unbounded key id in the path or a repeated long query name is never echoed or logged whole", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: string) => void lines.push(l));
    vi.spyOn(console, "error").mockImplementation((l: string) => void lines.push(l));
    const id = "key_" + "x".repeat(5000);
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const { res } = await api(method, `/_keygate/keys/${id}`, method === "PATCH" ? { body: { name: "x" } } : {});
      expect(res.status, method).toBe(404);
    }
    const name = "q".repeat(5000);
    const { res, json } = await api("GET", `/_keygate/keys?org=a&${name}=1&${name}=2`);
    expect(res.status).toBe(400);
    expect(JSON.stringify(json).length).toBeLessThan(1000);
    // The access log's path is bounded (512 characters); the key id is logged only when it is one.
    for (const line of lines.map((l) => JSON.parse(l) as Record<string, unknown>)) {
      expect(JSON.stringify(line).length).toBeLessThan(1200);
      expect(line.key_id ?? null).toBeNull();
    }
  });

  it("import: a key over 512 characters is 400 naming key", async () => {
    const { res, json } = await api("POST", "/_keygate/keys/import", {
      body: { orgs: [uniqueOrg()], key: "k".repeat(513) },
    });
    expect(res.status).toBe(400);
    expect(json.errors.map((e: { field: string }) => e.field)).toContain("key");
  });
});

describe("issue 20, class 7: names and labels refuse invisible and reordering characters", () => {
  // Controls (C0, C1, DEL), bidi embeddings/overrides/isolates and marks, zero-width
  // characters, the line and paragraph separators, unpaired surrogates.
  const BAD = [
    "\u202e",
    "\u202a",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u2028",
    "\u0085",
    "\u0007",
    "\ud800",
    "\udfff",
    "\u{e0041}",
  ];
  const hex = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

  it("a key's name (create and update), meta keys and values, a token's name: 400 naming the field and the character, nothing stored", async () => {
    const key = await createViaApi({ name: "before" });
    for (const ch of BAD) {
      const name = `invoice${ch}gpj.exe`;
      const org = uniqueOrg();
      const created = await api("POST", "/_keygate/keys", { body: { orgs: [org], name } });
      expect(created.res.status, hex(ch)).toBe(400);
      expect(created.json.errors, hex(ch)).toEqual([
        { field: "name", message: expect.stringContaining(`(found ${hex(ch)})`) },
      ]);
      expect((await api("GET", `/_keygate/keys?org=${org}`)).json.keys, hex(ch)).toEqual([]);
      const patched = await api("PATCH", `/_keygate/keys/${key.id}`, { body: { name } });
      expect(patched.res.status, hex(ch)).toBe(400);
      expect(patched.json.errors[0].field).toBe("name");
      for (const meta of [{ [`k${ch}`]: "v" }, { note: `v${ch}` }]) {
        const m = await api("POST", "/_keygate/keys", { body: { orgs: [uniqueOrg()], meta } });
        expect(m.res.status, `meta ${hex(ch)}`).toBe(400);
        expect(m.json.errors, `meta ${hex(ch)}`).toEqual([
          { field: "meta", message: expect.stringContaining(hex(ch)) },
        ]);
      }
      const token = await api("POST", "/_keygate/tokens", { body: { name, orgs: [uniqueOrg()], role: "read" } });
      expect(token.res.status, `token ${hex(ch)}`).toBe(400);
      expect(token.json.errors, `token ${hex(ch)}`).toEqual([
        { field: "name", message: expect.stringContaining(hex(ch)) },
      ]);
    }
    expect((await api("GET", `/_keygate/keys/${key.id}`)).json.name).toBe("before");
  });

  it("ordinary text of any script is accepted: accents, CJK, RTL letters, emoji (without joiners)", async () => {
    for (const name of ["Café Ω", "日本語のキー", "مفتاح عربي", "מפתח", "deploy 🚀 ❤️", "tab-free, line-free"]) {
      const k = await createViaApi({ name, meta: { [name.slice(0, 5)]: name } });
      expect(k.name).toBe(name);
    }
  });
});
