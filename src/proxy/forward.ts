/**
 * Forwarding to ORIGIN_URL: the target is always the configured origin (the request
 * chooses only the path and query, after normalization); redirects are returned, not
 * followed; the body streams both ways; UPSTREAM_TIMEOUT_MS bounds the wait for the
 * origin's response headers (504), and a failed connection is a 502.
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
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: downstreamHeaders(upstream.headers),
  });
}
