/**
 * The Argus page's key-management requests, exactly as its curl lines send them, against
 * keygate in the argus profile with SELF_SERVICE_PATH=/api/keys and KEY_PREFIX=argus_:
 * create, use (X-API-Key and Authorization: Bearer), list, revoke — and the revoked key's
 * next request gets Argus' 401 {"detail": "Not authenticated"}. (The page creates with a
 * web session; sessions are issue 11 §1, so the creation here is made with a key.)
 */
import { describe, expect, it } from "vitest";
import { mint } from "../../../support/worker-helpers";
import { call, ssEnv, uniqueOrg } from "./support";

const ARGUS = ssEnv({ AUTH_PROFILE: "argus", KEY_PREFIX: "argus_" });
/** What curl adds to every request. */
const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };

async function argusKey(org = uniqueOrg()) {
  const { key, record } = await mint({ orgs: [org], prefix: "argus_", name: "Bootstrap" });
  return { key, id: record.id, org };
}

describe("the Argus page's curl lines, unchanged", () => {
  it("create → use → list → revoke → the revoked key gets 401", async () => {
    const { key: bootstrap, org } = await argusKey();

    // curl -X POST "http://localhost:8080/api/keys" -H "Content-Type: application/json" -d '{"name": "My Integration"}'
    const created = await call("POST", "/api/keys", {
      headers: { ...CURL, "Content-Type": "application/json", "X-API-Key": bootstrap },
      body: '{"name": "My Integration"}',
      env: ARGUS,
    });
    expect(created.res.status, created.text).toBe(201);
    expect(created.res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(created.res.headers.get("cache-control")).toBe("no-store");
    expect(created.json).toMatchObject({
      id: expect.any(String),
      name: "My Integration",
      key: expect.any(String),
      key_prefix: expect.any(String),
    });
    expect(Date.parse(created.json.created_at)).not.toBeNaN();
    const key: string = created.json.key;
    // argus_<random>, and key_prefix is how the key starts.
    expect(key).toMatch(/^argus_[A-Za-z0-9]+$/);
    expect(key.startsWith(created.json.key_prefix)).toBe(true);
    expect(created.json.key_prefix.length).toBeLessThan(key.length);
    expect(created.calls).toHaveLength(0);

    // curl -H "X-API-Key: argus_your_key_here" http://localhost:8080/api/devices
    const viaHeader = await call("GET", "/api/devices", { headers: { ...CURL, "X-API-Key": key }, env: ARGUS });
    expect(viaHeader.res.status).toBe(200);
    expect(viaHeader.calls).toHaveLength(1);
    expect(viaHeader.calls[0]!.headers["x-org-slug"]).toBe(org);
    expect(viaHeader.calls[0]!.headers["x-api-key-id"]).toBe(created.json.id);
    // curl -H "Authorization: Bearer argus_your_key_here" http://localhost:8080/api/devices
    const viaBearer = await call("GET", "/api/devices", {
      headers: { ...CURL, Authorization: `Bearer ${key}` },
      env: ARGUS,
    });
    expect(viaBearer.res.status).toBe(200);
    expect(viaBearer.calls).toHaveLength(1);

    // curl -H "X-API-Key: argus_xxxxx" http://localhost:8080/api/keys
    const listed = await call("GET", "/api/keys", { headers: { ...CURL, "X-API-Key": key }, env: ARGUS });
    expect(listed.res.status).toBe(200);
    expect(Array.isArray(listed.json)).toBe(true);
    const mine = listed.json.find((k: any) => k.id === created.json.id);
    expect(mine).toMatchObject({
      id: created.json.id,
      name: "My Integration",
      key_prefix: created.json.key_prefix,
      created_at: created.json.created_at,
    });
    expect(Date.parse(mine.last_used_at)).not.toBeNaN(); // used on /api/devices above
    expect(listed.json.map((k: any) => k.name).sort()).toEqual(["Bootstrap", "My Integration"]);
    for (const k of listed.json)
      expect(Object.keys(k)).toEqual(
        expect.arrayContaining(["id", "name", "key_prefix", "created_at", "last_used_at"]),
      );
    expect(listed.text).not.toContain(key);
    expect(listed.text).not.toContain(bootstrap);
    expect(listed.calls).toHaveLength(0);

    // The same list with Authorization: Bearer.
    const listedBearer = await call("GET", "/api/keys", {
      headers: { ...CURL, Authorization: `Bearer ${key}` },
      env: ARGUS,
    });
    expect(listedBearer.res.status).toBe(200);
    expect(listedBearer.json.map((k: any) => k.id).sort()).toEqual(listed.json.map((k: any) => k.id).sort());

    // curl -X DELETE -H "X-API-Key: argus_xxxxx" http://localhost:8080/api/keys/1
    const deleted = await call("DELETE", `/api/keys/${created.json.id}`, {
      headers: { ...CURL, "X-API-Key": bootstrap },
      env: ARGUS,
    });
    expect(deleted.res.ok).toBe(true);
    expect(deleted.calls).toHaveLength(0);

    // Revoked at once: Argus' 401.
    const refused = await call("GET", "/api/devices", { headers: { ...CURL, "X-API-Key": key }, env: ARGUS });
    expect(refused.res.status).toBe(401);
    expect(refused.json).toEqual({ detail: "Not authenticated" });
    expect(refused.calls).toHaveLength(0);
    // And it no longer lists.
    const after = await call("GET", "/api/keys", { headers: { ...CURL, "X-API-Key": bootstrap }, env: ARGUS });
    expect(after.json.map((k: any) => k.name)).toEqual(["Bootstrap"]);
  });

  it("without a key, or with a bad one: Argus' 401 body, never forwarded", async () => {
    for (const headers of [
      {},
      { "X-API-Key": "argus_not-a-real-key" },
      { Authorization: "Bearer argus_nope" },
    ] as Record<string, string>[]) {
      const r = await call("GET", "/api/keys", { headers: { ...CURL, ...headers }, env: ARGUS });
      expect(r.res.status).toBe(401);
      expect(r.json).toEqual({ detail: "Not authenticated" });
      expect(r.res.headers.get("www-authenticate")).toBeTruthy();
      expect(r.calls).toHaveLength(0);
    }
  });
});
