import { generateKeyPairSync } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startOrigin } from "../scripts/origin";
import { githubKeys } from "./support/github-keys";

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    /** JSON of SessionTestKeys (test/worker/edge/sessions/support.ts). */
    sessionKeys: string;
    /** JSON of the stand-ins for GitHub's secret scanning keys: [{identifier, publicKeyPem, listed}] (no private half). */
    githubKeys: string;
  }
}

/**
 * Signing keys for session tests, minted fresh per run: the origin serves the public
 * halves of rsa-1 and ec-1 as its JWKS (an identity provider); rsa-2 is a key the JWKS does
 * not hold yet (rotation); the private halves go to the tests, which sign tokens in workerd.
 */
function sessionKeys() {
  const rsa = (kid: string) => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      private: { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256" },
      public: { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" },
      publicPem: publicKey.export({ format: "pem", type: "spki" }) as string,
    };
  };
  const ec = (kid: string) => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return {
      private: { ...privateKey.export({ format: "jwk" }), kid, alg: "ES256" },
      public: { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" },
    };
  };
  return { rsa1: rsa("rsa-1"), rsa2: rsa("rsa-2"), ec1: ec("ec-1") };
}

/** One real HTTP origin on loopback for the whole workers project. */
export default async function setup(project: TestProject) {
  const keys = sessionKeys();
  const github = githubKeys();
  const origin = await startOrigin(0, "127.0.0.1", { jwks: { keys: [keys.rsa1.public, keys.ec1.public] }, github });
  project.provide("originUrl", origin.url);
  project.provide("sessionKeys", JSON.stringify(keys));
  project.provide(
    "githubKeys",
    JSON.stringify(github.map(({ identifier, publicKeyPem, listed }) => ({ identifier, publicKeyPem, listed }))),
  );
  return () => origin.close();
}
