/**
 * Webhooks in the management core (docs/webhooks.md): create, list, remove, test, and read
 * the delivery attempts of a webhook. Like every operation they ask the authority table
 * first: root, or a write token for every org a webhook serves — a token's webhooks serve
 * only its orgs (its own by default), and a webhook exists for a token only when it serves
 * none but the token's orgs. The webhook hub (objects/webhooks.ts) keeps them and delivers.
 *
 * A URL is `https://` to a public host; `http://` and loopback or private addresses only
 * under `wrangler dev` (a request to a loopback host) or with WEBHOOK_ALLOW_LOOPBACK. The
 * secret (`whsec_` + base64 of 32 random bytes) is in the creation's answer and never
 * again. What a receiver answers is never shown beyond its status and timing.
 */
import type { GatewayEvent } from "../events/types";
import { EVENT_TYPES, isEventType } from "../events/types";
import { randomBase62 } from "../keys/format";
import type { FieldError } from "../keys/issue";
import type { Outcome } from "../keys/lifecycle";
import { audit } from "../keys/lifecycle";
import { ALL_ORGS, ORG_RE } from "../keys/record";
import { inCidr, parseCidr, parseIp } from "../lib/cidr";
import type { DeliveriesView, HookView } from "../objects/protocol";
import type { Operation } from "./authority";
import { decide } from "./authority";
import type { KeyLeakedEvent, ManageDeps, WebhookStore } from "./context";
import { failure, lifecycleOf } from "./context";
import type { Principal } from "./principal";
import { orgsOf } from "./principal";

export const WEBHOOK_ID_RE = /^wh_[A-Za-z0-9]{20}$/;
const MAX_URL_LENGTH = 2_048;
const MAX_ORGS = 50;
/** Attempts shown by GET /webhooks/:id/deliveries by default, and at most. */
export const DEFAULT_DELIVERIES = 50;
const MAX_DELIVERIES = 200;

/** A created webhook: its view and, this once, its secret. */
export type CreatedHook = HookView & { secret: string };

const invalid = (errors: FieldError[]): Outcome<never> => ({ ok: false, error: "invalid", errors });
const notFound = (id: string): Outcome<never> => ({
  ok: false,
  error: "not_found",
  message: `no webhook with id "${id}"`,
});
const unavailable: Outcome<never> = {
  ok: false,
  error: "unavailable",
  message: "No WEBHOOKS Durable Object binding: webhooks are off on this gateway (see wrangler.toml).",
};

/**
 * Addresses that are never a public receiver: loopback, private, link-local, unique-local,
 * CGNAT, unspecified, IETF protocol assignments, benchmarking, multicast, reserved and
 * broadcast; and the IPv6 forms that carry an IPv4 address inside them (IPv4-compatible
 * ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32), so
 * that [::127.0.0.1] or [64:ff9b::a9fe:a9fe] is not a way around the IPv4 ranges.
 */
const PRIVATE_RANGES = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/96",
  "::1/128",
  "64:ff9b::/96",
  "64:ff9b:1::/48",
  "100::/64",
  "2001::/32",
  "2002::/16",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
].map((r) => parseCidr(r)!);

/**
 * Names that never resolve to a public host: localhost and *.localhost (RFC 6761), *.local
 * (mDNS), *.internal, *.home.arpa (RFC 8375), and single-label names (an intranet's).
 */
const NON_PUBLIC_NAME_RE = /(?:^|\.)(?:localhost|local|internal|home\.arpa)$|^[^.]*$/;

/** A URL's hostname as compared: lower case, no IPv6 brackets, no trailing dot ("localhost." is localhost). */
function hostOf(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, "")
    .toLowerCase()
    .replace(/\.$/, "");
}

/** A loopback name or address (localhost, *.localhost, 127.0.0.0/8, ::1). */
function isLoopbackHost(hostname: string): boolean {
  const h = hostOf(hostname);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const ip = parseIp(h);
  return ip !== null && (inCidr(ip, parseCidr("127.0.0.0/8")!) || inCidr(ip, parseCidr("::1/128")!));
}

function isPrivateHost(hostname: string): boolean {
  const h = hostOf(hostname);
  if (isLoopbackHost(h)) return true;
  const ip = parseIp(h);
  if (ip === null) return NON_PUBLIC_NAME_RE.test(h);
  return PRIVATE_RANGES.some((r) => inCidr(ip, r));
}

/**
 * The leak intake's `key.leaked` (manage/leaks.ts KeyLeakedEvent) as a webhook event: routed
 * by the key's orgs, in order with the key's other events.
 */
export function keyLeakedTo(emit: (event: GatewayEvent) => Promise<void>): (event: KeyLeakedEvent) => Promise<void> {
  return (e) =>
    emit({ type: e.type, timestamp: e.timestamp, data: e.data, orgs: e.data.orgs, subject: `key/${e.data.key_id}` });
}

/** Whether a management request was made to `wrangler dev` (a loopback host: Cloudflare serves no such host). */
export function localRequest(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** Why `url` cannot be a webhook's, or null. */
export function webhookUrlProblem(url: unknown, allowLoopback: boolean): string | null {
  if (typeof url !== "string" || url.length === 0) return "is required: the receiver's https:// URL";
  if (url.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute https:// URL";
  }
  if (u.username || u.password) return "must not carry credentials";
  if (u.hash) return "must not have a fragment";
  const local = isPrivateHost(u.hostname);
  if (u.protocol === "https:" && !local) return null;
  if (allowLoopback && (u.protocol === "https:" || (u.protocol === "http:" && local))) return null;
  return "must be an https:// URL of a public host (http:// and loopback or private addresses only under `wrangler dev` or with WEBHOOK_ALLOW_LOOPBACK)";
}

/**
 * The validated body of POST /webhooks. `allowLoopback`: whether this gateway takes http://
 * and loopback or private receivers (wrangler dev, WEBHOOK_ALLOW_LOOPBACK); the keys CLI
 * checks with it true before anything opens (what no gateway would take), and the gateway decides the rest.
 */
export function validateNewHook(
  body: unknown,
  allowLoopback: boolean,
): { ok: true; value: { url: string; events: string[]; orgs: string[] | null } } | { ok: false; errors: FieldError[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, errors: [{ field: "(body)", message: "must be a JSON object" }] };
  const b = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const k of Object.keys(b))
    if (!["url", "events", "orgs"].includes(k))
      errors.push({ field: k.length > 64 ? `${k.slice(0, 64)}…` : k, message: "unknown field" });
  const urlProblem = webhookUrlProblem(b.url, allowLoopback);
  if (urlProblem) errors.push({ field: "url", message: urlProblem });
  const events = b.events;
  if (
    !Array.isArray(events) ||
    events.length === 0 ||
    !events.every(isEventType) ||
    new Set(events).size !== events.length
  )
    errors.push({ field: "events", message: `must be a list of distinct event types: ${EVENT_TYPES.join(", ")}` });
  const orgs = b.orgs ?? null;
  if (
    orgs !== null &&
    (!Array.isArray(orgs) ||
      orgs.length === 0 ||
      orgs.length > MAX_ORGS ||
      !orgs.every((o) => typeof o === "string" && ORG_RE.test(o)) ||
      new Set(orgs).size !== orgs.length)
  )
    errors.push({
      field: "orgs",
      message: `must be 1–${MAX_ORGS} distinct org slugs (omit it: every org you may manage)`,
    });
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { url: b.url as string, events: events as string[], orgs: orgs as string[] | null } };
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}

function newHookId(): string {
  return `wh_${randomBase62(20)}`;
}

/** The hub, or the outcome saying webhooks are off. */
function storeOf(deps: ManageDeps): WebhookStore | null {
  return deps.webhooks ?? null;
}

/** A webhook `p` may reach with `op`: not found when it does not exist for `p`. */
async function reach(deps: ManageDeps, p: Principal, op: Operation, id: string): Promise<Outcome<HookView>> {
  const store = storeOf(deps);
  if (!store) return unavailable;
  const hook = WEBHOOK_ID_RE.test(id) ? await store.get(id) : null;
  if (!hook) return notFound(id);
  const d = decide(p, op, { webhook: hook });
  return d.ok ? { ok: true, value: hook } : d.error === "not_found" ? notFound(id) : failure(d);
}

/**
 * POST /webhooks `{"url", "events": [...], "orgs"?: [...]}`: 201 with the webhook and its
 * `secret`, shown this once. Without `orgs`, a token's webhook serves the token's orgs, the
 * root's every org.
 */
export async function webhookCreate(deps: ManageDeps, p: Principal, body: unknown): Promise<Outcome<CreatedHook>> {
  const allowed = decide(p, "webhook_create");
  if (!allowed.ok) return failure(allowed);
  const checked = validateNewHook(body, deps.webhookLoopback === true);
  if (!checked.ok) return invalid(checked.errors);
  const orgs = checked.value.orgs ?? (p.kind === "token" ? orgsOf(p) : null);
  const d = decide(p, "webhook_create", { orgs: orgs ?? [ALL_ORGS] });
  if (!d.ok) return failure(d);
  const store = storeOf(deps);
  if (!store) return unavailable;
  const secret = randomSecret();
  const ctx = lifecycleOf(deps, p);
  const hook = await store.create({
    id: newHookId(),
    url: checked.value.url,
    events: checked.value.events,
    orgs,
    secret,
    created_by: ctx.actor,
    owner_token: p.kind === "token" ? p.id : null,
    owner_expires_at: p.kind === "token" && p.expires_at ? Date.parse(p.expires_at) : null,
  });
  if (!hook) return { ok: false, error: "conflict", message: "this gateway already has the most webhooks it may hold" };
  await audit(ctx, { action: "webhook_create", webhook_id: hook.id, ...(orgs ? { orgs } : {}) });
  return { ok: true, value: { ...hook, secret } };
}

/** GET /webhooks: the webhooks this principal may manage (never their secrets). */
export async function webhookList(deps: ManageDeps, p: Principal): Promise<Outcome<{ webhooks: HookView[] }>> {
  const allowed = decide(p, "webhook_list");
  if (!allowed.ok) return failure(allowed);
  const store = storeOf(deps);
  if (!store) return unavailable;
  const all = await store.list();
  return { ok: true, value: { webhooks: all.filter((h) => decide(p, "webhook_list", { webhook: h }).ok) } };
}

/** DELETE /webhooks/:id: removed, with its queue; the webhook as it was. */
export async function webhookDelete(deps: ManageDeps, p: Principal, id: string): Promise<Outcome<HookView>> {
  const allowed = decide(p, "webhook_delete");
  if (!allowed.ok) return failure(allowed);
  const found = await reach(deps, p, "webhook_delete", id);
  if (!found.ok) return found;
  const removed = await deps.webhooks!.remove(id);
  if (!removed) return notFound(id);
  const orgs = removed.orgs;
  await audit(lifecycleOf(deps, p), { action: "webhook_delete", webhook_id: id, ...(orgs ? { orgs } : {}) });
  return { ok: true, value: removed };
}

/** POST /webhooks/:id/test: a webhook.test event queued for this webhook alone (202); see its deliveries. */
export async function webhookTest(
  deps: ManageDeps,
  p: Principal,
  id: string,
): Promise<Outcome<{ webhook_id: string; event_id: string; status: "queued" }>> {
  const allowed = decide(p, "webhook_test");
  if (!allowed.ok) return failure(allowed);
  const found = await reach(deps, p, "webhook_test", id);
  if (!found.ok) return found;
  const queued = await deps.webhooks!.test(id);
  if (queued === null) return notFound(id);
  if (queued === "disabled")
    return { ok: false, error: "conflict", message: `webhook "${id}" is disabled: create it again to resume` };
  return { ok: true, value: { webhook_id: id, event_id: queued.event_id, status: "queued" } };
}

/** GET /webhooks/:id/deliveries[?limit=N]: the webhook, and its last attempts (status, duration, next retry), newest first. */
export async function webhookDeliveries(
  deps: ManageDeps,
  p: Principal,
  id: string,
  query: Record<string, unknown> = {},
): Promise<Outcome<DeliveriesView & { webhook: HookView }>> {
  const allowed = decide(p, "webhook_deliveries");
  if (!allowed.ok) return failure(allowed);
  const checked = validateDeliveriesQuery(query);
  if (!checked.ok) return invalid(checked.errors);
  const found = await reach(deps, p, "webhook_deliveries", id);
  if (!found.ok) return found;
  return { ok: true, value: { ...(await deps.webhooks!.deliveries(id, checked.value)), webhook: found.value } };
}

/** The query of GET /webhooks/:id/deliveries: `limit` (default DEFAULT_DELIVERIES), checked. */
export function validateDeliveriesQuery(
  query: Record<string, unknown>,
): { ok: true; value: number } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  for (const k of Object.keys(query)) if (k !== "limit") errors.push({ field: k, message: "unknown parameter" });
  const limit = query.limit === undefined ? DEFAULT_DELIVERIES : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DELIVERIES || !/^\d+$/.test(String(query.limit ?? "1")))
    errors.push({ field: "limit", message: `must be a whole number, 1–${MAX_DELIVERIES}` });
  return errors.length ? { ok: false, errors } : { ok: true, value: limit };
}
