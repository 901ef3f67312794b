/**
 * `npm run keys -- webhooks <add|list|remove|test|deliveries> [flags]` (docs/webhooks.md):
 * webhooks that receive keygate's events, signed as Standard Webhooks say. With --url the
 * admin API (root, or a write token for every org the webhook serves); locally the running
 * `wrangler dev`'s webhook hub (the one of the same local state).
 */
import { EVENT_TYPES } from "../../src/events/types";
import { validateDeliveriesQuery, validateNewHook } from "../../src/manage/webhooks";
import type { AttemptView, HookView } from "../../src/objects/protocol";
import type { Json } from "../args";
import { oneId, precheck, UsageError } from "../args";
import type { Answer, Backend } from "../backends/backend";
import { isoShort, showOnce, table } from "../render";
import type { Command, Verb } from "../run";

export const WEBHOOKS_USAGE = `Usage: npm run keys -- webhooks <verb> [flags]

Webhooks receive keygate's events (key.created, key.revoked, credits.low, …), signed as
Standard Webhooks say: verify them with verifyWebhook from keygate/verifier, or any
Standard Webhooks library, with the secret shown when the webhook is added.

Verbs:
  add         RECEIVER_URL --event TYPE [--event TYPE …] [--org ORG …]   e.g. https://hooks.example.com/keygate
              events (repeat --event, or a comma list; --event all for every type):
              ${EVENT_TYPES.join(", ")}
              --org: the orgs it serves (default: every org for the root token, the token's own orgs)
  list
  remove      WEBHOOK_ID
  test        WEBHOOK_ID        send it a webhook.test event, then show the attempt
  deliveries  WEBHOOK_ID [--limit N]   its last attempts: status, duration, next retry

Common flags:
  --json               print the admin API's JSON answer (one line) instead of a table
  --url URL            act on a running or deployed gateway through its admin API; the token is read
                       from KEYGATE_ADMIN_TOKEN (the root token, or a write token of every org)
  --persist-to DIR     local state folder, as given to \`wrangler dev --persist-to\` (default .wrangler/state);
                       webhooks live in the running gateway: start it with \`npm run dev\`
  --config FILE        wrangler configuration (default wrangler.toml)
  --env NAME           wrangler environment

Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
`;

export function hookLine(h: HookView): string {
  return [
    `${h.id} → ${h.url}`,
    `  status:  ${h.status}${h.disabled_reason ? ` (${h.disabled_reason})` : ""}`,
    `  events:  ${h.events.join(", ")}`,
    `  orgs:    ${h.orgs === null ? "every org" : h.orgs.join(", ")}`,
    `  created: ${isoShort(h.created_at)} by ${h.created_by}`,
    ...(h.failing_since ? [`  failing since ${isoShort(h.failing_since)}`] : []),
  ].join("\n");
}

export function hookTable(hooks: HookView[]): string {
  if (hooks.length === 0) return "(no webhooks)";
  return table([
    ["ID", "URL", "STATUS", "EVENTS", "ORGS", "CREATED"],
    ...hooks.map((h) => [
      h.id,
      h.url,
      h.status,
      h.events.join(","),
      h.orgs === null ? "*" : h.orgs.join(","),
      isoShort(h.created_at),
    ]),
  ]);
}

function attemptStatus(a: AttemptView): string {
  return a.status !== null ? String(a.status) : (a.error ?? "-");
}

export function attemptsTable(v: Json): string {
  const attempts = v.attempts as AttemptView[];
  const pending = Number(v.pending ?? 0);
  const head = pending > 0 ? `${pending} event(s) waiting for a first attempt\n` : "";
  if (attempts.length === 0) return `${head}(no attempts yet)`;
  return (
    head +
    table([
      ["AT", "EVENT", "TYPE", "ATTEMPT", "STATUS", "MS", "OUTCOME", "NEXT RETRY"],
      ...attempts.map((a) => [
        isoShort(a.at),
        a.event_id,
        a.type,
        String(a.attempt),
        attemptStatus(a),
        String(a.duration_ms),
        a.outcome,
        isoShort(a.next_retry_at, "-"),
      ]),
    ])
  );
}

/** --event values: repeated or comma-separated; "all" for every type. */
function eventsOf(raw: string[] | undefined): string[] {
  if (raw === undefined || raw.length === 0)
    throw new UsageError("--event is required: the event types to send (e.g. --event key.revoked, or --event all)");
  const out = raw
    .flatMap((r) => r.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  return out.length === 1 && out[0] === "all" ? [...EVENT_TYPES] : out;
}

/** webhooks add's names for the API's fields: `url` is the receiver URL given, not leaked's --location. */
const HOOK_FIELDS = { url: "RECEIVER_URL", events: "--event" } as const;

/** How long `webhooks test` waits for the test event's first attempt. */
const TEST_WAIT_MS = 10_000;

export const WEBHOOK_VERBS: Record<string, Verb> = {
  add: {
    options: { event: { type: "string", multiple: true }, org: { type: "string", multiple: true } },
    positionals: true,
    fields: HOOK_FIELDS,
    plan({ values: v, positionals }) {
      const url = oneId(
        positionals,
        "webhooks add",
        "receiver URL",
        "npm run keys -- webhooks add https://hooks.example.com/keygate --event key.revoked",
      );
      const body: Json = {
        url,
        events: eventsOf(v.event as string[] | undefined),
        ...(v.org !== undefined ? { orgs: v.org } : {}),
      };
      // Checked as the core checks it, before anything opens: what no gateway would take
      // (loopback and http:// receivers are each gateway's own call: wrangler dev, WEBHOOK_ALLOW_LOOPBACK).
      precheck(validateNewHook(body, true), HOOK_FIELDS);
      return {
        call: (b) => b.webhookCreate(body),
        human: (h) =>
          `Added webhook ${hookLine(h as unknown as HookView)}\n${showOnce(h.secret as string, "signing secret")}`,
      };
    },
  },
  list: {
    options: {},
    positionals: false,
    plan() {
      return { call: (b) => b.webhookList(), human: (v) => hookTable(v.webhooks as HookView[]) };
    },
  },
  remove: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "webhooks remove", "WEBHOOK_ID", "npm run keys -- webhooks remove wh_…");
      return { call: (b) => b.webhookRemove(id), human: (v) => `Removed webhook ${(v as unknown as HookView).id}` };
    },
  },
  test: {
    options: {},
    positionals: true,
    plan({ positionals }) {
      const id = oneId(positionals, "webhooks test", "WEBHOOK_ID", "npm run keys -- webhooks test wh_…");
      return {
        async call(b: Backend): Answer {
          const queued = await b.webhookTest(id);
          if (!queued.ok) return queued;
          const eventId = queued.value.event_id as string;
          // The hub delivers from its alarm: wait a little for the first attempt, to show it.
          const deadline = Date.now() + TEST_WAIT_MS;
          while (Date.now() < deadline) {
            const log = await b.webhookDeliveries(id, { limit: "20" });
            if (!log.ok) return log;
            const attempt = (log.value.attempts as AttemptView[]).find((a) => a.event_id === eventId);
            if (attempt) return { ok: true, value: { ...queued.value, attempt } };
            await new Promise((r) => setTimeout(r, 250));
          }
          return { ok: true, value: { ...queued.value, attempt: null } };
        },
        human(v) {
          const a = v.attempt as AttemptView | null;
          if (a === null)
            return `Queued ${v.event_id as string} (webhook.test); no attempt yet: see \`webhooks deliveries ${id}\``;
          return `Sent ${a.event_id} (webhook.test): ${a.outcome}, answered ${attemptStatus(a)} in ${a.duration_ms} ms${a.next_retry_at ? `; next retry ${isoShort(a.next_retry_at)}` : ""}`;
        },
      };
    },
  },
  deliveries: {
    options: { limit: { type: "string" } },
    positionals: true,
    plan({ positionals, values }) {
      const id = oneId(positionals, "webhooks deliveries", "WEBHOOK_ID", "npm run keys -- webhooks deliveries wh_…");
      const query: Json = values.limit !== undefined ? { limit: values.limit } : {};
      precheck(validateDeliveriesQuery(query));
      return { call: (b) => b.webhookDeliveries(id, query), human: attemptsTable };
    },
  },
};

export const WEBHOOKS: Command = { name: "webhooks", usage: WEBHOOKS_USAGE, verbs: WEBHOOK_VERBS };
