/**
 * Credits (a key record's `credits`, docs/limits.md): each forwarded request spends one,
 * exactly and globally — the balance lives in the key's KeyRateLimiter Durable Object
 * (addressed by `credits.balance_id`), which serializes every spend. At zero the request is
 * refused with the profile's 429. Keys without credits never touch it.
 *
 * Unlike rate limits, credits are something a customer pays for: when the object cannot
 * be asked, the request is refused (503), never let through unmetered.
 */
import { emit } from "../../events/emit";
import { creditsEvent } from "../../events/types";
import type { Credits, KeyRecord } from "../../keys/record";
import type { Result } from "../../lib/result";
import { failed, ok } from "../../lib/result";
import type { KeyRateLimiter } from "../../objects/key-rate-limiter";
import type { CreditOutcome } from "../../objects/protocol";
import { refillPeriod } from "../../objects/protocol";
import type { WebhookHub } from "../../objects/webhooks";

export const CREDITS_TIMEOUT_MS = 1_000;

/**
 * Spend one credit (a forwarded request): exact across isolates; a failure is never a pass.
 * `lowPercent` (CREDITS_LOW_PERCENT): the outcome says when this spend crossed it, or
 * reached 0 — once per fill of the balance (tellCredits sends the events).
 */
export function spendCredit(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
  lowPercent = 0,
): Promise<Result<CreditOutcome>> {
  return askBalance(ns, credits, "spend", lowPercent);
}

/**
 * Tell the webhooks that a spend crossed a threshold (credits.low, credits.exhausted): in
 * `waitUntil`, so the request waits for nothing. `period` names the fill, for the hub's
 * once-per-webhook guard.
 */
export function tellCredits(
  ns: DurableObjectNamespace<WebhookHub> | undefined,
  waitUntil: (p: Promise<unknown>) => void,
  record: Pick<KeyRecord, "id" | "orgs" | "name" | "credits">,
  outcome: CreditOutcome,
  lowPercent: number,
  now: number,
  requestId: string,
): void {
  if (!ns || !outcome.crossed || !record.credits) return;
  const c = record.credits;
  const period = `${c.balance_id}:${c.set_at}:${c.refill ? refillPeriod(c.refill.interval, now) : 0}`;
  for (const which of outcome.crossed) {
    const event = creditsEvent(
      which === "low" ? "credits.low" : "credits.exhausted",
      record,
      { remaining: outcome.remaining, basis: outcome.basis ?? 0, threshold_percent: lowPercent, period },
      now,
    );
    waitUntil(emit(ns, event, requestId));
  }
}

/**
 * Whether a credit is left, without spending one: a key's calls to the self-service API
 * spend nothing, but a key at zero is refused there as it is on the gateway.
 */
export function creditLeft(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
): Promise<Result<CreditOutcome>> {
  return askBalance(ns, credits, "balance");
}

async function askBalance(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
  method: "spend" | "balance",
  lowPercent = 0,
): Promise<Result<CreditOutcome>> {
  if (!ns) return failed("no KEY_RATE_LIMITER Durable Object binding: credits cannot be counted");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const stub = ns.get(ns.idFromName(credits.balance_id));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`credits did not answer within ${CREDITS_TIMEOUT_MS} ms`)),
        CREDITS_TIMEOUT_MS,
      );
    });
    const asked = method === "spend" ? stub.spend(credits, lowPercent) : stub.balance(credits);
    return ok((await Promise.race([asked, timeout])) as CreditOutcome);
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
