/**
 * Credits (a key record's `credits`, docs/limits.md): each forwarded request spends one,
 * exactly — the balance lives in the key's KeyRateLimiter Durable Object (addressed by
 * `credits.balance_id`), which never hands out a credit twice. Requests spend near the
 * client: from their region's lease (regionalName(balance_id, region)), a small block of
 * the balance taken from the balance's object and refilled in the background; a spend that
 * finds the lease empty waits for the next block. What a region leased and did not spend
 * goes back to the balance when it stops spending. At zero the request is refused with the
 * profile's 429. Keys without credits never touch either object.
 *
 * Unlike rate limits, credits are something a customer pays for: when the lease cannot be
 * asked, the balance's own object is (an exact spend); when neither can, the request is
 * refused (503), never let through unmetered.
 */
import { emit } from "../../events/emit";
import { creditsEvent } from "../../events/types";
import type { Credits, KeyRecord } from "../../keys/record";
import { withDeadline } from "../../lib/deadline";
import { logLine } from "../../lib/log";
import type { Result } from "../../lib/result";
import { failed, ok } from "../../lib/result";
import type { KeyRateLimiter } from "../../objects/key-rate-limiter";
import { link } from "../../objects/link";
import type { CreditCrossing, CreditOutcome } from "../../objects/protocol";
import { refillPeriod, regionalName } from "../../objects/protocol";
import type { WebhookHub } from "../../objects/webhooks";
import type { Location } from "../location";

export const CREDITS_TIMEOUT_MS = 1_000;
/** How long the background ask for a lease's decided thresholds waits (waitUntil: never a request's). */
const CROSSINGS_TIMEOUT_MS = 5_000;

class TimedOut extends Error {}

function within<T>(asked: Promise<T>, ms = CREDITS_TIMEOUT_MS): Promise<T> {
  return withDeadline(asked, ms, () => new TimedOut(`credits did not answer within ${ms} ms`));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A spend's outcome; `later`: the thresholds an exchange this spend started will decide (ask in waitUntil). */
export type SpentCredit = CreditOutcome & { later?: () => Promise<CreditCrossing | null> };

/**
 * Spend one credit (a forwarded request) from the region's lease; exact across isolates
 * and regions; a failure is never a pass. A lease that failed (not one that was only slow:
 * it may still spend) is replaced by an exact spend at the balance itself.
 * `lowPercent` (CREDITS_LOW_PERCENT): the outcome says when the balance crossed it, or
 * reached 0 — once per fill, decided by the balance's object (at this spend, or at the
 * lease's exchange it started: `later`); tellCredits sends the events.
 */
export async function spendCredit(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
  where: () => Location,
  lowPercent = 0,
): Promise<Result<SpentCredit>> {
  if (!ns) return failed("no KEY_RATE_LIMITER Durable Object binding: credits cannot be counted");
  const region = where().region;
  try {
    const lease = link.to(ns, regionalName(credits.balance_id, region));
    const spent: SpentCredit = await within(Promise.resolve(lease.spendLeased(credits, region, lowPercent)));
    if (spent.pending) spent.later = () => within(Promise.resolve(lease.crossings()), CROSSINGS_TIMEOUT_MS);
    return ok(spent);
  } catch (err) {
    if (err instanceof TimedOut) return failed(err.message);
    try {
      return ok(await within(Promise.resolve(link.to(ns, credits.balance_id).spend(credits, lowPercent))));
    } catch (again) {
      return failed(`${message(err)}; the balance itself: ${message(again)}`);
    }
  }
}

/**
 * Tell the webhooks that the balance crossed a threshold (credits.low, credits.exhausted):
 * in `waitUntil`, so the request waits for nothing — what this spend's answer says, and
 * what the lease's exchange it started decides (`later`, asked in waitUntil too). `period`
 * names the fill, for the hub's once-per-webhook guard.
 */
export function tellCredits(
  ns: DurableObjectNamespace<WebhookHub> | undefined,
  waitUntil: (p: Promise<unknown>) => void,
  record: Pick<KeyRecord, "id" | "orgs" | "name" | "credits">,
  outcome: SpentCredit,
  lowPercent: number,
  now: number,
  requestId: string,
): void {
  if (!ns || !record.credits) return;
  const c = record.credits;
  const period = `${c.balance_id}:${c.set_at}:${c.refill ? refillPeriod(c.refill.interval, now) : 0}`;
  const tell = (crossed: CreditCrossing["crossed"], remaining: number, basis: number) =>
    crossed.map((which) =>
      emit(
        ns,
        creditsEvent(
          which === "low" ? "credits.low" : "credits.exhausted",
          record,
          { remaining, basis, threshold_percent: lowPercent, period },
          now,
        ),
        requestId,
      ),
    );
  if (outcome.crossed) for (const p of tell(outcome.crossed, outcome.remaining, outcome.basis ?? 0)) waitUntil(p);
  const later = outcome.later;
  if (later)
    waitUntil(
      later().then(
        (decided) => (decided ? Promise.all(tell(decided.crossed, decided.remaining, decided.basis)) : undefined),
        // Not lost: the lease keeps them for its next spend's answer, or gives them back to the balance.
        (err: unknown) =>
          logLine("warn", "credit thresholds not read from the lease", { request_id: requestId, cause: message(err) }),
      ),
    );
}

/**
 * Whether a credit is left, without spending one: a key's calls to the self-service API
 * spend nothing, but a key at zero is refused there as it is on the gateway (credits
 * leased to regions and not yet spent count as left).
 */
export async function creditLeft(
  ns: DurableObjectNamespace<KeyRateLimiter> | undefined,
  credits: Credits,
): Promise<Result<CreditOutcome>> {
  if (!ns) return failed("no KEY_RATE_LIMITER Durable Object binding: credits cannot be counted");
  try {
    return ok(await within(Promise.resolve(link.to(ns, credits.balance_id).balance(credits))));
  } catch (err) {
    return failed(message(err));
  }
}
