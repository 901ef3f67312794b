/**
 * Per-client-IP limit on failed authentications (an unknown, revoked, expired or
 * malformed credential), so nobody can guess keys at the edge's speed.
 *
 * - Who: only `CF-Connecting-IP` counts (Cloudflare sets it; a client's X-Forwarded-For
 *   or X-Real-IP is never read). IPv6 addresses are aggregated by /64, the block one
 *   subscriber usually holds. Requests without CF-Connecting-IP (local tests) are not limited.
 * - Counting: the Workers Rate Limiting binding AUTH_FAILURE_LIMITER (wrangler.toml:
 *   `simple = { limit, period }`, period 10 or 60 s). Only failures call it, so valid
 *   traffic costs nothing. Its counters are per Cloudflare location and approximate.
 * - Refusing: once the binding says an IP is over its budget, that isolate answers every
 *   request from the IP that carries a credential with 429 for AUTH_FAILURE_BLOCK_SECONDS,
 *   before any lookup (no KV read, so guessing costs nothing but a hash) — except a key
 *   the isolate's cache already knows to be valid (a fresh positive entry, not revoked,
 *   disabled or expired: auth/verify.ts cachedValidVerdict). A shared address (a
 *   corporate NAT, an IPv6 /64) is not a lockout: one client's guesses do not stop the
 *   others' keys that are in use. A guess never reaches KV, so a guesser learns nothing
 *   but what holding a valid, recently used key already tells. Other isolates of the
 *   location refuse the IP at its next failure (the binding's count is shared there).
 * - Never keyed by the key: one client's failures cannot lock a key out for other IPs,
 *   nor another IP out.
 * - State: the blocked clients are the isolate's (gateway/isolate.ts `blocked`), passed in,
 *   one set shared by the gateway, the self-service API, the admin API and the console.
 */
import type { BlockedClients } from "../gateway/isolate";

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The first four hextets of an IPv6 address (its /64), or null when it is not one. */
function ipv6Prefix64(ip: string): string | null {
  let addr = ip.toLowerCase();
  const zone = addr.indexOf("%");
  if (zone >= 0) addr = addr.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) only matters for the last 32 bits: drop it.
  const v4 = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  if (v4) addr = addr.slice(0, v4.index + 1) + "0:0";
  const halves = addr.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1]!.split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":");
}

/**
 * The identity a client's failures are counted under: "v4:<address>", "v6:<first 64
 * bits>::/64", or null without a CF-Connecting-IP. An IPv4-mapped IPv6 address counts as
 * its IPv4 address.
 */
export function clientKey(cfConnectingIp: string | null): string | null {
  if (cfConnectingIp === null) return null;
  const ip = cfConnectingIp.trim();
  if (ip === "") return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  const v4 = IPV4_RE.exec(mapped ? mapped[1]! : ip);
  if (v4 && v4.slice(1).every((o) => Number(o) <= 255)) return `v4:${v4.slice(1).map(Number).join(".")}`;
  const v6 = ipv6Prefix64(ip);
  if (v6 !== null) return `v6:${v6}::/64`;
  // Not an address (CF-Connecting-IP always is one on Cloudflare): count it verbatim.
  return `raw:${ip.slice(0, 64)}`;
}

/** Seconds the client must still wait, or 0 when it is not blocked in this isolate. */
export function blockedFor(blocked: BlockedClients, client: string, now: number): number {
  const hit = blocked.lookup(client, now);
  return hit.state === "fresh" ? Math.max(1, Math.ceil((hit.value - now) / 1000)) : 0;
}

/**
 * Count one failed authentication. Returns the seconds to refuse the client for when it
 * is now over its budget, else 0. A limiter failure lets the request get its 401 (logged
 * by the caller through `onError`): the limit meters failures, it never admits anyone.
 */
export async function recordFailure(
  blocked: BlockedClients,
  limiter: RateLimit | undefined,
  client: string,
  now: number,
  blockSeconds: number,
  onError: (message: string) => void,
): Promise<number> {
  if (!limiter) return 0;
  let outcome: RateLimitOutcome;
  try {
    outcome = await limiter.limit({ key: client });
  } catch (err) {
    onError(err instanceof Error ? err.message : String(err));
    return 0;
  }
  if (outcome.success) return 0;
  blocked.set(client, now + blockSeconds * 1000, now, blockSeconds * 1000, 0);
  return blockSeconds;
}
