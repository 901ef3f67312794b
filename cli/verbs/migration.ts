/**
 * The migration verbs (docs/migrating.md):
 *
 *   import --file keys.jsonl [--org ORG …]   many keys, one JSON object per line (`key` or `hash`,
 *                                            the usual fields); flags give defaults for lines that
 *                                            lack them. Sent in batches of ≤ 1,000 (POST /keys/import
 *                                            with an array, or the core on local state); a progress
 *                                            bar on stderr; a bad line is reported by its number and
 *                                            the rest go on; a key already stored is skipped, so the
 *                                            same command resumes an interrupted import.
 *   migration [--org ORG]                    imported, migrated, pending keys per org
 *   shadow [--since 24h] [--route R] [--org ORG]   report mode's comparisons: safe to switch?
 */
import type { FieldError } from "../../src/keys/issue";
import { validateImport } from "../../src/keys/issue";
import { validateMigrationQuery } from "../../src/manage/migration";
import { validateShadowQuery } from "../../src/manage/shadow";
import type { Json, Options, Values } from "../args";
import {
  expiresOf,
  flagMessage,
  limitFields,
  metaOf,
  precheck,
  Refused,
  rateLimitOf,
  readFileFlag,
  scopesOf,
  sinceMs,
  UsageError,
} from "../args";
import type { Backend } from "../backends/backend";
import type { Io, Plan, Verb } from "../run";

/** Keys per batch: the admin API's most per call. */
export const IMPORT_BATCH = 1_000;
/** A batch's JSON stays well under the admin API's body limit (2 MiB). */
const IMPORT_BATCH_BYTES = 1024 * 1024;

/** What a flag given next to --file sets on every line that does not set it itself. */
function lineDefaults(values: Values): Json {
  return {
    ...(values.org !== undefined ? { orgs: values.org } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.scopes !== undefined ? { scopes: scopesOf(values.scopes as string) } : {}),
    ...(values.expires !== undefined ? { expires_at: expiresOf(values.expires as string) } : {}),
    ...(values.meta !== undefined ? { meta: metaOf(values.meta as string[]) } : {}),
    ...(values["rate-limit"] !== undefined ? { rate_limit: rateLimitOf(values["rate-limit"] as string) } : {}),
    ...limitFields(values),
  };
}

/**
 * The defaults the flags give every line, checked as an import's fields are (a line's own
 * fields are its own: a bad line is reported by its number, never a usage error). A line
 * names its key or hash, and may name its orgs: stand-ins for what the flags cannot give.
 */
function precheckDefaults(defaults: Json): void {
  if (Object.keys(defaults).length === 0) return;
  const checked = validateImport({ orgs: ["o"], ...defaults, key: "k" }, Date.now(), null);
  precheck(checked.ok ? checked : { ok: false, errors: checked.errors.filter((e) => e.field !== "key") });
}

const grouped = (n: number) => n.toLocaleString("en-US");

/** The progress line: a bar, the lines done, the rate. */
function progressLine(done: number, total: number, started: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const seconds = (Date.now() - started) / 1000;
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${grouped(done)}/${grouped(total)} lines · ${grouped(rate)} keys/s · ${Math.round(seconds)} s`;
}

interface Line {
  line: number;
  body: Json;
}

export interface BulkImportAnswer extends Json {
  lines: number;
  imported: number;
  /** Of those, imported by hash and waiting for their first use. */
  pending: number;
  skipped: number;
  failed: number;
  failures: { line: number; errors: string[] }[];
  seconds: number;
}

/**
 * `import --file`: read, batch, send, report — the bad lines by number, without stopping.
 * The file is read, and the flags that give its lines defaults checked, before anything opens.
 */
export function bulkImportPlan(values: Values): Plan {
  if (values.key !== undefined || values.hash !== undefined || values["key-prefix"] !== undefined)
    throw new UsageError("--file carries the keys itself: --key, --hash and --key-prefix go in its lines");
  const file = values.file as string;
  const defaults = lineDefaults(values);
  precheckDefaults(defaults);
  const text = readFileFlag(file);
  return {
    async call(backend: Backend, io: Io) {
      const started = Date.now();
      const answer: BulkImportAnswer = {
        lines: 0,
        imported: 0,
        pending: 0,
        skipped: 0,
        failed: 0,
        failures: [],
        seconds: 0,
      };
      const fail = (line: number, errors: string[]) => {
        answer.failed++;
        answer.failures.push({ line, errors });
        io.stderr(`${io.tty ? "\r\x1b[K" : ""}line ${line}: ${errors.join("; ")}\n`);
      };
      const queue: Line[] = [];
      const raw = text.split("\n");
      for (let i = 0; i < raw.length; i++) {
        const t = raw[i]!.trim();
        if (t === "") continue;
        answer.lines++;
        let parsed: unknown;
        try {
          parsed = JSON.parse(t);
        } catch {
          fail(i + 1, ["not valid JSON"]);
          continue;
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          fail(i + 1, ["must be one JSON object (with `key` or `hash`, and the key's fields)"]);
          continue;
        }
        queue.push({ line: i + 1, body: { ...defaults, ...(parsed as Json) } });
      }
      let done = answer.failed;
      let lastReport = 0;
      const report = (final = false) => {
        const now = Date.now();
        if (io.tty) io.stderr(`\r\x1b[K${progressLine(done, answer.lines, started)}${final ? "\n" : ""}`);
        else if (final || now - lastReport >= 5_000) {
          io.stderr(`${progressLine(done, answer.lines, started)}\n`);
          lastReport = now;
        }
      };
      report();
      // A gateway stores what fits its budget of KV operations per call and defers the rest:
      // the next batches are sized to what it took.
      let size = IMPORT_BATCH;
      while (queue.length > 0) {
        const batch: Line[] = [];
        let bytes = 2;
        while (batch.length < size && queue.length > 0) {
          const size = JSON.stringify(queue[0]!.body).length + 1;
          if (batch.length > 0 && bytes + size > IMPORT_BATCH_BYTES) break;
          bytes += size;
          batch.push(queue.shift()!);
        }
        const outcome = await backend.importMany(batch.map((l) => l.body));
        if (!outcome.ok) {
          if (outcome.error === "invalid")
            throw new Refused(`the gateway refused the batch: ${outcome.errors.map((e) => flagMessage(e)).join("; ")}`);
          throw new Refused(outcome.message);
        }
        const results = (outcome.value.results ?? []) as {
          index: number;
          status: string;
          state?: string;
          errors?: FieldError[];
          message?: string;
          duplicate_of?: number;
        }[];
        const deferred: Line[] = [];
        for (const r of results) {
          const l = batch[r.index]!;
          if (r.status === "deferred") {
            deferred.push(l);
            continue;
          }
          done++;
          if (r.status === "imported") {
            answer.imported++;
            if (r.state === "pending") answer.pending++;
          } else if (r.status === "skipped") answer.skipped++;
          else if (r.duplicate_of !== undefined && batch[r.duplicate_of])
            fail(l.line, [`the same key as line ${batch[r.duplicate_of]!.line}: give each key once`]);
          else fail(l.line, r.errors ? r.errors.map((e) => flagMessage(e)) : [r.message ?? r.status]);
        }
        if (deferred.length === batch.length) throw new Refused("the gateway took none of a batch: try again later");
        if (deferred.length > 0) size = batch.length - deferred.length;
        queue.unshift(...deferred);
        report();
      }
      report(true);
      answer.seconds = Math.round((Date.now() - started) / 100) / 10;
      return { ok: true, value: answer };
    },
    human(v) {
      const a = v as BulkImportAnswer;
      const rate = a.seconds > 0 ? ` (${grouped(Math.round((a.imported + a.skipped) / a.seconds))} keys/s)` : "";
      return (
        `${grouped(a.lines)} lines in ${a.seconds} s${rate}: ${grouped(a.imported)} imported` +
        (a.pending ? ` (${grouped(a.pending)} by hash, re-indexed at their first use)` : "") +
        `, ${grouped(a.skipped)} already stored, ${grouped(a.failed)} bad line${a.failed === 1 ? "" : "s"}` +
        (a.failed ? ` (listed above; fix them and run the same command again: what is stored is skipped)` : "") +
        "."
      );
    },
    exitCode: (v) => ((v as BulkImportAnswer).failed > 0 ? 1 : 0),
  };
}

export const MIGRATION_VERB: Verb = {
  options: { org: { type: "string" } } as const satisfies Options,
  positionals: false,
  plan({ values }) {
    const query = values.org !== undefined ? { org: values.org } : {};
    precheck(validateMigrationQuery(query));
    return {
      call: (b) => b.migration(query),
      human(v) {
        type Counts = { imported: number; migrated: number; pending: number; retired: number };
        const t = v.totals as Counts;
        const line = (c: Counts) =>
          `${grouped(c.imported)} imported, ${grouped(c.migrated)} migrated, ${grouped(c.pending)} pending` +
          (c.retired ? `, ${grouped(c.retired)} retired unused` : "");
        const orgs = (v.orgs as ({ org: string } & Counts)[]).map((o) => `  ${o.org}: ${line(o)}`);
        const lookups = v.legacy_lookups as string[];
        return [
          `Imported keys${v.org ? ` of ${v.org}` : ""}: ${line(t)}`,
          ...orgs,
          lookups.length
            ? `While keys are pending, a key that misses keygate's index is looked up under its ${lookups.join(", ")} hash too.`
            : "No legacy lookup: every imported key is in keygate's own index.",
          ...(v.complete === false ? ["(counted from the first 900,000 imports only)"] : []),
        ].join("\n");
      },
    };
  },
};

export const SHADOW_VERB: Verb = {
  options: { since: { type: "string" }, route: { type: "string" }, org: { type: "string" } } as const satisfies Options,
  positionals: false,
  plan({ values }) {
    const span = values.since === undefined ? 86_400_000 : sinceMs(values.since as string);
    const now = Date.now();
    const query = {
      from: new Date(now - span).toISOString(),
      to: new Date(now).toISOString(),
      ...(values.route !== undefined ? { route: values.route } : {}),
      ...(values.org !== undefined ? { org: values.org } : {}),
    };
    // The range is --since's (from = now − since).
    precheck(validateShadowQuery(query, now), { from: "--since", to: "--since" });
    return {
      call: (b) => b.shadow(query),
      human(v) {
        type Totals = Record<string, number>;
        const routes = v.routes as {
          route: string;
          totals: Totals;
          samples: Record<
            string,
            { request_id: string; method: string; path: string; origin_status: number; verdict: string }[]
          >;
        }[];
        const lines = [String(v.summary)];
        if (routes.length > 0) {
          lines.push(
            "",
            `  ${"ROUTE".padEnd(24)} REQUESTS  AGREE  WOULD_BREAK  WOULD_ADMIT  STATUS_DIFFERS  BODY_DIFFERS`,
          );
          for (const r of routes) {
            const t = r.totals;
            lines.push(
              `  ${r.route.padEnd(24)} ${String(t.requests).padStart(8)}  ${String(t.agree).padStart(5)}  ${String(t.would_break).padStart(11)}  ${String(t.would_admit).padStart(11)}  ${String(t.status_differs).padStart(14)}  ${String(t.body_differs).padStart(12)}`,
            );
            for (const cls of ["would_break", "status_differs", "body_differs", "would_admit"])
              for (const s of (r.samples[cls] ?? []).slice(0, 3))
                lines.push(
                  `      ${cls}: ${s.request_id} ${s.method} ${s.path} → origin ${s.origin_status}, keygate ${s.verdict}`,
                );
          }
        }
        return lines.join("\n");
      },
    };
  },
};
