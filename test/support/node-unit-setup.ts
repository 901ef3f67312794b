/**
 * Setup for the hot-path unit tests when they run in Node (vitest.mutation.config.ts,
 * used by `npm run test:mutation`). Node 20 has crypto.subtle but not workerd's
 * non-standard crypto.subtle.timingSafeEqual, which src/manage/admin/auth.ts uses: provide it
 * here, with workerd's contract (equal-length buffers, else TypeError), from Node's own
 * constant-time comparison. Tests only: src never carries a fallback.
 */
import { timingSafeEqual } from "node:crypto";

type Bytes = ArrayBuffer | ArrayBufferView;
const view = (b: Bytes): Uint8Array =>
  ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);

const subtle = globalThis.crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: Bytes, b: Bytes) => boolean };
if (typeof subtle.timingSafeEqual !== "function") {
  Object.defineProperty(subtle, "timingSafeEqual", {
    configurable: true,
    value: (a: Bytes, b: Bytes): boolean => {
      const x = view(a);
      const y = view(b);
      if (x.byteLength !== y.byteLength) throw new TypeError("Input buffers must have the same byte length");
      return timingSafeEqual(x, y);
    },
  });
}
