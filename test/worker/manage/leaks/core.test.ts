/**
 * The management core's `leak_report` (src/manage/leaks.ts) on Miniflare's real KV, with
 * the Worker's own deps (manage/worker.ts): the `key.leaked` event handed to the owner's
 * notification hook (never a key or a hash in it), lookups in bulk, and a report larger
 * than one request's KV share done in parts — "unavailable" once the share is spent, the
 * same report again going on where it stopped (reports are idempotent).
 */
import { describe, expect, it } from "vitest";
import type { Config } from "../../../../src/config/config";
import { configFor } from "../../../../src/config/config";
import { hashKey } from "../../../../src/keys/hash";
import type { KeyLeakedEvent, ManageDeps } from "../../../../src/manage/context";
import { reportLeaks } from "../../../../src/manage/leaks";
import { workerDeps } from "../../../../src/manage/worker";
import { mint } from "../../../support/worker-helpers";
import { countingKv, uniqueOrg } from "../admin/support";
import { leaksEnv, recordOf } from "./support";

function deps(extra: Partial<ManageDeps> = {}, vars = {}): ManageDeps {
  const e = leaksEnv(undefined, vars);
  return { ...workerDeps(e, configFor(e) as Config, "req-test"), ...extra };
}

const entry = (token: string) => ({ token, source: "gitleaks", url: "https://ci.example/job/42" });

describe("reportLeaks", () => {
  it("hands the owner's hook one key.leaked event per key it changed: no key, no hash", async () => {
    const events: KeyLeakedEvent[] = [];
    const org = uniqueOrg();
    const k = await mint({ orgs: [org], name: "webhook me" });
    const d = deps({ onKeyLeaked: async (ev) => void events.push(ev) });
    const out = await reportLeaks(d, { kind: "reporter", via: "scanner" }, [entry(k.key), entry(k.key)]);
    expect(out.ok).toBe(true);
    expect(events).toEqual([
      {
        type: "key.leaked",
        timestamp: expect.any(String),
        data: {
          key_id: k.record.id,
          orgs: [org],
          org,
          name: "webhook me",
          actor: "reporter:scanner",
          source: "gitleaks",
          url: "https://ci.example/job/42",
          action: "revoke",
          status: "revoked",
        },
      },
    ]);
    const text = JSON.stringify(events);
    expect(text).not.toContain(k.key);
    expect(text).not.toContain(await hashKey(k.key));
    // A replay changes nothing: no second event.
    await reportLeaks(d, { kind: "reporter", via: "scanner" }, [entry(k.key)]);
    expect(events).toHaveLength(1);
  });

  it("the leaked token inside the report's URL is never kept, logged or sent", async () => {
    const events: KeyLeakedEvent[] = [];
    const k = await mint({ orgs: [uniqueOrg()] });
    const d = deps({ onKeyLeaked: async (ev) => void events.push(ev) });
    const url = `https://logs.example/search?q=${k.key}&page=1`;
    const out = await reportLeaks(d, { kind: "reporter", via: "scanner" }, [{ token: k.key, source: "soc", url }]);
    expect(out.ok && out.value[0]!.label).toBe("true_positive");
    expect(events[0]!.data.url).toBe("https://logs.example/search?q=[redacted]&page=1");
    const record = await recordOf(await hashKey(k.key));
    expect(JSON.stringify(record)).not.toContain(k.key);
    expect(record.leaked?.url).toBe("https://logs.example/search?q=[redacted]&page=1");
  });

  it("a failing hook never fails the report", async () => {
    const k = await mint({ orgs: [uniqueOrg()] });
    const d = deps({ onKeyLeaked: () => Promise.reject(new Error("receiver down")) });
    const out = await reportLeaks(d, { kind: "reporter", via: "github" }, [entry(k.key)]);
    expect(out.ok && out.value[0]!.label).toBe("true_positive");
    expect((await recordOf(await hashKey(k.key))).revoked_reason).toBe("leaked");
  });

  it("looks tokens up in bulk: one read for many tokens", async () => {
    const kv = countingKv();
    const tokens = await Promise.all(Array.from({ length: 30 }, () => mint({ orgs: [uniqueOrg()] })));
    const out = await reportLeaks(
      deps({ kv }, { LEAKED_KEY_ACTION: "report" }),
      { kind: "reporter", via: "scanner" },
      tokens.map((t) => entry(t.key)),
    );
    expect(out.ok).toBe(true);
    expect(kv.gets.filter((g) => Array.isArray(g))).toHaveLength(1);
  });

  it("a report larger than one request's KV share: done in parts, each time further, then whole", async () => {
    // Keys of 20 orgs each: a change costs 44 KV operations (record, id pointer, 20 org
    // entries; the audit event in the global, key and 20 org logs).
    const orgs = Array.from({ length: 20 }, () => uniqueOrg());
    const keys: Awaited<ReturnType<typeof mint>>[] = [];
    for (let i = 0; i < 25; i++) keys.push(await mint({ orgs, name: `k${i}` }));
    const p = { kind: "reporter", via: "scanner" } as const;
    const entries = keys.map((k) => entry(k.key));
    const revoked = async () =>
      (await Promise.all(keys.map(async (k) => (await recordOf(await hashKey(k.key))).revoked_at !== null))).filter(
        Boolean,
      ).length;

    const first = await reportLeaks(deps(), p, entries);
    expect(first).toMatchObject({ ok: false, error: "unavailable" });
    const done = await revoked();
    expect(done).toBeGreaterThan(10);
    expect(done).toBeLessThan(25);

    const second = await reportLeaks(deps(), p, entries);
    expect(second.ok).toBe(true);
    expect(await revoked()).toBe(25);
    expect(second.ok && second.value.every((v) => v.label === "true_positive")).toBe(true);
  });

  it("a token holder (read) is refused before any lookup", async () => {
    const kv = countingKv();
    const out = await reportLeaks(
      deps({ kv }),
      { kind: "token", id: "tok_AAAAAAAAAAAAAAAAAAAA", orgs: ["*"], role: "read" },
      [entry("kg_whatever")],
    );
    expect(out).toMatchObject({ ok: false, error: "forbidden" });
    expect(kv.gets).toEqual([]);
  });
});
