/**
 * The documentation half of the authority table (authority.ts): what each operation,
 * principal, reach and field rule means in words, which surface offers which operation to
 * which principals, and the tables of docs/authority.md rendered from the table itself.
 * Kept apart so the worker's bundle carries none of it; test/unit/manage/authority-doc.test.ts
 * holds docs/authority.md to `renderAuthorityTables()`, and test/worker/manage/authority/matrix.test.ts
 * drives every cell of SURFACES through its surface.
 */
import type { FieldOperation, FieldRule, Operation, Reach } from "./authority";
import { FIELDS, OPERATIONS } from "./authority";
import type { Role } from "./principal";
import { ROLES } from "./principal";

export const ROLE_NAMES: Record<Role, string> = {
  root: "root",
  "token:write": "token (write)",
  "token:read": "token (read)",
  key: "key holder",
  session: "session",
  portal: "portal",
  reporter: "leak reporter",
};

export const OPERATION_DOCS: Record<Operation, string> = {
  list: "list keys",
  show: "show one key",
  create: "create a key",
  import: "import an existing key",
  update: "change a key's settings (PATCH)",
  enable: "enable a disabled key",
  disable: "disable a key",
  rotate: "rotate / regenerate a key",
  revoke: "revoke a key",
  audit: "read the audit log",
  usage: "read usage",
  org_show: "read an org's settings",
  org_set: "change an org's settings",
  token_create: "mint an admin token",
  token_list: "list admin tokens",
  token_revoke: "revoke an admin token",
  portal_link: "issue a portal link",
  portal_link_revoke: "revoke a portal link",
  shadow: "read the shadow report (report mode's comparisons)",
  migration: "read the migration's progress (imported, migrated, pending keys)",
  webhook_create: "create a webhook",
  webhook_list: "list webhooks",
  webhook_delete: "remove a webhook",
  webhook_test: "send a webhook a test event",
  webhook_deliveries: "read a webhook's delivery attempts",
  leak_report: "report leaked keys (LEAKED_KEY_ACTION: revoke, disable or record them)",
};

const REACH_CELLS: Record<Reach, string> = {
  all: "all",
  token_orgs: "its orgs",
  own_org: "its org",
  none: "403",
};

const FIELD_CELLS: Record<FieldRule, string> = {
  yes: "✓",
  operator: "400",
  own_scopes: "≤ own",
  own_expiry: "≤ own",
};

/** The management surfaces, the principals each authenticates and the operations it offers. */
export type Surface = "admin API" | "self-service API" | "console" | "CLI --url" | "leak intake";

export const SURFACES: Record<Surface, { roles: readonly Role[]; operations: readonly Operation[] }> = {
  "admin API": {
    roles: ["root", "token:write", "token:read"],
    operations: [
      "list",
      "show",
      "create",
      "import",
      "update",
      "rotate",
      "revoke",
      "audit",
      "usage",
      "org_show",
      "org_set",
      "token_create",
      "token_list",
      "token_revoke",
      "portal_link",
      "portal_link_revoke",
      "shadow",
      "migration",
      "webhook_create",
      "webhook_list",
      "webhook_delete",
      "webhook_test",
      "webhook_deliveries",
    ],
  },
  "self-service API": { roles: ["key", "session"], operations: ["list", "create", "rotate", "revoke"] },
  console: {
    roles: ["root", "token:write", "token:read", "session", "portal"],
    operations: [
      "list",
      "show",
      "create",
      "enable",
      "disable",
      "rotate",
      "revoke",
      "audit",
      "usage",
      "shadow",
      "migration",
      "webhook_create",
      "webhook_list",
      "webhook_delete",
      "webhook_test",
      "webhook_deliveries",
    ],
  },
  "CLI --url": {
    roles: ["root", "token:write", "token:read"],
    operations: [
      "list",
      "show",
      "create",
      "import",
      "update",
      "rotate",
      "revoke",
      "audit",
      "usage",
      "org_show",
      "org_set",
      "token_create",
      "token_list",
      "token_revoke",
      "shadow",
      "migration",
      "webhook_create",
      "webhook_list",
      "webhook_delete",
      "webhook_test",
      "webhook_deliveries",
      "leak_report",
    ],
  },
  "leak intake": { roles: ["root", "token:write", "token:read", "reporter"], operations: ["leak_report"] },
};

/** The fields each surface lets a request name, per operation (the matrix's field cells). */
export const SURFACE_FIELDS: Record<Surface, Partial<Record<FieldOperation, readonly string[]>>> = {
  "admin API": {
    create: Object.keys(FIELDS.create),
    import: Object.keys(FIELDS.import),
    update: Object.keys(FIELDS.update),
    rotate: Object.keys(FIELDS.rotate),
  },
  "self-service API": { create: Object.keys(FIELDS.create), rotate: Object.keys(FIELDS.rotate) },
  console: { create: ["name", "orgs", "scopes", "expires_at", "rate_limit"], rotate: ["grace_seconds"] },
  "CLI --url": {
    create: Object.keys(FIELDS.create),
    import: Object.keys(FIELDS.import),
    update: Object.keys(FIELDS.update),
    rotate: Object.keys(FIELDS.rotate),
  },
  "leak intake": {},
};

const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
const header = (first: string) => [
  row([first, ...ROLES.map((r) => ROLE_NAMES[r])]),
  row(["---", ...ROLES.map(() => "---")]),
];

/** The operations table of docs/authority.md. */
export function renderOperations(): string {
  const lines = header("operation");
  for (const [op, rule] of Object.entries(OPERATIONS) as [Operation, (typeof OPERATIONS)[Operation]][]) {
    lines.push(row([`\`${op}\`: ${OPERATION_DOCS[op]}`, ...ROLES.map((r) => REACH_CELLS[rule.reach[r]])]));
  }
  return lines.join("\n");
}

/** The fields table of one operation of docs/authority.md. */
export function renderFields(op: FieldOperation): string {
  const lines = header("field");
  // A principal refused the operation names no field of it: "—".
  const cell = (r: Role, rule: FieldRule) => (OPERATIONS[op].reach[r] === "none" ? "—" : FIELD_CELLS[rule]);
  for (const [field, rules] of Object.entries(FIELDS[op]))
    lines.push(row([`\`${field}\``, ...ROLES.map((r) => cell(r, rules[r]))]));
  return lines.join("\n");
}

/** Which surface offers which operation to whom. */
export function renderSurfaces(): string {
  const lines = [row(["surface", "principals", "operations"]), row(["---", "---", "---"])];
  for (const [surface, s] of Object.entries(SURFACES)) {
    lines.push(
      row([surface, s.roles.map((r) => ROLE_NAMES[r]).join(", "), s.operations.map((o) => `\`${o}\``).join(", ")]),
    );
  }
  return lines.join("\n");
}

/** Every generated block of docs/authority.md, by its marker name. */
export function renderAuthorityTables(): Record<string, string> {
  return {
    operations: renderOperations(),
    "fields:create": renderFields("create"),
    "fields:import": renderFields("import"),
    "fields:update": renderFields("update"),
    "fields:rotate": renderFields("rotate"),
    surfaces: renderSurfaces(),
  };
}
