/**
 * What a leak report does (issue 23 §2): LEAKED_KEY_ACTION revoke | disable | report, each
 * "as named", and how the key's owner is told — the console's key page ("Reported leaked at
 * <url> on <date>"), the admin API's view (what `keys show` prints), the self-service API's
 * listing (revoked, `revoked_reason: "leaked"`), the audit log. Through the real worker.
 */
import { describe, expect, it } from "vitest";
import { hashKey } from "../../../../src/keys/hash";
import { mint } from "../../../support/worker-helpers";
import { api, countingKv, uniqueOrg } from "../admin/support";
import { get, signIn, UI } from "../console/support";
import { githubReport, keySet, leaksEnv, recordOf, statusWith } from "./support";

const FOUND_AT = "https://github.com/octo/app/blob/5f3c2a1/.env";

async function liveKey(org = uniqueOrg()) {
  const k = await mint({ orgs: [org], name: "deploy" });
  return { ...k, hash: await hashKey(k.key), org };
}

const show = async (id: string, e: ReturnType<typeof leaksEnv>) =>
  (await api("GET", `/_keygate/keys/${id}`, { env: e })).json;

describe("LEAKED_KEY_ACTION", () => {
  it("revoke (the default): revoked, revoked_reason leaked", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    await githubReport([{ token: k.key, url: FOUND_AT }], e);
    const v = await show(k.record.id, e);
    expect(v).toMatchObject({ status: "revoked", revoked_reason: "leaked" });
    expect(v.leaked).toMatchObject({ reporter: "reporter:github", source: "commit", url: FOUND_AT, action: "revoke" });
    expect(await statusWith(k.key, e)).toBe(401);
  });

  it("disable: disabled, not revoked; an operator may enable it again, and a replay does not disable it again", async () => {
    const kv = countingKv();
    const e = leaksEnv(keySet(), { LEAKED_KEY_ACTION: "disable", KEYS: kv, LAST_USED_INTERVAL_MS: 0 });
    const k = await liveKey();
    await githubReport([{ token: k.key, url: FOUND_AT }], e);
    const v = await show(k.record.id, e);
    expect(v).toMatchObject({ status: "disabled", enabled: false, revoked_at: null });
    expect(v.revoked_reason).toBeUndefined();
    expect(v.leaked).toMatchObject({ action: "disable" });
    expect(await statusWith(k.key, e)).toBe(401);

    expect((await api("PATCH", `/_keygate/keys/${k.record.id}`, { body: { enabled: true }, env: e })).res.status).toBe(
      200,
    );
    expect(await statusWith(k.key, e)).toBe(200);
    const writes = kv.puts.length;
    const again = await githubReport([{ token: k.key, url: FOUND_AT }], e);
    expect(await again.json()).toEqual([expect.objectContaining({ label: "true_positive" })]);
    expect(await statusWith(k.key, e)).toBe(200);
    expect(kv.puts.length).toBe(writes);
  });

  it("report: only recorded (and audited); the key keeps working — until a report asks for more", async () => {
    const e = leaksEnv(keySet(), { LEAKED_KEY_ACTION: "report" });
    const k = await liveKey();
    const res = await githubReport([{ token: k.key, url: FOUND_AT }], e);
    expect(await res.json()).toEqual([expect.objectContaining({ label: "true_positive" })]);
    expect(await statusWith(k.key, e)).toBe(200);
    const v = await show(k.record.id, e);
    expect(v).toMatchObject({ status: "active", enabled: true, revoked_at: null });
    expect(v.leaked).toMatchObject({ action: "report", url: FOUND_AT });
    const audit = (await api("GET", `/_keygate/audit?key_id=${k.record.id}`, { env: e })).json.events;
    expect(audit.filter((ev: { action: string }) => ev.action === "key.leaked")).toEqual([
      expect.objectContaining({ leak: expect.objectContaining({ action: "report" }) }),
    ]);

    // The operator switches to revoke: the next report of the key revokes it.
    const strict = leaksEnv(keySet());
    await githubReport([{ token: k.key }], strict);
    expect(await statusWith(k.key, strict)).toBe(401);
    const after = await recordOf(k.hash);
    expect(after.revoked_reason).toBe("leaked");
    expect(after.leaked).toMatchObject({ url: FOUND_AT, action: "revoke" }); // the first report's place and date
  });

  it("a key already revoked is only marked: no revoked_reason, the report's action none", async () => {
    const e = leaksEnv();
    const k = await liveKey();
    expect((await api("DELETE", `/_keygate/keys/${k.record.id}`, { env: e })).res.status).toBe(200);
    const res = await githubReport([{ token: k.key }], e);
    expect(await res.json()).toEqual([expect.objectContaining({ label: "true_positive" })]);
    const v = await show(k.record.id, e);
    expect(v.revoked_reason).toBeUndefined();
    expect(v.leaked).toMatchObject({ action: "none" });
  });
});

describe("the owner is told", () => {
  it('the console\'s key page: "Reported leaked at <url> on <date>"', async () => {
    const e = leaksEnv();
    const k = await liveKey();
    await githubReport([{ token: k.key, url: FOUND_AT }], e);
    const s = await signIn(UI, e);
    const res = await get(`${UI}/keys/${k.record.id}`, s.cookie, e);
    expect(res.status).toBe(200);
    const html = await res.text();
    const text = html.replace(/<[^>]+>/g, "").replace(/\s+/g, " ");
    expect(text).toMatch(
      new RegExp(
        `Reported leaked at ${FOUND_AT.replace(/[.]/g, "\\.")} on \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC by GitHub secret scanning \\(commit\\): revoked\\.`,
      ),
    );
    expect(html).toContain(`<a href="${FOUND_AT}" rel="noopener noreferrer nofollow">`);
    expect(text).toContain("Reported leaked at"); // and in the audit timeline
  });

  it("a URL that is not http(s) is not kept, and nothing in a kept one is markup", async () => {
    const e = leaksEnv();
    const a = await liveKey();
    const b = await liveKey();
    await githubReport([{ token: a.key, url: "javascript:alert(1)" }], e);
    await githubReport([{ token: b.key, url: 'https://x.example/"><script>alert(1)</script>' }], e);
    expect((await recordOf(a.hash)).leaked?.url).toBeNull();
    const s = await signIn(UI, e);
    const pageA = await (await get(`${UI}/keys/${a.record.id}`, s.cookie, e)).text();
    expect(pageA).toMatch(/Reported leaked on <time/);
    expect(pageA).not.toContain("javascript:");
    const pageB = await (await get(`${UI}/keys/${b.record.id}`, s.cookie, e)).text();
    expect(pageB).not.toContain("<script>alert(1)</script>");
  });

  it('the self-service API lists a leaked key as revoked with revoked_reason "leaked"; other revoked keys stay unlisted', async () => {
    const e = leaksEnv(keySet(), { SELF_SERVICE_PATH: "/api/keys" });
    const org = uniqueOrg();
    const holder = await liveKey(org);
    const leaked = await liveKey(org);
    const gone = await liveKey(org);
    expect((await api("DELETE", `/_keygate/keys/${gone.record.id}`, { env: e })).res.status).toBe(200);
    await githubReport([{ token: leaked.key }], e);

    const { send } = await import("../../../support/worker-helpers");
    const res = await send("/api/keys", { headers: { "x-api-key": holder.key } }, e);
    expect(res.status).toBe(200);
    const listed = (await res.json()) as Record<string, unknown>[];
    expect(listed.map((x) => x.id).sort()).toEqual([holder.record.id, leaked.record.id].sort());
    const entry = listed.find((x) => x.id === leaked.record.id)!;
    expect(entry).toMatchObject({ status: "revoked", revoked_reason: "leaked", revoked_at: expect.any(String) });
    // The Argus fields are there as for any key; nothing secret.
    expect(Object.keys(entry)).toEqual(
      expect.arrayContaining(["id", "name", "key_prefix", "created_at", "last_used_at"]),
    );
    expect(JSON.stringify(listed)).not.toContain(leaked.key);
    expect(listed.find((x) => x.id === holder.record.id)).not.toHaveProperty("revoked_reason");
  });
});
