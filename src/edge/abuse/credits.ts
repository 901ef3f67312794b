/**
 * Credits (a key record's `credits`, docs/limits.md): each forwarded request spends one,
 * exactly and globally — the balance lives in the key's KeyRateLimiter Durable Object
 * (addressed by `credits.balance_id`), which serializes every spend. At zero the request is
 * refused with the profile's 429. Keys without credits never touch it.
 *
 * Unlike rate limits, credits are something a customer pays for: when the object cannot
 * be asked, the request is refused (503), never let through unmetered.
 */
import type { Credits } from "../../keys/record";
import type { Result } from "../../lib/result";
import { failed, ok } from "../../lib/result";
import type { KeyRateLimiter } from "../../objects/key-rate-limiter";
import type { CreditOutcome } from "../../objects/protocol";

export const CREDITS_TIMEOUT_MS = 1_000;

/** Spend one credit (a forwarded request): exact across isolates; a failure is never a pass. */
export function spendCredit(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
): Promise<Result<CreditOutcome>> {
  return askBalance(ns, credits, "spend");
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
    const asked = method === "spend" ? stub.spend(credits) : stub.balance(credits);
    return ok((await Promise.race([asked, timeout])) as CreditOutcome);
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
