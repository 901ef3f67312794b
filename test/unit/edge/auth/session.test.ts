/**
 * docs/sessions.md documents every SESSION_* variable the config reads, with its default,
 * and the fixed values of src/edge/auth/session.ts as they are in the code.
 */
import { describe, expect, it } from "vitest";
import doc from "../../../../docs/sessions.md?raw";
import { DEFAULTS, MIN_SESSION_SECRET_LENGTH, VARIABLES } from "../../../../src/config/config";
import {
  JWKS_FETCH_TIMEOUT_MS,
  JWKS_MAX_AGE_MS,
  JWKS_MAX_BYTES,
  JWKS_MIN_REFRESH_MS,
  JWKS_RETRY_MAX_MS,
  JWKS_RETRY_MIN_MS,
  JWKS_STALE_MS,
  MAX_SESSION_TOKEN_LENGTH,
  SESSION_SKEW_SECONDS,
} from "../../../../src/edge/auth/session";

function row(name: string): string[] {
  const line = doc.split("\n").find((l) => l.startsWith(`| \`${name}\``));
  expect(line, `docs/sessions.md has no table row for ${name}`).toBeDefined();
  return line!.split("|").map((c) => c.trim());
}

describe("docs/sessions.md", () => {
  it("has a row for every declared SESSION_* variable, and no other", () => {
    const inCode = Object.keys(VARIABLES)
      .filter((name) => name.startsWith("SESSION_"))
      .sort();
    const table = doc.slice(doc.indexOf("## Variables"), doc.indexOf("Fixed values"));
    const inDoc = [
      ...new Set(
        table
          .split("\n")
          .filter((l) => l.startsWith("| `SESSION_"))
          .map((l) => /`(SESSION_[A-Z_]+)`/.exec(l)![1]!),
      ),
    ].sort();
    expect(inCode.length).toBe(8);
    expect(inDoc).toEqual(inCode);
  });

  it("states the defaults and bounds the code applies", () => {
    expect(row("SESSION_ORG_CLAIM")[2]).toBe(`\`${DEFAULTS.SESSION_ORG_CLAIM}\``);
    expect(row("SESSION_SCOPES_CLAIM")[2]).toBe(`\`${DEFAULTS.SESSION_SCOPES_CLAIM}\``);
    expect(row("SESSION_JWT_SECRET")[3]).toContain(`${MIN_SESSION_SECRET_LENGTH}–4096 characters`);
  });

  it("states the fixed values of src/edge/auth/session.ts", () => {
    const expected: [string, string][] = [
      ["SESSION_SKEW_SECONDS", `${SESSION_SKEW_SECONDS} s`],
      ["MAX_SESSION_TOKEN_LENGTH", `${MAX_SESSION_TOKEN_LENGTH} characters`],
      ["JWKS_MAX_AGE_MS", `${JWKS_MAX_AGE_MS / 60_000} min`],
      ["JWKS_MIN_REFRESH_MS", `${JWKS_MIN_REFRESH_MS / 1000} s`],
      ["JWKS_RETRY_MIN_MS", `${JWKS_RETRY_MIN_MS / 1000} s`],
      ["JWKS_RETRY_MAX_MS", `${JWKS_RETRY_MAX_MS / 1000} s`],
      ["JWKS_STALE_MS", `${JWKS_STALE_MS / 3_600_000} h`],
      ["JWKS_FETCH_TIMEOUT_MS", `${JWKS_FETCH_TIMEOUT_MS / 1000} s`],
      ["JWKS_MAX_BYTES", `${JWKS_MAX_BYTES / 1024} KiB`],
    ];
    for (const [name, value] of expected) expect(row(name)[2], name).toBe(value);
  });
});
