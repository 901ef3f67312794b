/**
 * Where a request is served: the Cloudflare location (its `request.cf.colo`) and the Durable
 * Object region nearest to it (a location hint, objects/protocol.ts REGIONS). The regional
 * objects — the revocation feed's replica, a regional rate-limit bucket, a credit lease —
 * are the ones of this region; the usage of one location is gathered by that location's
 * aggregator (docs/scale.md).
 *
 * The region is derived from the client's geolocation Cloudflare attaches to the request
 * (continent, country, longitude), which a client reaches through the location nearest to
 * it. Without it — `wrangler dev` without its cf object, a test request, a request built by
 * hand — the location is DEFAULT_LOCATION: colo "local" in region "enam".
 */
import type { Region } from "../objects/protocol";

export interface Location {
  /** The location (IATA code, e.g. "LHR"), or "local". */
  colo: string;
  region: Region;
}

/** Where a request without Cloudflare's geolocation is served (documented: docs/scale.md). */
export const DEFAULT_LOCATION: Location = { colo: "local", region: "enam" };

/** Middle-East countries Cloudflare's continent field puts in Asia (or Africa: Egypt). */
const MIDDLE_EAST = new Set(["AE", "BH", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]);
/** Asian countries nearer eastern Europe than Singapore. */
const EASTERN_EUROPE_FROM_ASIA = new Set(["TR", "GE", "AM", "AZ", "CY", "KZ"]);

/** The region of a request's cf properties (undefined or incomplete: DEFAULT_LOCATION's). */
export function regionOf(cf: { continent?: unknown; country?: unknown; longitude?: unknown } | undefined): Region {
  if (cf === undefined) return DEFAULT_LOCATION.region;
  const country = typeof cf.country === "string" ? cf.country : "";
  const longitude = typeof cf.longitude === "string" || typeof cf.longitude === "number" ? Number(cf.longitude) : NaN;
  if (MIDDLE_EAST.has(country)) return "me";
  switch (cf.continent) {
    case "NA":
      // The Rockies: west of 100° W is western North America.
      return Number.isFinite(longitude) && longitude < -100 ? "wnam" : "enam";
    case "SA":
      return "sam";
    case "EU":
      return country === "RU" || (Number.isFinite(longitude) && longitude >= 15) ? "eeur" : "weur";
    case "AS":
      return EASTERN_EUROPE_FROM_ASIA.has(country) ? "eeur" : "apac";
    case "OC":
    case "AN":
      return "oc";
    case "AF":
      return "afr";
    default:
      return DEFAULT_LOCATION.region;
  }
}

/** Where `request` is served. */
export function locationOf(request: Request): Location {
  const cf = request.cf as { colo?: unknown; continent?: unknown; country?: unknown; longitude?: unknown } | undefined;
  if (cf === undefined || typeof cf.colo !== "string" || cf.colo === "") return DEFAULT_LOCATION;
  return { colo: cf.colo, region: regionOf(cf) };
}

/** A request's location, computed on first use only (most requests never need it). */
export function locator(request: Request): () => Location {
  let at: Location | undefined;
  return () => (at ??= locationOf(request));
}
