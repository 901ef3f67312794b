/**
 * key.expiring (docs/webhooks.md): the Cron Trigger (wrangler.toml [triggers], hourly)
 * looks for keys whose expires_at falls within WEBHOOK_EXPIRY_NOTICE_DAYS and queues one
 * key.expiring each on the webhook hub, which sends it once per webhook and expiry (a key
 * whose expiry is changed is told again, for the new one). Only when an active webhook
 * wants the event: otherwise nothing is read. Revoked keys, and keys being rotated out
 * (their expiry is the rotation's grace), are not told.
 *
 * Cost when a webhook wants it: one KV list per 1,000 keys per run (each key's id pointer
 * carries its summary as metadata), and one call to the hub per page with expiring keys.
 */
import type { Config } from "../config/config";
import type { Env } from "../env";
import { webhookHub } from "../events/emit";
import type { GatewayEvent } from "../events/types";
import { keyEvent } from "../events/types";
import type { KeySummary } from "../keys/fields";
import { listAll } from "../keys/store/listings";
import { logLine } from "../lib/log";

/** Whether a listed key expires within the notice and is told of it. */
export function expiringWithin(s: KeySummary, now: number, noticeMs: number): boolean {
  if (s.expires_at === null || s.revoked_at !== null || s.replaced_by) return false;
  const at = Date.parse(s.expires_at);
  return at > now && at - now <= noticeMs;
}

/** One run of the scheduled handler: the keys told of their expiry. */
export async function expiryNotices(env: Env, config: Config, now: number): Promise<{ told: number }> {
  const ns = env.WEBHOOKS;
  if (!ns) return { told: 0 };
  const hub = webhookHub(ns);
  if (!(await hub.wants("key.expiring"))) return { told: 0 };
  let told = 0;
  let cursor: string | null = null;
  do {
    const page = await listAll(env.KEYS, 1_000, cursor, (s) => expiringWithin(s, now, config.webhooks.expiryNoticeMs));
    const events: GatewayEvent[] = page.items.map(({ summary: s }) =>
      keyEvent("key.expiring", s, "keygate", now, { expires_at: s.expires_at }, `key.expiring:${s.id}:${s.expires_at}`),
    );
    if (events.length) await hub.enqueueAll(events);
    told += events.length;
    cursor = page.cursor;
  } while (cursor !== null);
  if (told > 0) logLine("info", "key.expiring queued", { keys: told });
  return { told };
}
