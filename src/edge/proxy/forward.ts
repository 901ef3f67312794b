/**
 * Forwarding to ORIGIN_URL: the target is always the configured origin (the request
 * chooses only the path and query, after normalization); redirects are returned, not
 * followed; the body streams both ways; UPSTREAM_TIMEOUT_MS bounds the wait for the
 * origin's response headers (504), and a failed connection is a 502.
 *
 * Once the origin's headers are in, the status is the origin's: an origin that stalls
 * mid-body gets its stream cut after UPSTREAM_IDLE_TIMEOUT_MS without a byte (the client
 * sees a truncated response, the origin's connection is aborted). Only that wait is
 * timed — a slow *client* never trips it: a small body of known length (≤ 64 KiB, most
 * API answers) is read whole by the gateway before it answers, under one deadline; any
 * other streams through a guard that reads upstream only when the client pulls.
 */
import { GatewayError } from "../../errors/codes";
import { stripHopByHop } from "./headers";

/** ORIGIN_URL (path prefix kept) + the normalized path + the query, verbatim. */
export function targetUrl(originBase: string, normalizedPath: string, search: string): string {
  return originBase + normalizedPath + search;
}

export interface ForwardOptions {
  method: string;
  headers: Headers;
  body: ReadableStream | null;
  timeoutMs: number;
  /** Longest wait for the next body chunk from the origin; 0 or absent = unbounded. */
  idleTimeoutMs?: number;
  /** Told when a stalled body is cut (for the log). */
  onIdleTimeout?: () => void;
}

/**
 * `body`, cut with an error once the origin has sent nothing for `idleMs` while the
 * client was waiting for data. pull() is only called when the consumer wants more, so a
 * slow *client* never counts as a stalled origin. Cheap per chunk: no timer per chunk,
 * one watchdog per `idleMs` that checks whether a read has been pending with no activity
 * (no read started, no chunk arrived) for a whole period — so a stall is cut between
 * idleMs and 2 × idleMs after the last byte or the client's last request for more.
 */
export function idleGuard(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  onIdle: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let activity = 0; // reads started + chunks arrived
  let pending = false; // a read from the origin is under way
  let done = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let stream: ReadableStreamDefaultController<Uint8Array>;
  const stop = () => {
    done = true;
    if (watchdog !== undefined) clearTimeout(watchdog);
  };
  const arm = () => {
    const seen = activity;
    watchdog = setTimeout(() => check(seen), idleMs);
  };
  const check = (lastSeen: number) => {
    if (done) return;
    if (pending && activity === lastSeen) {
      stop();
      const err = new GatewayError("upstream_timeout", `no response body data from the origin for ${idleMs} ms`);
      onIdle();
      stream.error(err);
      reader.cancel(err).catch(() => {});
      return;
    }
    arm();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stream = controller;
        arm();
      },
      async pull(controller) {
        pending = true;
        activity++;
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (err) {
          if (!done) {
            stop();
            controller.error(err);
          }
          return;
        }
        pending = false;
        if (done) return;
        activity++;
        if (result.done) {
          stop();
          controller.close();
        } else controller.enqueue(result.value);
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    },
    // One chunk read ahead keeps the pipe full; pull() still waits for demand.
    { highWaterMark: 1 },
  );
}

/** A body that announces `length` bytes and fails before the first one (the client sees a cut response). */
function cutBody(length: number, reason: unknown): ReadableStream<Uint8Array> {
  const fixed = new FixedLengthStream(length);
  fixed.writable.abort(reason).catch(() => {});
  return fixed.readable;
}

/** Bodies up to this size with a known length are read whole under one deadline instead of the per-chunk guard. */
export const SMALL_BODY_BYTES = 64 * 1024;

export async function forward(target: string, opts: ForwardOptions): Promise<Response> {
  const controller = new AbortController();
  // The deadlines of one forward share one timer (each timer costs CPU in the runtime):
  // it checks what is pending when it fires and re-arms for what is left; it is cleared
  // once the forward is done (the runtime caps a request's active timers).
  const timing = { phase: "headers" as "headers" | "body" | "done", bodyDeadline: 0 };
  const headersDeadline = Date.now() + opts.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onTimer = () => {
    timer = undefined;
    if (timing.phase === "headers") controller.abort();
    else if (timing.phase === "body") {
      const left = timing.bodyDeadline - Date.now();
      if (left > 0) timer = setTimeout(onTimer, left);
      else controller.abort();
    }
  };
  timer = setTimeout(onTimer, opts.timeoutMs);
  const done = () => {
    timing.phase = "done";
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: opts.method,
      headers: opts.headers,
      body: opts.method === "GET" || opts.method === "HEAD" ? null : opts.body,
      redirect: "manual",
      signal: controller.signal,
    });
  } catch (err) {
    done();
    if (controller.signal.aborted) throw new GatewayError("upstream_timeout");
    throw new GatewayError("upstream_unreachable", undefined, err);
  }
  // A WebSocket handshake answer carries the socket itself: hand it back untouched.
  if (upstream.status === 101) {
    done();
    return upstream;
  }
  let body: BodyInit | null = upstream.body;
  const length = Number(upstream.headers.get("content-length") ?? NaN);
  // The runtime hands us a decoded body and re-encodes it on the way out, so an encoded
  // body's length is not the origin's Content-Length: only plain bodies count as sized.
  const sized = Number.isSafeInteger(length) && length >= 0 && !upstream.headers.has("content-encoding");
  if (upstream.body && opts.idleTimeoutMs) {
    if (sized && length <= SMALL_BODY_BYTES) {
      // A small body of known length (most API answers) is read whole under one deadline
      // and answered from memory: no stream of ours in the data path (a JS-visible pipe
      // costs ~0.1 ms of CPU per response: docs/performance.md). So few bytes still
      // missing UPSTREAM_IDLE_TIMEOUT_MS after the headers means a stalled origin: the
      // fetch is aborted and the client gets the origin's status and Content-Length with
      // a cut body, as on the streamed path.
      timing.phase = "body";
      timing.bodyDeadline = Date.now() + opts.idleTimeoutMs;
      // The headers' timer would fire too late for this deadline: it is re-armed for it.
      if (timing.bodyDeadline < headersDeadline) {
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(onTimer, opts.idleTimeoutMs);
      }
      try {
        body = await upstream.arrayBuffer();
      } catch (err) {
        if (controller.signal.aborted) opts.onIdleTimeout?.();
        body = cutBody(length, err);
      }
    } else {
      let guarded = idleGuard(upstream.body, opts.idleTimeoutMs, () => {
        controller.abort();
        opts.onIdleTimeout?.();
      });
      // A JS stream loses the origin's Content-Length: the runtime would answer chunked,
      // in the small pieces the origin's socket gave (~2 KiB), which cut local 1 MiB
      // throughput several-fold (bench/idle-guard.ts). A FixedLengthStream restores the
      // length and the runtime's own framing.
      if (sized) {
        const fixed = new FixedLengthStream(length);
        guarded.pipeTo(fixed.writable).catch(() => {});
        guarded = fixed.readable;
      }
      body = guarded;
    }
  }
  done();
  // The origin's status, status text and headers, copied by the runtime, then the hop-by-hop
  // ones dropped: ≈ 4 µs less than building the headers and the init in JavaScript.
  const res = new Response(body, upstream);
  stripHopByHop(res.headers);
  return res;
}
