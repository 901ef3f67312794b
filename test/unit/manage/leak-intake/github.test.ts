/**
 * GitHub's signatures are DER (ASN.1 ECDSA-Sig-Value); WebCrypto verifies r‖s. The
 * conversion (src/manage/leak-intake/github.ts derToRawSignature) against a DER encoder of
 * the test's own: every shape of scalar (high bit set, leading zero bytes) round-trips, a
 * real signature verifies after the round trip, and everything that is not exactly one
 * minimal DER SEQUENCE of two positive INTEGERs is refused, never repaired. (Signatures made
 * by Node's OpenSSL, as GitHub's are, are verified end to end in
 * test/worker/manage/leaks/github.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { derToRawSignature } from "../../../../src/manage/leak-intake/github";

/** DER INTEGER of a 32-byte big-endian unsigned scalar. */
function derInt(scalar: Uint8Array): number[] {
  let i = 0;
  while (i < scalar.length - 1 && scalar[i] === 0) i++;
  const bytes = [...scalar.subarray(i)];
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return [0x02, bytes.length, ...bytes];
}

function der(raw: Uint8Array): Uint8Array {
  const body = [...derInt(raw.subarray(0, 32)), ...derInt(raw.subarray(32))];
  return new Uint8Array([0x30, body.length, ...body]);
}

function scalar(first: number[], fill = 0x11): Uint8Array {
  const out = new Uint8Array(32).fill(fill);
  out.set(first);
  return out;
}

function raw(r: Uint8Array, s: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(r);
  out.set(s, 32);
  return out;
}

describe("derToRawSignature", () => {
  it("round-trips scalars of every shape: high bit set (33-byte INTEGER), leading zeros (shorter INTEGERs)", () => {
    const shapes = [
      scalar([0x80]),
      scalar([0xff, 0xff]),
      scalar([0x7f]),
      scalar([0x00, 0x80]),
      scalar([0x00, 0x00, 0x01]),
      scalar([0x00, 0x7f]),
      scalar([], 0x01),
    ];
    for (const r of shapes)
      for (const s of shapes) {
        const r64 = raw(r, s);
        expect(derToRawSignature(der(r64))).toEqual(r64);
      }
  });

  it("a real P-256 signature verifies after DER and back", async () => {
    const { privateKey, publicKey } = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const body = new TextEncoder().encode('[{"token":"kg_x","type":"t","url":"","source":"commit"}]');
    for (let i = 0; i < 20; i++) {
      const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, body));
      const back = derToRawSignature(der(sig))!;
      expect(back).toEqual(sig);
      expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, back, body)).toBe(true);
    }
  });

  it("refuses anything else", () => {
    const good = [...der(raw(scalar([0x80]), scalar([0x01])))];
    const cases: [string, number[]][] = [
      ["empty", []],
      ["not a SEQUENCE", [0x31, ...good.slice(1)]],
      ["long-form length", [0x30, 0x81, good.length - 2, ...good.slice(2)]],
      ["length too long", [0x30, good[1]! + 1, ...good.slice(2)]],
      ["length too short", [0x30, good[1]! - 1, ...good.slice(2)]],
      ["a trailing byte", [0x30, good[1]! + 1, ...good.slice(2), 0x00]],
      ["r not an INTEGER", [0x30, good[1]!, 0x04, ...good.slice(3)]],
      ["one INTEGER only", [0x30, 0x22, ...good.slice(2, 2 + 0x23 - 1)]],
      ["negative r", [0x30, 0x44, 0x02, 0x20, 0x80, ...new Array(31).fill(1), 0x02, 0x20, ...new Array(32).fill(1)]],
      [
        "non-minimal r",
        [0x30, 0x45, 0x02, 0x21, 0x00, 0x7f, ...new Array(31).fill(1), 0x02, 0x20, ...new Array(32).fill(1)],
      ],
      ["zero-length r", [0x30, 0x24, 0x02, 0x00, 0x02, 0x20, ...new Array(32).fill(1)]],
      [
        "r of 33 bytes without its sign byte",
        [0x30, 0x45, 0x02, 0x21, 0x01, ...new Array(32).fill(1), 0x02, 0x20, ...new Array(32).fill(1)],
      ],
      [
        "r of 34 bytes",
        [0x30, 0x46, 0x02, 0x22, 0x00, 0x00, 0x80, ...new Array(31).fill(1), 0x02, 0x20, ...new Array(32).fill(1)],
      ],
      ["r zero", [0x30, 0x25, 0x02, 0x01, 0x00, 0x02, 0x20, ...new Array(32).fill(1)]],
      ["too long", [...good, ...new Array(80).fill(0)]],
    ];
    for (const [name, bytes] of cases) expect(derToRawSignature(new Uint8Array(bytes)), name).toBeNull();
  });
});
