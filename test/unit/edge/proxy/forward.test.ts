/**
 * idleGuard (src/edge/proxy/forward.ts) on its own, with real timers and an upstream stream
 * whose timing the test controls: what is cut and what is not, at the edges.
 */
import { describe, expect, it, vi } from "vitest";
import { idleGuard } from "../../../../src/edge/proxy/forward";

const IDLE_MS = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytes = (s: string) => new TextEncoder().encode(s);

/** An upstream body that sends `chunks`, waiting `gapsMs[i]` before chunk i, then ends (or stalls). */
function upstream(chunks: string[], gapsMs: number[], stallAtEnd = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        if (i === chunks.length) {
          if (stallAtEnd) await new Promise(() => {});
          c.close();
          return;
        }
        await sleep(gapsMs[i] ?? 0);
        c.enqueue(bytes(chunks[i++]!));
      },
    },
    { highWaterMark: 0 },
  ); // produces only when asked, like a socket that waits for data
}

async function readAll(stream: ReadableStream<Uint8Array>, pauseMs = 0): Promise<string> {
  const reader = stream.getReader();
  let out = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out += new TextDecoder().decode(value);
    if (pauseMs) await sleep(pauseMs);
  }
}

describe("idleGuard", () => {
  it("passes a body whose gaps stay under the idle timeout", async () => {
    let cut = false;
    const body = idleGuard(upstream(["a", "b", "c", "d"], [0, 40, 40, 40]), IDLE_MS, () => (cut = true));
    expect(await readAll(body)).toBe("abcd");
    expect(cut).toBe(false);
  });

  it("never cuts because the client is slow, even when it asks again just before a watchdog tick", async () => {
    let cut = false;
    // Each chunk takes 45 ms to come (under the 60 ms timeout) after a pause of ~2 periods.
    const body = idleGuard(upstream(["a", "b", "c", "d", "e"], [0, 45, 45, 45, 45]), IDLE_MS, () => (cut = true));
    expect(await readAll(body, IDLE_MS * 2 - 5)).toBe("abcde");
    expect(cut).toBe(false);
  });

  it("cuts a body that stalls, between 1 and 2 idle periods after the last byte", async () => {
    // Fake timers: the watchdog's ticks are driven by the test, so the bound is exact and
    // a loaded machine cannot stretch it.
    vi.useFakeTimers();
    try {
      let cut = 0;
      const body = idleGuard(upstream(["first"], [0], true), IDLE_MS, () => cut++);
      const reader = body.getReader();
      const first = reader.read();
      await vi.advanceTimersByTimeAsync(0); // the first chunk's (zero) gap
      expect(new TextDecoder().decode((await first).value)).toBe("first");
      const second = reader.read();
      const outcome = second.then(
        () => "resolved",
        (err: Error) => err.message,
      );
      await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
      expect(cut).toBe(0); // under one idle period since the last byte: never cut
      await vi.advanceTimersByTimeAsync(IDLE_MS + 1);
      expect(cut).toBe(1); // two periods: cut, once
      expect(await outcome).toMatch(/no response body data from the origin/);
      await vi.advanceTimersByTimeAsync(IDLE_MS * 5);
      expect(cut).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a client that cancels stops the watchdog and the upstream read", async () => {
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => {}),
      cancel: () => void (cancelled = true),
    });
    let cut = false;
    const body = idleGuard(source, IDLE_MS, () => (cut = true));
    await body.cancel("client went away");
    await sleep(IDLE_MS * 3);
    expect(cancelled).toBe(true);
    expect(cut).toBe(false);
  });
});
