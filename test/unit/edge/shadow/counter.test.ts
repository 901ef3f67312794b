/**
 * Report mode's counter (src/edge/shadow/counter.ts) on its own: one row per dimension with
 * its count, the last SHADOW_SAMPLES samples per route and class, a flush when due (or when
 * too many rows wait), a failed batch kept (with its id) for the next flush.
 */
import { describe, expect, it } from "vitest";
import type { Comparison } from "../../../../src/edge/shadow/counter";
import { flushShadow, ShadowCounter } from "../../../../src/edge/shadow/counter";
import type { ShadowBatch } from "../../../../src/objects/protocol";
import { SHADOW_SAMPLES } from "../../../../src/objects/protocol";

const c = (over: Partial<Comparison> = {}, id = "r"): Comparison => ({
  route: "/v1/*",
  org: "acme",
  key_id: "key_a",
  class: "agree",
  body: "",
  status: 200,
  sample: {
    class: "agree",
    request_id: id,
    method: "GET",
    path: "/v1/x",
    key_id: "key_a",
    org: "acme",
    verdict: "allow",
    origin_status: 200,
  },
  ...over,
});

describe("ShadowCounter", () => {
  it("counts per minute, route, org, key, class, body and status", () => {
    const k = new ShadowCounter();
    k.count(c(), 60_000);
    k.count(c(), 60_001);
    k.count(c({ status: 201 }), 60_002);
    k.count(c(), 120_000);
    const b = k.take();
    expect(b.rows.map((r) => [r.minute, r.status, r.count])).toEqual([
      [1, 200, 2],
      [1, 201, 1],
      [2, 200, 1],
    ]);
    expect(k.pending.size).toBe(0);
  });

  it("keeps the last SHADOW_SAMPLES samples per route and class", () => {
    const k = new ShadowCounter();
    for (let i = 0; i < SHADOW_SAMPLES + 5; i++) k.count(c({}, `r${i}`), i);
    k.count(c({ route: "/v2/*" }, "other"), 1);
    const b = k.take();
    const v1 = b.samples.filter((s) => s.route === "/v1/*").map((s) => s.request_id);
    expect(v1).toHaveLength(SHADOW_SAMPLES);
    expect(v1[0]).toBe("r5");
    expect(b.samples.filter((s) => s.route === "/v2/*")).toHaveLength(1);
  });

  it("is due after the interval, or with too many rows; a failed batch goes back, with its id", async () => {
    const k = new ShadowCounter();
    expect(k.due(0, 10_000)).toBe(false);
    k.count(c(), 0);
    expect(k.due(5_000, 10_000)).toBe(false);
    expect(k.due(10_000, 10_000)).toBe(true);
    const sent: ShadowBatch[] = [];
    let fail = true;
    const ns = {
      idFromName: () => "id",
      get: () => ({
        add: async (b: ShadowBatch) => {
          if (fail) throw new Error("down");
          sent.push(b);
          return true;
        },
      }),
    } as unknown as DurableObjectNamespace<never>;
    const errors: string[] = [];
    await flushShadow(ns, k, 10_000, (cause) => errors.push(cause));
    expect(errors).toEqual(["down"]);
    expect(k.retry).toHaveLength(1);
    const id = k.retry[0]!.id;
    expect(k.due(11_000, 10_000)).toBe(false);
    fail = false;
    k.count(c(), 20_000);
    await flushShadow(ns, k, 20_000, (cause) => errors.push(cause));
    expect(sent.map((b) => b.id)[0]).toBe(id);
    expect(sent).toHaveLength(2);
    for (let i = 0; i < 10_000; i++) k.count(c({ key_id: `k${i}` }), 21_000);
    expect(k.due(21_000, 3_600_000)).toBe(true);
  });
});
