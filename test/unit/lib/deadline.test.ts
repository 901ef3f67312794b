import { describe, expect, it } from "vitest";
import { withDeadline } from "../../../src/lib/deadline";

class Late extends Error {}

describe("withDeadline", () => {
  it("answers with the promise's value when it settles in time", async () => {
    await expect(withDeadline(Promise.resolve(7), 50, () => new Late("late"))).resolves.toBe(7);
  });

  it("passes the promise's own rejection through", async () => {
    await expect(withDeadline(Promise.reject(new Error("boom")), 50, () => new Late("late"))).rejects.toThrow("boom");
  });

  it("rejects with the caller's error once the time is up, whatever comes later", async () => {
    const never = new Promise<number>((resolve) => setTimeout(() => resolve(1), 200));
    const err = await withDeadline(never, 20, () => new Late("did not answer within 20 ms")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Late);
    expect((err as Error).message).toBe("did not answer within 20 ms");
  });
});
