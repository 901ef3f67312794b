/**
 * Faults: the key store failing or hanging, the origin refusing, resetting or stalling.
 * KV faults are injected by a wrapper around Miniflare's real KV binding; origin faults
 * are the real origin's behaviour paths (scripts/origin.ts). Time moves through `clock`,
 * never by sleeping; the only real waits are the (short) timeouts under test.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../../src/lib/clock";
import { expectRefusal, PROFILE_CASES } from "../../../support/profile-shapes";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, mint, ORIGIN, patchRecord, through, unknownKey } from "../../../support/worker-helpers";

afterEach(() => vi.restoreAllMocks());

type Mode = "ok" | "fail" | "hang";

/** The real KV binding, with reads counted and failures or hangs switched on at will. */
function faultyKv() {
  const real = env.KEYS;
  const state = { mode: "ok" as Mode, reads: 0 };
  const kv = {
    get: (...args: Parameters<KVNamespace["get"]>) => {
      state.reads++;
      if (state.mode === "fail") return Promise.reject(new Error("KV is down (injected)"));
      if (state.mode === "hang") return new Promise<never>(() => {});
      return (real.get as (...a: unknown[]) => Promise<unknown>)(...args);
    },
    put: real.put.bind(real),
    delete: real.delete.bind(real),
    list: real.list.bind(real),
    getWithMetadata: real.getWithMetadata.bind(real),
  };
  return { kv: kv as unknown as KVNamespace, state };
}

const X = (key: string) => ({ "x-api-key": key });

describe("key store faults", () => {
  it("KV throws: 503 in every profile's shape, never forwarded", async () => {
    const { kv, state } = faultyKv();
    state.mode = "fail";
    for (const p of PROFILE_CASES) {
      const { res, body, calls } = await through(
        "/things",
        { headers: p.present(unknownKey()) },
        makeEnv({ ...p.vars, KEYS: kv }),
      );
      expect(calls).toHaveLength(0);
      expectRefusal(p, res, body, 503);
    }
  });

  it("KV hangs: 503 after KV_TIMEOUT_MS, never forwarded", async () => {
    const { kv, state } = faultyKv();
    state.mode = "hang";
    // The read never settles: any answer at all can only come from KV_TIMEOUT_MS.
    const { res, calls } = await through(
      "/things",
      { headers: X(unknownKey()) },
      makeEnv({ KEYS: kv, KV_TIMEOUT_MS: 100 }),
    );
    expect(res.status).toBe(503);
    expect(calls).toHaveLength(0);
    expect(state.reads).toBe(1);
  });

  it("a valid key no longer in the cache: 503 while KV fails, not 401", async () => {
    const { kv, state } = faultyKv();
    const { key } = await mint();
    state.mode = "fail";
    const { res } = await through("/things", { headers: X(key) }, makeEnv({ KEYS: kv }));
    expect(res.status).toBe(503);
  });

  it("stale-if-error: a cached record is served up to STALE_IF_ERROR_MS past its TTL while KV fails, then 503", async () => {
    const { kv, state } = faultyKv();
    const vars: Vars = { KEYS: kv, CACHE_TTL_MS: 1_000, STALE_IF_ERROR_MS: 5_000 };
    const { key, record } = await mint();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(200);
    expect(state.reads).toBe(1);

    state.mode = "fail";
    now.mockReturnValue(t0 + 999); // fresh: no read at all
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(200);
    expect(state.reads).toBe(1);
    now.mockReturnValue(t0 + 1_000 + 4_999); // stale, KV failing: served from the cache
    const stale = await through("/things", { headers: X(key) }, makeEnv(vars));
    expect(stale.res.status).toBe(200);
    expect(stale.calls[0]!.headers["x-api-key-id"]).toBe(record.id);
    now.mockReturnValue(t0 + 1_000 + 5_000); // past the bound: 503, never forwarded
    const gone = await through("/things", { headers: X(key) }, makeEnv(vars));
    expect(gone.res.status).toBe(503);
    expect(gone.calls).toHaveLength(0);
  });

  it("stale-if-error never outlives a revocation once KV answers again", async () => {
    const { kv, state } = faultyKv();
    const vars: Vars = { KEYS: kv, CACHE_TTL_MS: 1_000, STALE_IF_ERROR_MS: 60_000 };
    const { key } = await mint();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(200);
    await patchRecord(key, { revoked_at: new Date(t0).toISOString() });
    state.mode = "fail";
    now.mockReturnValue(t0 + 2_000);
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(200); // outage: last known state
    state.mode = "ok";
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(401);
  });

  it("an unknown key is never served from a stale miss: 503 once its negative TTL is over", async () => {
    const { kv, state } = faultyKv();
    const vars: Vars = { KEYS: kv, NEGATIVE_CACHE_TTL_MS: 1_000 };
    const key = unknownKey();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(401);
    state.mode = "fail";
    now.mockReturnValue(t0 + 1_000);
    expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(503);
  });
});

describe("negative cache", () => {
  it("a repeated unknown key costs one KV read per NEGATIVE_CACHE_TTL_MS window per isolate", async () => {
    const { kv, state } = faultyKv();
    const vars: Vars = { KEYS: kv, NEGATIVE_CACHE_TTL_MS: 10_000 };
    const key = unknownKey();
    const t0 = Date.now();
    const now = vi.spyOn(clock, "now").mockReturnValue(t0);
    for (let i = 0; i < 20; i++) {
      now.mockReturnValue(t0 + i * 499); // the whole first window
      expect((await through("/things", { headers: X(key) }, makeEnv(vars))).res.status).toBe(401);
    }
    expect(state.reads).toBe(1);
    now.mockReturnValue(t0 + 10_000);
    await through("/things", { headers: X(key) }, makeEnv(vars));
    await through("/things", { headers: X(key) }, makeEnv(vars));
    expect(state.reads).toBe(2);
  });

  it("a key with our prefix and a bad checksum costs no read at all", async () => {
    const { kv, state } = faultyKv();
    const { key } = await mint();
    const corrupt = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    for (let i = 0; i < 5; i++)
      expect((await through("/things", { headers: X(corrupt) }, makeEnv({ KEYS: kv }))).res.status).toBe(401);
    expect(state.reads).toBe(0);
  });
});

describe("origin faults", () => {
  it("origin refuses connections: 502 in every profile's shape", async () => {
    const { key } = await mint();
    for (const p of PROFILE_CASES) {
      const { res, body } = await through(
        "/things",
        { headers: p.present(key) },
        makeEnv({ ...p.vars, ORIGIN_URL: "http://127.0.0.1:1" }),
      );
      expectRefusal(p, res, body, 502);
    }
  });

  it("origin resets before responding: 502", async () => {
    const { key } = await mint();
    const { res, body } = await through("/reset", { headers: X(key) });
    expectRefusal(PROFILE_CASES[0]!, res, body, 502);
  });

  it("origin stalls before its headers: 504 after UPSTREAM_TIMEOUT_MS, in every profile's shape", async () => {
    const { key } = await mint();
    for (const p of PROFILE_CASES) {
      // The origin would answer 200 after 10 s: a 504 means the gateway stopped waiting first.
      const { res, body } = await through(
        "/slow-headers?ms=10000",
        { headers: p.present(key) },
        makeEnv({ ...p.vars, UPSTREAM_TIMEOUT_MS: 150 }),
      );
      expectRefusal(p, res, body, 504);
    }
  });

  it("origin resets mid-body: the client's stream is cut, not completed", async () => {
    const { key } = await mint();
    const res = await sendRaw("/reset-mid-body", key, makeEnv());
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it("origin stalls mid-body: the stream is cut after UPSTREAM_IDLE_TIMEOUT_MS without a byte", async () => {
    const { key } = await mint();
    // The origin would send the rest after 10 s: the read fails (not resolves) only if the
    // gateway cut the stream before that.
    const res = await sendRaw("/slow-body?ms=10000", key, makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 150 }));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first chunk\n");
    await expect(reader.read()).rejects.toThrow();
  });

  it("a small fixed-length body that stalls is cut too, keeping its Content-Length, and only a stall is logged", async () => {
    const { key } = await mint();
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    const stalled = await sendRaw("/slow-body?ms=10000&fixed=1", key, makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 150 }));
    expect(stalled.headers.get("content-length")).toBe("25");
    await expect(stalled.text()).rejects.toThrow(); // before the origin's second chunk, 10 s on
    expect(errors.filter((l) => l.includes("upstream body stalled"))).toHaveLength(1);
    const live = await sendRaw("/slow-body?ms=50&fixed=1", key, makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 300 }));
    expect(live.headers.get("content-length")).toBe("25");
    expect(await live.text()).toBe("first chunk\nsecond chunk\n");
    await new Promise((r) => setTimeout(r, 500)); // past the deadline of the finished body
    expect(errors.filter((l) => l.includes("upstream body stalled"))).toHaveLength(1);
  });

  it("a large fixed-length body that stalls is cut, and keeps its Content-Length while it flows", async () => {
    const { key } = await mint();
    const pad = 100_000; // above SMALL_BODY_BYTES: streamed through the guard
    const length = String("first chunk\n".length + pad + "second chunk\n".length);
    const stalled = await sendRaw(
      `/slow-body?ms=10000&fixed=1&pad=${pad}`,
      key,
      makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 150 }),
    );
    expect(stalled.status).toBe(200);
    expect(stalled.headers.get("content-length")).toBe(length);
    await expect(stalled.text()).rejects.toThrow();
    const live = await sendRaw(
      `/slow-body?ms=50&fixed=1&pad=${pad}`,
      key,
      makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 1_000 }),
    );
    expect(live.headers.get("content-length")).toBe(length);
    expect((await live.text()).endsWith("second chunk\n")).toBe(true);
  });

  it("a slow but live body is not cut; nor is a slow reader", async () => {
    const { key } = await mint();
    const slow = await sendRaw("/slow-body?ms=100", key, makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 1_000 }));
    expect(await slow.text()).toBe("first chunk\nsecond chunk\n");
    // The client pauses far longer than the idle timeout between reads: only the origin's
    // silence is timed.
    const large = await sendRaw("/large?bytes=1048576", key, makeEnv({ UPSTREAM_IDLE_TIMEOUT_MS: 50 }));
    const reader = large.body!.getReader();
    let bytes = (await reader.read()).value!.length;
    await new Promise((r) => setTimeout(r, 300));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    expect(bytes).toBe(1048576);
  });

  it("keeps serving other requests while the origin stalls", async () => {
    // The origin holds one request until told to answer it (or, as a fallback only, for
    // 8 s). Others are sent while it is held and must all be answered before it: a gateway
    // whose forwards wait on one another (one global lock, a serial queue) answers the held
    // one first. Order is asserted, not durations.
    const { key } = await mint();
    const id = crypto.randomUUID();
    const order: string[] = [];
    const stalled = through(
      `/hold?id=${id}&max=8000`,
      { headers: X(key) },
      makeEnv({ UPSTREAM_TIMEOUT_MS: 15_000 }),
    ).then((r) => {
      order.push("stalled");
      return r;
    });
    while (!((await (await fetch(`${ORIGIN}/__origin/held?id=${id}`)).json()) as { held: boolean }).held) {
      await new Promise((r) => setTimeout(r, 10)); // until the origin is holding it
    }
    const others = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        through(`/things/${i}`, { headers: X(key) }).then((r) => {
          order.push(`other ${i}`);
          return r;
        }),
      ),
    );
    for (const o of others) expect(o.res.status).toBe(200);
    expect(order).not.toContain("stalled");
    const released = (await (await fetch(`${ORIGIN}/__origin/release?id=${id}`)).json()) as { held: boolean };
    expect(released.held).toBe(true); // still held when the others were done
    const held = await stalled;
    expect(held.res.status).toBe(200);
    expect(JSON.parse(held.body)).toEqual({ held: id });
    expect(order.at(-1)).toBe("stalled");
    expect(order).toHaveLength(6);
  });
});

/** Through the gateway without reading the body (through() reads it whole). */
async function sendRaw(path: string, key: string, gatewayEnv: ReturnType<typeof makeEnv>): Promise<Response> {
  const { send } = await import("../../../support/worker-helpers");
  return send(path, { headers: X(key) }, gatewayEnv);
}
