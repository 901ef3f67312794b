/**
 * The events' payloads (src/events/types.ts): each builder takes what it tells from the
 * change — ids, orgs, names — and nothing else, whatever it is handed: a full key record
 * (its hash-derived `start`, its credits' balance…) or a token record never leaks into one.
 */
import { describe, expect, it } from "vitest";
import { creditsEvent, keyEvent, orgEvent, payloadOf, tokenEvent } from "../../../src/events/types";
import type { KeyRecord, TokenRecord } from "../../../src/keys/record";

const NOW = Date.UTC(2030, 4, 6, 7, 8, 9);
const record = {
  v: 1,
  id: "key_AbCdEfGhIjKlMnOpQrSt",
  name: "ci",
  start: "kg_a1c9",
  orgs: ["acme", "globex"],
  scopes: ["read"],
  enabled: true,
  created_at: "2030-01-01T00:00:00.000Z",
  expires_at: null,
  revoked_at: null,
  meta: { team: "ops" },
  credits: { remaining: 5, set_at: "2030-01-01T00:00:00.000Z", balance_id: "key_AbCdEfGhIjKlMnOpQrSt" },
  allowed_ips: ["203.0.113.0/24"],
} as unknown as KeyRecord;

describe("event payloads", () => {
  it("a key event: type, timestamp, data {key_id, org, orgs, name, actor, …extra}; routed by its orgs and the key", () => {
    const e = keyEvent("key.revoked", record, "token:tok_1", NOW);
    expect(payloadOf(e)).toEqual({
      type: "key.revoked",
      timestamp: "2030-05-06T07:08:09.000Z",
      data: { key_id: record.id, org: "acme", orgs: ["acme", "globex"], name: "ci", actor: "token:tok_1" },
    });
    expect(e).toMatchObject({ orgs: ["acme", "globex"], subject: `key/${record.id}` });
    expect(JSON.stringify(payloadOf(e))).not.toMatch(/kg_a1c9|203\.0\.113|team|balance/);
  });

  it("credits events are once per fill; org and token events name no secret", () => {
    const low = creditsEvent(
      "credits.low",
      record,
      { remaining: 1, basis: 10, threshold_percent: 10, period: "p1" },
      NOW,
    );
    expect(low.data).toEqual({
      key_id: record.id,
      org: "acme",
      orgs: ["acme", "globex"],
      name: "ci",
      actor: "keygate",
      remaining: 1,
      of: 10,
      threshold_percent: 10,
    });
    expect(low.once).toBe(`credits.low:${record.id}:p1`);
    expect(payloadOf(orgEvent("acme", null, "root", NOW))).toEqual({
      type: "org.limit_changed",
      timestamp: "2030-05-06T07:08:09.000Z",
      data: { org: "acme", rate_limit: null, actor: "root" },
    });
    const token = {
      v: 1,
      id: "tok_x",
      name: "partner",
      orgs: ["acme"],
      role: "write",
      start: "kgt_ab",
      created_at: "",
      expires_at: null,
      revoked_at: null,
    } as unknown as TokenRecord;
    const t = tokenEvent("token.created", token, "root", NOW);
    expect(t.data).toEqual({ token_id: "tok_x", name: "partner", orgs: ["acme"], role: "write", actor: "root" });
    expect(t.rootOnly).toBe(true);
  });
});
