/**
 * The migration operations of the management core (docs/migrating.md): importing keys in
 * bulk (plaintext or hash), the migration's progress per org, and the shadow report of
 * report mode. Like every operation they take the principal and ask the authority table
 * first (authority.ts: `import` is an operator's; `migration` and `shadow` are operators'
 * reads, an org-scoped token's limited to its orgs).
 */
import type { FieldError, KeySettings } from "../keys/issue";
import { importIdentity, pendingAlgorithmsOf } from "../keys/issue";
import type { LegacyAlgorithm } from "../keys/legacy";
import type { Imported, ImportSpec, Outcome } from "../keys/lifecycle";
import { auditImports, importStored, publishImported, tellImported } from "../keys/lifecycle";
import { ORG_RE } from "../keys/record";
import type { MigrationState } from "../keys/store/migration";
import { readLegacyAlgorithms, readMarkers, writeLegacyAlgorithms } from "../keys/store/migration";
import { logLine } from "../lib/log";
import { decide } from "./authority";
import type { ManageDeps } from "./context";
import { failure, lifecycleOf } from "./context";
import { importChecked, pendingUnder, settleLegacy } from "./keys";
import type { Principal } from "./principal";
import { orgsOf } from "./principal";
import type { ShadowAnswer } from "./shadow";
import { shadowAnswer, validateShadowQuery } from "./shadow";

// ---- bulk import ----

/** Keys one call imports at most (the admin API's array; the CLI sends batches of this size). */
export const MAX_IMPORT_BATCH = 1_000;
/** Imports stored at once within a batch. */
const DEFAULT_IMPORT_CONCURRENCY = 8;

export type ImportStatus = "imported" | "skipped" | "invalid" | "refused" | "deferred";

export interface ImportResult {
  /** The item's index in the batch. */
  index: number;
  status: ImportStatus;
  /** imported: the new key's id. */
  id?: string;
  /** imported: "pending" (a hash, re-indexed at the key's first use) or "migrated" (in keygate's own index). */
  state?: "pending" | "migrated";
  /** invalid: the field errors, as for one import. */
  errors?: FieldError[];
  /** skipped, refused, deferred: why. */
  message?: string;
  /** refused: the index of the earlier item of this batch that is the same key (stored, or refused, once). */
  duplicate_of?: number;
}

export interface ImportBatchAnswer {
  imported: number;
  /** Already stored (a repeated import): nothing written. */
  skipped: number;
  /** Invalid or refused: nothing written, the others went on. */
  failed: number;
  /** Not tried within this call's budget of KV operations: send them again. */
  deferred: number;
  results: ImportResult[];
}

/**
 * The KV operations one import costs at most: the existence check (and, for a hash, the
 * re-indexed check; for a plaintext, one check per legacy algorithm its hash may wait
 * under: issue.ts importIdentity), the record, its id pointer, one org index entry per org and its marker.
 * The batch's one audit event costs one more, and one per org it names (importKeys counts them).
 */
export function importOperations(spec: ImportSpec, settings: KeySettings): number {
  const checks = spec.source.kind === "hash" ? 1 : pendingAlgorithmsOf(settings).length;
  return 4 + spec.input.orgs.length + checks;
}

/**
 * Import up to MAX_IMPORT_BATCH keys, each as `importKey` would (plaintext or hash; the same
 * validation, field rules and orgs), independently: a bad or refused item is reported by
 * its index and the others go on; a key already stored is skipped (so a batch sent again
 * resumes). Within deps.importBudget KV operations (a Worker's invocation allows 1,000),
 * the items that would not fit are answered `deferred`, to be sent again. One audit event
 * and one publication on the revocation feed for the whole batch.
 */
export async function importKeys(deps: ManageDeps, p: Principal, items: unknown): Promise<Outcome<ImportBatchAnswer>> {
  const allowed = decide(p, "import");
  if (!allowed.ok) return failure(allowed);
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_IMPORT_BATCH)
    return {
      ok: false,
      error: "invalid",
      errors: [{ field: "(body)", message: `must be one key or an array of 1–${MAX_IMPORT_BATCH} keys to import` }],
    };
  const results: ImportResult[] = items.map((_, index) => ({ index, status: "deferred" }));
  const specs: (ImportSpec | null)[] = [];
  // The audit event's global entry, then one per org it names.
  let budget = (deps.importBudget ?? Infinity) - 1;
  const orgsNamed = new Set<string>();
  /** The KV identities of the items taken so far (issue.ts importIdentity): item index by identity. */
  const seen = new Map<string, number>();
  for (const [index, body] of items.entries()) {
    const one = await importChecked(deps, p, body);
    if (!one.ok) {
      results[index] =
        one.error === "invalid"
          ? { index, status: "invalid", errors: one.errors }
          : { index, status: "refused", message: one.message };
      specs.push(null);
      continue;
    }
    // The same key twice in one batch (as given, or as a plaintext and its hash) is refused
    // after its first: the items are stored concurrently and KV has no compare-and-set, so
    // both were stored, one record over the other, and the first key's id was left broken.
    const identity = await importIdentity(deps.settings, one.value);
    const names = [identity.hash, ...identity.aliases.map((a) => a.identity)];
    const earlier = names.map((n) => seen.get(n)).find((i) => i !== undefined);
    if (earlier !== undefined) {
      results[index] = {
        index,
        status: "refused",
        message: `the same key as item ${earlier} of this batch: give each key once`,
        duplicate_of: earlier,
      };
      specs.push(null);
      continue;
    }
    for (const n of names) seen.set(n, index);
    const newOrgs = one.value.input.orgs.filter((o) => !orgsNamed.has(o));
    const cost = importOperations(one.value, deps.settings) + newOrgs.length;
    if (cost > budget) {
      results[index] = { index, status: "deferred", message: "not tried within this call's budget: send it again" };
      specs.push(null);
      budget = 0; // the rest too: a batch resumes in order
      continue;
    }
    budget -= cost;
    for (const o of newOrgs) orgsNamed.add(o);
    specs.push(one.value);
  }
  const ctx = lifecycleOf(deps, p);
  const stored: Imported[] = [];
  const legacy = new Set<LegacyAlgorithm>();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < specs.length; i = next++) {
      const spec = specs[i];
      if (!spec) continue;
      const outcome = await importStored(ctx, spec, { audit: false });
      if (outcome.ok) {
        stored.push(outcome.value);
        results[i] = {
          index: i,
          status: "imported",
          id: outcome.value.record.id,
          state: outcome.value.pending ? "pending" : "migrated",
        };
      } else
        results[i] = {
          index: i,
          status: "skipped",
          message: outcome.error === "conflict" ? outcome.message : "already stored",
        };
      if (outcome.ok || outcome.error === "conflict") for (const a of pendingUnder(deps, spec)) legacy.add(a);
    }
  };
  const lanes = Math.min(deps.importConcurrency ?? DEFAULT_IMPORT_CONCURRENCY, specs.length);
  await Promise.all(Array.from({ length: lanes }, worker));
  await auditImports(ctx, stored);
  await publishImported(ctx, stored);
  // One call to the webhook hub for the batch, as one audit event and one publication.
  await tellImported(ctx, stored);
  await settleLegacy(deps, [...legacy]);
  const count = (...s: ImportStatus[]) => results.filter((r) => s.includes(r.status)).length;
  return {
    ok: true,
    value: {
      imported: count("imported"),
      skipped: count("skipped"),
      failed: count("invalid", "refused"),
      deferred: count("deferred"),
      results,
    },
  };
}

// ---- the migration's progress ----

/** Pages of markers read at most (1,000 each): within a Worker's 1,000 KV operations per call. */
const MAX_MARKER_PAGES = 900;

export interface MigrationCounts {
  /** Keys imported (plaintext or hash). */
  imported: number;
  /** In keygate's own index: imported as plaintext or in keygate's scheme, or re-indexed at first use. */
  migrated: number;
  /** Imported by hash and not used since: looked up under their legacy hash. */
  pending: number;
  /** Imported by hash, revoked or rotated before any use: never re-indexed. */
  retired: number;
}

export interface MigrationAnswer {
  org: string | null;
  totals: MigrationCounts;
  orgs: ({ org: string } & MigrationCounts)[];
  /** The legacy algorithms the gateway still looks missed keys up under (none once nothing is pending). */
  legacy_lookups: LegacyAlgorithm[];
  /** Every marker was read (false past MAX_MARKER_PAGES pages: the counts are partial). */
  complete: boolean;
}

const zero = (): MigrationCounts => ({ imported: 0, migrated: 0, pending: 0, retired: 0 });
const STATE_FIELD: Record<MigrationState, keyof MigrationCounts> = {
  pending: "pending",
  migrated: "migrated",
  retired: "retired",
};

/** GET /migration's query: `org` alone, optional (also the keys CLI's check before it opens anything). */
export function validateMigrationQuery(
  query: Record<string, unknown>,
): { ok: true; value: { org: string | null } } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  for (const k of Object.keys(query)) if (k !== "org") errors.push({ field: k, message: "unknown parameter" });
  const org = query.org ?? null;
  if (org !== null && (typeof org !== "string" || !ORG_RE.test(org)))
    errors.push({ field: "org", message: "must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128)" });
  return errors.length ? { ok: false, errors } : { ok: true, value: { org: org as string | null } };
}

/**
 * {imported, migrated, pending, retired} per org (and in total) — `org` (one org), else
 * every org the principal reaches. Read from the import markers (one KV list per 1,000
 * imported keys). When every marker was read, a legacy algorithm without any pending key
 * left is retired from the gateway's lookups (`legacy-algorithms`); the lookups are told to
 * every isolate again (the revocation feed).
 */
export async function migrationStatus(
  deps: ManageDeps,
  p: Principal,
  query: Record<string, unknown>,
): Promise<Outcome<MigrationAnswer>> {
  const allowed = decide(p, "migration");
  if (!allowed.ok) return failure(allowed);
  const checked = validateMigrationQuery(query);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const org = checked.value.org;
  if (org !== null) {
    const d = decide(p, "migration", { orgs: [org] });
    if (!d.ok) return failure(d);
  }
  const limited = orgsOf(p);
  const sees = (o: string) => (org === null ? limited === null || limited.includes(o) : o === org);
  const { markers, complete } = await readMarkers(deps.kv, MAX_MARKER_PAGES);
  const totals = zero();
  const byOrg = new Map<string, MigrationCounts>();
  const pendingBy = new Set<string>();
  for (const { marker } of markers) {
    if (marker.state === "pending" && marker.from !== "plaintext") pendingBy.add(marker.from);
    const visible = marker.orgs.filter(sees);
    if (visible.length === 0) continue;
    const field = STATE_FIELD[marker.state];
    totals.imported++;
    totals[field]++;
    for (const o of visible) {
      let c = byOrg.get(o);
      if (!c) byOrg.set(o, (c = zero()));
      c.imported++;
      c[field]++;
    }
  }
  let lookups = await readLegacyAlgorithms(deps.kv);
  if (complete && lookups.some((a) => !pendingBy.has(a))) {
    lookups = lookups.filter((a) => pendingBy.has(a));
    await writeLegacyAlgorithms(deps.kv, lookups);
  }
  // Told again every time (best effort: this is a read): a gateway that was not running when
  // keys were imported (the CLI on local state) learns it here.
  try {
    await deps.legacyPublish?.(lookups);
  } catch (err) {
    logLine("warn", "legacy lookups not published (the revocation feed): told at the next import or status", {
      ...(deps.requestId ? { request_id: deps.requestId } : {}),
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  return {
    ok: true,
    value: {
      org: org as string | null,
      totals,
      orgs: [...byOrg.entries()].map(([o, c]) => ({ org: o, ...c })).sort((a, b) => a.org.localeCompare(b.org)),
      legacy_lookups: lookups,
      complete,
    },
  };
}

// ---- the shadow report ----

/**
 * The shadow report (manage/shadow.ts) for `p`: every request for root and "*" tokens (org
 * optional); an org-scoped token names one of its orgs (default: its one org), and sees
 * only the requests of keys of that org.
 */
export async function shadowReport(
  deps: ManageDeps,
  p: Principal,
  query: Record<string, unknown>,
): Promise<Outcome<ShadowAnswer>> {
  const allowed = decide(p, "shadow");
  if (!allowed.ok) return failure(allowed);
  const checked = validateShadowQuery(query, deps.now);
  if (!checked.ok) return { ok: false, error: "invalid", errors: checked.errors };
  const q = checked.value;
  const limited = orgsOf(p);
  if (q.org === null && limited !== null) {
    if (limited.length !== 1)
      return {
        ok: false,
        error: "invalid",
        errors: [
          { field: "org", message: `is required: this caller acts for several orgs (${limited.join(", ")}); name one` },
        ],
      };
    q.org = limited[0]!;
  }
  if (q.org !== null) {
    const d = decide(p, "shadow", { orgs: [q.org] });
    if (!d.ok) return failure(d);
  }
  if (!deps.shadow)
    return {
      ok: false,
      error: "unavailable",
      message:
        "No SHADOW_STORE Durable Object binding: report mode's comparisons are not recorded (see wrangler.toml).",
    };
  return { ok: true, value: shadowAnswer(q, await deps.shadow(q)) };
}
