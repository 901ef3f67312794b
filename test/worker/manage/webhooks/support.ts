/**
 * Helpers for the webhook tests: the admin API with webhooks on, the real webhook hub
 * (one Durable Object, its alarm run by the test), and the real origin as the receiver
 * (scripts/origin.ts /__origin/hook/NAME keeps each delivery: headers and raw body).
 *
 * Time: `future()` moves the clock (clock.now, which the hub reads) well past the real one,
 * so the alarms the hub sets are never due in real time and only `deliver()` runs them:
 * each test decides exactly when attempts happen.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { vi } from "vitest";
import type { Env } from "../../../../src/env";
import { clock } from "../../../../src/lib/clock";
import { WEBHOOKS_OBJECT_NAME } from "../../../../src/objects/protocol";
import type { WebhookHub } from "../../../../src/objects/webhooks";
import type { Vars } from "../../../support/worker-helpers";
import { ORIGIN } from "../../../support/worker-helpers";
import { adminEnv, api } from "../admin/support";

/** Webhooks on, loopback receivers allowed (the test origin is http://127.0.0.1). */
export function hooksEnv(vars: Vars = {}): Env {
  return adminEnv({ WEBHOOK_ALLOW_LOOPBACK: "true", ...vars });
}

export function hub(): DurableObjectStub<WebhookHub> {
  const ns = env.WEBHOOKS!;
  return ns.get(ns.idFromName(WEBHOOKS_OBJECT_NAME));
}

let receivers = 0;
/** A fresh receiver on the origin: its URL (answers 500 to the first `fail` deliveries, or `status`). */
export function receiver(opts: { fail?: number; status?: number; ms?: number } = {}): { name: string; url: string } {
  const name = `r${Date.now().toString(36)}${receivers++}`;
  const q = new URLSearchParams();
  if (opts.fail) q.set("fail", String(opts.fail));
  if (opts.status) q.set("status", String(opts.status));
  if (opts.ms) q.set("ms", String(opts.ms));
  const qs = q.toString();
  return { name, url: `${ORIGIN}/__origin/hook/${name}${qs ? `?${qs}` : ""}` };
}

export interface Received {
  headers: Record<string, string>;
  body: string;
  answered: number;
}

/** What the receiver got, in order. */
export async function received(name: string): Promise<Received[]> {
  const res = await fetch(`${ORIGIN}/__origin/hooks?name=${name}`);
  return ((await res.json()) as { deliveries: Received[] }).deliveries;
}

/** The payloads the receiver got, parsed. */
export async function events(name: string): Promise<{ type: string; timestamp: string; data: any }[]> {
  return (await received(name)).map((d) => JSON.parse(d.body));
}

let now = 0;
/** Move the clock to 30 days past the real one (the hub's alarms are then only run by deliver()). */
export function future(): void {
  now = Date.now() + 30 * 86_400_000;
  vi.spyOn(clock, "now").mockImplementation(() => now);
}

export function advance(ms: number): void {
  now += ms;
}

/** Run the hub's alarm now (every due attempt). False when none was set. */
export function deliver(): Promise<boolean> {
  return runDurableObjectAlarm(hub());
}

/** Create a webhook through the admin API (as `token`, default root). */
export async function createHook(body: Record<string, unknown>, token?: string, e: Env = hooksEnv()) {
  return api("POST", "/_keygate/webhooks", { body, ...(token ? { token } : {}), env: e });
}
