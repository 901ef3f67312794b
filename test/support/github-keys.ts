/**
 * Stand-ins for GitHub's secret scanning keys (the leak intake's tests), minted fresh per
 * run: P-256 pairs whose identifier is the SHA-256 of the public key, as GitHub's are. The
 * test origin (scripts/origin.ts) holds the private halves and signs reports with them
 * (`/__origin/github/sign`); the first is published in its public_keys, the second is not
 * (an unknown identifier, until a test publishes it).
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import type { GithubTestKey } from "../../scripts/origin";

export function githubKeys(): GithubTestKey[] {
  return [true, false].map((listed) => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = publicKey.export({ format: "der", type: "spki" });
    return {
      identifier: createHash("sha256").update(der).digest("hex"),
      privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }) as string,
      publicKeyPem: publicKey.export({ format: "pem", type: "spki" }) as string,
      listed,
    };
  });
}
