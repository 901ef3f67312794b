/**
 * docs/migrating.md's guides, read from the page itself (its marked blocks), so the tests run
 * what the page says: per seed API, the gateway's variables in report mode, the old system's
 * keys as the guide exports them (a JSON-lines file), the commands, and the variables that
 * switch it to enforce. And each seed's client requests, as its authentication page
 * describes its clients (the old API's answer to each: scripts/legacy-api.ts).
 */
import type { SeedProfile } from "../../scripts/legacy-keys";
import { DEMO, SEED_PROFILES } from "../../scripts/legacy-keys";

export interface Guide {
  profile: SeedProfile;
  /** wrangler.toml [vars] of step 2 (report mode). */
  vars: Record<string, string>;
  /** The keys file's name, as the commands name it, and its lines. */
  keysFile: string;
  keys: string;
  /** The shell commands, in order. */
  commands: string;
  /** The variables that switch it to enforce (step 3). */
  enforce: Record<string, string>;
}

/** `NAME = "value"` / `NAME = 'value'` lines of a toml block. */
function tomlVars(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.split("\n")) {
    const m = /^([A-Z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(line.trim());
    if (m) out[m[1]!] = m[2] ?? m[3]!;
  }
  return out;
}

function marked(page: string, marker: string, lang: string): { args: string; body: string } {
  const re = new RegExp(`<!-- ${marker}(?: ([^>]*?))? -->\\n\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``);
  const m = re.exec(page);
  if (!m) throw new Error(`docs/migrating.md has no ${lang} block marked ${marker}`);
  return { args: (m[1] ?? "").trim(), body: m[2]! };
}

export function guidesOf(page: string): Record<SeedProfile, Guide> {
  const out = {} as Record<SeedProfile, Guide>;
  for (const profile of SEED_PROFILES) {
    const keys = marked(page, `guide:${profile}:keys`, "jsonl");
    out[profile] = {
      profile,
      vars: tomlVars(marked(page, `guide:${profile}:vars`, "toml").body),
      keysFile: keys.args,
      keys: keys.body,
      commands: marked(page, `guide:${profile}:commands`, "sh").body,
      enforce: tomlVars(marked(page, `guide:${profile}:enforce`, "toml").body),
    };
  }
  return out;
}

export interface ClientRequest {
  what: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The old API's status for it (its own authentication, before keygate). */
  status: number;
}

const basic = (key: string) => `Basic ${btoa(`${key}:`)}`;
const UNKNOWN_UUID = "11111111-2222-4333-8444-555555555555";

/** Each seed's clients, as its authentication page describes them: the good ones and the refused ones. */
export const CLIENTS: Record<SeedProfile, ClientRequest[]> = {
  argos: [
    {
      what: "a project's key",
      method: "GET",
      path: "/v1/projects/proj-alpha",
      headers: { "x-api-key": DEMO.argos.ok.key },
      status: 200,
    },
    {
      what: "another project's key",
      method: "GET",
      path: "/v1/projects/proj-beta",
      headers: { "x-api-key": DEMO.argos.limited.key },
      status: 200,
    },
    { what: "no key", method: "GET", path: "/v1/projects/proj-alpha", headers: {}, status: 401 },
    {
      what: "an unknown key",
      method: "GET",
      path: "/v1/projects/proj-alpha",
      headers: { "x-api-key": UNKNOWN_UUID },
      status: 401,
    },
    {
      what: "a revoked key",
      method: "GET",
      path: "/v1/projects/proj-alpha",
      headers: { "x-api-key": DEMO.argos.revoked.key },
      status: 401,
    },
    {
      what: "admin, with the scope",
      method: "POST",
      path: "/v1/projects/proj-alpha/admin/rotate",
      headers: { "x-api-key": DEMO.argos.ok.key },
      status: 200,
    },
    {
      what: "admin, without it",
      method: "POST",
      path: "/v1/projects/proj-beta/admin/rotate",
      headers: { "x-api-key": DEMO.argos.limited.key },
      status: 403,
    },
  ],
  artanis: [
    {
      what: "its org",
      method: "GET",
      path: "/api/prompts?projectSlug=my-project",
      headers: { "x-api-key": DEMO.artanis.ok.key, "x-org-slug": "my-org" },
      status: 200,
    },
    {
      what: "its other org",
      method: "GET",
      path: "/api/prompts?projectSlug=p2",
      headers: { "x-api-key": DEMO.artanis.ok.key, "x-org-slug": "partner-org" },
      status: 200,
    },
    {
      what: "no key",
      method: "GET",
      path: "/api/prompts?projectSlug=my-project",
      headers: { "x-org-slug": "my-org" },
      status: 401,
    },
    {
      what: "an unknown key",
      method: "GET",
      path: "/api/prompts",
      headers: { "x-api-key": "ak_00000000000000000000000000000000", "x-org-slug": "my-org" },
      status: 401,
    },
    {
      what: "a revoked key",
      method: "GET",
      path: "/api/prompts",
      headers: { "x-api-key": DEMO.artanis.revoked.key, "x-org-slug": "my-org" },
      status: 401,
    },
    {
      what: "an org it does not belong to",
      method: "GET",
      path: "/api/prompts",
      headers: { "x-api-key": DEMO.artanis.limited.key, "x-org-slug": "my-org" },
      status: 403,
    },
    {
      what: "no x-org-slug",
      method: "GET",
      path: "/api/prompts",
      headers: { "x-api-key": DEMO.artanis.ok.key },
      status: 400,
    },
  ],
  operate: [
    {
      what: "its org's companies",
      method: "GET",
      path: "/companies/list",
      headers: { "x-api-key": DEMO.operate.ok.key },
      status: 200,
    },
    {
      what: "reports, with access",
      method: "GET",
      path: "/reports/q1",
      headers: { "x-api-key": DEMO.operate.ok.key },
      status: 200,
    },
    { what: "no key", method: "GET", path: "/companies/list", headers: {}, status: 400 },
    {
      what: "an unknown key",
      method: "GET",
      path: "/companies/list",
      headers: { "x-api-key": "sk_live_unknownunknownunknown00" },
      status: 401,
    },
    {
      what: "a revoked key",
      method: "GET",
      path: "/companies/list",
      headers: { "x-api-key": DEMO.operate.revoked.key },
      status: 401,
    },
    {
      what: "reports, without access",
      method: "GET",
      path: "/reports/q1",
      headers: { "x-api-key": DEMO.operate.limited.key },
      status: 403,
    },
  ],
  argus: [
    {
      what: "X-API-Key",
      method: "GET",
      path: "/api/devices",
      headers: { "X-API-Key": DEMO.argus.ok.key },
      status: 200,
    },
    {
      what: "Bearer",
      method: "GET",
      path: "/api/devices",
      headers: { authorization: `Bearer ${DEMO.argus.limited.key}` },
      status: 200,
    },
    { what: "stats", method: "GET", path: "/api/stats", headers: { "X-API-Key": DEMO.argus.limited.key }, status: 200 },
    {
      what: "a scan, as admin",
      method: "POST",
      path: "/api/scan/trigger?profile=quick",
      headers: { "X-API-Key": DEMO.argus.ok.key },
      status: 200,
    },
    { what: "no key", method: "GET", path: "/api/devices", headers: {}, status: 401 },
    {
      what: "an unknown key",
      method: "GET",
      path: "/api/devices",
      headers: { "X-API-Key": "argus_unknownunknownunknownunknownunknownunknown" },
      status: 401,
    },
    {
      what: "a revoked key",
      method: "GET",
      path: "/api/devices",
      headers: { "X-API-Key": DEMO.argus.revoked.key },
      status: 401,
    },
    {
      what: "a scan, not admin",
      method: "POST",
      path: "/api/scan/trigger?profile=quick",
      headers: { authorization: `Bearer ${DEMO.argus.limited.key}` },
      status: 403,
    },
  ],
  onecodex: [
    { what: "the schema, no key", method: "GET", path: "/api/v1/schema", headers: {}, status: 200 },
    { what: "public samples, no key", method: "GET", path: "/api/v1/samples", headers: {}, status: 200 },
    {
      what: "Basic, key as username",
      method: "GET",
      path: "/api/v1/account",
      headers: { authorization: basic(DEMO.onecodex.ok.key) },
      status: 200,
    },
    {
      what: "X-API-Key",
      method: "GET",
      path: "/api/v1/account",
      headers: { "x-api-key": DEMO.onecodex.limited.key },
      status: 200,
    },
    {
      what: "its private sample",
      method: "GET",
      path: "/api/v1/samples/s1/private",
      headers: { authorization: basic(DEMO.onecodex.ok.key) },
      status: 200,
    },
    { what: "no key", method: "GET", path: "/api/v1/account", headers: {}, status: 401 },
    {
      what: "an unknown key",
      method: "GET",
      path: "/api/v1/account",
      headers: { "x-api-key": "00000000000000000000000000000000" },
      status: 401,
    },
    {
      what: "a revoked key",
      method: "GET",
      path: "/api/v1/account",
      headers: { authorization: basic(DEMO.onecodex.revoked.key) },
      status: 401,
    },
    {
      what: "another lab's private sample",
      method: "GET",
      path: "/api/v1/samples/s1/private",
      headers: { "x-api-key": DEMO.onecodex.limited.key },
      status: 404,
    },
  ],
};
