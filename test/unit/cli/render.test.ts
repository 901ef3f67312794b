/**
 * What the keys CLI prints (cli/render.ts), on Node: aligned tables, key and token
 * summaries, the one-time secret, next-page hints, usage, and --json as the API's answer.
 */
import { describe, expect, it } from "vitest";
import {
  auditTable,
  created,
  describeKey,
  describeOrg,
  isoShort,
  keyTable,
  nextPage,
  output,
  rotated,
  table,
  tokenTable,
  usageHuman,
} from "../../../cli/render";
import type { KeyView } from "../../../src/keys/fields";
import type { TokenView } from "../../../src/keys/token";

const key = (over: Partial<KeyView> = {}): KeyView =>
  ({
    id: "key_A",
    name: "ci",
    key_prefix: "kg_abcd",
    orgs: ["acme", "globex"],
    scopes: ["read"],
    status: "active",
    created_at: "2030-01-01T00:00:00.000Z",
    expires_at: null,
    last_used_at: null,
    rate_limit: null,
    ...over,
  }) as KeyView;

describe("output", () => {
  it("--json prints the answer as one JSON line; otherwise the human form", () => {
    const v = { keys: [], cursor: null };
    expect(output(v, true, () => "human")).toBe('{"keys":[],"cursor":null}\n');
    expect(output(v, false, () => "human")).toBe("human\n");
  });
});

describe("tables", () => {
  it("pads every column but the last to its widest cell, two spaces apart", () => {
    expect(
      table([
        ["A", "BB", "C"],
        ["aaa", "b", "cccc"],
      ]),
    ).toBe("A    BB  C\naaa  b   cccc");
  });

  it("key table: a header and one row per key, - for no name or scopes, never for no date; empty says so", () => {
    const out = keyTable([
      key(),
      key({ id: "key_B", name: "", scopes: [], expires_at: "2031-02-03T04:05:06.789Z" }),
    ]).split("\n");
    expect(out[0]).toMatch(/^ID\s+NAME\s+PREFIX\s+STATUS\s+SCOPES\s+CREATED\s+LAST USED\s+EXPIRES$/);
    expect(out[1]!.split(/\s{2,}/)).toEqual([
      "key_A",
      "ci",
      "kg_abcd",
      "active",
      "read",
      "2030-01-01T00:00:00Z",
      "never",
      "never",
    ]);
    expect(out[2]!.split(/\s{2,}/)).toEqual([
      "key_B",
      "-",
      "kg_abcd",
      "active",
      "-",
      "2030-01-01T00:00:00Z",
      "never",
      "2031-02-03T04:05:06Z",
    ]);
    expect(keyTable([])).toBe("(no keys)");
  });

  it("audit table: rotations and changes described, the key or token named", () => {
    const out = auditTable([
      {
        id: "1",
        at: "2030-01-01T00:00:00.000Z",
        actor: "cli",
        action: "rotate",
        key_id: "key_A",
        new_key_id: "key_B",
        grace_seconds: 60,
      },
      {
        id: "2",
        at: "2030-01-01T00:00:01.000Z",
        actor: "admin",
        action: "update",
        key_id: "key_B",
        changes: { name: { from: "a", to: "b" } },
      },
      { id: "3", at: "2030-01-01T00:00:02.000Z", actor: "admin", action: "token.create", token_id: "tok_1" },
    ] as never).split("\n");
    expect(out[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+KEY\s+DETAILS$/);
    expect(out[1]).toContain("new key key_B, grace 60 s");
    expect(out[2]).toContain('name: "a" → "b"');
    expect(out[3]).toContain("tok_1");
    expect(auditTable([])).toBe("(no events)");
  });

  it("token table", () => {
    const t = {
      id: "tok_1",
      name: "backend",
      token_prefix: "kgt_ab",
      orgs: ["acme", "b"],
      role: "read",
      status: "active",
      created_at: "2030-01-01T00:00:00.000Z",
      expires_at: null,
    } as unknown as TokenView;
    const out = tokenTable([t]).split("\n");
    expect(out[1]!.split(/\s{2,}/)).toEqual([
      "tok_1",
      "backend",
      "kgt_ab",
      "acme,b",
      "read",
      "active",
      "2030-01-01T00:00:00Z",
      "never",
    ]);
    expect(tokenTable([])).toBe("(no tokens)");
  });
});

describe("summaries", () => {
  it("a key: status, orgs, scopes, dates, rate limit; revocation, rotation and meta only when present", () => {
    const plain = describeKey(key());
    expect(plain.split("\n")[0]).toBe('key_A ("ci")');
    expect(plain).toContain("  orgs:       acme, globex");
    expect(plain).toContain("  rate limit: none");
    expect(plain).not.toMatch(/revoked|rotated|replaces|meta/);
    const full = describeKey(
      key({
        name: "",
        scopes: [],
        rate_limit: { limit: 5, period_seconds: 60 },
        revoked_at: "2030-01-02T00:00:00.000Z",
        meta: { team: "core" },
      }),
    );
    expect(full.split("\n")[0]).toBe("key_A");
    expect(full).toContain("  scopes:     (none)");
    expect(full).toContain("  rate limit: 5 requests per 60 s");
    expect(full).toContain("  revoked:    2030-01-02T00:00:00Z");
    expect(full).toContain("  meta:       team=core");
  });

  it("created and rotated keys show the plaintext once, with the warning", () => {
    const c = created({ ...key(), key: "kg_SECRET" });
    expect(c).toMatch(/^Created key key_A \("ci"\) for acme, globex\n/);
    expect(c).toContain("\n  kg_SECRET\n\nThis is the only time the key is shown: store it now.");
    const r = rotated({ ...key({ id: "key_B" }), key: "kg_NEW", previous: key({ status: "rotated" }) });
    expect(r).toMatch(/^Rotated key_A: it stopped working now\.\nNew key key_B/);
    expect(r).toContain("kg_NEW");
    expect(
      rotated({ ...key({ id: "key_B" }), key: "k", previous: key({ expires_at: "2030-01-01T00:01:00.000Z" }) }),
    ).toContain("keeps working until 2030-01-01T00:01:00Z");
  });

  it("the next page's command only when there is a cursor", () => {
    expect(nextPage("abc", "list --org 'acme'")).toBe("\n\nMore: npm run keys -- list --org 'acme' --cursor 'abc'");
    expect(nextPage(null, "list")).toBe("");
  });

  it("org and usage", () => {
    expect(describeOrg({ org: "acme", rate_limit: { limit: 10, period_seconds: 60 } })).toBe(
      "org acme: rate limit 10 requests per 60 s, per region (shared by all its keys)",
    );
    expect(describeOrg({ org: "acme", rate_limit: null })).toBe("org acme: no org-wide rate limit");
    const u = usageHuman({
      org: "acme",
      key: null,
      from: "2030-01-01T00:00:00.000Z",
      to: "2030-01-01T01:00:00.000Z",
      granularity: "minute",
      totals: { requests: 3, forwarded: 2, rejected: 1, rejected_by_status: { "429": 1 } },
      series: [
        { start: "2030-01-01T00:00:00.000Z", requests: 0, forwarded: 0, rejected: 0 },
        { start: "2030-01-01T00:01:00.000Z", requests: 3, forwarded: 2, rejected: 1 },
      ],
    }).split("\n");
    expect(u[0]).toBe("acme, 2030-01-01T00:00:00Z → 2030-01-01T01:00:00Z (per minute)");
    expect(u[1]).toBe("  requests 3, forwarded 2, rejected 1 (429: 1)");
    expect(u).toHaveLength(5); // the empty minute is left out
    expect(u[4]).toMatch(/^ {2}2030-01-01T00:01:00Z\s+3\s+2\s+1$/);
  });

  it("isoShort drops milliseconds; missing dates say never (or what is given)", () => {
    expect(isoShort("2030-01-01T00:00:00.123Z")).toBe("2030-01-01T00:00:00Z");
    expect(isoShort(null)).toBe("never");
    expect(isoShort(undefined, "-")).toBe("-");
  });
});
