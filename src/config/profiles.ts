/**
 * The authentication contracts keygate reproduces, one preset per API (docs in
 * docs/profiles.md; each follows that API's published authentication page). Every part can be overridden on its own
 * through its variable (CREDENTIAL_SOURCES, MISSING_KEY_STATUS, ERROR_FORMAT, ORG_SOURCE).
 */

export const PROFILE_NAMES = ["default", "argos", "artanis", "operate", "argus", "onecodex"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const ERROR_FORMATS = ["problem", "argos", "artanis", "operate", "argus", "onecodex"] as const;
export type ErrorFormat = (typeof ERROR_FORMATS)[number];

/**
 * Where the injected org comes from:
 * - "key": the key's default (first) org; any org header the client sends is discarded;
 * - "header": the client names the org in the org header and the key must belong to it.
 */
export type OrgSource = "key" | "header";

export interface Profile {
  /** "bearer", "basic", or a header name carrying the raw key. Order = challenge order. */
  sources: string[];
  missingStatus: 400 | 401;
  errorFormat: ErrorFormat;
  orgSource: OrgSource;
}

export const PROFILES: Record<ProfileName, Profile> = {
  // RFC 9457 problem details; every common way of sending a key.
  default: { sources: ["x-api-key", "bearer", "basic"], missingStatus: 401, errorFormat: "problem", orgSource: "key" },
  // ARGOS Omni: x-api-key; {"error":{"code":"UNAUTHORIZED","status":401,...}}.
  argos: { sources: ["x-api-key"], missingStatus: 401, errorFormat: "argos", orgSource: "key" },
  // Artanis: x-api-key plus x-org-slug naming the org the client reads from.
  artanis: { sources: ["x-api-key"], missingStatus: 401, errorFormat: "artanis", orgSource: "header" },
  // Operate: x-api-key tied to one org; a missing key is a 400 "Missing API Key".
  operate: { sources: ["x-api-key"], missingStatus: 400, errorFormat: "operate", orgSource: "key" },
  // Argus (FastAPI): X-API-Key (recommended) or Authorization: Bearer; {"detail": ...}.
  argus: { sources: ["x-api-key", "bearer"], missingStatus: 401, errorFormat: "argus", orgSource: "key" },
  // One Codex (Flask): Basic with the key as username, or X-API-Key; Werkzeug bodies.
  onecodex: { sources: ["basic", "x-api-key"], missingStatus: 401, errorFormat: "onecodex", orgSource: "key" },
};
