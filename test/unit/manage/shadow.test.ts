/**
 * The shadow report's shape (src/manage/shadow.ts): the query's bounds, the totals, and the
 * one line that says whether it is safe to switch — what blocks it, and what does not.
 */
import { describe, expect, it } from "vitest";
import type { ShadowQuery } from "../../../src/manage/shadow";
import { shadowAnswer, spanText, validateShadowQuery } from "../../../src/manage/shadow";
import type { ShadowSums } from "../../../src/objects/protocol";

const NOW = Date.parse("2026-12-07T12:00:00Z");
const DAY = 86_400_000;
const q = (days = 7): ShadowQuery => ({
  fromMinute: (NOW - days * DAY) / 60_000,
  toMinute: NOW / 60_000,
  spanMs: days * DAY,
  route: null,
  org: null,
});
type Row = ShadowSums["rows"][number];
const row = (r: Partial<Row>): Row => ({
  route: "/v1/*",
  org: "acme",
  key_id: "key_a",
  class: "agree",
  body: "",
  status: 200,
  count: 1,
  ...r,
});

describe("validateShadowQuery", () => {
  it("defaults to the last 24 hours; at most 35 days; from before to; known parameters only", () => {
    const d = validateShadowQuery({}, NOW);
    expect(d.ok && d.value).toMatchObject({ toMinute: NOW / 60_000, fromMinute: (NOW - DAY) / 60_000, spanMs: DAY });
    expect(validateShadowQuery({ from: new Date(NOW - 36 * DAY).toISOString() }, NOW).ok).toBe(false);
    expect(validateShadowQuery({ from: new Date(NOW + 1000).toISOString() }, NOW).ok).toBe(false);
    expect(validateShadowQuery({ since: "1h" }, NOW)).toMatchObject({ ok: false, errors: [{ field: "since" }] });
    expect(validateShadowQuery({ org: "Not An Org" }, NOW)).toMatchObject({ ok: false, errors: [{ field: "org" }] });
  });
});

describe("the summary line", () => {
  it("nothing compared: nothing to go on", () => {
    const a = shadowAnswer(q(), { rows: [], samples: [] });
    expect(a.safe_to_switch).toBe(false);
    expect(a.summary).toBe("No request compared in 7 days: nothing to go on yet.");
  });

  it("all agree, refusals' bodies matching, the origin's own 404s and 5xx let through: safe", () => {
    const a = shadowAnswer(q(), {
      rows: [
        row({ count: 10 }),
        row({ route: "/v2/*", key_id: "", org: "", status: 401, body: "match", count: 3 }),
        row({ route: "/v2/*", class: "would_admit", status: 404, count: 2 }),
        row({ route: "/v3/*", class: "would_admit", status: 503 }),
      ],
      samples: [],
    });
    expect(a.totals).toMatchObject({ requests: 16, agree: 13, body_match: 3, would_admit: 3, would_admit_auth: 0 });
    expect(a.summary).toBe("0 would_break in 7 days on 3 routes: safe to switch.");
    expect(a.safe_to_switch).toBe(true);
  });

  it("would_break, status or body differing, and the origin's 401/403 let through each block", () => {
    const one = (r: Partial<Row>) => shadowAnswer(q(1), { rows: [row({ count: 5 }), row(r)], samples: [] });
    expect(one({ class: "would_break", route: "/v2/*" }).summary).toBe(
      "1 would_break in 1 day on 1 of 2 routes: not safe to switch yet.",
    );
    expect(one({ class: "status_differs", status: 404 }).summary).toBe(
      "0 would_break in 1 day on 1 route, and 1 refusal would differ from the origin's (status or body): not safe to switch yet.",
    );
    expect(one({ body: "differs", status: 401 }).safe_to_switch).toBe(false);
    expect(one({ class: "would_admit", status: 403 }).summary).toBe(
      "0 would_break in 1 day on 1 route, and 1 request the origin refused (401/403) would be let through: not safe to switch yet.",
    );
  });

  it("per route and per key, the ones that block first", () => {
    const a = shadowAnswer(q(), {
      rows: [row({ key_id: "key_ok", count: 50 }), row({ key_id: "key_bad", class: "would_break", route: "/b/*" })],
      samples: [],
    });
    expect(a.routes.map((r) => r.route)).toEqual(["/b/*", "/v1/*"]);
    expect(a.keys.map((k) => k.key_id)).toEqual(["key_bad", "key_ok"]);
  });

  it("says the range in words", () => {
    expect(spanText(7 * DAY)).toBe("7 days");
    expect(spanText(DAY)).toBe("1 day");
    expect(spanText(3_600_000)).toBe("1 hour");
    expect(spanText(36 * 3_600_000)).toBe("36 hours");
    expect(spanText(90 * 60_000)).toBe("90 minutes");
  });
});
