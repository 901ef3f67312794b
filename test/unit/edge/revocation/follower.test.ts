/**
 * The location's snapshot of the revocation feed (src/edge/revocation/follower.ts, issue
 * 25): what one poll leaves for the other isolates of its location — the entries after
 * `base`, those of the last SNAPSHOT_TAIL_MS, continued from the previous snapshot when the
 * poll continued it.
 */
import { describe, expect, it } from "vitest";
import type { Snapshot } from "../../../../src/edge/revocation/follower";
import { nextSnapshot, SNAPSHOT_TAIL_MS } from "../../../../src/edge/revocation/follower";
import type { FeedEntry, FeedPage } from "../../../../src/objects/protocol";

const entry = (version: number, at: number): FeedEntry => ({ version, at, hash: "h".repeat(64), record: {} });
const page = (version: number, entries: FeedEntry[]): FeedPage => ({ version, entries, more: false, reset: false });

describe("nextSnapshot", () => {
  const t = 1_000_000;

  it("continues the previous snapshot when the poll started from inside it", () => {
    const prev: Snapshot = {
      version: 12,
      polledAt: t - 1_000,
      base: 10,
      entries: [entry(11, t - 5_000), entry(12, t - 2_000)],
    };
    const next = nextSnapshot(prev, 12, page(14, [entry(13, t - 500), entry(14, t - 100)]), t);
    expect(next).toEqual({
      version: 14,
      polledAt: t,
      base: 10,
      entries: [entry(11, t - 5_000), entry(12, t - 2_000), entry(13, t - 500), entry(14, t - 100)],
    });
  });

  it("starts over from the poll's cursor when it does not continue the previous one", () => {
    const prev: Snapshot = {
      version: 12,
      polledAt: t - 1_000,
      base: 10,
      entries: [entry(11, t - 5_000), entry(12, t - 2_000)],
    };
    expect(nextSnapshot(prev, 20, page(21, [entry(21, t - 10)]), t)).toEqual({
      version: 21,
      polledAt: t,
      base: 20,
      entries: [entry(21, t - 10)],
    });
    expect(nextSnapshot(null, 5, page(5, []), t)).toEqual({ version: 5, polledAt: t, base: 5, entries: [] });
  });

  it("keeps the last SNAPSHOT_TAIL_MS only: older entries go, and base moves past them", () => {
    const old = entry(11, t - SNAPSHOT_TAIL_MS - 1);
    const prev: Snapshot = { version: 11, polledAt: t - 1_000, base: 10, entries: [old] };
    expect(nextSnapshot(prev, 11, page(12, [entry(12, t - 1)]), t)).toEqual({
      version: 12,
      polledAt: t,
      base: 11,
      entries: [entry(12, t - 1)],
    });
  });
});
