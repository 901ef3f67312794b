/**
 * The regular expressions of this gateway's keys (src/keys/format.ts keyPatterns), as
 * docs/leaked-keys.md gives them for GitHub's partner program, GitHub custom patterns and
 * gitleaks rules: tested against real minted keys (every one is found, in the places keys
 * are pasted) and near misses (none is, except a bad checksum, which no regex can see and
 * the leak intake refuses without a read); and the page holds exactly what the code says.
 */
import { describe, expect, it } from "vitest";
import leakedKeys from "../../../docs/leaked-keys.md?raw";
import { classifyKey, keyPatterns, mintKey } from "../../../src/keys/format";

const PREFIXES = ["kg_", "argus_", "sk-live_", "ACME"];
const CONTEXTS = [
  (k: string) => k,
  (k: string) => `API_KEY=${k}\n`,
  (k: string) => `  "apiKey": "${k}",`,
  (k: string) => `curl -H 'Authorization: Bearer ${k}' https://api.example.com`,
  (k: string) => `x-api-key: ${k}`,
  (k: string) => `const key = \`${k}\`;`,
  (k: string) => `https://api.example.com/v1?key=${k}&page=2`,
];

/** The key gitleaks' rule extracts from `text` (its secretGroup 1), or null. */
function found(prefix: string, text: string): string | null {
  return new RegExp(keyPatterns(prefix).gitleaks).exec(text)?.[1] ?? null;
}

describe("keyPatterns: real minted keys", () => {
  for (const prefix of PREFIXES) {
    it(`${prefix}: the secret format matches every minted key, and gitleaks' rule finds it wherever it is pasted`, () => {
      const exact = new RegExp(`^(?:${keyPatterns(prefix).secret})$`);
      for (let i = 0; i < 200; i++) {
        const key = mintKey(prefix);
        expect(exact.test(key), key).toBe(true);
        for (const context of CONTEXTS) expect(found(prefix, context(key)), context(key)).toBe(key);
      }
    });
  }
});

describe("keyPatterns: near misses", () => {
  for (const prefix of PREFIXES) {
    it(`${prefix}: too short, too long, another prefix, inside a longer word — not found`, () => {
      for (let i = 0; i < 50; i++) {
        const key = mintKey(prefix);
        const misses = [
          key.slice(0, -1), // 37 characters
          `${key}Z`, // 39
          `${key}0`,
          `x${key}`, // inside a longer word
          `_${key}`,
          `-${key}`,
          `${prefix.slice(0, -1)}${prefix.endsWith("_") ? "-" : "_"}${key.slice(prefix.length)}`, // another prefix
          key.slice(0, prefix.length) + key.slice(prefix.length).replace(/[0-9A-Za-z]$/, "!"), // not base62
        ];
        for (const miss of misses) expect(found(prefix, `token=${miss};`), miss).toBeNull();
      }
    });

    it(`${prefix}: a bad checksum matches the regex (no regex can check a CRC32) and is refused as corrupt`, () => {
      const key = mintKey(prefix);
      const bad = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
      expect(found(prefix, ` ${bad} `)).toBe(bad);
      expect(classifyKey(bad, prefix)).toBe("corrupt");
      expect(classifyKey(key, prefix)).toBe("minted");
    });
  }
});

describe("docs/leaked-keys.md gives exactly these patterns", () => {
  for (const prefix of ["kg_", "argus_"]) {
    it(`for KEY_PREFIX ${prefix}`, () => {
      const p = keyPatterns(prefix);
      expect(leakedKeys).toContain(p.secret);
      expect(leakedKeys).toContain(p.gitleaks);
    });
  }
});
