/**
 * The authority matrix, generated from the table (src/manage/authority.ts) and the surfaces
 * that offer each operation (src/manage/authority-doc.ts SURFACES, SURFACE_FIELDS): every
 * principal kind × operation, and × restricted field, on the admin API, the self-service API
 * and the console — through the real worker, signed in the real way — asserting allowed or
 * refused as the table says. (The CLI `--url` surface: test/e2e/authority-cli.e2e.test.ts,
 * against a real `wrangler dev`.)
 *
 * Then each cell again with that cell of the table flipped (allowed ↔ refused, a field rule
 * ↔ its opposite): every surface must follow, so a surface that decides anything on its own
 * instead of asking the table fails here.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../../../src/env";
import type { FieldOperation, FieldRule, Operation, Reach } from "../../../../src/manage/authority";
import { FIELDS, OPERATIONS } from "../../../../src/manage/authority";
import type { Surface } from "../../../../src/manage/authority-doc";
import { SURFACE_FIELDS, SURFACES } from "../../../../src/manage/authority-doc";
import type { Role } from "../../../../src/manage/principal";
import { ORIGIN } from "../../../support/worker-helpers";
import { LEAK_TOKEN } from "../leaks/support";
import type { Answer, ConsoleSession } from "./support";
import {
  adminCall,
  consoleAs,
  consoleGet,
  consolePost,
  hidden,
  jsonCall,
  manageEnv,
  names,
  PATH,
  rootKey,
  scopedToken,
  selfServiceAs,
  selfServiceCall,
  TOKEN,
  UI,
  uniqueOrg,
} from "./support";

// Holder creation bounds are tested in escapes.test.ts; here they must not get in the way.
const E: Env = manageEnv({
  SELF_SERVICE_CREATE_PER_MINUTE: "10000",
  SELF_SERVICE_MAX_KEYS_PER_ORG: "10000",
  WEBHOOK_ALLOW_LOOPBACK: "true",
  LEAK_REPORT_TOKEN: LEAK_TOKEN,
});
/** The webhooks' receiver: the test origin (their event, key.expiring, is never sent here; test events are). */
const HOOK_URL = `${ORIGIN}/__origin/hook/matrix`;
const DAY = 86_400_000;
/** The key holder's own expiry; targets expire before it (so a key holder may regenerate them). */
const HOLDER_EXPIRES = () => new Date(Date.now() + 30 * DAY).toISOString();
const TARGET_EXPIRES = () => new Date(Date.now() + 10 * DAY).toISOString();

/** A principal of a surface, signed in once, acting for its org. */
interface Actor {
  org: string;
  token?: string;
  console?: ConsoleSession;
  headers?: Record<string, string>;
}

const actors = new Map<string, Actor>();

async function actorFor(surface: Surface, role: Role): Promise<Actor> {
  const id = `${surface}/${role}`;
  let a = actors.get(id);
  if (a) return a;
  const org = uniqueOrg("mx");
  if (surface === "admin API" || surface === "leak intake") {
    a = {
      org,
      token:
        role === "root"
          ? TOKEN
          : role === "reporter"
            ? LEAK_TOKEN
            : (await scopedToken([org], role === "token:write" ? "write" : "read", E)).token,
    };
  } else if (surface === "console") {
    a = { org, console: await consoleAs(role, org, E) };
  } else {
    a = { org, headers: (await selfServiceAs(role, org, { expires_at: HOLDER_EXPIRES() })).headers };
  }
  actors.set(id, a);
  return a;
}

/** A request's fields for an operation: the base a success needs, with `field` set to `value`. */
function fieldValueOf(op: FieldOperation, field: string, rule: FieldRule, org: string): unknown {
  if (rule === "own_scopes") return ["read", "admin"];
  if (rule === "own_expiry") return new Date(Date.now() + 365 * DAY).toISOString();
  const values: Record<string, unknown> = {
    key: `imported-${crypto.randomUUID()}`,
    // A digest of nothing anyone holds; and a start of the `key` the import driver sends.
    hash: `sha256:${crypto.randomUUID().replace(/-/g, "")}${crypto.randomUUID().replace(/-/g, "")}`,
    key_prefix: "imported",
    name: "named",
    orgs: [org],
    scopes: ["read"],
    expires_at: new Date(Date.now() + DAY).toISOString(),
    meta: { team: "x" },
    rate_limit: { limit: 5, period_seconds: 60 },
    credits: { remaining: 5 },
    allowed_ips: ["203.0.113.0/24"],
    enabled: false,
    grace_seconds: op === "rotate" ? 60 : 0,
  };
  return values[field];
}

/** Run one operation on a surface as `role`, optionally naming `field`: its answer, and whether it succeeded. */
async function run(
  surface: Surface,
  role: Role,
  op: Operation,
  field?: { name: string; value: unknown },
): Promise<{ a: Answer; ok: boolean }> {
  const actor = await actorFor(surface, role);
  const org = actor.org;
  const target = ["show", "update", "enable", "disable", "rotate", "revoke", "audit", "usage", "leak_report"].includes(
    op,
  )
    ? await rootKey(org, E, { expires_at: TARGET_EXPIRES() })
    : null;
  if (op === "enable" && target) await adminCall(TOKEN, "PATCH", `/keys/${target.id}`, { enabled: false }, E);
  const extra = field ? { [field.name]: field.value } : {};
  // A webhook of the actor's org, made by root, for the operations on one (its event is never sent here).
  const hook = ["webhook_delete", "webhook_test", "webhook_deliveries"].includes(op)
    ? (await adminCall(TOKEN, "POST", "/webhooks", { url: HOOK_URL, events: ["key.expiring"], orgs: [org] }, E)).json
    : null;

  if (surface === "admin API") {
    const t = actor.token!;
    const call = (method: string, path: string, body?: unknown) => adminCall(t, method, path, body, E);
    let a: Answer;
    switch (op) {
      case "list":
        a = await call("GET", `/keys?org=${org}`);
        break;
      case "show":
        a = await call("GET", `/keys/${target.id}`);
        break;
      case "create":
        a = await call("POST", "/keys", { orgs: [org], name: "made", ...extra });
        break;
      case "import":
        // The plaintext, unless the cell is about its alternative, the hash.
        a = await call("POST", "/keys/import", {
          ...(field?.name === "hash" ? {} : { key: `imported-${crypto.randomUUID()}` }),
          orgs: [org],
          ...extra,
        });
        break;
      case "update":
        a = await call("PATCH", `/keys/${target.id}`, field ? extra : { name: "renamed" });
        break;
      case "rotate":
        a = await call("POST", `/keys/${target.id}/rotate`, extra);
        break;
      case "revoke":
        a = await call("DELETE", `/keys/${target.id}`);
        break;
      case "audit":
        a = await call("GET", `/audit?org=${org}`);
        break;
      case "usage":
        a = await call("GET", `/usage?org=${org}`);
        break;
      case "org_show":
        a = await call("GET", `/orgs/${org}`);
        break;
      case "org_set":
        a = await call("PUT", `/orgs/${org}`, { rate_limit: null });
        break;
      case "token_create":
        a = await call("POST", "/tokens", { name: "minted", orgs: [org], role: "read" });
        break;
      case "token_list":
        a = await call("GET", "/tokens");
        break;
      case "token_revoke":
        a = await call("DELETE", `/tokens/${(await scopedToken([org], "read", E)).id}`);
        break;
      case "portal_link":
        a = await call("POST", "/portal-links", { org });
        break;
      case "portal_link_revoke": {
        const link = await adminCall(TOKEN, "POST", "/portal-links", { org }, E);
        a = await call("DELETE", `/portal-links/${link.json.id}`);
        break;
      }
      case "shadow":
        a = await call("GET", `/shadow?org=${org}`);
        break;
      case "migration":
        a = await call("GET", `/migration?org=${org}`);
        break;
      case "webhook_create":
        a = await call("POST", "/webhooks", { url: HOOK_URL, events: ["key.expiring"], orgs: [org] });
        break;
      case "webhook_list":
        a = await call("GET", "/webhooks");
        break;
      case "webhook_delete":
        a = await call("DELETE", `/webhooks/${hook.id}`);
        break;
      case "webhook_test":
        a = await call("POST", `/webhooks/${hook.id}/test`);
        break;
      case "webhook_deliveries":
        a = await call("GET", `/webhooks/${hook.id}/deliveries`);
        break;
      default:
        throw new Error(`no admin API driver for ${op}`);
    }
    return { a, ok: a.status === 200 || a.status === 201 || a.status === 202 };
  }

  if (surface === "leak intake") {
    if (op !== "leak_report") throw new Error(`no leak intake driver for ${op}`);
    // POST {ADMIN_PREFIX}/leaks, as a scanner (LEAK_REPORT_TOKEN) or an operator: the target's plaintext.
    const a = await jsonCall(
      "POST",
      "/_keygate/leaks",
      { authorization: `Bearer ${actor.token!}` },
      { tokens: [target.key], source: "matrix" },
      E,
    );
    return { a, ok: a.status === 200 && a.json.results[0].label === "true_positive" };
  }

  if (surface === "self-service API") {
    const call = (method: string, path: string, body?: unknown) =>
      selfServiceCall(actor.headers!, method, path, body, E);
    let a: Answer;
    switch (op) {
      case "list":
        a = await call("GET", "");
        break;
      case "create":
        a = await call("POST", "", { name: "made", ...extra });
        break;
      case "rotate":
        a = await call("POST", `/${target.id}/regenerate`, extra);
        break;
      case "revoke":
        a = await call("DELETE", `/${target.id}`);
        break;
      default:
        throw new Error(`no self-service driver for ${op}`);
    }
    return { a, ok: a.status === 200 || a.status === 201 };
  }

  // The console.
  const s = actor.console!;
  const operator = role === "root" || role.startsWith("token");
  const formId = async (page: string) => {
    const got = await consoleGet(page, s, E);
    return (got.status === 200 ? hidden(got.text, "form_id") : null) ?? crypto.randomUUID();
  };
  switch (op) {
    case "list": {
      const a = await consoleGet(`${UI}/orgs/${org}`, s, E);
      return { a, ok: a.status === 200 };
    }
    case "show": {
      const a = await consoleGet(`${UI}/keys/${target.id}`, s, E);
      return { a, ok: a.status === 200 };
    }
    case "audit": {
      const a = await consoleGet(`${UI}/keys/${target.id}`, s, E);
      expect(a.status).toBe(200);
      return { a, ok: a.text.includes("Created") && !a.text.includes("No events.") };
    }
    case "usage": {
      const a = await consoleGet(`${UI}/keys/${target.id}`, s, E);
      expect(a.status).toBe(200);
      return { a, ok: /<td>\d{4}-\d{2}-\d{2}<\/td>/.test(a.text) };
    }
    case "create": {
      const fields: Record<string, string> = { form_id: await formId(`${UI}/new`), name: "made", scopes: "" };
      if (operator) fields.org = org;
      if (field) {
        const v = field.value;
        if (field.name === "orgs") fields.org = org;
        else if (field.name === "scopes") fields.scopes = (v as string[]).join(" ");
        else if (field.name === "expires_at")
          fields.expires = Date.parse(v as string) - Date.now() > 100 * DAY ? "365" : "1";
        else if (field.name === "rate_limit") Object.assign(fields, { rate_limit: "5", rate_period: "60" });
        else if (field.name === "name") fields.name = v as string;
        else throw new Error(`no console form field for ${field.name}`);
      }
      const a = await consolePost(`${UI}/keys`, fields, s, E);
      return { a, ok: a.status === 201 };
    }
    case "enable":
    case "disable": {
      const a = await consolePost(`${UI}/keys/${target.id}/${op}`, {}, s, E);
      return { a, ok: a.status === 303 };
    }
    case "rotate": {
      const a = await consolePost(
        `${UI}/keys/${target.id}/rotate`,
        { form_id: await formId(`${UI}/keys/${target.id}`), grace_seconds: field ? String(field.value) : "0" },
        s,
        E,
      );
      return { a, ok: a.status === 201 };
    }
    case "revoke": {
      const a = await consolePost(`${UI}/keys/${target.id}/revoke`, { confirm: target.key_prefix }, s, E);
      return { a, ok: a.status === 303 };
    }
    case "shadow":
    case "migration": {
      // One page: each part shown when the table lets this session read it (neither: 404).
      const a = await consoleGet(`${UI}/migration?org=${org}`, s, E);
      return { a, ok: a.status === 200 && a.text.includes(op === "shadow" ? 'id="shadow"' : 'id="imports"') };
    }
    case "webhook_list": {
      const a = await consoleGet(`${UI}/webhooks`, s, E);
      return { a, ok: a.status === 200 };
    }
    case "webhook_create": {
      const a = await consolePost(
        `${UI}/webhooks`,
        { form_id: await formId(`${UI}/webhooks`), url: HOOK_URL, events: "key.leaked", orgs: org },
        s,
        E,
      );
      return { a, ok: a.status === 201 };
    }
    case "webhook_delete": {
      const a = await consolePost(`${UI}/webhooks/${hook.id}/remove`, {}, s, E);
      return { a, ok: a.status === 303 };
    }
    case "webhook_test": {
      const a = await consolePost(`${UI}/webhooks/${hook.id}/test`, {}, s, E);
      return { a, ok: a.status === 303 };
    }
    case "webhook_deliveries": {
      const a = await consoleGet(`${UI}/webhooks/${hook.id}`, s, E);
      return { a, ok: a.status === 200 };
    }
    default:
      throw new Error(`no console driver for ${op}`);
  }
}

/** The refusal a surface answers an operation the table refuses. */
function refusedStatus(surface: Surface, op: Operation): number | null {
  if (surface === "console" && (op === "list" || op === "show")) return 404; // an org or key it may not read does not exist for it
  if (surface === "console" && (op === "audit" || op === "usage")) return null; // the key's page, without them
  if (surface === "console" && (op === "shadow" || op === "migration")) return null; // the page, without that part
  return 403;
}

/** The reach that allows a refused cell when flipped. */
const OPEN: Record<Role, Reach> = {
  root: "all",
  "token:write": "token_orgs",
  "token:read": "token_orgs",
  key: "own_org",
  session: "own_org",
  portal: "own_org",
  reporter: "all",
};

function opCells(): [Surface, Role, Operation][] {
  const cells: [Surface, Role, Operation][] = [];
  for (const [surface, s] of Object.entries(SURFACES) as [Surface, (typeof SURFACES)[Surface]][]) {
    if (surface === "CLI --url") continue;
    for (const role of s.roles) for (const op of s.operations) cells.push([surface, role, op]);
  }
  return cells;
}

function fieldCells(): [Surface, Role, FieldOperation, string][] {
  const cells: [Surface, Role, FieldOperation, string][] = [];
  for (const [surface, byOp] of Object.entries(SURFACE_FIELDS) as [Surface, (typeof SURFACE_FIELDS)[Surface]][]) {
    if (surface === "CLI --url") continue;
    for (const role of SURFACES[surface].roles) {
      for (const [op, fields] of Object.entries(byOp) as [FieldOperation, string[]][]) {
        if (OPERATIONS[op].reach[role] === "none") continue; // refused before any field: the operation's cell
        for (const field of fields) cells.push([surface, role, op, field]);
      }
    }
  }
  return cells;
}

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length) restore.pop()!();
});

function flipReach(op: Operation, role: Role, to: Reach): void {
  const reach = OPERATIONS[op].reach;
  const was = reach[role];
  reach[role] = to;
  restore.push(() => (reach[role] = was));
}

function flipField(op: FieldOperation, field: string, role: Role, to: FieldRule): void {
  const rules = FIELDS[op][field]!;
  const was = rules[role];
  rules[role] = to;
  restore.push(() => (rules[role] = was));
}

beforeAll(() => {
  // Every surface has a driver for every operation it offers (an operation added without one fails here).
  expect(opCells().length).toBeGreaterThan(80);
});

describe("authority matrix: principal × operation, on every surface", () => {
  it.each(opCells())("%s · %s · %s: as the table says", async (surface, role, op) => {
    const allowed = OPERATIONS[op].reach[role] !== "none";
    const { a, ok } = await run(surface, role, op);
    expect(ok, `${a.status} ${a.text.slice(0, 300)}`).toBe(allowed);
    const refused = refusedStatus(surface, op);
    if (!allowed && refused !== null) expect(a.status).toBe(refused);
  });

  it.each(opCells())("%s · %s · %s: follows the table when its cell is flipped", async (surface, role, op) => {
    const allowed = OPERATIONS[op].reach[role] !== "none";
    flipReach(op, role, allowed ? "none" : OPEN[role]);
    const { a, ok } = await run(surface, role, op);
    expect(ok, `${a.status} ${a.text.slice(0, 300)}`).toBe(!allowed);
  });
});

describe("authority matrix: principal × field, on every surface that takes the field", () => {
  const expectation = (rule: FieldRule) =>
    rule === "yes" ? "allowed" : rule === "operator" ? "400 naming the field" : "403";

  it.each(fieldCells())("%s · %s · %s · %s: as the table says", async (surface, role, op, field) => {
    const actor = await actorFor(surface, role);
    const rule = FIELDS[op][field]![role];
    const { a, ok } = await run(surface, role, op, { name: field, value: fieldValueOf(op, field, rule, actor.org) });
    const expected = expectation(rule);
    if (expected === "allowed") expect(ok, `${a.status} ${a.text.slice(0, 300)}`).toBe(true);
    else if (expected === "403") expect(a.status, a.text.slice(0, 300)).toBe(403);
    else {
      expect(a.status, a.text.slice(0, 300)).toBe(400);
      expect(names(a, field), a.text.slice(0, 300)).toBe(true);
    }
  });

  it.each(fieldCells())(
    "%s · %s · %s · %s: follows the table when its rule is flipped",
    async (surface, role, op, field) => {
      const actor = await actorFor(surface, role);
      const rule = FIELDS[op][field]![role];
      const value = fieldValueOf(op, field, rule, actor.org);
      flipField(op, field, role, rule === "yes" ? "operator" : "yes");
      const { a, ok } = await run(surface, role, op, { name: field, value });
      if (rule === "yes") {
        expect(a.status, a.text.slice(0, 300)).toBe(400);
        expect(names(a, field), a.text.slice(0, 300)).toBe(true);
      } else expect(ok, `${a.status} ${a.text.slice(0, 300)}`).toBe(true);
    },
  );
});

void PATH;
