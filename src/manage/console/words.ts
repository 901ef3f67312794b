/**
 * The management core's field errors, in the words of the console's forms. The core speaks
 * the admin API's JSON ("must be an array of at most 100 scopes ([A-Za-z0-9]…)"); the
 * console's user filled a form: each message that names a JSON type, a JSON shape or a
 * pattern is reworded for the field it came from (as the keys CLI rewords them for its
 * flags, cli/args.ts). Messages already in plain words are kept.
 */
import type { FieldError } from "../../keys/fields";

/** The form's name for a field. */
const LABELS: Record<string, string> = {
  name: "Name",
  orgs: "Organization",
  scopes: "Scopes",
  expires_at: "Expires",
  rate_limit: "Rate limit",
  grace_seconds: "Grace period",
  // The webhooks form's.
  url: "Endpoint URL",
  events: "Events",
};

const PLAIN: [field: string | null, api: RegExp, plain: string][] = [
  // The webhooks form's organizations (manage/webhooks.ts), before the key forms' one org.
  [
    "orgs",
    /^must be 1–(\d+) distinct org slugs/,
    "Organizations: up to $1 different slugs, separated by spaces or commas (each of letters, digits, dots, dashes and underscores, starting with a letter or digit); empty for every organization you manage.",
  ],
  ["events", /distinct event types/, "Events: tick at least one."],
  [
    "orgs",
    /org slugs/,
    "Organization: a slug of letters, digits, dots, dashes and underscores, starting with a letter or digit, at most 128 characters.",
  ],
  [
    "scopes",
    /at most (\d+) scopes/,
    "Scopes: at most $1, separated by spaces or commas; each starts with a letter or digit and holds letters, digits and : . _ * - (at most 128 characters).",
  ],
  ["name", /at most (\d+) printable characters/, "Name: at most $1 characters, without control characters."],
  ["rate_limit", /"limit": 1–(\d+)/, "Rate limit: a whole number of requests from 1 to $1, or empty for no limit."],
  ["expires_at", /date-time/, "Expires: pick a date from the list."],
  ["expires_at", /^must be in the future$/, "Expires: the date must be in the future."],
  ["grace_seconds", /whole number of seconds/, "Grace period: pick one from the list."],
  [
    null,
    /together are too long/,
    "The name, organization and scopes together are too long: shorten the name or give fewer scopes.",
  ],
];

/** One field error as a sentence that names its field as the form does. */
export function plainFieldMessage(e: FieldError): string {
  for (const [field, api, plain] of PLAIN) {
    const m = field === null || field === e.field ? api.exec(e.message) : null;
    if (m) return plain.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? "");
  }
  if (e.message === "unknown field") return `This form has no field "${e.field}".`;
  const text = `${LABELS[e.field] ?? e.field} ${e.message}`;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Field errors as one sentence each (a problem named once). */
export function plainFieldErrors(errors: readonly FieldError[]): string {
  return [...new Set(errors.map(plainFieldMessage))].join(" ");
}
