/**
 * The isolate's adaptive flush interval (docs/usage.md, config/usage-flush.ts): the
 * location's aggregator answers each flush with the interval to use next — long (three
 * fifths of USAGE_FLUSH_MS) while the isolate is alone in its location, short (a fifth)
 * while other isolates flush there — and forwards every flush by its oldest request's
 * deadline, so a request is in GET /usage within USAGE_FLUSH_MS + two round trips whichever
 * interval its isolate used. Through the real worker and the real UsageStore objects.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { usageIsolateFlushMs } from "../../../../src/config/usage-flush";
import { flushUsage, UsageCounter, usageCounter } from "../../../../src/edge/usage/counter";
import { FLUSH_TIMEOUT_MS } from "../../../../src/edge/usage/flush";
import worker from "../../../../src/index";
import { clock } from "../../../../src/lib/clock";
import type { Region } from "../../../../src/objects/protocol";
import { usageLocationName } from "../../../../src/objects/protocol";
import type { UsageStore } from "../../../../src/objects/usage-store";
import { backgroundContext, deliverUsage, makeEnv, sendAndWaitAll } from "../../../support/worker-helpers";
import { api, createViaApi, TOKEN, uniqueOrg } from "../../manage/admin/support";

afterEach(() => vi.restoreAllMocks());

/** USAGE_FLUSH_MS here: the short interval 1 s, the long one 3 s. */
const F = 5_000;
const SHORT = usageIsolateFlushMs(F);
const LONG = usageIsolateFlushMs(F, "long");

const usageStore = () => env.USAGE_STORE! as DurableObjectNamespace<UsageStore>;
/** A location no other test uses (its aggregator has seen nobody else). */
const newLocation = (region: Region = "weur") => ({ colo: `Z${crypto.randomUUID().slice(0, 8)}`, region });
const total = async (org: string) => (await api("GET", `/_keygate/usage?org=${org}`)).json.totals.requests as number;
const failed = (org: string, cause: string) => {
  throw new Error(`${org}: ${cause}`);
};

/** The usage binding, each call to a location's aggregator recorded: when it started and what it answered. */
function recorded(real: DurableObjectNamespace<UsageStore>) {
  const collects: { at: number; answer: unknown }[] = [];
  const ns = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
      const stub = real.get(id, options);
      return {
        collect: async (...args: Parameters<UsageStore["collect"]>) => {
          const at = Date.now();
          const answer = await stub.collect(...args);
          collects.push({ at, answer });
          return answer;
        },
      };
    },
  } as unknown as DurableObjectNamespace<UsageStore>;
  return { ns, collects };
}

describe("a lone isolate in its location", () => {
  it("flushes at the long interval once its aggregator answered, and a burst then silence is in GET /usage within the bound", async () => {
    const org = uniqueOrg();
    const k = await createViaApi({ orgs: [org] });
    const counter = usageCounter();
    await counter.armed; // one armed by an earlier request of this isolate, if any
    await deliverUsage(); // nothing pending; a flush just happened
    counter.interval = "short"; // as the isolate started: before any answer
    const { ns, collects } = recorded(usageStore());
    const e = makeEnv({ ADMIN_TOKEN: TOKEN, USAGE_FLUSH_MS: String(F), USAGE_STORE: ns });
    const { colo } = newLocation();
    const request = () =>
      new Request("https://gateway.test/v1/x", {
        headers: { "x-api-key": k.key },
        cf: { colo, continent: "EU", country: "GB", longitude: "-0.12" },
      } as RequestInit);
    /** `n` requests at once, answered; their deferred flush runs on (as after the response). */
    const requests = async (n: number) => {
      const statuses = await Promise.all(
        Array.from({ length: n }, async () => {
          const { ctx, wait } = backgroundContext();
          const res = await worker.fetch(request(), e, ctx);
          await res.arrayBuffer();
          await wait();
          return res.status;
        }),
      );
      expect(statuses).toEqual(Array(n).fill(200));
    };
    // The first request: its deferred flush (the short interval) brings the aggregator's first answer.
    expect((await sendAndWaitAll(request(), {}, e)).status).toBe(200);
    expect(collects.map((c) => c.answer)).toEqual([{ interval: "long" }]);
    // Steady traffic, a request just after each flush: every flush the long interval after the last.
    for (let i = 0; i < 2; i++) {
      await requests(1);
      await usageCounter().armed;
    }
    // Then a burst of 25 just after a flush, and silence.
    const since = Date.now();
    await requests(25);
    await usageCounter().armed; // as waitUntil keeps it
    expect(collects.map((c) => c.answer)).toEqual(Array(4).fill({ interval: "long" }));
    for (let i = 1; i < 4; i++) expect(collects[i]!.at - collects[i - 1]!.at).toBeGreaterThanOrEqual(LONG - 50);
    expect(LONG).toBeGreaterThan(SHORT); // the short interval would have flushed every 1 s
    // No further request: only reads, until all 28 are counted. The burst's flush reached the
    // aggregator 1 s after its last forward (forwards every 4 s at most, flushes every 3 s):
    // it is forwarded by its deadline, 4.75 s after the burst — not at the interval's end,
    // 6 s after it, past USAGE_FLUSH_MS.
    let n = await total(org);
    while (n < 28 && Date.now() - since < F + 2 * FLUSH_TIMEOUT_MS) {
      await new Promise((r) => setTimeout(r, 50));
      n = await total(org);
    }
    expect(n).toBe(28);
    // Within the bound: USAGE_FLUSH_MS and two round trips (a few ms here; 500 ms allowed).
    expect(Date.now() - since).toBeLessThan(F + 500);
  });
});

describe("several isolates in one location", () => {
  it("each is told the short interval while another flushed there recently (the aggregator has something to merge); every count once", async () => {
    const org = uniqueOrg();
    const where = newLocation("apac");
    const flushOf = async (c: UsageCounter, n: number) => {
      for (let i = 0; i < n; i++) c.count({ org, keyId: "key_adaptiveadaptive01" }, 200, true, clock.now());
      await flushUsage(usageStore(), c, clock.now(), failed, { where, flushMs: F });
    };
    const a = new UsageCounter();
    const b = new UsageCounter();
    expect(a.flushIntervalMs(F)).toBe(SHORT); // an isolate starts on the short interval
    await flushOf(a, 1);
    expect(a.flushIntervalMs(F)).toBe(LONG); // alone in its location
    await flushOf(b, 2);
    expect(b.flushIntervalMs(F)).toBe(SHORT); // a flushed there just now
    await flushOf(a, 3);
    expect(a.flushIntervalMs(F)).toBe(SHORT); // b too
    const aggregator = usageStore().get(usageStore().idFromName(usageLocationName(where.colo, where.region)));
    await aggregator.forwardNow();
    expect(await total(org)).toBe(6);
  });
});
