/**
 * The seed APIs' demo keys (scripts/legacy-api.ts serves the APIs; docs/migrating.md's guides
 * import their hashes): plain data, so tests inside workerd import it too.
 */
export type SeedProfile = "argos" | "artanis" | "operate" | "argus" | "onecodex";
export const SEED_PROFILES: readonly SeedProfile[] = ["argos", "artanis", "operate", "argus", "onecodex"];

/** A key of the old system: the org it belongs to (Artanis: the orgs), what it may do, and whether it was revoked. */
export interface LegacyKey {
  key: string;
  orgs: string[];
  scopes: string[];
  revoked?: boolean;
}

/**
 * The demo keys of each API, as its clients hold them: ARGOS UUIDs (one per project),
 * Artanis keys for one or more organizations, Operate `sk_live_…` keys (one org each),
 * Argus `argus_` + 43 URL-safe base64 characters, One Codex 32 hex characters.
 */
export const DEMO: Record<SeedProfile, { ok: LegacyKey; limited: LegacyKey; revoked: LegacyKey }> = {
  argos: {
    ok: { key: "7d3c9a12-5e8b-4f61-9c2d-1b4e6f8a0c35", orgs: ["proj-alpha"], scopes: ["read", "admin"] },
    limited: { key: "c41f0e77-2a9d-4b38-8e15-6d7c3b2a9f04", orgs: ["proj-beta"], scopes: ["read"] },
    revoked: { key: "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b", orgs: ["proj-alpha"], scopes: ["read"], revoked: true },
  },
  artanis: {
    ok: { key: "ak_7f3e9b2c4d1a8e6f0b5c3d7a9e2f4b1c", orgs: ["my-org", "partner-org"], scopes: [] },
    limited: { key: "ak_0a1b2c3d4e5f60718293a4b5c6d7e8f9", orgs: ["other-org"], scopes: [] },
    revoked: { key: "ak_ffeeddccbbaa99887766554433221100", orgs: ["my-org"], scopes: [], revoked: true },
  },
  operate: {
    ok: { key: "sk_live_4eC39HqLyjWDarjtT1zdp7dc", orgs: ["acme-corp"], scopes: ["companies", "reports"] },
    limited: { key: "sk_live_9fK2mQ8rTxLp3vNb6wYz1aDe", orgs: ["globex"], scopes: ["companies"] },
    revoked: { key: "sk_live_0000RevokedKey0000000000", orgs: ["acme-corp"], scopes: ["companies"], revoked: true },
  },
  argus: {
    ok: { key: "argus_Zk3vQ9mW2xR7tY5uI1oP8aS4dF6gH0jK2lZ4xC6vB8n", orgs: ["home"], scopes: ["admin"] },
    limited: { key: "argus_Lm4nB7vC1xZ9aS3dF5gH7jK0lQ2wE4rT6yU8iO1pA3s", orgs: ["lab"], scopes: [] },
    revoked: { key: "argus_Rv0kEdRv0kEdRv0kEdRv0kEdRv0kEdRv0kEdRv0kEdA", orgs: ["home"], scopes: [], revoked: true },
  },
  onecodex: {
    ok: { key: "4f9c2e7a1b8d3f6e0a5c9b2d7e4f1a8c", orgs: ["lab-1"], scopes: ["samples:private"] },
    limited: { key: "b7e1d4a8c2f5e9b3d6a0c4f8e2b5d9a1", orgs: ["lab-2"], scopes: [] },
    revoked: { key: "d0d0d0d0e1e1e1e1f2f2f2f2a3a3a3a3", orgs: ["lab-1"], scopes: [], revoked: true },
  },
};
