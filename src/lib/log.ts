/**
 * Structured logs: one JSON line per event — the access log's line per request
 * (edge/gateway/respond.ts writeAccessLog) and error lines. Never a key, never an
 * Authorization value: only the key's id and what the gateway decided.
 */
export function logLine(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
}
