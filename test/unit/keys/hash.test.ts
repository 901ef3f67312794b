import { describe, expect, it } from "vitest";
import { hashKey } from "../../../src/keys/hash";

// Golden vectors: every stored key is looked up by this function's output. If one of
// these changes, every existing key stops resolving.
describe("hashKey", () => {
  it("is lowercase hex SHA-256 without a pepper", async () => {
    expect(await hashKey("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("is HMAC-SHA-256 keyed with the pepper (RFC 4231 test case 2)", async () => {
    expect(await hashKey("what do ya want for nothing?", "Jefe")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it("differs with and without a pepper, and between peppers", async () => {
    const a = await hashKey("kg_same", "pepper-one-0123456789");
    const b = await hashKey("kg_same", "pepper-two-0123456789");
    expect(a).not.toBe(b);
    expect(a).not.toBe(await hashKey("kg_same"));
  });
});
