/**
 * The shadow store (src/objects/shadow-store.ts) on its own, the real object through its
 * stub: batches counted once, sums filtered by range, route and org, the last
 * SHADOW_SAMPLES samples per route and class, old minutes dropped.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../src/lib/clock";
import type { ShadowBatch, ShadowRow, ShadowSample } from "../../../src/objects/protocol";
import { SHADOW_RETENTION_MINUTES, SHADOW_SAMPLES } from "../../../src/objects/protocol";

afterEach(() => vi.restoreAllMocks());

const fresh = () => env.SHADOW_STORE!.get(env.SHADOW_STORE!.idFromName(`t-${crypto.randomUUID()}`));
const row = (r: Partial<ShadowRow>): ShadowRow => ({
  minute: 100,
  route: "/v1/*",
  org: "acme",
  key_id: "key_a",
  class: "agree",
  body: "",
  status: 200,
  count: 1,
  ...r,
});
const sample = (s: Partial<ShadowSample>): ShadowSample => ({
  route: "/v1/*",
  class: "would_break",
  at: 100 * 60_000,
  request_id: crypto.randomUUID(),
  method: "GET",
  path: "/v1/x",
  key_id: "",
  org: "",
  verdict: "deny; reason=missing_credential; status=401",
  origin_status: 200,
  ...s,
});
const batch = (rows: ShadowRow[], samples: ShadowSample[] = []): ShadowBatch => ({
  id: crypto.randomUUID(),
  rows,
  samples,
});

describe("ShadowStore", () => {
  it("adds a batch once; sums by route, org, key, class, body and status over a range", async () => {
    vi.spyOn(clock, "now").mockReturnValue(101 * 60_000);
    const s = fresh();
    const b = batch([row({ count: 2 }), row({ minute: 99, count: 3 }), row({ org: "globex", class: "would_break" })]);
    expect(await s.add(b)).toBe(true);
    expect(await s.add(b)).toBe(false);
    await s.add(batch([row({ count: 5 })]));
    const all = await s.sums(99, 101, null, null);
    expect(all.rows).toEqual(
      expect.arrayContaining([
        { route: "/v1/*", org: "acme", key_id: "key_a", class: "agree", body: "", status: 200, count: 10 },
        { route: "/v1/*", org: "globex", key_id: "key_a", class: "would_break", body: "", status: 200, count: 1 },
      ]),
    );
    expect((await s.sums(100, 101, null, "acme")).rows).toEqual([
      { route: "/v1/*", org: "acme", key_id: "key_a", class: "agree", body: "", status: 200, count: 7 },
    ]);
    expect((await s.sums(99, 101, "/v2/*", null)).rows).toEqual([]);
  });

  it("keeps the last SHADOW_SAMPLES samples per route and class, and drops minutes past the retention", async () => {
    const s = fresh();
    vi.spyOn(clock, "now").mockReturnValue(200 * 60_000);
    const samples = Array.from({ length: SHADOW_SAMPLES + 3 }, (_, i) =>
      sample({ at: 100 * 60_000 + i, request_id: `r${i}` }),
    );
    await s.add(batch([row({})], samples));
    await s.add(batch([], [sample({ class: "agree", request_id: "a" })]));
    const got = await s.sums(0, 300, null, null);
    const breaking = got.samples.filter((x) => x.class === "would_break").map((x) => x.request_id);
    expect(breaking).toHaveLength(SHADOW_SAMPLES);
    expect(breaking).not.toContain("r0");
    expect(got.samples.filter((x) => x.class === "agree")).toHaveLength(1);
    vi.spyOn(clock, "now").mockReturnValue((100 + SHADOW_RETENTION_MINUTES + 5) * 60_000);
    await s.add(batch([row({ minute: 100 + SHADOW_RETENTION_MINUTES + 4 })]));
    const later = await s.sums(0, 100 + SHADOW_RETENTION_MINUTES + 10, null, null);
    expect(later.rows.reduce((n, r) => n + r.count, 0)).toBe(1);
    expect(later.samples).toEqual([]);
  });
});
