/**
 * The admin token check on its own (src/manage/admin/auth.ts). Runs in workerd (npm test) and in
 * Node (npm run test:mutation, with crypto.subtle.timingSafeEqual provided by
 * test/support/node-unit-setup.ts). The admin API's door through the worker is tested in
 * test/worker/manage/admin/auth.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_REALM, adminChallenge, checkAdminToken } from "../../../../src/manage/admin/auth";

const TOKEN = "test-admin-token-0123456789abcdef0123456789";
/** Same length as TOKEN; SHA-256 shares its first byte, and its first three bytes, with TOKEN's. */
const NEAR_1 = "test-admin-token-0123456789abcdef01000000eo";
const NEAR_3 = "test-admin-token-0123456789abcdef010007leew";

const sha256 = async (s: string) => new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

describe("checkAdminToken", () => {
  it("the right token, with the Bearer scheme in any case and spaces around it: ok", async () => {
    for (const h of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER   ${TOKEN}`, `Bearer ${TOKEN}  `]) {
      expect(await checkAdminToken(h, TOKEN), h).toBe("ok");
    }
  });

  it("no Authorization, or another scheme: missing (no error code in the challenge)", async () => {
    for (const h of [
      null,
      "",
      `Basic ${btoa(`${TOKEN}:`)}`,
      TOKEN,
      `Token ${TOKEN}`,
      `Bearers ${TOKEN}`,
      `xBearer ${TOKEN}`,
      `Bearer${TOKEN}`,
    ]) {
      expect(await checkAdminToken(h, TOKEN), String(h)).toBe("missing");
    }
  });

  it("a malformed Bearer value: invalid", async () => {
    for (const h of ["Bearer", "Bearer ", `Bearer ${TOKEN} extra`, `Bearer\t${TOKEN}`, `Bearer:${TOKEN}`]) {
      expect(await checkAdminToken(h, TOKEN), h).toBe("invalid");
    }
  });

  it("wrong tokens: other, longer, shorter, and ones whose digest starts like the right one's", async () => {
    const right = await sha256(TOKEN);
    expect((await sha256(NEAR_1))[0]).toBe(right[0]);
    expect(hex((await sha256(NEAR_3)).slice(0, 3))).toBe(hex(right.slice(0, 3)));
    for (const t of [
      TOKEN.slice(0, -1) + "X",
      TOKEN + "0",
      TOKEN.slice(0, 10),
      "x",
      NEAR_1,
      NEAR_3,
      TOKEN.toUpperCase(),
    ]) {
      expect(await checkAdminToken(`Bearer ${t}`, TOKEN), t).toBe("invalid");
    }
  });

  it("follows ADMIN_TOKEN when it changes (the cached digest is the current token's)", async () => {
    const other = "another-admin-token-0123456789abcdef012345";
    expect(await checkAdminToken(`Bearer ${TOKEN}`, TOKEN)).toBe("ok");
    expect(await checkAdminToken(`Bearer ${TOKEN}`, other)).toBe("invalid");
    expect(await checkAdminToken(`Bearer ${other}`, other)).toBe("ok");
    expect(await checkAdminToken(`Bearer ${other}`, TOKEN)).toBe("invalid");
    expect(await checkAdminToken(`Bearer ${TOKEN}`, TOKEN)).toBe("ok");
  });
});

describe("adminChallenge", () => {
  it('RFC 6750 §3: error="invalid_token" only when a wrong token was sent', () => {
    expect(ADMIN_REALM).toBe("keygate-admin");
    expect(adminChallenge("missing")).toBe('Bearer realm="keygate-admin"');
    expect(adminChallenge("invalid")).toBe('Bearer realm="keygate-admin", error="invalid_token"');
  });
});
