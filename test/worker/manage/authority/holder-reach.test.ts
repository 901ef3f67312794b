/**
 * The management core with a holder principal, as the self-service API and the console
 * call it (moved from test/self-service/lifecycle.test.ts, which tested the lifecycle's
 * former org restriction: the authority table decides it now). Keys not wholly of the
 * holder's org do not exist for it, and it cannot create one elsewhere. Against
 * Miniflare's real KV.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ManageDeps } from "../../../../src/manage/context";
import { createKey, listKeys, revokeKey, rotateKey, showKey, updateKey } from "../../../../src/manage/keys";
import type { Principal } from "../../../../src/manage/principal";
import { mint } from "../../../support/worker-helpers";
import { uniqueOrg } from "../self-service/support";

const deps = (): ManageDeps => ({ kv: env.KEYS, settings: { prefix: "kg_" }, actor: "test", now: Date.now() });
const ROOT: Principal = { kind: "root" };

describe("a holder reaches the keys of its org alone", () => {
  it("hides keys not wholly within the holder's org: not found, not listed, untouched", async () => {
    const mine = uniqueOrg();
    const theirs = uniqueOrg();
    const own = await createKey(deps(), ROOT, { name: "own", orgs: [mine] });
    const foreign = await createKey(deps(), ROOT, { name: "foreign", orgs: [theirs] });
    const shared = await createKey(deps(), ROOT, { name: "shared", orgs: [mine, theirs] });
    if (!own.ok || !foreign.ok || !shared.ok) throw new Error("setup failed");
    const holder = await mint({ orgs: [mine], scopes: ["read"] });
    const p: Principal = { kind: "key", org: mine, record: holder.record };
    for (const id of [foreign.value.id, shared.value.id]) {
      for (const outcome of [
        await showKey(deps(), p, id),
        await revokeKey(deps(), p, id),
        await rotateKey(deps(), p, id, {}),
      ]) {
        expect(outcome).toEqual({ ok: false, error: "not_found", message: `no key with id "${id}"` });
      }
      expect(await showKey(deps(), ROOT, id)).toMatchObject({
        ok: true,
        value: { status: "active", name: id === shared.value.id ? "shared" : "foreign" },
      });
    }
    // Changing a key's settings is the operator's, whatever the key.
    expect(await updateKey(deps(), p, own.value.id, { name: "x" })).toMatchObject({ ok: false, error: "forbidden" });
    const listed = await listKeys(deps(), p, { org: mine });
    expect(listed.ok && listed.value.keys.map((k) => k.id).sort()).toEqual([own.value.id, holder.record.id].sort());
    const unrestricted = await listKeys(deps(), ROOT, { org: mine });
    expect(unrestricted.ok && unrestricted.value.keys.map((k) => k.id).sort()).toEqual(
      [own.value.id, shared.value.id, holder.record.id].sort(),
    );
    expect(await showKey(deps(), p, own.value.id)).toMatchObject({ ok: true });
    expect(await listKeys(deps(), p, { org: theirs })).toMatchObject({
      ok: false,
      error: "forbidden",
      message: expect.stringContaining("not allowed for org"),
    });
  });

  it("a holder's key belongs to its org: naming orgs is refused (400 naming the field)", async () => {
    const mine = uniqueOrg();
    const holder = await mint({ orgs: [mine] });
    const p: Principal = { kind: "key", org: mine, record: holder.record };
    for (const orgs of [[mine, uniqueOrg()], [mine]]) {
      const outcome = await createKey(deps(), p, { name: "x", orgs });
      expect(outcome).toMatchObject({
        ok: false,
        error: "invalid",
        errors: [{ field: "orgs", message: expect.stringContaining("operator") }],
      });
    }
  });
});
