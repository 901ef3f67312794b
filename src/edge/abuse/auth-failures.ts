/**
 * Per-client-IP limits on failed authentications (an unknown, revoked, expired or
 * malformed credential, a wrong admin token), so nobody can guess credentials at the
 * edge's speed — without locking out everyone else behind the same address.
 *
 * - Who: only `CF-Connecting-IP` counts (Cloudflare sets it; a client's X-Forwarded-For
 *   or X-Real-IP is never read). IPv6 addresses are aggregated by /64, the block one
 *   subscriber usually holds; an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`, in any
 *   of its spellings) counts as its IPv4 address. Requests without CF-Connecting-IP
 *   (local tests) are not limited.
 * - Two budgets, each with its own count and its own blocked clients: the gateway's (API
 *   keys and sessions: forwarded requests and the self-service API, which takes the same
 *   credentials) and the management side's (admin tokens and portal links: the admin API
 *   and the web console). Guessing API keys from an address does not lock its operator
 *   out of the admin API and console, and the reverse.
 * - Counting: the Workers Rate Limiting binding AUTH_FAILURE_LIMITER (wrangler.toml:
 *   `simple = { limit, period }`, period 10 or 60 s), keyed by the client (the management
 *   budget's keys are prefixed `management:`). Only failures call it, so valid traffic
 *   costs nothing. Its counters are per Cloudflare location and approximate.
 * - Refusing: once the binding says a client is over a budget, that isolate blocks it for
 *   AUTH_FAILURE_BLOCK_SECONDS (a further failure while blocked extends the block, with
 *   no call to the binding). What a blocked client still gets is the caller's policy:
 *   the gateway (edge/gateway/admit.ts) lets verified sessions and keys its cache knows to be
 *   valid through, and looks other keys up at most SLOW_LOOKUPS_PER_MINUTE times per
 *   minute per client in this isolate (the slow lane: a valid key behind a busy NAT is
 *   served, guessing is no faster than the budget); the management side refuses before
 *   comparing anything. Other isolates of the location block the client at its next
 *   failure (the binding's count is shared there).
 * - Never keyed by the credential: one client's failures cannot lock a key out for other
 *   IPs, nor another IP out.
 * - State: the blocked clients are the isolate's (edge/gateway/isolate.ts `blocked` and
 *   `managementBlocked`), passed in.
 */
import type { LruCache } from "../../lib/lru";

/** The two budgets (docs/security.md): who a failure counts against. */
export type Budget = "gateway" | "management";

/** A blocked client: refused until `until` (ms); `lane`: the start times of its slow-lane lookups (ms), newest last. */
export interface Block {
  until: number;
  lane: number[];
}

/** Clients over a failure budget, by client key (the isolate's: gateway/isolate.ts). */
export type BlockedClients = LruCache<Block>;

/** Lookups a blocked client may still make per minute in one isolate (the binding's budget: 30 per 60 s). */
export const SLOW_LOOKUPS_PER_MINUTE = 30;
const LANE_WINDOW_MS = 60_000;

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET_RE = /^[0-9a-f]{1,4}$/;

function ipv4Of(text: string): number[] | null {
  const m = IPV4_RE.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail allowed), or null. */
function ipv6Groups(ip: string): number[] | null {
  let addr = ip.toLowerCase();
  const zone = addr.indexOf("%");
  if (zone >= 0) addr = addr.slice(0, zone);
  if (addr.startsWith("[") && addr.endsWith("]")) addr = addr.slice(1, -1);
  const tailV4 = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  let v4Tail: number[] = [];
  if (tailV4) {
    const octets = ipv4Of(tailV4[1]!);
    if (octets === null) return null;
    v4Tail = [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!];
    addr = addr.slice(0, tailV4.index + 1) + "x"; // a placeholder group, replaced below
  }
  const halves = addr.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1]!.split(":") : [];
  if (v4Tail.length) (tail.length ? tail : head).pop();
  const width = head.length + tail.length + v4Tail.length;
  const missing = 8 - width;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const parts = [...head, ...tail];
  if (!parts.every((g) => HEXTET_RE.test(g))) return null;
  const numbers = (list: string[]) => list.map((g) => parseInt(g, 16));
  return [...numbers(head), ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...numbers(tail), ...v4Tail];
}

/**
 * The identity a client's failures are counted under: "v4:<address>", "v6:<first 64
 * bits>::/64", or null without a CF-Connecting-IP. An IPv4-mapped IPv6 address
 * (::ffff:0:0/96, dotted or in hex, compressed or not) counts as its IPv4 address.
 */
export function clientKey(cfConnectingIp: string | null): string | null {
  if (cfConnectingIp === null) return null;
  const ip = cfConnectingIp.trim();
  if (ip === "") return null;
  const v4 = ipv4Of(ip);
  if (v4 !== null) return `v4:${v4.join(".")}`;
  const g = ipv6Groups(ip);
  if (g !== null) {
    if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
      return `v4:${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
    }
    return `v6:${g
      .slice(0, 4)
      .map((n) => n.toString(16))
      .join(":")}::/64`;
  }
  // Not an address (CF-Connecting-IP always is one on Cloudflare): count it verbatim.
  return `raw:${ip.slice(0, 64)}`;
}

/** Seconds the client must still wait, or 0 when it is not blocked in this isolate. */
export function blockedFor(blocked: BlockedClients, client: string, now: number): number {
  const hit = blocked.lookup(client, now);
  return hit.state === "fresh" ? Math.max(1, Math.ceil((hit.value.until - now) / 1000)) : 0;
}

/** Block (or keep blocking) `client` for `blockSeconds` from `now`; its slow lane carries over. */
function block(blocked: BlockedClients, client: string, now: number, blockSeconds: number): number {
  const hit = blocked.lookup(client, now);
  const lane = hit.state === "miss" ? [] : hit.value.lane;
  blocked.set(client, { until: now + blockSeconds * 1000, lane }, now, blockSeconds * 1000, LANE_WINDOW_MS);
  return blockSeconds;
}

/**
 * Count one failed authentication against `budget`. Returns the seconds to refuse the
 * client for when it is now over its budget (or was already blocked here: the block is
 * extended, the binding not called), else 0. A limiter failure lets the request get its
 * 401 (logged by the caller through `onError`): the limit meters failures, it never
 * admits anyone.
 */
export async function recordFailure(
  blocked: BlockedClients,
  limiter: RateLimit | undefined,
  client: string,
  now: number,
  blockSeconds: number,
  onError: (message: string) => void,
  budget: Budget = "gateway",
): Promise<number> {
  if (blockedFor(blocked, client, now) > 0) return block(blocked, client, now, blockSeconds);
  if (!limiter) return 0;
  let outcome: RateLimitOutcome;
  try {
    outcome = await limiter.limit({ key: budget === "gateway" ? client : `${budget}:${client}` });
  } catch (err) {
    onError(err instanceof Error ? err.message : String(err));
    return 0;
  }
  if (outcome.success) return 0;
  return block(blocked, client, now, blockSeconds);
}

/**
 * The slow lane: whether a blocked client may have one more lookup now — fewer than
 * SLOW_LOOKUPS_PER_MINUTE in the last 60 s in this isolate. Taking it is counted at
 * once (concurrent requests cannot overshoot); `giveBack` returns it (a lookup that found
 * a valid key, or failed for the store's reasons, was no guess).
 */
export function takeSlowLookup(blocked: BlockedClients, client: string, now: number): { giveBack(): void } | null {
  const hit = blocked.lookup(client, now);
  if (hit.state !== "fresh") return null;
  const lane = hit.value.lane;
  while (lane.length > 0 && lane[0]! <= now - LANE_WINDOW_MS) lane.shift();
  if (lane.length >= SLOW_LOOKUPS_PER_MINUTE) return null;
  lane.push(now);
  return {
    giveBack() {
      const at = lane.lastIndexOf(now);
      if (at >= 0) lane.splice(at, 1);
    },
  };
}
