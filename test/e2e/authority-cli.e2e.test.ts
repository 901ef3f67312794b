/**
 * The authority matrix on the CLI's `--url` surface (issue 18), against a real
 * `wrangler dev`: every principal the CLI can be (root, a write token, a read token in
 * KEYGATE_ADMIN_TOKEN) × every operation the CLI offers × every field the CLI can send,
 * through the CLI's own remote backend (cli/backends/remote.ts), asserting allowed or
 * refused as the authority table says (src/manage/authority.ts, the same module the
 * gateway runs). Then the CLI itself, as a user runs it, for an allowed and a refused call
 * of each principal: exit 0 with the answer, or exit 1 with one `error:` line naming why.
 * (The workerd matrix, test/worker/manage/authority/matrix.test.ts, also flips the table's cells: the CLI's
 * `--url` answers are the admin API's.)
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Refused } from "../../cli/args";
import type { Backend } from "../../cli/backends/backend";
import { remoteBackend } from "../../cli/backends/remote";
import type { Origin } from "../../scripts/origin";
import { startOrigin } from "../../scripts/origin";
import type { FieldOperation, Operation } from "../../src/manage/authority";
import { FIELDS, OPERATIONS } from "../../src/manage/authority";
import { SURFACE_FIELDS, SURFACES } from "../../src/manage/authority-doc";
import type { Role } from "../../src/manage/principal";
import type { WranglerDev } from "../support/node-wrangler";
import { keysCli, startWrangler } from "../support/node-wrangler";

const ROOT = randomBytes(32).toString("hex");
const CLI = SURFACES["CLI --url"];
let origin: Origin;
let gw: WranglerDev;
const org = `ac-${randomUUID().slice(0, 8)}`;
const tokens: Partial<Record<Role, string>> = {};
/** A receiver on the test origin (http on loopback: this is wrangler dev); its webhooks want key.expiring only (never sent here). */
let HOOK_URL = "";

beforeAll(async () => {
  origin = await startOrigin();
  HOOK_URL = `${origin.url}/__origin/hook/authority`;
  gw = await startWrangler({ vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: ROOT } });
  tokens.root = ROOT;
  for (const role of ["write", "read"] as const) {
    const minted = await remoteBackend(gw.url, ROOT).tokenCreate({ name: `cli ${role}`, orgs: [org], role });
    if (!minted.ok) throw new Error(JSON.stringify(minted));
    tokens[`token:${role}`] = (minted.value as { token: string }).token;
  }
});

afterAll(async () => {
  await gw?.stop();
  await origin?.close();
});

const DAY = 86_400_000;

async function rootHook(): Promise<{ id: string }> {
  const made = await remoteBackend(gw.url, ROOT).webhookCreate({
    url: HOOK_URL,
    events: ["key.expiring"],
    orgs: [org],
  });
  if (!made.ok) throw new Error(JSON.stringify(made));
  return made.value as { id: string };
}

async function target(): Promise<{ id: string }> {
  const made = await remoteBackend(gw.url, ROOT).create({ orgs: [org], name: "target", scopes: ["read"] });
  if (!made.ok) throw new Error(JSON.stringify(made));
  return made.value as { id: string };
}

/** One operation through the CLI's remote backend: allowed (an answer), refused (403), or invalid (400). */
async function run(
  b: Backend,
  op: Operation,
  extra: Record<string, unknown> = {},
): Promise<"allowed" | "refused" | "invalid"> {
  const needsKey = ["show", "update", "rotate", "revoke"].includes(op);
  const k = needsKey ? await target() : null;
  // A webhook of the org, made by root, for the operations on one (its event is never sent here).
  const hook = ["webhook_delete", "webhook_test", "webhook_deliveries"].includes(op) ? await rootHook() : null;
  const calls: Partial<Record<Operation, () => Promise<unknown>>> = {
    list: () => b.list({ org }),
    show: () => b.show(k!.id),
    create: () => b.create({ orgs: [org], name: "made", ...extra }),
    import: () =>
      b.import({ ...(extra.hash === undefined ? { key: `imported-${randomUUID()}` } : {}), orgs: [org], ...extra }),
    update: () => b.update(k!.id, Object.keys(extra).length ? extra : { name: "renamed" }),
    rotate: () => b.rotate(k!.id, extra),
    revoke: () => b.revoke(k!.id),
    audit: () => b.audit({ org }),
    usage: () => b.usage({ org }),
    org_show: () => b.orgShow(org),
    org_set: () => b.orgSet(org, { rate_limit: null }),
    token_create: () => b.tokenCreate({ name: "x", orgs: [org], role: "read" }),
    token_list: () => b.tokenList({}),
    shadow: () => b.shadow({ org }),
    migration: () => b.migration({ org }),
    token_revoke: async () => {
      const t = await remoteBackend(gw.url, ROOT).tokenCreate({ name: "doomed", orgs: [org], role: "read" });
      return b.tokenRevoke((t as unknown as { value: { id: string } }).value.id);
    },
    webhook_create: () => b.webhookCreate({ url: HOOK_URL, events: ["key.expiring"], orgs: [org] }),
    webhook_list: () => b.webhookList(),
    webhook_delete: () => b.webhookRemove(hook!.id),
    webhook_test: () => b.webhookTest(hook!.id),
    webhook_deliveries: () => b.webhookDeliveries(hook!.id, {}),
    leak_report: async () => {
      const made = await remoteBackend(gw.url, ROOT).create({ orgs: [org], name: "leaky" });
      return b.leaked({ tokens: [(made as unknown as { value: { key: string } }).value.key], source: "matrix" });
    },
  };
  const call = calls[op];
  if (!call) throw new Error(`no CLI driver for ${op}`);
  try {
    const outcome = (await call()) as { ok: boolean; error?: string };
    if (outcome.ok) return "allowed";
    if (outcome.error === "invalid") return "invalid";
    throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
  } catch (err) {
    if (err instanceof Refused && /\(403\)|403:/.test(err.message)) return "refused";
    throw err;
  }
}

const VALUES: Record<string, unknown> = {
  key: `imported-${randomUUID()}`,
  key_prefix: "imported",
  name: "named",
  scopes: ["read"],
  expires_at: new Date(Date.now() + DAY).toISOString(),
  meta: { team: "x" },
  rate_limit: { limit: 5, period_seconds: 60 },
  credits: { remaining: 5 },
  allowed_ips: ["203.0.113.0/24"],
  enabled: false,
  grace_seconds: 60,
};

describe("authority matrix on the CLI's --url surface (a real wrangler dev)", () => {
  const cells = CLI.roles.flatMap((role) => CLI.operations.map((op) => [role, op] as const));
  it.each(cells)("%s · %s: as the table says", async (role, op) => {
    const got = await run(remoteBackend(gw.url, tokens[role]!), op);
    expect(got).toBe(OPERATIONS[op].reach[role] === "none" ? "refused" : "allowed");
  });

  const fieldCells = CLI.roles.flatMap((role) =>
    (Object.entries(SURFACE_FIELDS["CLI --url"]) as [FieldOperation, string[]][]).flatMap(([op, fields]) =>
      OPERATIONS[op].reach[role] === "none" ? [] : fields.map((field) => [role, op, field] as const),
    ),
  );
  it.each(fieldCells)("%s · %s · %s: as the table says", async (role, op, field) => {
    const rule = FIELDS[op][field]![role];
    const fresh: Record<string, () => unknown> = {
      orgs: () => [org],
      key: () => `imported-${randomUUID()}`,
      hash: () => `sha256:${randomUUID().replace(/-/g, "")}${randomUUID().replace(/-/g, "")}`,
    };
    const value = fresh[field]?.() ?? VALUES[field];
    const got = await run(remoteBackend(gw.url, tokens[role]!), op, { [field]: value });
    expect(got).toBe(rule === "yes" ? "allowed" : rule === "operator" ? "invalid" : "refused");
  });
});

describe("the CLI as a user runs it (--url)", () => {
  it("each principal: an allowed call exits 0 with the answer; a refused one exits 1 with one error line", {
    timeout: 120_000,
  }, async () => {
    const url = ["--url", gw.url];
    const asRoot = await keysCli(["create", "--org", org, "--name", "by root", "--json", ...url], {
      KEYGATE_ADMIN_TOKEN: ROOT,
    });
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expect(JSON.parse(asRoot.stdout)).toMatchObject({ orgs: [org], key: expect.any(String) });

    const writer = { KEYGATE_ADMIN_TOKEN: tokens["token:write"]! };
    expect((await keysCli(["create", "--org", org, "--name", "by writer", ...url], writer)).code).toBe(0);
    const outside = await keysCli(["create", "--org", `${org}-other`, "--name", "elsewhere", ...url], writer);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/^error: .*403.*not allowed for org/m);
    const tokensRefused = await keysCli(["tokens", "list", ...url], writer);
    expect(tokensRefused.code).toBe(1);
    expect(tokensRefused.stderr).toMatch(/Only the root ADMIN_TOKEN may manage admin tokens/);

    const reader = { KEYGATE_ADMIN_TOKEN: tokens["token:read"]! };
    const listed = await keysCli(["list", "--org", org, "--json", ...url], reader);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).keys.length).toBeGreaterThan(0);
    const refused = await keysCli(["create", "--org", org, "--name", "by reader", ...url], reader);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*read-only/m);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  });
});
