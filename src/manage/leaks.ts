/**
 * Leaked keys (docs/leaked-keys.md): the management core's operation `leak_report`. A
 * report names keys by their plaintext — GitHub's secret scanning, GitLab's Token
 * Revocation API, your own scanners, the CLI — and each one that is a key of this gateway
 * is revoked, disabled or only marked (LEAKED_KEY_ACTION) through the lifecycle
 * (keys/lifecycle.ts leakFound): one write, an audit event `key.leaked` (source, URL,
 * reporter), the revocation feed (every isolate refuses it within the bound), and the
 * `key.leaked` event for the owner (`notifyKeyLeaked`).
 *
 * Who may report is the authority table's (`leak_report`): a leak reporter (principal.ts)
 * reaches any key it presents; root every key; a write token the keys of its orgs; a key it
 * may not see is answered as not this gateway's, exactly like an unknown token.
 *
 * Only tokens shaped like this gateway's keys are looked up: a token with KEY_PREFIX must be
 * a minted key's length with a valid checksum (keys/format.ts classifyKey, as the gateway
 * itself decides) — a near miss is a false positive without any read; a token of another
 * format may be an imported key, and is looked up by its hash — and, while keys imported by
 * their old system's hash are pending, under its legacy identity for each such algorithm,
 * as the gateway looks it up (keys/legacy.ts legacyIdentityOf): such a key is revoked or
 * disabled like any other, and a revoked one leaves the pending count. Lookups are bulk
 * reads (a hundred tokens, one operation), and nothing is written for a token that is not a key.
 *
 * Bounded: at most MAX_LEAK_ENTRIES entries a report, and at most KV_WRITE_BUDGET KV
 * operations of writes a request (Workers allows 1,000 an invocation); a report that needs
 * more is answered "unavailable" (503) once the budget is spent, having done what it could —
 * reports are idempotent, so the sender's retry goes on where this one stopped.
 */
import type { LeakAction } from "../config/variables";
import { unsafeCharacter } from "../keys/fields";
import { classifyKey, isWellFormedKey } from "../keys/format";
import { hashKey } from "../keys/hash";
import type { FieldError } from "../keys/issue";
import { legacyIdentityOf } from "../keys/legacy";
import type { Outcome } from "../keys/lifecycle";
import { leakFound } from "../keys/lifecycle";
import type { KeyRecord, KeyStatus, LeakRecord } from "../keys/record";
import { statusOf } from "../keys/record";
import { KV_BULK_GET_MAX } from "../keys/store/kv";
import { readLegacyAlgorithms } from "../keys/store/migration";
import { readRecords } from "../keys/store/records";
import { logLine } from "../lib/log";
import { decide } from "./authority";
import type { KeyLeakedEvent, ManageDeps } from "./context";
import { failure, lifecycleOf } from "./context";
import { release, retireUnused } from "./keys";
import type { Principal } from "./principal";
import { actorOf } from "./principal";

/** Most entries a report may carry (GitHub's, GitLab's, a scanner's). */
export const MAX_LEAK_ENTRIES = 1_000;
/** KV operations a report's writes may cost in one request (Workers allows 1,000 an invocation, reads included). */
export const KV_WRITE_BUDGET = 850;
/** Longest URL kept with a report; a longer one (or one that is not http(s)) is not kept. */
export const MAX_LEAK_URL_LENGTH = 2_048;
/** Longest `source` a report may give. */
export const MAX_LEAK_SOURCE_LENGTH = 100;

/** One token of a report, where it was found. */
export interface LeakEntry {
  token: string;
  /** The reporter's word for where it looked ("commit", "gitleaks"…). */
  source: string;
  /** Where it was found: an http(s) URL, or null. */
  url: string | null;
}

/** Whether a reported token is one of this gateway's keys (the partner programs' labels). */
export type LeakLabel = "true_positive" | "false_positive";

/** The answer about one entry of a report. Never the token; its SHA-256 (hex), as GitHub's feedback takes it. */
export interface LeakVerdict {
  token_hash: string;
  label: LeakLabel;
  /** Operators only (root, admin tokens, the CLI): the key, and its status after the report. */
  key_id?: string;
  status?: KeyStatus;
  /** An operator that may see the key but not change it (a key shared with an org outside its token's). */
  refused?: string;
}

/**
 * A report's URL as kept: an http(s) URL of at most MAX_LEAK_URL_LENGTH printable characters,
 * else null. Credentials in it (`https://user:token@host/…`, a scanner's clone URL) are
 * dropped: the URL goes to the key record, the audit log, the logs, the console and the
 * owner's webhooks, and a secret goes to none of them.
 */
export function leakUrl(v: unknown): string | null {
  if (typeof v !== "string" || v === "" || v.length > MAX_LEAK_URL_LENGTH || unsafeCharacter(v) !== null) return null;
  if (!/^https?:\/\//i.test(v)) return null;
  try {
    const u = new URL(v);
    if (u.username === "" && u.password === "") return v;
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return null;
  }
}

/** A report's URL with the leaked token itself taken out of it (a token found in a query string). */
function withoutToken(url: string | null, token: string): string | null {
  return url === null || !url.includes(token) ? url : url.split(token).join("[redacted]");
}

/** A report's source as kept: 1–MAX_LEAK_SOURCE_LENGTH printable characters, else null. */
export function leakSource(v: unknown): string | null {
  if (typeof v !== "string") return null;
  const t = v.trim();
  return t !== "" && t.length <= MAX_LEAK_SOURCE_LENGTH && unsafeCharacter(t) === null ? t : null;
}

/**
 * The body of `POST {ADMIN_PREFIX}/leaks` (and `npm run keys -- leaked`):
 * `{"tokens": ["…", …], "source": "…", "url"?: "…"}` — one source and URL for every token.
 */
export function parseLeakReport(body: unknown): { ok: true; value: LeakEntry[] } | { ok: false; errors: FieldError[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, errors: [{ field: "(body)", message: "must be a JSON object" }] };
  const o = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(o))
    if (k !== "tokens" && k !== "source" && k !== "url")
      errors.push({ field: k.slice(0, 64), message: "unknown field" });
  const tokens = o.tokens;
  if (
    !Array.isArray(tokens) ||
    tokens.length === 0 ||
    tokens.length > MAX_LEAK_ENTRIES ||
    !tokens.every((t) => typeof t === "string" && t !== "")
  )
    errors.push({ field: "tokens", message: `must be 1–${MAX_LEAK_ENTRIES} non-empty strings (the leaked tokens)` });
  const source = leakSource(o.source);
  if (source === null)
    errors.push({
      field: "source",
      message: `is required: who found them (e.g. "gitleaks"), 1–${MAX_LEAK_SOURCE_LENGTH} printable characters`,
    });
  const url = o.url === undefined || o.url === null ? null : leakUrl(o.url);
  if (o.url !== undefined && o.url !== null && url === null)
    errors.push({ field: "url", message: `must be an http(s) URL of at most ${MAX_LEAK_URL_LENGTH} characters` });
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: (tokens as string[]).map((token) => ({ token, source: source!, url })) };
}

const isOperator = (p: Principal) => p.kind === "root" || p.kind === "token";

/**
 * Report leaked tokens as principal `p`: one verdict per entry, in order. Each token that is
 * a key `p` may reach gets LEAKED_KEY_ACTION (deps.leakAction; default revoke); the first
 * entry naming a token gives its source and URL.
 */
export async function reportLeaks(
  deps: ManageDeps,
  p: Principal,
  entries: readonly LeakEntry[],
): Promise<Outcome<LeakVerdict[]>> {
  const allowed = decide(p, "leak_report");
  if (!allowed.ok) return failure(allowed);
  if (entries.length > MAX_LEAK_ENTRIES)
    return {
      ok: false,
      error: "invalid",
      errors: [{ field: "tokens", message: `at most ${MAX_LEAK_ENTRIES} entries per report` }],
    };
  const action: LeakAction = deps.leakAction ?? "revoke";
  const first = new Map<string, LeakEntry>();
  for (const e of entries) if (!first.has(e.token)) first.set(e.token, { ...e, url: withoutToken(e.url, e.token) });

  // The feedback's hash (plain SHA-256) for every token; a lookup only for those shaped like a key.
  const verdicts = new Map<string, LeakVerdict>();
  const candidates: { token: string; hash: string }[] = [];
  for (const token of first.keys()) {
    const tokenHash = await hashKey(token);
    verdicts.set(token, { token_hash: tokenHash, label: "false_positive" });
    if (!isWellFormedKey(token) || classifyKey(token, deps.settings.prefix) === "corrupt") continue;
    candidates.push({ token, hash: deps.settings.pepper ? await hashKey(token, deps.settings.pepper) : tokenHash });
  }
  const records =
    candidates.length > 0
      ? await readRecords(
          deps.kv,
          candidates.map((c) => c.hash),
        )
      : new Map<string, null>();

  let spent = Math.ceil(candidates.length / KV_BULK_GET_MAX);
  /** Each token found, under the hash its record is stored at. */
  const found = new Map<string, { hash: string; record: KeyRecord }>();
  for (const c of candidates) {
    const record = records.get(c.hash) ?? null;
    if (record !== null) found.set(c.token, { hash: c.hash, record });
  }
  const missed = candidates.filter(
    (c) => !found.has(c.token) && classifyKey(c.token, deps.settings.prefix) === "foreign",
  );
  if (missed.length > 0) spent += await findPending(deps, missed, found);
  for (const c of candidates) {
    const at = found.get(c.token);
    if (at === undefined) continue;
    const { hash, record } = at;
    const verdict = verdicts.get(c.token)!;
    const d = decide(p, "leak_report", { key: record });
    if (!d.ok) {
      // A key it may not see is not this gateway's, for it; one it may only see is named, unchanged.
      if (d.error === "forbidden")
        Object.assign(verdict, {
          label: "true_positive",
          key_id: record.id,
          status: statusOf(record, deps.now),
          refused: d.message,
        });
      continue;
    }
    // record, id pointer and org entries; the audit event in the global, key and org logs.
    const cost = 4 + 2 * record.orgs.length;
    if (spent + cost > KV_WRITE_BUDGET)
      return {
        ok: false,
        error: "unavailable",
        message:
          "This report names more keys than one request may change: the first ones are done; send the same report again to go on (reports are idempotent).",
      };
    const entry = first.get(c.token)!;
    const done = await leakFound(
      lifecycleOf(deps, p),
      { hash, record },
      { source: entry.source, url: entry.url, action },
    );
    if (done.changed) {
      spent += cost;
      await settled(deps, p, done.record, done.done, entry);
    }
    verdict.label = "true_positive";
    if (isOperator(p)) Object.assign(verdict, { key_id: record.id, status: statusOf(done.record, deps.now) });
  }
  return { ok: true, value: entries.map((e) => ({ ...verdicts.get(e.token)! })) };
}

/**
 * Tokens not found in keygate's own index that may be keys imported by their old system's
 * hash and not used since: looked up under their legacy identity for each algorithm with
 * pending keys (none pending: no read at all), in bulk. Adds what it finds to `found`; the
 * KV operations it spent.
 */
async function findPending(
  deps: ManageDeps,
  missed: readonly { token: string }[],
  found: Map<string, { hash: string; record: KeyRecord }>,
): Promise<number> {
  const algorithms = await readLegacyAlgorithms(deps.kv);
  if (algorithms.length === 0) return 1;
  const tries: { token: string; identity: string }[] = [];
  for (const { token } of missed)
    for (const algorithm of algorithms) {
      const identity = await legacyIdentityOf(token, algorithm, deps.settings);
      if (identity !== null) tries.push({ token, identity });
    }
  if (tries.length === 0) return 1;
  const records = await readRecords(
    deps.kv,
    tries.map((t) => t.identity),
  );
  for (const t of tries) {
    const record = records.get(t.identity) ?? null;
    if (record !== null && !found.has(t.token)) found.set(t.token, { hash: t.identity, record });
  }
  return 1 + Math.ceil(tries.length / KV_BULK_GET_MAX);
}

/** After a key's leak was recorded: its holder slot freed when revoked, a log line, and the owner told. */
async function settled(
  deps: ManageDeps,
  p: Principal,
  record: KeyRecord,
  done: LeakRecord["action"],
  entry: LeakEntry,
): Promise<void> {
  if (done === "revoke") {
    await release(deps, record.orgs, record.id);
    // Imported by its hash and never used: revoked, it leaves the migration's pending count.
    await retireUnused(deps, record);
  }
  const actor = deps.actor ?? actorOf(p);
  logLine("warn", "key reported leaked", {
    ...(deps.requestId ? { request_id: deps.requestId } : {}),
    key_id: record.id,
    key_prefix: record.start,
    reporter: actor,
    source: entry.source,
    url: entry.url,
    action: done,
  });
  await notifyKeyLeaked(deps, {
    type: "key.leaked",
    timestamp: new Date(deps.now).toISOString(),
    data: {
      key_id: record.id,
      orgs: record.orgs,
      org: record.orgs[0]!,
      name: record.name,
      actor,
      source: entry.source,
      url: entry.url,
      action: done,
      status: statusOf(record, deps.now),
    },
  });
}

/**
 * The one place the `key.leaked` event leaves the management core: deps.onKeyLeaked, which
 * the webhooks (when the gateway has them) deliver to the key's owner. Its failure never
 * undoes or fails the report: the key is already handled and audited.
 */
async function notifyKeyLeaked(deps: ManageDeps, event: KeyLeakedEvent): Promise<void> {
  try {
    await deps.onKeyLeaked?.(event);
  } catch (err) {
    logLine("error", "key.leaked event not delivered", {
      ...(deps.requestId ? { request_id: deps.requestId } : {}),
      key_id: event.data.key_id,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
}
