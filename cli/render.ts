/**
 * What the CLI prints: the human form of each admin API answer (tables and summaries), or
 * with --json exactly the API's answer on one line. Pure functions of the answer.
 */
import type { KeyView } from "../src/keys/fields";
import type { LeakRecord } from "../src/keys/record";
import type { AuditEvent } from "../src/keys/store/audit";
import type { TokenView } from "../src/keys/token";
import type { UsageAnswer } from "../src/manage/usage";
import type { Json } from "./args";

/** stdout for one answer: --json prints the API's answer as is. */
export function output(value: Json, json: boolean, human: (value: Json) => string): string {
  return (json ? JSON.stringify(value) : human(value)) + "\n";
}

export function isoShort(iso: string | null | undefined, none = "never"): string {
  return iso ? iso.replace(/\.\d{3}Z$/, "Z") : none;
}

/** Columns padded to their widest cell (the last one unpadded), two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .join("\n");
}

// ---- keys ----

/** How a limit is counted (docs/limits.md): exact, or per region (the default). */
function modeNote(rl: { mode?: string }): string {
  return rl.mode === "exact" ? ", exact" : ", per region";
}

export function describeKey(k: KeyView): string {
  const lines = [
    `${k.id}${k.name ? ` ("${k.name}")` : ""}`,
    `  status:     ${k.status}`,
    `  prefix:     ${k.key_prefix}`,
    `  orgs:       ${k.orgs.join(", ")}`,
    `  scopes:     ${k.scopes.length ? k.scopes.join(", ") : "(none)"}`,
    `  created:    ${isoShort(k.created_at)}`,
    `  expires:    ${isoShort(k.expires_at)}`,
    `  last used:  ${isoShort(k.last_used_at)}`,
    `  rate limit: ${k.rate_limit ? `${k.rate_limit.limit} requests per ${k.rate_limit.period_seconds} s${modeNote(k.rate_limit)}` : "none"}`,
  ];
  if (k.credits) lines.push(`  credits:    ${creditsLine(k.credits)}`);
  if (k.revoked_at)
    lines.push(`  revoked:    ${isoShort(k.revoked_at)}${k.revoked_reason ? ` (${k.revoked_reason})` : ""}`);
  if (k.leaked) lines.push(`  leaked:     ${leakedLine(k.leaked)}`);
  if (k.replaced_by) lines.push(`  rotated:    ${isoShort(k.rotated_at)}, replaced by ${k.replaced_by}`);
  if (k.replaces) lines.push(`  replaces:   ${k.replaces}`);
  if (k.meta && Object.keys(k.meta).length)
    lines.push(
      `  meta:       ${Object.entries(k.meta)
        .map(([a, b]) => `${a}=${b}`)
        .join(", ")}`,
    );
  return lines.join("\n");
}

/** A metered key's balance: the live `remaining` (null: the balance could not be read) and its next refill. */
export function creditsLine(c: NonNullable<KeyView["credits"]>): string {
  const left = c.remaining === null ? "unknown (the balance is kept by the running gateway)" : `${c.remaining} left`;
  const refill = c.refill
    ? `, refilled to ${c.refill.amount} on ${isoShort(c.refills_at)} (each ${c.refill.interval})`
    : ", no refill";
  return left + refill;
}

/** What a leak report did, in words. */
const LEAK_DONE: Record<LeakRecord["action"], string> = {
  revoke: "revoked",
  disable: "disabled",
  report: "recorded only (LEAKED_KEY_ACTION=report)",
  none: "already revoked",
};

/** "Reported leaked at <url> on <date> by <reporter> (<source>): revoked" (docs/leaked-keys.md). */
export function leakedLine(leak: LeakRecord): string {
  return `Reported leaked ${leak.url ? `at ${leak.url} ` : ""}on ${isoShort(leak.at)} by ${leak.reporter} (${leak.source}): ${LEAK_DONE[leak.action]}`;
}

export function showOnce(secret: string, what = "key"): string {
  return `\n  ${secret}\n\nThis is the only time the ${what} is shown: store it now.`;
}

export function created(v: Json): string {
  const k = v as unknown as KeyView & { key: string };
  return `Created key ${k.id}${k.name ? ` ("${k.name}")` : ""} for ${k.orgs.join(", ")}\n${describeKey(k).split("\n").slice(1).join("\n")}\n${showOnce(k.key)}`;
}

export function rotated(v: Json): string {
  const previous = v.previous as KeyView;
  const stops =
    previous.status === "rotated" ? "stopped working now" : `keeps working until ${isoShort(previous.expires_at)}`;
  return `Rotated ${previous.id}: it ${stops}.\nNew key ${describeKey(v as unknown as KeyView)}\n${showOnce(v.key as string)}`;
}

export function keyTable(keys: KeyView[]): string {
  if (keys.length === 0) return "(no keys)";
  return table([
    ["ID", "NAME", "PREFIX", "STATUS", "SCOPES", "CREATED", "LAST USED", "EXPIRES"],
    ...keys.map((k) => [
      k.id,
      k.name || "-",
      k.key_prefix,
      k.status,
      k.scopes.join(",") || "-",
      isoShort(k.created_at),
      isoShort(k.last_used_at),
      isoShort(k.expires_at),
    ]),
  ]);
}

export function auditTable(events: AuditEvent[]): string {
  if (events.length === 0) return "(no events)";
  const details = (e: AuditEvent) => {
    if (e.action === "rotate") return `new key ${e.new_key_id}, grace ${e.grace_seconds ?? 0} s`;
    if (e.action === "key.leaked" && e.leak)
      return `${LEAK_DONE[e.leak.action]}, source ${e.leak.source}${e.leak.url ? `, at ${e.leak.url}` : ""}`;
    if (e.changes)
      return Object.entries(e.changes)
        .map(([f, c]) => `${f}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`)
        .join("; ");
    return "";
  };
  return table([
    ["AT", "ACTOR", "ACTION", "KEY", "DETAILS"],
    ...events.map((e) => [
      isoShort(e.at),
      e.actor,
      e.action,
      e.key_id ?? e.token_id ?? e.webhook_id ?? (e.key_ids ? `${e.key_ids.length} keys` : "-"),
      details(e),
    ]),
  ]);
}

/**
 * A leak report's answer (`leaked --file`): one row per token, named by its line in the file
 * (never by its value), whether it is a key of this gateway, which, and its status now.
 */
export function leakedHuman(v: Json, lines: readonly number[], file: string): string {
  const results = v.results as { label: string; key_id?: string; status?: string; refused?: string }[];
  const keys = results.filter((r) => r.label === "true_positive").length;
  const head = `${file}: ${results.length} token${results.length === 1 ? "" : "s"}, ${keys} of them ${keys === 1 ? "a key" : "keys"} of this gateway.`;
  const rows = results.map((r, i) => [
    String(lines[i] ?? i + 1),
    r.label,
    r.key_id ?? "-",
    r.refused ? `unchanged: ${r.refused}` : (r.status ?? "-"),
  ]);
  return `${head}
${table([["LINE", "LABEL", "KEY", "STATUS"], ...rows])}`;
}

/** The command for the next page, when the answer has a cursor. */
export function nextPage(cursor: unknown, command: string): string {
  return typeof cursor === "string" ? `\n\nMore: npm run keys -- ${command} --cursor '${cursor}'` : "";
}

// ---- orgs and usage ----

export function describeOrg(v: Json): string {
  const rl = v.rate_limit as { limit: number; period_seconds: number; mode?: string } | null;
  return `org ${v.org}: ${rl ? `rate limit ${rl.limit} requests per ${rl.period_seconds} s${modeNote(rl)} (shared by all its keys)` : "no org-wide rate limit"}`;
}

export function usageHuman(v: Json): string {
  const a = v as unknown as UsageAnswer;
  const by = Object.entries(a.totals.rejected_by_status ?? {})
    .map(([s, n]) => `${s}: ${n}`)
    .join(", ");
  const lines = [
    `${a.org}${a.key ? ` / ${a.key}` : ""}, ${a.from.replace(/\.000Z$/, "Z")} → ${a.to.replace(/\.000Z$/, "Z")} (per ${a.granularity})`,
    `  requests ${a.totals.requests}, forwarded ${a.totals.forwarded}, rejected ${a.totals.rejected}${by ? ` (${by})` : ""}`,
  ];
  const busy = a.series.filter((s) => s.requests > 0);
  if (busy.length > 0) {
    const w = Math.max(...busy.map((s) => String(s.requests).length), 8);
    lines.push("", `  ${"START".padEnd(20)}  ${"REQUESTS".padStart(w)}  FORWARDED  REJECTED`);
    for (const s of busy)
      lines.push(
        `  ${s.start.replace(/\.000Z$/, "Z").padEnd(20)}  ${String(s.requests).padStart(w)}  ${String(s.forwarded).padStart(9)}  ${String(s.rejected).padStart(8)}`,
      );
  }
  return lines.join("\n");
}

// ---- scoped admin tokens ----

export function describeToken(t: TokenView): string {
  return [
    `${t.id} ("${t.name}")`,
    `  status:   ${t.status}`,
    `  prefix:   ${t.token_prefix}`,
    `  orgs:     ${t.orgs.join(", ")}`,
    `  role:     ${t.role}`,
    `  created:  ${isoShort(t.created_at)}`,
    `  expires:  ${isoShort(t.expires_at)}`,
    ...(t.revoked_at ? [`  revoked:  ${isoShort(t.revoked_at)}`] : []),
  ].join("\n");
}

export function tokenTable(tokens: TokenView[]): string {
  if (tokens.length === 0) return "(no tokens)";
  return table([
    ["ID", "NAME", "PREFIX", "ORGS", "ROLE", "STATUS", "CREATED", "EXPIRES"],
    ...tokens.map((t) => [
      t.id,
      t.name,
      t.token_prefix,
      t.orgs.join(","),
      t.role,
      t.status,
      isoShort(t.created_at),
      isoShort(t.expires_at),
    ]),
  ]);
}
