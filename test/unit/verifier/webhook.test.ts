/**
 * Webhook signatures (verifier/index.js signWebhook / verifyWebhook), held to the Standard
 * Webhooks specification's own reference library (the `standardwebhooks` package): what one
 * signs the other verifies, both ways. Run inside workerd ("workers") and on Node
 * ("verifier-node"), like the rest of the verifier.
 */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  signWebhook,
  verifyWebhook,
  webhookSecretBytes,
} from "../../../verifier/index.js";

const SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)))}`;
const OTHER = `whsec_${btoa("another secret of thirty-two by!")}`;
const NOW_MS = 1_780_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = JSON.stringify({
  type: "key.revoked",
  timestamp: "2026-05-28T20:26:40.000Z",
  data: { key_id: "key_AbCdEfGhIjKlMnOpQrSt", org: "acme", name: "ci — “déploiement”", actor: "root" },
});
const ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const now = () => NOW_MS;

async function delivery(secret = SECRET, body = BODY, ts = NOW_S) {
  return {
    headers: {
      "webhook-id": ID,
      "webhook-timestamp": String(ts),
      "webhook-signature": await signWebhook(secret, { id: ID, timestamp: ts, body }),
    },
    body,
  };
}

describe("webhook signatures: the Standard Webhooks scheme", () => {
  it("signWebhook signs exactly as the specification's library does (HMAC-SHA256 of id.timestamp.body, the secret's bytes)", async () => {
    const spec = new Webhook(SECRET);
    expect(await signWebhook(SECRET, { id: ID, timestamp: NOW_S, body: BODY })).toBe(
      spec.sign(ID, new Date(NOW_MS), BODY),
    );
    // The whsec_ prefix names the format: the key is the base64's bytes, not the text.
    expect(webhookSecretBytes(SECRET)).toHaveLength(32);
    expect(await signWebhook(SECRET.slice("whsec_".length), { id: ID, timestamp: NOW_S, body: BODY })).toBe(
      spec.sign(ID, new Date(NOW_MS), BODY),
    );
  });

  it("the specification's library verifies what signWebhook signed", async () => {
    const d = await delivery();
    const spec = new Webhook(SECRET);
    const realNow = Date.now;
    Date.now = now; // the library reads the clock itself
    try {
      expect(spec.verify(d.body, d.headers)).toEqual(JSON.parse(BODY));
      expect(() => spec.verify(d.body + " ", d.headers)).toThrow();
    } finally {
      Date.now = realNow;
    }
  });

  it("verifyWebhook accepts what the specification's library signs, with the payload and the id", async () => {
    const spec = new Webhook(SECRET);
    const headers = {
      "webhook-id": ID,
      "webhook-timestamp": String(NOW_S),
      "webhook-signature": spec.sign(ID, new Date(NOW_MS), BODY),
    };
    expect(await verifyWebhook(SECRET, { headers, body: BODY }, { now })).toEqual({
      ok: true,
      id: ID,
      timestamp: NOW_S,
      payload: JSON.parse(BODY),
    });
    // Raw bytes (a Node Buffer, a Uint8Array) and Fetch Headers work the same.
    const bytes = new TextEncoder().encode(BODY);
    expect((await verifyWebhook(SECRET, { headers: new Headers(headers), body: bytes }, { now })).ok).toBe(true);
  });

  it("refuses a changed body, another secret, a stale or future timestamp, missing headers, other schemes", async () => {
    const d = await delivery();
    expect(await verifyWebhook(SECRET, { ...d, body: BODY.replace("acme", "acmf") }, { now })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(await verifyWebhook(OTHER, d, { now })).toEqual({ ok: false, reason: "bad_signature" });
    const late = () => NOW_MS + (DEFAULT_WEBHOOK_TOLERANCE_SECONDS + 1) * 1000;
    expect(await verifyWebhook(SECRET, d, { now: late })).toEqual({ ok: false, reason: "stale" });
    const early = () => NOW_MS - (DEFAULT_WEBHOOK_TOLERANCE_SECONDS + 1) * 1000;
    expect(await verifyWebhook(SECRET, d, { now: early })).toEqual({ ok: false, reason: "stale" });
    for (const h of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const headers: Record<string, string> = { ...d.headers };
      delete headers[h];
      expect(await verifyWebhook(SECRET, { headers, body: BODY }, { now }), h).toEqual({
        ok: false,
        reason: "missing",
      });
    }
    const v1a = { ...d.headers, "webhook-signature": d.headers["webhook-signature"].replace("v1,", "v1a,") };
    expect(await verifyWebhook(SECRET, { headers: v1a, body: BODY }, { now })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    const dotted = { ...d.headers, "webhook-id": "msg.1" };
    expect(await verifyWebhook(SECRET, { headers: dotted, body: BODY }, { now })).toEqual({
      ok: false,
      reason: "malformed",
    });
  });

  it("one matching signature among several (a secret being rotated) is enough", async () => {
    const d = await delivery();
    const old = await signWebhook(OTHER, { id: ID, timestamp: NOW_S, body: BODY });
    const headers = { ...d.headers, "webhook-signature": `${old} ${d.headers["webhook-signature"]}` };
    expect((await verifyWebhook(SECRET, { headers, body: BODY }, { now })).ok).toBe(true);
    expect(
      (await verifyWebhook(SECRET, { headers: { ...headers, "webhook-signature": old }, body: BODY }, { now })).ok,
    ).toBe(false);
  });

  it("a secret that is not whsec_ + base64 is refused by name, never echoed", () => {
    for (const bad of ["", "whsec_", "whsec_not base64!", "whsec_abc"])
      expect(() => webhookSecretBytes(bad)).toThrow(/^a webhook secret is whsec_ followed by base64$/);
  });
});
