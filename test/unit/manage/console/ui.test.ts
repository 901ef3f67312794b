/**
 * The show-once page's `curl` line uses the gateway's profile: the header or scheme its
 * clients send the key in (and x-org-slug where the client names the org).
 */
import { describe, expect, it } from "vitest";
import { ConfigError, configFor } from "../../../../src/config/config";
import { curlLine } from "../../../../src/manage/console/ui";
import { makeEnv } from "../../../support/worker-helpers";

function line(profile: string): string {
  const config = configFor(makeEnv({ AUTH_PROFILE: profile }));
  if (config instanceof ConfigError) throw config;
  return curlLine(config, "https://api.example.com", "kg_KEY", "acme");
}

describe("curl line per profile", () => {
  it.each([
    ["default", "curl https://api.example.com/ -H 'x-api-key: kg_KEY'"],
    ["argos", "curl https://api.example.com/ -H 'x-api-key: kg_KEY'"],
    ["artanis", "curl https://api.example.com/ -H 'x-api-key: kg_KEY' -H 'x-org-slug: acme'"],
    ["operate", "curl https://api.example.com/ -H 'x-api-key: kg_KEY'"],
    ["argus", "curl https://api.example.com/ -H 'X-API-Key: kg_KEY'"],
    ["onecodex", "curl https://api.example.com/ -u 'kg_KEY:'"],
  ])("%s", (profile, expected) => {
    expect(line(profile)).toBe(expected);
  });

  it("follows CREDENTIAL_SOURCES when it overrides the profile", () => {
    const config = configFor(makeEnv({ CREDENTIAL_SOURCES: "bearer" }));
    if (config instanceof ConfigError) throw config;
    expect(curlLine(config, "https://api.example.com", "kg_KEY", "acme")).toBe(
      "curl https://api.example.com/ -H 'Authorization: Bearer kg_KEY'",
    );
  });
});
