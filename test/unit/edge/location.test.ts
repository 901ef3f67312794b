/**
 * Where a request is served (src/edge/location.ts): the Durable Object region nearest to the
 * client Cloudflare describes in request.cf, and DEFAULT_LOCATION without one.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LOCATION, locationOf, locator, regionOf } from "../../../src/edge/location";

const cfOf = (continent: string, country: string, longitude: string) => ({ continent, country, longitude });

describe("regionOf", () => {
  it("maps continents, countries and longitudes to the nine location hints", () => {
    expect(regionOf(cfOf("NA", "US", "-122.42"))).toBe("wnam"); // San Francisco
    expect(regionOf(cfOf("NA", "US", "-104.99"))).toBe("wnam"); // Denver
    expect(regionOf(cfOf("NA", "US", "-96.80"))).toBe("enam"); // Dallas
    expect(regionOf(cfOf("NA", "CA", "-79.38"))).toBe("enam"); // Toronto
    expect(regionOf(cfOf("SA", "AR", "-58.38"))).toBe("sam");
    expect(regionOf(cfOf("EU", "FR", "2.35"))).toBe("weur");
    expect(regionOf(cfOf("EU", "DE", "8.68"))).toBe("weur"); // Frankfurt
    expect(regionOf(cfOf("EU", "PL", "21.01"))).toBe("eeur");
    expect(regionOf(cfOf("EU", "RU", "37.62"))).toBe("eeur");
    expect(regionOf(cfOf("AS", "TR", "28.98"))).toBe("eeur");
    expect(regionOf(cfOf("AS", "AE", "55.27"))).toBe("me");
    expect(regionOf(cfOf("AF", "EG", "31.24"))).toBe("me");
    expect(regionOf(cfOf("AS", "JP", "139.69"))).toBe("apac");
    expect(regionOf(cfOf("AS", "IN", "72.88"))).toBe("apac");
    expect(regionOf(cfOf("OC", "NZ", "174.76"))).toBe("oc");
    expect(regionOf(cfOf("AF", "NG", "3.38"))).toBe("afr");
  });

  it("without what it needs: the default region (longitude missing in North America: the east)", () => {
    expect(regionOf(undefined)).toBe(DEFAULT_LOCATION.region);
    expect(regionOf({})).toBe(DEFAULT_LOCATION.region);
    expect(regionOf({ continent: "NA" })).toBe("enam");
    expect(regionOf({ continent: "XX", country: "ZZ" })).toBe(DEFAULT_LOCATION.region);
  });
});

describe("locationOf and locator", () => {
  it("the request's colo and region; none without Cloudflare's cf (tests, wrangler dev offline): colo local, region enam", () => {
    expect(DEFAULT_LOCATION).toEqual({ colo: "local", region: "enam" });
    expect(locationOf(new Request("https://gateway.test/"))).toEqual(DEFAULT_LOCATION);
    const req = new Request("https://gateway.test/", {
      cf: { colo: "LHR", continent: "EU", country: "GB", longitude: "-0.12" },
    } as RequestInit);
    expect(locationOf(req)).toEqual({ colo: "LHR", region: "weur" });
    const where = locator(req);
    expect(where()).toBe(where()); // computed once, on first use
    expect(where()).toEqual({ colo: "LHR", region: "weur" });
  });
});
