/**
 * The CLI's local KV binding (cli/backends/local.ts retryingBusy): a call the local
 * state's database refused because `wrangler dev` holds its lock is repeated; any other
 * failure, or one that outlasts the retries, reaches the caller.
 */
import { describe, expect, it } from "vitest";
import { retryingBusy } from "../../../cli/backends/local";
import type { KvLike } from "../../../src/keys/store/kv";

function flaky(failures: Error[]): { kv: KvLike; calls: () => number } {
  let calls = 0;
  const step = async <T>(value: T): Promise<T> => {
    const err = failures[calls++];
    if (err) throw err;
    return value;
  };
  const kv: KvLike = {
    get: () => step({ v: 1 }),
    put: () => step(undefined),
    delete: () => step(undefined),
    list: () => step({ keys: [], list_complete: true }),
  };
  return { kv, calls: () => calls };
}

const busy = () => new Error("internal error; reference = tglkjikgcl3sa0hpgp5skrah");

describe("retryingBusy", () => {
  it("repeats a call the database lock refused, then answers", async () => {
    const { kv, calls } = flaky([busy(), busy()]);
    expect(await retryingBusy(kv, [1, 1, 1]).get("k", { type: "json" })).toEqual({ v: 1 });
    expect(calls()).toBe(3);
  });

  it("every call is retried the same way: put, delete, list", async () => {
    for (const op of ["put", "delete", "list"] as const) {
      const { kv, calls } = flaky([busy()]);
      const r = retryingBusy(kv, [1]);
      if (op === "put") await r.put("k", "v");
      else if (op === "delete") await r.delete("k");
      else await r.list({ prefix: "p" });
      expect(calls(), op).toBe(2);
    }
  });

  it("gives up after its retries, with the last error", async () => {
    const { kv, calls } = flaky([busy(), busy(), busy()]);
    await expect(retryingBusy(kv, [1, 1]).get("k", { type: "json" })).rejects.toThrow(/internal error/);
    expect(calls()).toBe(3);
  });

  it("any other failure reaches the caller at once", async () => {
    const { kv, calls } = flaky([new Error("KV GET failed: 400 Bad Request")]);
    await expect(retryingBusy(kv, [1, 1]).get("k", { type: "json" })).rejects.toThrow(/400/);
    expect(calls()).toBe(1);
  });
});
