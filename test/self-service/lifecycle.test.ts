/**
 * keys/lifecycle.ts with an org restriction (LifecycleContext.orgs), as the self-service
 * API calls it: keys outside the caller's orgs do not exist for it, and it cannot create
 * one there. Against Miniflare's real KV.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LifecycleContext } from "../../src/keys/lifecycle";
import { createKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../../src/keys/lifecycle";
import { uniqueOrg } from "./support";

const ctx = (orgs?: string[]): LifecycleContext => ({ kv: env.KEYS, settings: { prefix: "kg_" }, actor: "test", now: Date.now(), ...(orgs ? { scope: orgs, exclusive: true } : {}) });

describe("LifecycleContext.scope with exclusive (the self-service restriction)", () => {
  it("hides keys not wholly within the caller's orgs: not found, not listed, untouched", async () => {
    const mine = uniqueOrg();
    const theirs = uniqueOrg();
    const own = await createKey(ctx(), { name: "own", orgs: [mine] });
    const foreign = await createKey(ctx(), { name: "foreign", orgs: [theirs] });
    const shared = await createKey(ctx(), { name: "shared", orgs: [mine, theirs] });
    if (!own.ok || !foreign.ok || !shared.ok) throw new Error("setup failed");
    const restricted = ctx([mine]);
    for (const id of [foreign.value.id, shared.value.id]) {
      for (const outcome of [
        await showKey(restricted, id),
        await updateKey(restricted, id, { name: "x" }),
        await revokeKey(restricted, id),
        await rotateKey(restricted, id, {}),
      ]) {
        expect(outcome).toEqual({ ok: false, error: "not_found", message: `no key with id "${id}"` });
      }
      expect(await showKey(ctx(), id)).toMatchObject({ ok: true, value: { status: "active", name: id === shared.value.id ? "shared" : "foreign" } });
    }
    const listed = await listKeys(restricted, { org: mine });
    expect(listed.ok && listed.value.keys.map((k) => k.id)).toEqual([own.value.id]);
    const unrestricted = await listKeys(ctx(), { org: mine });
    expect(unrestricted.ok && unrestricted.value.keys.map((k) => k.id).sort()).toEqual([own.value.id, shared.value.id].sort());
    expect(await showKey(restricted, own.value.id)).toMatchObject({ ok: true });
  });

  it("refuses to create a key outside the caller's orgs", async () => {
    const mine = uniqueOrg();
    const outcome = await createKey(ctx([mine]), { name: "x", orgs: [mine, uniqueOrg()] });
    expect(outcome).toMatchObject({ ok: false, error: "forbidden", message: expect.stringContaining("not allowed for org") });
    expect(await createKey(ctx([mine]), { name: "x", orgs: [mine] })).toMatchObject({ ok: true });
  });
});
