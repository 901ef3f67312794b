/**
 * Request bodies the management side (admin API, console, self-service API) answers
 * without reading whole: an early answer (401, 403, 404, 405, 429…) before the body is
 * read, or a 413 for a body over its limit. A body left on the connection wedges the
 * next request on it (under `wrangler dev`: a 503 "worker restarted mid-request", or a
 * hang; seen here), so every such body is settled before the answer leaves:
 *
 * - drained — read and discarded — up to DRAIN_MAX_BYTES (a chunked body: within
 *   DRAIN_TIMEOUT_MS too): the connection stays usable for the next request;
 * - past that, cancelled: the runtime closes the connection after the answer (the client
 *   opens a new one), instead of keeping it for a body that would cost more to read than
 *   the limit. A body that declares a Content-Length over DRAIN_MAX_BYTES is cancelled
 *   before any of it is read; one that declares less is read to its end (a partly read
 *   one, cancelled, would leave the connection hanging).
 *
 * `settleUnreadBody` (mounted once for the management side, app.ts) settles whatever a
 * handler left unread; `limitBody` (hono/body-limit's contract: `onError` answers a body
 * over `maxSize`, 413) settles the rest of the oversized body it refused.
 */
import type { Context, Env, MiddlewareHandler } from "hono";
import { readWithin } from "../../lib/bounded-read";

/** Most of a refused body read to keep its connection usable (1 MiB); past it the connection is closed. */
export const DRAIN_MAX_BYTES = 1024 * 1024;
/** Longest wait for the rest of a chunked body being drained; past it the connection is closed. */
export const DRAIN_TIMEOUT_MS = 5_000;

/** Whether the request's body has no declared length (chunked): hono/body-limit's rule. */
function unsized(request: Request): boolean {
  return !request.headers.has("content-length") || request.headers.has("transfer-encoding");
}

/**
 * Read and discard the rest of `reader`: true when it ended within `maxBytes` (and, when
 * `timeoutMs` is given, in time); otherwise it is cancelled and false returned.
 */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  timeoutMs: number | null,
): Promise<boolean> {
  let left = maxBytes;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline =
    timeoutMs === null
      ? null
      : new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  try {
    for (;;) {
      const next = deadline === null ? await reader.read() : await Promise.race([reader.read(), deadline]);
      if (next === "timeout") break;
      if (next.done) return true;
      left -= next.value.byteLength;
      if (left < 0) break;
    }
  } catch {
    // The client went away mid-body: nothing left to keep usable.
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  reader.cancel().catch(() => {});
  return false;
}

/**
 * Settle a request body nobody read (or finished reading): drained within the bounds
 * above, else cancelled. A body already used, or held by a reader (its holder settles
 * it), is left alone.
 */
export async function settleBody(request: Request): Promise<void> {
  const body = request.body;
  if (body === null || request.bodyUsed || body.locked) return;
  if (!unsized(request) && Number(request.headers.get("content-length")) > DRAIN_MAX_BYTES) {
    await body.cancel().catch(() => {});
    return;
  }
  await drain(body.getReader(), DRAIN_MAX_BYTES, unsized(request) ? DRAIN_TIMEOUT_MS : null);
}

/** Middleware: once the handlers have answered, a body they left unread is settled before the answer leaves. */
export function settleUnreadBody<E extends Env>(): MiddlewareHandler<E> {
  return async function settleUnread(c, next) {
    const request = c.req.raw;
    try {
      await next();
    } finally {
      await settleBody(request);
    }
  };
}

/**
 * Bodies over `maxSize` answered by `tooLarge` (a 413), before any parsing — with a
 * declared length, unread; chunked, as soon as the count passes the limit — the rest
 * settled (drained or cancelled) first. A body within the limit is buffered for the
 * handler (`c.req.raw` replaced), as hono/body-limit does.
 */
export function limitBody<E extends Env>(
  maxSize: number,
  tooLarge: (c: Context<E>) => Response | Promise<Response>,
): MiddlewareHandler<E> {
  return async function bodyLimit(c, next) {
    const request = c.req.raw;
    if (request.body === null) return next();
    if (!unsized(request)) {
      if (Number(request.headers.get("content-length")) > maxSize) {
        await settleBody(request);
        return tooLarge(c);
      }
      return next();
    }
    const reader = request.body.getReader();
    const buffer = await readWithin(reader, maxSize);
    if (buffer === null) {
      await drain(reader, DRAIN_MAX_BYTES, DRAIN_TIMEOUT_MS);
      return tooLarge(c);
    }
    c.req.raw = new Request(request, { body: buffer });
    return next();
  };
}
