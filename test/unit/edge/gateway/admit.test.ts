/**
 * The decision on its own (src/edge/gateway/admit.ts): an Admission, with no response built
 * and no Hono context — forward with the identity to vouch for and the headers to add, or
 * refuse with a code, a reason and the facts the access log derives from. Real local KV.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/config";
import type { Admission, AdmitDeps } from "../../../../src/edge/admission";
import { admit } from "../../../../src/edge/gateway/admit";
import { newIsolateState } from "../../../../src/edge/gateway/isolate";
import { DEFAULT_LOCATION } from "../../../../src/edge/location";
import type { Vars } from "../../../support/worker-helpers";
import { makeEnv, mint, patchRecord, unknownKey } from "../../../support/worker-helpers";

function deps(vars: Vars = {}): AdmitDeps & { pending: Promise<unknown>[] } {
  const env = makeEnv(vars);
  const pending: Promise<unknown>[] = [];
  return {
    config: parseConfig(env),
    env,
    isolate: newIsolateState(100),
    requestId: "req-1",
    waitUntil: (p) => pending.push(p),
    where: () => DEFAULT_LOCATION,
    pending,
  };
}

const req = (path: string, init: RequestInit = {}) => new Request(`https://gateway.test${path}`, init);

describe("admit", () => {
  it("a valid key: forward, with the key's identity and the facts for the log", async () => {
    const { key, record } = await mint({ orgs: ["acme"], scopes: ["read"] });
    const d = deps();
    const a: Admission = await admit(req("/v1/things", { headers: { "x-api-key": key } }), d);
    expect(a).toMatchObject({
      kind: "forward",
      path: "/v1/things",
      identity: { method: "key", keyId: record.id, org: "acme", scopes: ["read"] },
      preflight: false,
      anonymous: false,
      facts: {
        path: "/v1/things",
        auth: "key",
        key_id: record.id,
        org: "acme",
        cache: "kv",
        usage: { org: "acme", keyId: record.id },
      },
    });
    await Promise.all(d.pending);
    // The same isolate state: the second decision is a cache hit.
    expect((await admit(req("/v1/things", { headers: { "x-api-key": key } }), d)).facts.cache).toBe("memory");
  });

  it("an unknown key: refuse invalid_key, the reason for the log only", async () => {
    const a = await admit(req("/v1/things", { headers: { "x-api-key": unknownKey() } }), deps());
    expect(a).toMatchObject({
      kind: "refuse",
      code: "invalid_key",
      reason: "not_found",
      facts: { auth: "key", cache: "kv" },
    });
    expect(a.facts.key_id).toBeUndefined();
  });

  it("no credential: refuse missing_credential; TRACE: method_not_allowed with Allow", async () => {
    expect(await admit(req("/v1/things"), deps())).toMatchObject({
      kind: "refuse",
      code: "missing_credential",
      reason: "missing_credential",
    });
    expect(await admit(req("/v1/things", { method: "TRACE" }), deps())).toMatchObject({
      kind: "refuse",
      code: "method_not_allowed",
      reason: "method_refused",
      headers: { allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" },
    });
  });

  it("a revoked key: refuse invalid_key, yet the key is known to the log and to usage", async () => {
    const { key, record } = await mint({ orgs: ["acme"] });
    const d = deps();
    await patchRecord(key, { revoked_at: new Date().toISOString() });
    const a = await admit(req("/v1/things", { headers: { "x-api-key": key } }), d);
    expect(a).toMatchObject({
      kind: "refuse",
      code: "invalid_key",
      reason: "revoked",
      facts: { key_id: record.id, usage: { org: "acme", keyId: record.id } },
    });
  });
});
