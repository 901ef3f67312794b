/**
 * The JSON body of the management APIs (the admin API, the self-service API): one size
 * limit, one reading, one set of answers, each API rendering them in its own shape
 * (RFC 9457 problems for the admin API, the profile's shape for self-service).
 *
 * - Larger than MAX_JSON_BODY_BYTES: 413, refused before parsing (`jsonBodyLimit`), the
 *   rest of the body drained or the connection closed (manage/http/body.ts), never left on it.
 * - Not `application/json` (or `+json`): a field error on `(body)` (400) when a body is
 *   required or one was sent; an optional body that is absent reads as `{}`.
 * - Not valid JSON: a field error on `(body)` (400).
 */
import type { Context, Env, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { FieldError } from "../../keys/issue";
import { limitBody } from "./body";

/** Management bodies are a few hundred bytes; anything larger is refused before parsing. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;
export const TOO_LARGE_DETAIL = `The request body exceeds ${MAX_JSON_BODY_BYTES} bytes.`;
export const NOT_JSON: FieldError = {
  field: "(body)",
  message: "must be a JSON object sent with Content-Type: application/json",
};
export const INVALID_JSON: FieldError = { field: "(body)", message: "is not valid JSON" };

const JSON_TYPE_RE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Bodies over MAX_JSON_BODY_BYTES answered by `tooLarge` (the API's 413), before any parsing; the rest settled
 * (manage/http/body.ts).
 */
export function jsonBodyLimit<E extends Env>(
  tooLarge: (c: Context<E>) => Response,
  maxBytes = MAX_JSON_BODY_BYTES,
): MiddlewareHandler<E> {
  return limitBody<E>(maxBytes, tooLarge);
}

/** A bulk import's body (up to 1,000 keys, manage/migration.ts): its own, larger limit. */
export const MAX_IMPORT_BODY_BYTES = 2 * 1024 * 1024;

/**
 * The body, parsed once (handlers read it with `c.req.valid("json")`, as from Hono's
 * validator). `required`: a body must be sent as JSON; otherwise (rotate, regenerate) no
 * body — nothing sent, or an empty one — is `{}`. `invalid` renders field errors in the
 * API's shape.
 */
export function jsonBody<E extends Env>(
  required: boolean,
  invalid: (c: Context<E>, errors: FieldError[]) => Response,
): MiddlewareHandler<E, string, { in: { json: unknown }; out: { json: unknown } }> {
  return async function jsonBodyOf(c, next) {
    const type = c.req.header("content-type");
    const isJson = type !== undefined && JSON_TYPE_RE.test(type.split(";")[0]!.trim());
    const text = await c.req.text();
    let value: unknown = {};
    if (!isJson) {
      if (required || text !== "") return invalid(c, [NOT_JSON]);
    } else if (text !== "" || required) {
      try {
        value = JSON.parse(text);
      } catch {
        return invalid(c, [INVALID_JSON]);
      }
    }
    c.req.addValidatedData("json", value as object);
    await next();
  };
}

/** Whether an error thrown while reading a body is the body limit's (an unsized body over it). */
export function bodyTooLarge(err: unknown): boolean {
  return err instanceof HTTPException && err.status === 413;
}
