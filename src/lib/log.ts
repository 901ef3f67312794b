/**
 * Structured logs: one JSON line per event — the access log's line per request
 * (edge/gateway/respond.ts writeAccessLog) and error lines. Never a key, never an
 * Authorization value: only the key's id and what the gateway decided.
 */
export function logLine(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
  writeLine({ level, msg, ...fields });
}

/** One line from a record that starts with its level and message (the access log builds it so: no copy per request). */
export function writeLine(record: { level: "info" | "warn" | "error"; msg: string } & Record<string, unknown>): void {
  const line = JSON.stringify(record);
  if (record.level === "error") console.error(line);
  else console.log(line);
}
