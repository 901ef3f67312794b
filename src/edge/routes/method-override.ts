/**
 * A method override in a form body. Rails, Laravel/Symfony and Spring's
 * HiddenHttpMethodFilter run a form POST carrying `_method=DELETE` as a DELETE: a caller
 * the route table admits for POST would reach what it refuses the caller for DELETE. The
 * query's override parameters are dropped when forwarding (proxy/headers.ts
 * forwardedSearch); a body cannot be edited without buffering it, so an override there is
 * refused instead — and a body is read only when an override could gain something:
 *
 * 1. the request is a POST with a form Content-Type (urlencoded or multipart, or none: Rack
 *    reads a POST without one as a form), ROUTES is
 *    set, and for some method an override names (GET, PUT, PATCH, DELETE) the route table
 *    would refuse this caller where it admitted the POST (or would send it to another
 *    route that hides itself);
 * 2. then a copy of the body is read (`req.clone()`: the body forwarded stays untouched),
 *    only with a Content-Length of at most FORM_BODY_LIMIT bytes, no Content-Encoding and
 *    an ASCII-compatible charset (if any);
 *    otherwise the request is refused, since what it carries cannot be checked. An
 *    urlencoded body's parameter names, a multipart body's part names (their
 *    Content-Disposition `name`) are read as isMethodOverrideParam reads the query's.
 *
 * Detail strings never echo the body.
 */
import type { Config } from "../../config/config";
import type { ErrorCode } from "../../errors/codes";
import { readWithin } from "../../lib/bounded-read";
import { authorize } from "../auth/authorize";
import { isMethodOverrideParam } from "../proxy/client-claims";
import { SMALL_BODY_BYTES } from "../proxy/forward";
import { paramName, partOverridesMethod } from "../proxy/headers";
import type { Route } from "./table";
import { matchRoute } from "./table";

/** The largest form body read for an override; a larger one (or one of unknown length) is refused where it could carry one. */
export const FORM_BODY_LIMIT = SMALL_BODY_BYTES;

/** Charsets in which the ASCII names looked for are their ASCII bytes. */
const ASCII_CHARSETS = new Set(["utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "windows-1252"]);

/** The methods a body override can ask for (POST is what was sent; HEAD and OPTIONS gain nothing over GET). */
const OVERRIDE_METHODS = ["GET", "PUT", "PATCH", "DELETE"] as const;

/** Who the POST was admitted as: anonymous on a public route (with or without a passthrough cookie), or a key's or a session's grant. */
export type Caller = { kind: "anonymous"; passthrough: boolean } | { kind: "grant"; grant: Grant };

/** A key's or a verified session's orgs and scopes, as authorize reads them. */
export interface Grant {
  readonly orgs: readonly string[];
  readonly scopes: readonly string[];
}

export interface OverrideRefusal {
  code: ErrorCode;
  reason: string;
  detail: string;
}

/**
 * Whether a Content-Type is a form's (any case, with parameters; a joined list counts when
 * one of them is). None at all counts too: Rack (Rails) parses a POST without a media type
 * as an urlencoded form, `_method` included.
 */
function isForm(contentType: string | null): boolean {
  if (contentType === null || contentType.trim() === "") return true;
  const t = contentType.toLowerCase();
  return t.includes("application/x-www-form-urlencoded") || t.includes("multipart/form-data");
}

/**
 * Whether a method override could take this admitted POST where the route table would not
 * let this caller go: a route of another method refusing it (as admit would: a public
 * route, a passthrough cookie, or authorize's verdict on the grant), or another route
 * hiding itself.
 */
function overrideCouldGain(config: Config, path: string, posted: Route, caller: Caller, headers: Headers): boolean {
  for (const m of OVERRIDE_METHODS) {
    const route = matchRoute(config.routes, path, m);
    if (route === posted) continue; // the same policy: nothing to gain
    if (route.hide) return true;
    if (caller.kind === "anonymous") {
      if (route.auth !== "public" && !caller.passthrough) return true;
    } else if (!authorize(caller.grant, route, config, headers).ok) return true;
  }
  return false;
}

/**
 * Null when the request may go on; else why it is refused. Cheap unless a form POST could
 * gain by an override (see above); never consumes the body that is forwarded.
 */
export async function formOverrideRefusal(
  req: Request,
  config: Config,
  path: string,
  posted: Route,
  caller: Caller,
): Promise<OverrideRefusal | null> {
  if (req.method !== "POST" || config.routes.length === 0 || req.body === null) return null;
  const contentType = req.headers.get("content-type");
  if (!isForm(contentType)) return null;
  if (!overrideCouldGain(config, path, posted, caller, req.headers)) return null;

  const encoding = req.headers.get("content-encoding");
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity")
    return {
      code: "malformed_request",
      reason: "method_override_unchecked",
      detail: "A form body that could override the method must not be content-encoded here",
    };
  // Names are looked for as ASCII bytes: a charset that spells them otherwise (UTF-16,
  // EBCDIC, which Java origins decode a form with) cannot be checked.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType ?? "")?.[1]?.toLowerCase();
  if (charset !== undefined && !ASCII_CHARSETS.has(charset))
    return {
      code: "malformed_request",
      reason: "method_override_unchecked",
      detail: "A form body that could override the method must be in UTF-8 or an ASCII-compatible charset here",
    };
  const length = req.headers.get("content-length");
  const tooLarge: OverrideRefusal = {
    code: "payload_too_large",
    reason: "method_override_unchecked",
    detail: `A form body that could override the method must have a Content-Length of at most ${FORM_BODY_LIMIT} bytes here`,
  };
  if (length === null || !/^\s*\d+\s*$/.test(length) || Number(length) > FORM_BODY_LIMIT) return tooLarge;
  const reader = req.clone().body!.getReader();
  const bytes = await readWithin(reader, FORM_BODY_LIMIT);
  if (bytes === null) {
    reader.cancel().catch(() => {});
    return tooLarge;
  }
  const text = new TextDecoder().decode(bytes); // the names looked for are ASCII: any bytes around them decode apart
  const overrides = (contentType ?? "").toLowerCase().includes("multipart/form-data")
    ? multipartNames(text).some(nameOverridesMethod)
    : text.split("&").some(partOverridesMethod);
  return overrides
    ? {
        code: "malformed_request",
        reason: "method_override",
        detail: "A method override in a form body is not forwarded: send the method itself",
      }
    : null;
}

/** A multipart part's name as parsers read it: as sent, or (HTML's %22-style escapes, RFC 5987 `name*`) decoded. */
function nameOverridesMethod(name: string): boolean {
  return isMethodOverrideParam(name) || (name.includes("%") && isMethodOverrideParam(paramName(name)));
}

const DISPOSITION_LINE = /^[ \t]*content-disposition[ \t]*:(.*(?:\r?\n[ \t].*)*)/gim;
const NAME_PARAM = /^\s*name\*?\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/i;

/**
 * The `name` of every Content-Disposition header line in a multipart body. Every such
 * line, not only those after a boundary: no boundary parsing whose differences from the
 * origin's could hide a part (a line inside a file's content that looks like one costs
 * at most a refusal). Folded continuation lines belong to their header.
 */
function multipartNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.matchAll(DISPOSITION_LINE)) {
    for (const param of line[1]!.replace(/\r?\n/g, " ").split(";")) {
      const m = NAME_PARAM.exec(param);
      if (!m) continue;
      let v = m[1]!.trim();
      // A quoted name, its escapes undone (an unclosed quote read to the end, as lenient parsers do).
      if (v.startsWith('"')) v = v.slice(1, v.length > 1 && v.endsWith('"') ? -1 : undefined).replace(/\\(.)/g, "$1");
      // RFC 5987 / 2231: charset'language'value.
      const ext = /^[\w-]*'[\w-]*'(.*)$/.exec(v);
      names.push(v, ...(ext ? [ext[1]!] : []));
    }
  }
  return names;
}
