/**
 * Handing an event to the webhook hub (objects/webhooks.ts): one call that stores it for
 * every webhook that wants it, then the hub delivers it from its alarm. That call is all a
 * change pays — an admin answer waits for the enqueue (bounded by ENQUEUE_TIMEOUT_MS) and
 * never for a receiver; the gateway hands it to waitUntil and waits for nothing. It never
 * throws: the change it tells of is already made, so a failure is logged and the event is
 * lost (the audit log still has the change).
 */
import { logLine } from "../lib/log";
import { WEBHOOKS_OBJECT_NAME } from "../objects/protocol";
import type { WebhookHub } from "../objects/webhooks";
import type { Emit, GatewayEvent } from "./types";
import { isBatch } from "./types";

/** Bound on an enqueue's wait for the hub. */
export const ENQUEUE_TIMEOUT_MS = 2_000;

/** The hub of a WEBHOOKS binding. */
export function webhookHub(ns: DurableObjectNamespace<WebhookHub>): DurableObjectStub<WebhookHub> {
  return ns.get(ns.idFromName(WEBHOOKS_OBJECT_NAME));
}

/**
 * Queue one event on the hub, or a batch of them in one call (a bulk import's: one call per
 * batch, not one per key), within ENQUEUE_TIMEOUT_MS; a failure is logged, never thrown.
 */
export async function emit(
  ns: DurableObjectNamespace<WebhookHub> | undefined,
  events: GatewayEvent | readonly GatewayEvent[],
  requestId?: string,
): Promise<void> {
  if (!ns) return;
  const batch = isBatch(events) ? events : null;
  if (batch?.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve(batch ? webhookHub(ns).enqueueAll([...batch]) : webhookHub(ns).enqueue(events as GatewayEvent)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the webhook hub did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)),
          ENQUEUE_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    logLine("error", "webhook event not queued (the change itself is made)", {
      ...(requestId ? { request_id: requestId } : {}),
      ...(batch
        ? { type: [...new Set(batch.map((e) => e.type))].join(","), events: batch.length }
        : { type: (events as GatewayEvent).type, subject: (events as GatewayEvent).subject }),
      cause: err instanceof Error ? err.message : String(err),
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** An Emit bound to a binding (none without one: nothing is sent). */
export function emitterFor(ns: DurableObjectNamespace<WebhookHub> | undefined, requestId?: string): Emit | undefined {
  return ns ? (events) => emit(ns, events, requestId) : undefined;
}
