/**
 * The key's fields are declared once (src/keys/fields.ts). The record guard derived from
 * the declaration must accept and refuse exactly what the hand-written guard it replaced
 * did (existing KV records keep parsing; malformed ones stay store faults), and the other
 * shapes must follow the declaration's order.
 */
import { describe, expect, it } from "vitest";
import { CHOSEN_SUMMARY_FIELDS, KEY_FIELDS, summarize } from "../../../src/keys/fields";
import { PATCH_FIELDS, validateKeyPatch, validateNewKey, validateRotation } from "../../../src/keys/issue";
import type { KeyRecord } from "../../../src/keys/record";
import {
  isCreditRefill,
  isKeyRecord,
  isRateLimit,
  KEY_ID_RE,
  MAX_ALLOWED_IPS,
  MAX_CREDITS,
  modeOf,
  ORG_RE,
  RATE_LIMIT_MODE_DEFAULT,
  SCOPE_RE,
} from "../../../src/keys/record";
import { validateOrgSettings } from "../../../src/manage/org-settings";

/** The guard as it was written by hand before the declaration (the oracle). */
function handWritten(v: unknown): boolean {
  const isStringArray = (x: unknown, re: RegExp) =>
    Array.isArray(x) && x.every((s) => typeof s === "string" && re.test(s));
  const isIsoOrNull = (x: unknown) => x === null || (typeof x === "string" && !Number.isNaN(Date.parse(x)));
  const isCredits = (x: unknown) => {
    if (typeof x !== "object" || x === null) return false;
    const c = x as Record<string, unknown>;
    return (
      Number.isInteger(c.remaining) &&
      (c.remaining as number) >= 0 &&
      (c.remaining as number) <= MAX_CREDITS &&
      (c.refill === undefined || isCreditRefill(c.refill)) &&
      typeof c.set_at === "string" &&
      !Number.isNaN(Date.parse(c.set_at)) &&
      typeof c.balance_id === "string" &&
      KEY_ID_RE.test(c.balance_id)
    );
  };
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.id === "string" &&
    KEY_ID_RE.test(r.id) &&
    typeof r.name === "string" &&
    isStringArray(r.orgs, ORG_RE) &&
    (r.orgs as string[]).length > 0 &&
    isStringArray(r.scopes, SCOPE_RE) &&
    typeof r.start === "string" &&
    typeof r.created_at === "string" &&
    isIsoOrNull(r.expires_at) &&
    typeof r.disabled === "boolean" &&
    isIsoOrNull(r.revoked_at) &&
    (r.replaced_by === undefined || (typeof r.replaced_by === "string" && KEY_ID_RE.test(r.replaced_by))) &&
    (r.rotated_at === undefined || (typeof r.rotated_at === "string" && !Number.isNaN(Date.parse(r.rotated_at)))) &&
    (r.rate_limit === undefined || r.rate_limit === null || isRateLimit(r.rate_limit)) &&
    (r.credits === undefined || r.credits === null || isCredits(r.credits)) &&
    (r.allowed_ips === undefined ||
      r.allowed_ips === null ||
      (Array.isArray(r.allowed_ips) &&
        r.allowed_ips.length <= MAX_ALLOWED_IPS &&
        r.allowed_ips.every((x) => typeof x === "string")))
  );
}

const example = Object.fromEntries(KEY_FIELDS.filter((f) => f.stored).map((f) => [f.name, f.example])) as Record<
  string,
  unknown
>;
const minimal = Object.fromEntries(
  Object.entries(example).filter(([k]) => KEY_FIELDS.find((f) => f.name === k)!.stored!.presence === "required"),
);

/** Values to put in each field: right and wrong kinds, edge lengths, bad patterns and dates. */
const PROBES: unknown[] = [
  undefined,
  null,
  "",
  "x",
  "nope",
  "2026-11-01T09:00:00.000Z",
  "key_7Fq2Lr9XcB3mNp8TzK1a",
  "key_short",
  0,
  1,
  2,
  1.5,
  true,
  false,
  [],
  ["acme"],
  ["bad slug!"],
  ["acme", 7],
  Array.from({ length: MAX_ALLOWED_IPS }, (_, i) => `10.0.${i}.0/24`),
  Array.from({ length: MAX_ALLOWED_IPS + 1 }, (_, i) => `10.0.${i}.0/24`),
  {},
  { team: "platform" },
  { limit: 100, period_seconds: 60 },
  { limit: 0, period_seconds: 60 },
  { limit: 100, period_seconds: 60, extra: 1 },
  [100, 60],
  { remaining: 5, set_at: "2026-11-01T09:00:00.000Z", balance_id: "key_7Fq2Lr9XcB3mNp8TzK1a" },
  { remaining: -1, set_at: "2026-11-01T09:00:00.000Z", balance_id: "key_7Fq2Lr9XcB3mNp8TzK1a" },
  { remaining: 5, set_at: "never", balance_id: "key_7Fq2Lr9XcB3mNp8TzK1a" },
];

describe("the record guard derived from KEY_FIELDS", () => {
  it("agrees with the hand-written guard on every field × probe, from a minimal and a full record", () => {
    let compared = 0;
    const names = [...KEY_FIELDS.map((f) => f.name), "unknown_field"];
    for (const base of [minimal, example]) {
      for (const name of names) {
        for (const probe of PROBES) {
          const r: Record<string, unknown> = { ...base };
          if (probe === undefined) delete r[name];
          else r[name] = probe;
          expect(isKeyRecord(r), `${name} = ${JSON.stringify(probe)}`).toBe(handWritten(r));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
    expect(isKeyRecord(minimal)).toBe(true);
    expect(isKeyRecord(example)).toBe(true);
    for (const v of [null, undefined, "x", 1, []]) expect(isKeyRecord(v)).toBe(handWritten(v));
  });
});

describe("the other shapes follow the declaration", () => {
  it("the summary keeps the summary fields in declaration order, optional ones when set", () => {
    expect(Object.keys(summarize(example as unknown as KeyRecord))).toEqual(
      KEY_FIELDS.filter((f) => f.summary).map((f) => f.name),
    );
    expect(Object.keys(summarize(minimal as unknown as KeyRecord))).toEqual(
      KEY_FIELDS.filter((f) => f.summary && f.stored?.presence === "required").map((f) => f.name),
    );
  });

  it("PATCH names its fields in declaration order, and the size check names the chosen summary fields", () => {
    expect(PATCH_FIELDS).toEqual([
      "name",
      "orgs",
      "scopes",
      "expires_at",
      "enabled",
      "rate_limit",
      "credits",
      "allowed_ips",
    ]);
    expect(CHOSEN_SUMMARY_FIELDS).toEqual(["name", "orgs", "scopes"]);
    const empty = validateKeyPatch({}, 0, { name: "", orgs: ["a"], scopes: [] });
    expect(empty).toEqual({
      ok: false,
      errors: [
        {
          field: "(body)",
          message:
            "must change at least one of name, orgs, scopes, expires_at, enabled, rate_limit, credits, allowed_ips",
        },
      ],
    });
    const big = validateNewKey(
      { name: "n".repeat(200), orgs: Array.from({ length: 50 }, (_, i) => `org-${i}-${"o".repeat(20)}`) },
      0,
    );
    expect(big.ok).toBe(false);
    if (!big.ok) {
      expect(big.errors.map((e) => e.field)).toEqual(["name", "orgs", "scopes"]);
      expect(big.errors[0]!.message).toMatch(
        /^name, orgs and scopes together are too long: a key's listing entry must fit KV's 1024-byte metadata \(this one needs \d+\)$/,
      );
    }
  });

  it("create refuses unknown fields and reports fields in declaration order", () => {
    const r = validateNewKey({ bogus: 1, allowed_ips: "x", name: 5, orgs: [] }, 0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.field)).toEqual(["bogus", "name", "orgs", "allowed_ips"]);
  });

  it("rotation takes grace_seconds and the settable fields only", () => {
    expect(validateRotation({ credits: { remaining: 3 } })).toEqual({
      ok: true,
      value: { grace_seconds: 0, credits: { remaining: 3 } },
    });
    expect(validateRotation({ name: "x" })).toEqual({
      ok: false,
      errors: [{ field: "name", message: "unknown field" }],
    });
  });
});

describe("rate_limit.mode (issue 25)", () => {
  it("exact or regional; absent is the default (regional); anything else refused, on create and on an org", () => {
    expect(isRateLimit({ limit: 1, period_seconds: 1 })).toBe(true);
    expect(isRateLimit({ limit: 1, period_seconds: 1, mode: "exact" })).toBe(true);
    expect(isRateLimit({ limit: 1, period_seconds: 1, mode: "regional" })).toBe(true);
    for (const mode of ["Exact", "global", "", null, 1])
      expect(isRateLimit({ limit: 1, period_seconds: 1, mode }), String(mode)).toBe(false);
    expect(isRateLimit({ limit: 1, period_seconds: 1, mode: "exact", extra: 1 })).toBe(false);
    expect(modeOf({ limit: 1, period_seconds: 1 })).toBe(RATE_LIMIT_MODE_DEFAULT);
    expect(RATE_LIMIT_MODE_DEFAULT).toBe("regional");
    const created = validateNewKey({ orgs: ["acme"], rate_limit: { limit: 5, period_seconds: 60, mode: "exact" } }, 0);
    expect(created).toMatchObject({ ok: true, value: { rate_limit: { limit: 5, period_seconds: 60, mode: "exact" } } });
    const bad = validateNewKey({ orgs: ["acme"], rate_limit: { limit: 5, period_seconds: 60, mode: "global" } }, 0);
    expect(bad).toMatchObject({
      ok: false,
      errors: [{ field: "rate_limit", message: expect.stringContaining('"mode": "exact" | "regional"') }],
    });
    expect(validateOrgSettings({ rate_limit: { limit: 5, period_seconds: 60, mode: "regional" } }).ok).toBe(true);
    expect(validateOrgSettings({ rate_limit: { limit: 5, period_seconds: 60, mode: "nearby" } })).toMatchObject({
      ok: false,
      errors: [{ field: "rate_limit" }],
    });
  });
});
