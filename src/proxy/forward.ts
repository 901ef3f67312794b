/**
 * Forwarding to ORIGIN_URL: the target is always the configured origin (the request
 * chooses only the path and query, after normalization); redirects are returned, not
 * followed; the body streams both ways; UPSTREAM_TIMEOUT_MS bounds the wait for the
 * origin's response headers (504), and a failed connection is a 502.
 *
 * Once the headers are sent the status cannot change: an origin that stalls mid-body
 * gets its stream cut after UPSTREAM_IDLE_TIMEOUT_MS without a byte (the client sees a
 * truncated response, the origin's connection is aborted). Only that wait is timed — a
 * slow *client* never trips it (the guard reads upstream only when the client pulls).
 */
import { GatewayError } from "../errors/codes";
import { downstreamHeaders } from "./headers";

/** ORIGIN_URL (path prefix kept) + the normalized path + the query, verbatim. */
export function targetUrl(originBase: string, normalizedPath: string, search: string): string {
  return originBase + normalizedPath + search;
}

export interface ForwardOptions {
  method: string;
  headers: Headers;
  body: ReadableStream | null;
  timeoutMs: number;
  /** Longest wait for the next body chunk from the origin; 0 = unbounded. */
  idleTimeoutMs: number;
  /** Told when a stalled body is cut (for the log). */
  onIdleTimeout?: () => void;
}

/**
 * `body`, cut with an error after `idleMs` without a chunk. pull() is only called when
 * the consumer wants data (highWaterMark 0), so only the origin's silence is timed.
 */
export function idleGuard(body: ReadableStream<Uint8Array>, idleMs: number, onIdle: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new GatewayError("upstream_timeout", `no response body data from the origin for ${idleMs} ms`)), idleMs);
        });
        try {
          const { done, value } = await Promise.race([reader.read(), idle]);
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          if (err instanceof GatewayError) onIdle();
          reader.cancel(err).catch(() => {});
          controller.error(err);
        } finally {
          if (timer !== undefined) clearTimeout(timer);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

export async function forward(target: string, opts: ForwardOptions): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
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
    if (controller.signal.aborted) throw new GatewayError("upstream_timeout");
    throw new GatewayError("upstream_unreachable", undefined, err);
  } finally {
    clearTimeout(timer);
  }
  // A WebSocket handshake answer carries the socket itself: hand it back untouched.
  if (upstream.status === 101) return upstream;
  const body =
    upstream.body && opts.idleTimeoutMs > 0
      ? idleGuard(upstream.body, opts.idleTimeoutMs, () => {
          controller.abort();
          opts.onIdleTimeout?.();
        })
      : upstream.body;
  return new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: downstreamHeaders(upstream.headers),
  });
}
