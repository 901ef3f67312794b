/**
 * The self-service key API with a web session instead of a key (the Argus page: "Via API
 * (with session)": `curl -X POST /api/keys -b cookies.txt -d '{"name": …}'`). A verified
 * session JWT — in the SESSION_COOKIE cookie or as `Authorization: Bearer <jwt>` — acts for
 * the org of its org claim, may grant only the scopes of its scopes claim, and is named
 * `session:<sub>` in the audit log. A bad session is the profile's 401, like a bad key.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listAudit } from "../../../../src/keys/store/audit";
import { claims, hs256, SECRET } from "../../edge/sessions/support";
import { call, holder, PATH, ssEnv, uniqueOrg } from "./support";

const COOKIE = "__session";
const sessEnv = (vars: Record<string, string> = {}) =>
  ssEnv({ SESSION_JWT_SECRET: SECRET, SESSION_COOKIE: COOKIE, AUTH_PROFILE: "argus", KEY_PREFIX: "argus_", ...vars });
const cookie = (jwt: string) => ({ cookie: `theme=dark; ${COOKIE}=${jwt}` });

describe("self-service with a session (the Argus page's create-with-session call)", () => {
  it("POST with the session cookie creates a key of the session's org; the key then works and lists", async () => {
    const org = uniqueOrg();
    const e = sessEnv();
    const jwt = await hs256(claims({ sub: "user_42", org_slug: org, scope: "read write" }));
    const created = await call("POST", PATH, { headers: cookie(jwt), body: { name: "My Integration" }, env: e });
    expect(created.res.status).toBe(201);
    expect(created.res.headers.get("cache-control")).toBe("no-store");
    expect(created.json).toMatchObject({
      name: "My Integration",
      key: expect.stringMatching(/^argus_/),
      key_prefix: expect.any(String),
      created_at: expect.any(String),
    });
    expect(created.json.key.startsWith(created.json.key_prefix)).toBe(true);
    expect(created.calls).toHaveLength(0);
    // Without scopes, the new key gets the session's.
    const listed = await call("GET", PATH, { key: created.json.key, env: e });
    expect(listed.res.status).toBe(200);
    expect(listed.json).toEqual([
      expect.objectContaining({ id: created.json.id, name: "My Integration", scopes: ["read", "write"] }),
    ]);
    // The same list through the session, as Bearer this time.
    const viaBearer = await call("GET", PATH, { headers: { authorization: `Bearer ${jwt}` }, env: e });
    expect(viaBearer.json.map((k: { id: string }) => k.id)).toEqual([created.json.id]);
  });

  it("a session may not grant a scope it does not hold (403), and sees no other org's keys", async () => {
    const org = uniqueOrg();
    const e = sessEnv();
    const foreign = await holder({ org: uniqueOrg(), name: "theirs" });
    const jwt = await hs256(claims({ sub: "user_7", org_slug: org, scope: "read" }));
    const refused = await call("POST", PATH, {
      headers: cookie(jwt),
      body: { name: "x", scopes: ["read", "admin"] },
      env: e,
    });
    expect(refused.res.status).toBe(403);
    expect(refused.json).toEqual({ detail: expect.any(String) });
    expect((await call("GET", PATH, { headers: cookie(jwt), env: e })).json).toEqual([]);
    const gone = await call("DELETE", `${PATH}/${foreign.record.id}`, { headers: cookie(jwt), env: e });
    expect(gone.res.status).toBe(404);
  });

  it("changes made with a session are audited as session:<sub>", async () => {
    const org = uniqueOrg();
    const e = sessEnv();
    const jwt = await hs256(claims({ sub: "user_audit", org_slug: org, scope: "read" }));
    const created = await call("POST", PATH, { headers: cookie(jwt), body: { name: "audited" }, env: e });
    expect(created.res.status).toBe(201);
    expect((await call("DELETE", `${PATH}/${created.json.id}`, { headers: cookie(jwt), env: e })).res.status).toBe(200);
    const events = (await listAudit(env.KEYS, { keyId: created.json.id }, 10, null)).items;
    expect(events.map((ev) => [ev.action, ev.actor])).toEqual([
      ["revoke", "session:user_audit"],
      ["create", "session:user_audit"],
    ]);
  });

  it("an expired, forged or org-less session is the profile's 401, byte-identical to a bad key's, and creates nothing", async () => {
    const org = uniqueOrg();
    const e = sessEnv();
    const badKey = await call("POST", PATH, { key: "argus_not_a_key", body: { name: "x" }, env: e });
    expect(badKey.res.status).toBe(401);
    const past = Date.now() - 3_600_000;
    for (const jwt of [
      await hs256(claims({ org_slug: org }, past)),
      await hs256(claims({ org_slug: org }), "another-secret-".padEnd(48, "x")),
      await hs256(claims({ org_slug: undefined })),
    ]) {
      const res = await call("POST", PATH, { headers: cookie(jwt), body: { name: "x" }, env: e });
      expect(res.res.status).toBe(401);
      expect(res.text).toBe(badKey.text);
      expect(res.res.headers.get("www-authenticate")).toBe(badKey.res.headers.get("www-authenticate"));
    }
    expect(
      (await call("GET", PATH, { key: (await holder({ org })).key, env: e })).json.map((k: { name: string }) => k.name),
    ).toEqual(["holder"]);
  });
  it("a session cookie changes keys only from this origin's pages: another site's (or subdomain's) request is 403 and changes nothing", async () => {
    const org = uniqueOrg();
    const e = sessEnv();
    const victim = await holder({ org, name: "victim" });
    const jwt = await hs256(claims({ sub: "user_9", org_slug: org, scope: "read write" }));
    // What a page elsewhere can send without a preflight: a no-cors POST with no body, the cookie attached.
    const elsewhere: Record<string, string>[] = [
      { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
      { origin: "https://blog.gateway.test", "sec-fetch-site": "same-site" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
    ];
    for (const from of elsewhere) {
      const forged = await call("POST", `${PATH}/${victim.record.id}/regenerate`, {
        headers: { ...cookie(jwt), ...from },
        env: e,
      });
      expect(forged.res.status, JSON.stringify(from)).toBe(403);
      expect(forged.json).toEqual({ detail: "Not enough permissions" }); // the argus profile's 403
    }
    const revoke = await call("DELETE", `${PATH}/${victim.record.id}`, {
      headers: { ...cookie(jwt), origin: "https://evil.example" },
      env: e,
    });
    expect(revoke.res.status).toBe(403);
    expect((await call("GET", "/anything", { key: victim.key, env: e })).res.status).toBe(200); // untouched
    // Reads, this origin's own pages, clients that send no Origin, and Bearer sessions go on.
    expect(
      (await call("GET", PATH, { headers: { ...cookie(jwt), origin: "https://evil.example" }, env: e })).res.status,
    ).toBe(200);
    const own = { origin: "https://gateway.test", "sec-fetch-site": "same-origin" };
    expect(
      (await call("POST", PATH, { headers: { ...cookie(jwt), ...own }, body: { name: "mine" }, env: e })).res.status,
    ).toBe(201);
    expect((await call("POST", PATH, { headers: cookie(jwt), body: { name: "curl" }, env: e })).res.status).toBe(201);
    const bearer = { authorization: `Bearer ${jwt}`, origin: "https://app.example" };
    expect((await call("POST", PATH, { headers: bearer, body: { name: "bearer" }, env: e })).res.status).toBe(201);
  });
});
