/**
 * The shadow report (docs/migrating.md): what report mode (ENFORCEMENT=report) learnt,
 * read from the ShadowStore object — totals per class, per route (with the last request ids
 * of each class), per key — and in one line whether it is safe to switch to enforce.
 *
 *   GET /shadow?from=ISO&to=ISO[&route=PATTERN][&org=ORG]   default: the last 24 hours
 *
 * Validation of the query and the answer's shape; the operation is the management core's
 * (manage/migration.ts `shadowReport`), authorized by the authority table.
 */
import type { FieldError, Validated } from "../keys/issue";
import { ORG_RE } from "../keys/record";
import type { SampleClass, ShadowSample, ShadowSums } from "../objects/protocol";

const DAY_MS = 86_400_000;
/** The longest range a report sums over: the store keeps 35 days. */
const MAX_RANGE_MS = 35 * DAY_MS;

export interface ShadowQuery {
  fromMinute: number;
  toMinute: number;
  /** The range asked for (ms), before it is widened to whole minutes: what the summary calls it. */
  spanMs: number;
  route: string | null;
  org: string | null;
}

export interface ShadowTotals {
  requests: number;
  agree: number;
  would_break: number;
  would_admit: number;
  status_differs: number;
  body_match: number;
  body_differs: number;
}

export interface ShadowAnswer {
  from: string;
  to: string;
  route: string | null;
  org: string | null;
  /** No client would notice the switch, going by this range: something was compared, and nothing blocks. */
  safe_to_switch: boolean;
  /** The verdict in one line, e.g. "0 would_break in 7 days on 12 routes: safe to switch." */
  summary: string;
  totals: ShadowTotals & {
    /** would_admit the origin answered 401 or 403: keygate would let through what the origin refuses. */
    would_admit_auth: number;
    /** The origin's statuses, per class. */
    origin_statuses: Record<string, Record<string, number>>;
  };
  routes: { route: string; totals: ShadowTotals; samples: Partial<Record<SampleClass, ShadowSampleView[]>> }[];
  /** Per key (null: requests without a known key), the ones that block first; at most MAX_KEYS. */
  keys: { key_id: string | null; org: string | null; totals: ShadowTotals }[];
}

export interface ShadowSampleView {
  request_id: string;
  at: string;
  method: string;
  path: string;
  key_id: string | null;
  org: string | null;
  verdict: string;
  origin_status: number;
}

const MAX_KEYS = 100;

function isoInstant(v: unknown): number | null {
  if (typeof v !== "string" || !/^\d{4}-\d\d-\d\dT/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

export function validateShadowQuery(input: Record<string, unknown>, now: number): Validated<ShadowQuery> {
  const errors: FieldError[] = [];
  for (const k of Object.keys(input))
    if (!["from", "to", "route", "org"].includes(k)) errors.push({ field: k, message: "unknown parameter" });
  const to = input.to === undefined ? now : isoInstant(input.to);
  if (to === null) errors.push({ field: "to", message: "must be an ISO 8601 date-time" });
  const from = input.from === undefined ? (to ?? now) - DAY_MS : isoInstant(input.from);
  if (from === null) errors.push({ field: "from", message: "must be an ISO 8601 date-time" });
  const route = input.route ?? null;
  if (route !== null && (typeof route !== "string" || route === "" || route.length > 512))
    errors.push({
      field: "route",
      message: 'must be a route pattern as ROUTES writes it (e.g. "/v1/*"), or "(default)"',
    });
  const org = input.org ?? null;
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org)))
    errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  if (errors.length) return { ok: false, errors };
  const fromMinute = Math.floor(from! / 60_000);
  const toMinute = Math.ceil(to! / 60_000);
  if (toMinute <= fromMinute) return { ok: false, errors: [{ field: "from", message: "must be before to" }] };
  if ((toMinute - fromMinute) * 60_000 > MAX_RANGE_MS)
    return { ok: false, errors: [{ field: "from", message: "the range must be at most 35 days (what is kept)" }] };
  return {
    ok: true,
    value: { fromMinute, toMinute, spanMs: to! - from!, route: route as string | null, org: org as string | null },
  };
}

const zero = (): ShadowTotals => ({
  requests: 0,
  agree: 0,
  would_break: 0,
  would_admit: 0,
  status_differs: 0,
  body_match: 0,
  body_differs: 0,
});

function add(t: ShadowTotals, r: ShadowSums["rows"][number]): void {
  t.requests += r.count;
  t[r.class] += r.count;
  if (r.body === "match") t.body_match += r.count;
  else if (r.body === "differs") t.body_differs += r.count;
}

const isAuthRefusal = (status: number) => status === 401 || status === 403;

/** What blocks a switch in `t`: answers clients would see change (would_admit: the origin's 401/403 only, counted apart). */
const blocking = (t: ShadowTotals) => t.would_break + t.status_differs + t.body_differs;

/** "7 days", "1 day", "24 hours", "90 minutes". */
export function spanText(ms: number): string {
  const unit = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (ms >= DAY_MS && ms % DAY_MS === 0) return unit(ms / DAY_MS, "day");
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return unit(ms / 3_600_000, "hour");
  return unit(Math.round(ms / 60_000), "minute");
}

function sampleView(s: ShadowSample): ShadowSampleView {
  return {
    request_id: s.request_id,
    at: new Date(s.at).toISOString(),
    method: s.method,
    path: s.path,
    key_id: s.key_id || null,
    org: s.org || null,
    verdict: s.verdict,
    origin_status: s.origin_status,
  };
}

/** The report from the store's sums: totals, per route (with samples), per key, and the one line. */
export function shadowAnswer(q: ShadowQuery, sums: ShadowSums): ShadowAnswer {
  const totals = { ...zero(), would_admit_auth: 0, origin_statuses: {} as Record<string, Record<string, number>> };
  const routes = new Map<string, { totals: ShadowTotals; samples: Partial<Record<SampleClass, ShadowSampleView[]>> }>();
  const keys = new Map<string, { key_id: string | null; org: string | null; totals: ShadowTotals }>();
  for (const r of sums.rows) {
    add(totals, r);
    if (r.class === "would_admit" && isAuthRefusal(r.status)) totals.would_admit_auth += r.count;
    const by = (totals.origin_statuses[r.class] ??= {});
    by[String(r.status)] = (by[String(r.status)] ?? 0) + r.count;
    let route = routes.get(r.route);
    if (!route) routes.set(r.route, (route = { totals: zero(), samples: {} }));
    add(route.totals, r);
    const k = JSON.stringify([r.key_id, r.org]);
    let key = keys.get(k);
    if (!key) keys.set(k, (key = { key_id: r.key_id || null, org: r.org || null, totals: zero() }));
    add(key.totals, r);
  }
  for (const s of sums.samples) {
    let route = routes.get(s.route);
    if (!route) routes.set(s.route, (route = { totals: zero(), samples: {} }));
    (route.samples[s.class] ??= []).push(sampleView(s));
  }
  const span = spanText(Math.round(q.spanMs / 60_000) * 60_000);
  const seen = [...routes.values()].filter((r) => r.totals.requests > 0).length;
  const breaking = [...routes.values()].filter((r) => r.totals.would_break > 0).length;
  const onRoutes = (n: number) => `${n} route${n === 1 ? "" : "s"}`;
  const differ = totals.status_differs + totals.body_differs;
  const safe = totals.requests > 0 && blocking(totals) === 0 && totals.would_admit_auth === 0;
  let summary: string;
  if (totals.requests === 0) summary = `No request compared in ${span}: nothing to go on yet.`;
  else {
    const where = totals.would_break > 0 ? `${breaking} of ${onRoutes(seen)}` : onRoutes(seen);
    const also = [
      ...(differ > 0
        ? [`${differ} refusal${differ === 1 ? "" : "s"} would differ from the origin's (status or body)`]
        : []),
      ...(totals.would_admit_auth > 0
        ? [
            `${totals.would_admit_auth} request${totals.would_admit_auth === 1 ? "" : "s"} the origin refused (401/403) would be let through`,
          ]
        : []),
    ];
    summary = `${totals.would_break} would_break in ${span} on ${where}${also.length ? `, and ${also.join("; ")}` : ""}: ${safe ? "safe to switch." : "not safe to switch yet."}`;
  }
  const keyList = [...keys.values()]
    .sort((a, b) => blocking(b.totals) - blocking(a.totals) || b.totals.requests - a.totals.requests)
    .slice(0, MAX_KEYS);
  return {
    from: new Date(q.fromMinute * 60_000).toISOString(),
    to: new Date(q.toMinute * 60_000).toISOString(),
    route: q.route,
    org: q.org,
    safe_to_switch: safe,
    summary,
    totals,
    routes: [...routes.entries()]
      .map(([route, r]) => ({ route, ...r }))
      .sort((a, b) => blocking(b.totals) - blocking(a.totals) || a.route.localeCompare(b.route)),
    keys: keyList,
  };
}
