/**
 * The authority table: what each principal (principal.ts) may do, per operation and per
 * field, on every management surface — the admin API, the self-service API, the web
 * console and the CLI. `decide` is the one function that reads it; the operations
 * (keys.ts, orgs.ts, tokens.ts, portal.ts) ask it before they touch anything, and the
 * console asks it which buttons and fields to show. No surface decides on its own.
 *
 * docs/authority.md is this table rendered (authority-doc.ts), held to it by
 * test/unit/manage/authority-doc.test.ts; test/worker/manage/authority/matrix.test.ts drives every cell of it
 * through every surface.
 *
 * The table is plain data, read at every call: a test may change a cell and see every
 * surface follow.
 */

import type { FieldError } from "../keys/fields";
import { checkExpiry, parseDateTime } from "../keys/fields";
import type { RateLimit } from "../keys/record";
import { ALL_ORGS, modeOf } from "../keys/record";
import { cidrWithin, parseCidr } from "../lib/cidr";
import type { Holder, Principal, Role } from "./principal";
import { isHolder, roleOf, scopesHeld } from "./principal";

export type Operation =
  | "list"
  | "show"
  | "create"
  | "import"
  | "update"
  | "enable"
  | "disable"
  | "rotate"
  | "revoke"
  | "audit"
  | "usage"
  | "org_show"
  | "org_set"
  | "token_create"
  | "token_list"
  | "token_revoke"
  | "portal_link"
  | "portal_link_revoke"
  | "shadow"
  | "migration"
  | "webhook_create"
  | "webhook_list"
  | "webhook_delete"
  | "webhook_test"
  | "webhook_deliveries"
  | "leak_report";

/**
 * What a principal reaches with an operation:
 * - all: every org and every key;
 * - token_orgs: the token's orgs ("*": every org): it sees a key one of whose orgs is its
 *   own, changes a key all of whose orgs are, and names only its orgs;
 * - own_org: the holder's one org: keys of that org alone (a key shared with another org is
 *   the operator's: it does not exist for a holder);
 * - none: refused (403), before any key is looked up.
 */
export type Reach = "all" | "token_orgs" | "own_org" | "none";

export interface OperationRule {
  /** "list keys": how a refusal names the operation. */
  verb: string;
  /** Changes a key: a key the principal may see but not change is refused (403). */
  changes: boolean;
  reach: Record<Role, Reach>;
  /** The refusal's message when it is not the generic one. */
  refusal?: string;
}

const holdersToo = (
  operators: [Reach, Reach, Reach],
  holders: Reach,
  reporter: Reach = "none",
): Record<Role, Reach> => ({
  root: operators[0],
  "token:write": operators[1],
  "token:read": operators[2],
  key: holders,
  session: holders,
  portal: holders,
  reporter,
});

const ROOT_ONLY = holdersToo(["all", "none", "none"], "none");
const READS = holdersToo(["all", "token_orgs", "token_orgs"], "own_org");
const HOLDER_WRITES = holdersToo(["all", "token_orgs", "none"], "own_org");
const OPERATOR_WRITES = holdersToo(["all", "token_orgs", "none"], "none");
const OPERATOR_READS = holdersToo(["all", "token_orgs", "token_orgs"], "none");
const TOKENS_REFUSAL = "Only the root ADMIN_TOKEN may manage admin tokens.";

export const OPERATIONS: Record<Operation, OperationRule> = {
  list: { verb: "list keys", changes: false, reach: { ...READS } },
  show: { verb: "show a key", changes: false, reach: { ...READS } },
  create: { verb: "create keys", changes: true, reach: { ...HOLDER_WRITES } },
  import: { verb: "import keys", changes: true, reach: { ...OPERATOR_WRITES } },
  update: { verb: "change a key's settings", changes: true, reach: { ...OPERATOR_WRITES } },
  enable: { verb: "enable keys", changes: true, reach: { ...OPERATOR_WRITES } },
  disable: { verb: "disable keys", changes: true, reach: { ...HOLDER_WRITES } },
  rotate: { verb: "rotate (regenerate) keys", changes: true, reach: { ...HOLDER_WRITES } },
  revoke: { verb: "revoke keys", changes: true, reach: { ...HOLDER_WRITES } },
  audit: { verb: "read the audit log", changes: false, reach: { ...READS } },
  usage: { verb: "read usage", changes: false, reach: { ...READS } },
  org_show: { verb: "read an organization's settings", changes: false, reach: { ...OPERATOR_READS } },
  org_set: { verb: "change an organization's settings", changes: false, reach: { ...OPERATOR_WRITES } },
  token_create: { verb: "mint admin tokens", changes: false, reach: { ...ROOT_ONLY }, refusal: TOKENS_REFUSAL },
  token_list: { verb: "list admin tokens", changes: false, reach: { ...ROOT_ONLY }, refusal: TOKENS_REFUSAL },
  token_revoke: { verb: "revoke admin tokens", changes: false, reach: { ...ROOT_ONLY }, refusal: TOKENS_REFUSAL },
  portal_link: { verb: "issue portal links", changes: false, reach: { ...OPERATOR_WRITES } },
  portal_link_revoke: { verb: "revoke portal links", changes: false, reach: { ...OPERATOR_WRITES } },
  shadow: { verb: "read the shadow report", changes: false, reach: { ...OPERATOR_READS } },
  migration: { verb: "read the migration's progress", changes: false, reach: { ...OPERATOR_READS } },
  // Webhooks: root, or a write token for every org a webhook serves (its URL and its events are the operator's).
  webhook_create: { verb: "create webhooks", changes: false, reach: { ...OPERATOR_WRITES } },
  webhook_list: { verb: "list webhooks", changes: false, reach: { ...OPERATOR_WRITES } },
  webhook_delete: { verb: "remove webhooks", changes: false, reach: { ...OPERATOR_WRITES } },
  webhook_test: { verb: "test webhooks", changes: false, reach: { ...OPERATOR_WRITES } },
  webhook_deliveries: { verb: "read webhook deliveries", changes: false, reach: { ...OPERATOR_WRITES } },
  // A leak report names keys by their plaintext (manage/leaks.ts): a reporter reaches any key
  // it presents; an operator, the keys it may change; a key it may not see is "not ours".
  leak_report: {
    verb: "report leaked keys",
    changes: true,
    reach: holdersToo(["all", "token_orgs", "none"], "none", "all"),
  },
};

/**
 * Who may set a field of a request:
 * - yes: as given;
 * - operator: the operator's (root or a write token of every org of the key); a holder
 *   naming it is answered 400 naming the field;
 * - own_scopes: scopes the principal holds itself, no more (403 beyond);
 * - own_expiry: no later than the principal's own key's expiry (403 beyond); when not
 *   given, the key gets the principal's own.
 */
export type FieldRule = "yes" | "operator" | "own_scopes" | "own_expiry";

/** The operations that take fields, and their fields. */
export type FieldOperation = "create" | "import" | "update" | "rotate";

const holders = (
  rule: FieldRule | Partial<Record<"key" | "session" | "portal", FieldRule>>,
): Record<Role, FieldRule> => {
  const by =
    typeof rule === "string"
      ? { key: rule, session: rule, portal: rule }
      : { key: "yes" as FieldRule, session: "yes" as FieldRule, portal: "yes" as FieldRule, ...rule };
  // A leak reporter names no field of any operation that takes them.
  return { root: "yes", "token:write": "yes", "token:read": "yes", ...by, reporter: "operator" };
};

const OPERATOR = holders("operator");
const EVERYONE = holders("yes");

export const FIELDS: Record<FieldOperation, Record<string, Record<Role, FieldRule>>> = {
  create: {
    name: { ...EVERYONE },
    orgs: { ...OPERATOR },
    scopes: holders("own_scopes"),
    expires_at: holders({ key: "own_expiry" }),
    meta: { ...OPERATOR },
    rate_limit: { ...OPERATOR },
    credits: { ...OPERATOR },
    allowed_ips: { ...OPERATOR },
  },
  import: {
    key: { ...OPERATOR },
    hash: { ...OPERATOR },
    key_prefix: { ...OPERATOR },
    name: { ...OPERATOR },
    orgs: { ...OPERATOR },
    scopes: { ...OPERATOR },
    expires_at: { ...OPERATOR },
    meta: { ...OPERATOR },
    rate_limit: { ...OPERATOR },
    credits: { ...OPERATOR },
    allowed_ips: { ...OPERATOR },
  },
  update: {
    name: { ...OPERATOR },
    orgs: { ...OPERATOR },
    scopes: { ...OPERATOR },
    expires_at: { ...OPERATOR },
    enabled: { ...OPERATOR },
    rate_limit: { ...OPERATOR },
    credits: { ...OPERATOR },
    allowed_ips: { ...OPERATOR },
  },
  rotate: {
    grace_seconds: { ...EVERYONE },
    credits: { ...OPERATOR },
  },
};

export type Refusal =
  | { ok: false; error: "forbidden"; message: string; field?: string }
  | { ok: false; error: "not_found" }
  | { ok: false; error: "invalid"; errors: FieldError[] };
export type Decision = { ok: true } | Refusal;

/**
 * A key as far as authority goes: its orgs (and id); for a rotation by a holder, what the
 * new key would keep (its record: the holder must hold at least as much).
 */
export interface KeyFacts {
  id: string;
  orgs: readonly string[];
  scopes?: readonly string[];
  expires_at?: string | null;
  allowed_ips?: readonly string[] | null;
  rate_limit?: RateLimit | null;
  /** A record's credits (a view's carry no balance_id: never the holder's balance). */
  credits?: object | null;
}

/** What an operation is about, as far as authority goes. */
export interface Subject {
  /**
   * Orgs the request names: a new key's, a listing's or an audit query's org, an org's settings, a portal link's org.
   */
  orgs?: readonly string[];
  /** The key it acts on. */
  key?: KeyFacts;
  /** The request's fields (its body), against the field rules of the operation. */
  fields?: Readonly<Record<string, unknown>>;
  /**
   * The webhook it acts on (its orgs; null: every org): it exists for a principal only when the principal reaches
   * every org it serves (a token's webhooks see only its orgs), else it is not found.
   */
  webhook?: { id: string; orgs: readonly string[] | null };
}

const ALLOWED: Decision = { ok: true };
const forbidden = (message: string, field?: string): Refusal => ({
  ok: false,
  error: "forbidden",
  message,
  ...(field ? { field } : {}),
});
const NOT_FOUND: Refusal = { ok: false, error: "not_found" };

const HOLDER_NAMES = { key: "an API key", session: "a session", portal: "a portal session" } as const;
const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);

function refusalOf(op: Operation, p: Principal): Refusal {
  const rule = OPERATIONS[op];
  if (rule.refusal) return forbidden(rule.refusal);
  if (p.kind === "token") {
    return forbidden(
      p.role === "read"
        ? `This admin token is read-only (role read): it may not ${rule.verb}.`
        : `An admin token may not ${rule.verb}.`,
    );
  }
  if (isHolder(p))
    return forbidden(
      `${capital(HOLDER_NAMES[p.kind])} may not ${rule.verb}: that is the operator's (the admin API, with root or an admin token).`,
    );
  return forbidden(`Not allowed to ${rule.verb}.`);
}

/** Whether `org` is one of a principal's orgs under `reach`. */
function reaches(p: Principal, reach: Reach, org: string): boolean {
  switch (reach) {
    case "all":
      return true;
    case "token_orgs":
      return p.kind === "token" && (p.orgs.includes(ALL_ORGS) || p.orgs.includes(org));
    case "own_org":
      return isHolder(p) && org === p.org;
    case "none":
      return false;
  }
}

/** `a` is later than `b` (ISO instants or null = never). */
function later(a: string | null | undefined, b: string | null): boolean {
  if (b === null) return false;
  if (a === null || a === undefined) return true;
  const at = parseDateTime(a) ?? Date.parse(a);
  return !(at <= Date.parse(b));
}

/** The field rules of a request: operator fields first (400), then ceilings (403). */
function checkFields(p: Principal, op: Operation, fields: Readonly<Record<string, unknown>>): Decision {
  const rules = FIELDS[op as FieldOperation];
  if (!rules) return ALLOWED;
  const role = roleOf(p);
  const errors: FieldError[] = [];
  for (const name of Object.keys(fields)) {
    if (fields[name] === undefined) continue;
    if (rules[name]?.[role] === "operator") {
      errors.push({
        field: name,
        message: `is set by the operator (the admin API), not by ${isHolder(p) ? HOLDER_NAMES[p.kind] : "this caller"}`,
      });
    }
  }
  if (errors.length) return { ok: false, error: "invalid", errors };
  if (!isHolder(p)) return ALLOWED;
  for (const name of Object.keys(rules)) {
    const rule = rules[name]![role];
    const v = fields[name];
    if (v === undefined) continue;
    if (rule === "own_scopes" && Array.isArray(v)) {
      const held = scopesHeld(p);
      const beyond = held === null ? undefined : v.find((s) => typeof s === "string" && !held.includes(s));
      if (beyond !== undefined)
        return forbidden(`You cannot grant the "${beyond}" scope: your own credential does not hold it`, name);
    }
    if (rule === "own_expiry" && p.kind === "key" && checkExpiry(v, 0, false, [])) {
      const own = p.record.expires_at;
      if (later(v as string | null, own))
        return forbidden(`expires_at cannot be later than your own key's expiry (${own})`, name);
    }
  }
  return ALLOWED;
}

/**
 * A holder may rotate (regenerate) only a key no more powerful than itself, since the new
 * key keeps that key's settings: scopes within its own; for a key holder also an expiry no
 * later than its own, addresses within its own allowed_ips, a rate limit no looser (no
 * higher limit, no shorter period, not regional when its own is exact), and its own credit
 * balance when it is metered.
 */
function notMorePowerful(p: Holder, target: KeyFacts): Decision {
  const held = scopesHeld(p);
  const beyond = held === null ? undefined : (target.scopes ?? []).find((s) => !held.includes(s));
  if (beyond !== undefined)
    return forbidden(
      `You cannot regenerate key "${target.id}": it holds the "${beyond}" scope, which your own credential does not`,
    );
  if (p.kind !== "key") return ALLOWED;
  const own = p.record;
  const refuse = (what: string) =>
    forbidden(`You cannot regenerate key "${target.id}": ${what} than your own key's, and the new key would keep it`);
  if (later(target.expires_at, own.expires_at)) return refuse("its expiry is later");
  if (own.allowed_ips) {
    const outer = own.allowed_ips.map(parseCidr).filter((c) => c !== null);
    const inner = target.allowed_ips ?? null;
    const within =
      inner?.every((s) => {
        const c = parseCidr(s);
        return c !== null && outer.some((o) => cidrWithin(c, o));
      }) ?? false;
    if (!within) return refuse("its allowed_ips are wider");
  }
  if (own.rate_limit) {
    const t = target.rate_limit;
    // Regional counting can go over the limit where exact cannot: looser than an exact limit.
    if (
      !t ||
      t.limit > own.rate_limit.limit ||
      t.period_seconds < own.rate_limit.period_seconds ||
      (modeOf(own.rate_limit) === "exact" && modeOf(t) !== "exact")
    )
      return refuse("its rate limit is looser");
  }
  if (
    own.credits &&
    (target.credits as { balance_id?: string } | null | undefined)?.balance_id !== own.credits.balance_id
  )
    return refuse("its credits are not your balance (it would be metered less)");
  return ALLOWED;
}

/**
 * Whether principal `p` may perform `op` on `subject`: allowed, or the refusal —
 * forbidden (403, with the field when one is to blame), not_found (a key the principal
 * may not see: answered exactly like an unknown id) or invalid (400: fields that are the
 * operator's). In this order: the operation (before any lookup), the fields, the orgs the
 * request names, the key it acts on.
 */
export function decide(p: Principal, op: Operation, subject: Subject = {}): Decision {
  const rule = OPERATIONS[op];
  const reach = rule.reach[roleOf(p)];
  if (reach === "none") return refusalOf(op, p);
  if (subject.fields) {
    const fields = checkFields(p, op, subject.fields);
    if (!fields.ok) return fields;
  }
  if (subject.orgs) {
    const outside = subject.orgs.filter((org) => !reaches(p, reach, org));
    if (outside.length)
      return forbidden(
        `not allowed for org${outside.length > 1 ? "s" : ""} ${outside.map((o) => `"${o}"`).join(", ")}`,
      );
  }
  if (subject.key) {
    const orgs = subject.key.orgs;
    // Holders see only keys of their org alone; tokens a key one of whose orgs is theirs.
    const sees =
      reach === "own_org"
        ? orgs.length > 0 && orgs.every((o) => reaches(p, reach, o))
        : orgs.some((o) => reaches(p, reach, o));
    if (!sees) return NOT_FOUND;
    if (rule.changes && !orgs.every((o) => reaches(p, reach, o))) {
      return forbidden(
        `key "${subject.key.id}" also acts for orgs outside this caller's; only a caller allowed for all of them may change it`,
      );
    }
    if (op === "rotate" && isHolder(p)) return notMorePowerful(p, subject.key);
  }
  if (subject.webhook) {
    const orgs = subject.webhook.orgs ?? [ALL_ORGS];
    if (!orgs.every((o) => reaches(p, reach, o))) return NOT_FOUND;
  }
  return ALLOWED;
}

/** Shorthand for the console's affordances: whether `decide` allows it. */
export function may(p: Principal, op: Operation, subject: Subject = {}): boolean {
  return decide(p, op, subject).ok;
}

/** Whether `p` may name `field` in `op` at all (the console shows only the fields it may set). */
export function mayName(p: Principal, op: FieldOperation, field: string): boolean {
  return FIELDS[op][field]?.[roleOf(p)] !== "operator";
}

/**
 * The orgs `p` reaches with `op`, as a filter for a store that selects by org itself (the
 * portal links' store): null for every org, else the list (empty: none).
 */
export function reachOrgs(p: Principal, op: Operation): readonly string[] | null {
  const reach = OPERATIONS[op].reach[roleOf(p)];
  if (reach === "all") return null;
  if (reach === "token_orgs" && p.kind === "token") return p.orgs.includes(ALL_ORGS) ? null : p.orgs;
  if (reach === "own_org" && isHolder(p)) return [p.org];
  return [];
}
