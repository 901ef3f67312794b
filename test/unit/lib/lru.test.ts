import { describe, expect, it } from "vitest";
import { LruCache } from "../../../src/lib/lru";

describe("LruCache", () => {
  it("serves fresh, then stale (only until staleUntil), then misses", () => {
    const c = new LruCache<string>(10);
    c.set("a", "A", 1000, 100, 50);
    expect(c.lookup("a", 1099)).toEqual({ state: "fresh", value: "A" });
    expect(c.lookup("a", 1100)).toEqual({ state: "stale", value: "A" });
    expect(c.lookup("a", 1149)).toEqual({ state: "stale", value: "A" });
    expect(c.lookup("a", 1150)).toEqual({ state: "miss" });
    expect(c.size).toBe(0);
  });

  it("never holds more than maxEntries, evicting the least recently used", () => {
    const c = new LruCache<number>(3);
    for (let i = 0; i < 3; i++) c.set(`k${i}`, i, 0, 1000, 0);
    c.lookup("k0", 1); // k0 is now the most recent
    c.set("k3", 3, 2, 1000, 0);
    expect(c.size).toBe(3);
    expect(c.lookup("k1", 3).state).toBe("miss");
    expect(c.lookup("k0", 3).state).toBe("fresh");
    for (let i = 0; i < 10_000; i++) c.set(`x${i}`, i, 4, 1000, 0);
    expect(c.size).toBe(3);
  });

  it("stores nothing when disabled (0 entries or 0 TTL)", () => {
    const off = new LruCache<number>(0);
    off.set("a", 1, 0, 1000, 0);
    expect(off.size).toBe(0);
    const zeroTtl = new LruCache<number>(5);
    zeroTtl.set("a", 1, 0, 0, 0);
    expect(zeroTtl.lookup("a", 0).state).toBe("miss");
  });

  it("delete and clear remove entries", () => {
    const c = new LruCache<number>(5);
    c.set("a", 1, 0, 1000, 0);
    c.set("b", 2, 0, 1000, 0);
    c.delete("a");
    expect(c.lookup("a", 1).state).toBe("miss");
    c.clear();
    expect(c.size).toBe(0);
  });
});
