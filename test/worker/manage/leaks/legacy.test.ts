/**
 * A leaked key that was imported by its old system's hash and not used since (issue 23:
 * "imported legacy keys by lookup"; docs/migrating.md): its record waits under its legacy
 * identity, not under keygate's hash of the key, so the leak intake looks it up as the
 * gateway does on a miss — and revokes or disables it like any key; a revoked one leaves the
 * migration's pending count. Through the real worker: your own scanner's path and GitHub's.
 */
import { describe, expect, it } from "vitest";
import { api, uniqueOrg } from "../admin/support";
import { githubReport, keySet, LEAK_TOKEN, leakCall, leaksEnv, sha256Hex, statusWith } from "./support";

/** KEY_PEPPER set: a sha256 of the old system is not keygate's own hash, so the import waits for its first use. */
const PEPPERED = { KEY_PEPPER: "leaks-legacy-pepper-0123456789" };

async function sha512Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A key of the old system (Argus-like), imported by its hash: the key and its id. */
async function importedByHash(e: ReturnType<typeof leaksEnv>, org: string, algorithm: "sha256" | "sha512") {
  const key = `argus_${crypto.randomUUID().replace(/-/g, "")}AbCdEfGhIjK`;
  const digest = algorithm === "sha256" ? await sha256Hex(key) : await sha512Hex(key);
  const { res, json } = await api("POST", "/_keygate/keys/import", {
    body: { hash: `${algorithm}:${digest}`, key_prefix: key.slice(0, 8), orgs: [org], name: "from the old system" },
    env: e,
  });
  expect(res.status, JSON.stringify(json)).toBe(201);
  expect(json.legacy).toBe(algorithm);
  return { key, id: json.id as string };
}

const migration = async (org: string, e: ReturnType<typeof leaksEnv>) =>
  (await api("GET", `/_keygate/migration?org=${org}`, { env: e })).json.totals;

describe("a leaked key imported by its hash, still pending its re-hash", () => {
  it("your scanner's report finds it under its legacy identity and revokes it; the gateway refuses it; pending falls", async () => {
    const e = leaksEnv(keySet(), PEPPERED);
    const org = uniqueOrg();
    const k = await importedByHash(e, org, "sha256");
    expect(await migration(org, e)).toMatchObject({ imported: 1, pending: 1 });
    const a = await leakCall(
      "POST",
      "",
      { authorization: `Bearer ${LEAK_TOKEN}` },
      { tokens: [k.key], source: "gitleaks", url: "https://intranet.example/wiki/page" },
      e,
    );
    expect(a.status).toBe(200);
    expect(a.json.results).toEqual([{ token_hash: await sha256Hex(k.key), label: "true_positive" }]);
    const shown = (await api("GET", `/_keygate/keys/${k.id}`, { env: e })).json;
    expect(shown).toMatchObject({ status: "revoked", revoked_reason: "leaked", legacy: "sha256" });
    expect(shown.leaked).toMatchObject({ reporter: "reporter:scanner", source: "gitleaks", action: "revoke" });
    // The gateway's own legacy lookup finds the revoked record: refused, and never re-indexed.
    expect(await statusWith(k.key, e)).toBe(401);
    expect(await migration(org, e)).toMatchObject({ imported: 1, pending: 0, migrated: 0, retired: 1 });
  });

  it("LEAKED_KEY_ACTION=disable disables it; it stays pending (enabled again, it is re-indexed at its first use)", async () => {
    const e = leaksEnv(keySet(), { ...PEPPERED, LEAKED_KEY_ACTION: "disable" });
    const org = uniqueOrg();
    const k = await importedByHash(e, org, "sha512");
    const a = await leakCall(
      "POST",
      "",
      { authorization: `Bearer ${LEAK_TOKEN}` },
      { tokens: [k.key], source: "trufflehog" },
      e,
    );
    expect(a.json.results[0].label).toBe("true_positive");
    expect((await api("GET", `/_keygate/keys/${k.id}`, { env: e })).json).toMatchObject({ status: "disabled" });
    expect(await statusWith(k.key, e)).toBe(401); // refused, as a disabled key is
    expect(await migration(org, e)).toMatchObject({ pending: 1 });
  });

  it("a signed GitHub report naming it is a true positive and revokes it", async () => {
    const e = leaksEnv(keySet(), PEPPERED);
    const org = uniqueOrg();
    const k = await importedByHash(e, org, "sha256");
    const res = await githubReport([{ token: k.key }], e);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { token_hash: await sha256Hex(k.key), token_type: "keygate_api_key", label: "true_positive" },
    ]);
    expect((await api("GET", `/_keygate/keys/${k.id}`, { env: e })).json.status).toBe("revoked");
    expect(await statusWith(k.key, e)).toBe(401);
  });
});
