/**
 * Report mode, or shadow mode (ENFORCEMENT=report, or a route's `"enforcement": "report"`;
 * docs/migrating.md): every request is decided exactly as in enforce mode (gateway/admit.ts
 * — the same lookups, budgets, limits and credits), but the decision is reported instead of
 * enforced. The request is forwarded as the client sent it, its own credential included,
 * with `x-keygate-verdict: allow` or `deny; reason=<code>; status=<n>` (edge/proxy/headers.ts;
 * signed with the rest when ORIGIN_SIGNING_SECRET is set), so the origin authenticates as
 * it did before keygate; nothing is refused. Then keygate's decision is compared with the
 * origin's answer — one status comparison; for a refusal both sides agree on, keygate's body
 * with the origin's, byte for byte, after the response — and counted (counter.ts). The
 * client gets the origin's response untouched.
 *
 * Not reported: a method keygate never forwards (TRACE, TRACK, CONNECT: the runtime cannot
 * send them), answered 405 as in enforce mode.
 */
import type { Config } from "../../config/config";
import type { Env } from "../../env";
import { errorAnswer } from "../../errors/render";
import type { SampleClass, ShadowBody, ShadowClass } from "../../objects/protocol";
import type { Admission, RequestLog } from "../admission";
import type { Comparison } from "./counter";
import { countComparison } from "./counter";

/** Whether a decision is reported rather than enforced: the matched route's own enforcement, else ENFORCEMENT. */
export function isReported(config: Config, admission: Admission): boolean {
  if ((admission.facts.enforcement ?? config.enforcement) !== "report") return false;
  return admission.kind === "forward" || admission.reason !== "method_refused";
}

/** What keygate would have done: the verdict header's value, and the answer it would have given. */
export interface Report {
  verdict: string;
  /** Its own answer (status and body), or null: it would have forwarded. */
  refusal: { status: number; body: string } | null;
}

export function reportOf(config: Config, admission: Admission): Report {
  if (admission.kind === "forward") return { verdict: "allow", refusal: null };
  const answer = errorAnswer(config, admission.code, admission.detail);
  return { verdict: `deny; reason=${admission.code}; status=${answer.status}`, refusal: answer };
}

/**
 * How the origin's answer compares with keygate's decision: it served (status < 400) or
 * refused (≥ 400) what keygate would have forwarded, or answered keygate's refusal status
 * or another one.
 */
export function classify(refusalStatus: number | null, originStatus: number): ShadowClass {
  const served = originStatus < 400;
  if (refusalStatus === null) return served ? "agree" : "would_admit";
  if (served) return "would_break";
  return originStatus === refusalStatus ? "agree" : "status_differs";
}

/** Longest path kept in a sample (a client chooses it). */
const MAX_SAMPLE_PATH = 512;
const encoder = new TextEncoder();

/** Whether `body` holds exactly `expected`'s bytes (read no further than one byte past them). */
async function sameBytes(body: ReadableStream<Uint8Array> | null, expected: Uint8Array): Promise<boolean> {
  if (body === null) return expected.length === 0;
  const reader = body.getReader();
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return at === expected.length;
      if (at + value.length > expected.length) return false;
      for (let i = 0; i < value.length; i++) if (value[i] !== expected[at + i]) return false;
      at += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

export interface CompareContext {
  env: Env;
  config: Config;
  requestId: string;
  method: string;
  /** The path as forwarded. */
  path: string;
  log: RequestLog;
  waitUntil(p: Promise<unknown>): void;
}

/**
 * Compare the origin's answer with the report, count it and return the response for the
 * client, untouched. An agreeing refusal's body is compared after the response, on a copy.
 */
export function compareAnswer(res: Response, report: Report, ctx: CompareContext): Response {
  const cls = classify(report.refusal?.status ?? null, res.status);
  const { log } = ctx;
  log.shadow = cls;
  const base = {
    route: log.route ?? "(none)",
    org: log.org ?? log.usage?.org ?? "",
    key_id: log.key_id ?? "",
    class: cls,
    status: res.status,
  };
  const sample = (c: SampleClass): Comparison["sample"] => ({
    class: c,
    request_id: ctx.requestId,
    method: ctx.method,
    path: ctx.path.length > MAX_SAMPLE_PATH ? ctx.path.slice(0, MAX_SAMPLE_PATH) + "…" : ctx.path,
    key_id: base.key_id,
    org: base.org,
    verdict: report.verdict,
    origin_status: res.status,
  });
  const count = (c: Comparison) => countComparison(ctx.env, ctx.waitUntil, ctx.config.usageFlushMs, c);
  if (cls !== "agree" || report.refusal === null) {
    count({ ...base, body: "", sample: sample(cls) });
    return res;
  }
  // Both refuse with one status: is the body the one keygate would have sent, byte for byte?
  const expected = encoder.encode(report.refusal.body);
  if (ctx.method === "HEAD" || res.body === null) {
    // No body on either side (HEAD), or none from the origin.
    const body: ShadowBody = ctx.method === "HEAD" || expected.length === 0 ? "match" : "differs";
    count({ ...base, body, sample: sample(body === "match" ? "body_match" : "body_differs") });
    return res;
  }
  const copy = res.clone();
  ctx.waitUntil(
    sameBytes(copy.body, expected)
      .catch(() => false)
      .then((same) =>
        count({ ...base, body: same ? "match" : "differs", sample: sample(same ? "body_match" : "body_differs") }),
      ),
  );
  return res;
}
