/**
 * Imported keys and the webhooks (docs/webhooks.md, docs/migrating.md): an imported key is
 * a new key to this gateway, told as `key.created` with `imported: true` — a plaintext and
 * a hash alike, through the management core's one path; the re-hash of a hash import at the
 * key's first use is not a new key and tells nothing; a bulk import is one call to the
 * webhook hub for its batch (as it is one audit event and one publication), not one per key.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../../../src/env";
import { through } from "../../../support/worker-helpers";
import { api, uniqueOrg } from "../admin/support";
import { createHook, deliver, events, future, hooksEnv, receiver } from "./support";

afterEach(() => vi.restoreAllMocks());

const KEY_EVENTS = ["key.created", "key.updated", "key.rotated", "key.revoked", "key.disabled", "key.enabled"];

async function sha256(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}
const legacyKey = () => `argus_${crypto.randomUUID().replace(/-/g, "")}AbCdEfGhIjK`;

/** The env with its WEBHOOKS namespace counting the hub stubs it hands out (one per call to the hub). */
function countingHub(e: Env): { env: Env; calls: () => number } {
  let calls = 0;
  const real = env.WEBHOOKS!;
  const counting = new Proxy(real, {
    get(target, prop) {
      if (prop === "get") calls++;
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { env: { ...e, WEBHOOKS: counting } as Env, calls: () => calls };
}

describe("imported keys, told to the webhooks", () => {
  it("a plaintext import and a hash import are key.created (imported: true); the hash's re-hash at first use tells nothing", async () => {
    future();
    const E = hooksEnv();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: KEY_EVENTS, orgs: [org] }, undefined, E);
    const plain = legacyKey();
    const hashed = legacyKey();
    const imported: string[] = [];
    for (const body of [
      { key: plain, orgs: [org], name: "plain" },
      { hash: `sha256:${await sha256(hashed)}`, key_prefix: hashed.slice(0, 8), orgs: [org], name: "hashed" },
    ]) {
      const { res, json } = await api("POST", "/_keygate/keys/import", { body, env: E });
      expect(res.status, JSON.stringify(json)).toBe(201);
      imported.push(json.id);
    }
    // Each key's first use: the hash import is re-indexed under keygate's own hash (the lazy re-hash).
    for (const key of [plain, hashed])
      expect((await through("/v1/things", { headers: { "x-api-key": key } }, E)).res.status).toBe(200);
    const progress = (await api("GET", `/_keygate/migration?org=${org}`, { env: E })).json;
    expect(progress.totals).toMatchObject({ imported: 2, pending: 0, migrated: 2 });
    while (await deliver());
    const got = await events(r.name);
    expect(got.map((e) => [e.type, e.data.key_id, e.data.imported])).toEqual([
      ["key.created", imported[0], true],
      ["key.created", imported[1], true],
    ]);
    expect(got[1]!.data).toMatchObject({ org, orgs: [org], name: "hashed", actor: "root" });
    expect(JSON.stringify(got)).not.toContain(await sha256(hashed));
  });

  it("a bulk import is one call to the webhook hub for the whole batch, and each key is told", async () => {
    future();
    const org = uniqueOrg();
    const r = receiver();
    await createHook({ url: r.url, events: ["key.created"], orgs: [org] }, undefined, hooksEnv());
    const batch = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const key = legacyKey();
        return i % 2 ? { key, orgs: [org] } : { hash: `sha256:${await sha256(key)}`, orgs: [org] };
      }),
    );
    const hub = countingHub(hooksEnv());
    const { res, json } = await api("POST", "/_keygate/keys/import", { body: batch, env: hub.env });
    expect(res.status, JSON.stringify(json)).toBe(200);
    expect(json.imported).toBe(40);
    expect(hub.calls()).toBe(1);
    while (await deliver());
    const got = await events(r.name);
    expect(got).toHaveLength(40);
    expect(new Set(got.map((e) => e.data.key_id))).toEqual(new Set(json.results.map((x: { id: string }) => x.id)));
    expect(got.every((e) => e.type === "key.created" && e.data.imported === true)).toBe(true);
  });
});
