/**
 * How a client of this configuration sends a key: in the profile's first credential source
 * (the argus profile spells `x-api-key` as its page does, `X-API-Key`), plus the org header
 * where the client names its org (`ORG_SOURCE=header`: artanis). One answer for every place
 * that shows a user a request to try: the console's show-once page and `npm run dev`'s
 * banner.
 */
import type { Config } from "./config";

/** The request headers that carry `key` (and the org) as this configuration reads them. */
export function clientHeaders(config: Config, key: string, org: string): [name: string, value: string][] {
  const src = config.sources[0]!;
  const headers: [string, string][] =
    src.kind === "basic"
      ? [["Authorization", `Basic ${btoa(`${key}:`)}`]]
      : src.kind === "bearer"
        ? [["Authorization", `Bearer ${key}`]]
        : [[config.profile === "argus" && src.name === "x-api-key" ? "X-API-Key" : src.name, key]];
  if (config.orgSource === "header") headers.push([config.headers.org, org]);
  return headers;
}

/** The same as curl arguments (Basic as `-u 'KEY:'`, the way the One Codex page shows it). */
export function curlCredentialArgs(config: Config, key: string, org: string): string[] {
  const basic = config.sources[0]!.kind === "basic";
  return clientHeaders(config, key, org).map(([name, value], i) =>
    basic && i === 0 ? `-u '${key}:'` : `-H '${name}: ${value}'`,
  );
}
