/**
 * The keys CLI's argument parsing (cli/args.ts), on Node: flags → values, parse errors as
 * one line naming the flag, flag values → admin API fields, the admin API's field errors
 * reworded for flags (no JSON wording), and the printed shape of a usage error.
 */
import { describe, expect, it } from "vitest";
import {
  expiresOf,
  flagMessage,
  limitFields,
  metaOf,
  oneId,
  parseVerb,
  rateLimitOf,
  scopesOf,
  sinceMs,
  UsageError,
  usageErrorText,
} from "../../../cli/args";

const usageMessage = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a UsageError");
};

describe("parseVerb", () => {
  const opts = { org: { type: "string", multiple: true }, name: { type: "string" } } as const;

  it("parses the verb's flags and the common ones, with defaults", () => {
    const p = parseVerb(
      "create",
      ["--org", "a", "--org", "b", "--name", "n", "--json", "--url", "http://x"],
      opts,
      false,
    );
    expect(p.values).toMatchObject({ org: ["a", "b"], name: "n", json: true, url: "http://x", help: false });
    expect(p.positionals).toEqual([]);
    expect(parseVerb("show", ["key_1", "-h"], {}, true)).toMatchObject({
      positionals: ["key_1"],
      values: { help: true, json: false },
    });
  });

  it("an unknown flag, a flag without its value and a stray positional are one-line usage errors naming them", () => {
    expect(usageMessage(() => parseVerb("create", ["--bogus"], opts, false))).toBe('unknown flag --bogus for "create"');
    expect(usageMessage(() => parseVerb("create", ["--name"], opts, false))).toBe("--name needs a value");
    expect(usageMessage(() => parseVerb("list", ["extra"], {}, false))).toBe(
      '"list" takes no positional argument (extra)',
    );
    for (const m of [
      usageMessage(() => parseVerb("create", ["--bogus"], opts, false)),
      usageMessage(() => parseVerb("create", ["--name"], opts, false)),
    ]) {
      expect(m).not.toContain("\n");
    }
  });
});

describe("usageErrorText", () => {
  it("one `error:` line per problem, then where the usage is; never the usage itself", () => {
    expect(usageErrorText("--org is required\n--scopes: bad")).toBe(
      "error: --org is required\nerror: --scopes: bad\nsee `npm run keys -- --help`\n",
    );
    expect(usageErrorText("x", "npm run keys -- tokens --help")).toBe(
      "error: x\nsee `npm run keys -- tokens --help`\n",
    );
  });
});

describe("flag values → API fields", () => {
  it("--scopes splits on commas, trimming and dropping empties", () => {
    expect(scopesOf(" read, write,,admin ")).toEqual(["read", "write", "admin"]);
  });

  it("--meta takes KEY=VALUE (the value may hold =), refuses anything else", () => {
    expect(metaOf(["team=core", "expr=a=b"])).toEqual({ team: "core", expr: "a=b" });
    expect(usageMessage(() => metaOf(["=x"]))).toBe('--meta: "=x" is not KEY=VALUE');
    expect(usageMessage(() => metaOf(["novalue"]))).toContain("is not KEY=VALUE");
  });

  it("--expires: never → null, now → the current instant, anything else as given (validated by the API)", () => {
    expect(expiresOf("never")).toBeNull();
    expect(expiresOf("now", Date.UTC(2030, 0, 1))).toBe("2030-01-01T00:00:00.000Z");
    expect(expiresOf("tomorrow")).toBe("tomorrow");
  });

  it("--rate-limit LIMIT/PERIOD with s, m, h, d units; none → null", () => {
    expect(rateLimitOf("100/60s")).toEqual({ limit: 100, period_seconds: 60 });
    expect(rateLimitOf("1000/1h")).toEqual({ limit: 1000, period_seconds: 3600 });
    expect(rateLimitOf(" 5 / 2m ")).toEqual({ limit: 5, period_seconds: 120 });
    expect(rateLimitOf("7/1d")).toEqual({ limit: 7, period_seconds: 86_400 });
    expect(rateLimitOf("3/30")).toEqual({ limit: 3, period_seconds: 30 });
    expect(rateLimitOf("none")).toBeNull();
    expect(rateLimitOf("100/60s:exact")).toEqual({ limit: 100, period_seconds: 60, mode: "exact" });
    expect(rateLimitOf("100/1m : regional")).toEqual({ limit: 100, period_seconds: 60, mode: "regional" });
    expect(usageMessage(() => rateLimitOf("100/60s:global"))).toMatch(/expected LIMIT\/PERIOD\[:exact\|:regional\]/);
    expect(usageMessage(() => rateLimitOf("100 per minute"))).toBe(
      '--rate-limit: expected LIMIT/PERIOD[:exact|:regional] such as 100/60s, 1000/1h or 100/60s:exact, got "100 per minute"',
    );
  });

  it("--credits, --refill and --allow-ip → credits and allowed_ips, only those given", () => {
    expect(limitFields({})).toEqual({});
    expect(limitFields({ credits: "10" })).toEqual({ credits: { remaining: 10 } });
    expect(limitFields({ credits: "10", refill: "1000/day" })).toEqual({
      credits: { remaining: 10, refill: { amount: 1000, interval: "day" } },
    });
    expect(limitFields({ credits: "5", refill: "50/month" })).toEqual({
      credits: { remaining: 5, refill: { amount: 50, interval: "month" } },
    });
    expect(limitFields({ credits: "none" })).toEqual({ credits: null });
    expect(limitFields({ credits: "-3" })).toEqual({ credits: { remaining: "-3" } }); // the API names the field
    expect(limitFields({ "allow-ip": ["10.0.0.0/8", "::1"] })).toEqual({ allowed_ips: ["10.0.0.0/8", "::1"] });
    expect(limitFields({ "allow-ip": ["none"] })).toEqual({ allowed_ips: null });
    expect(usageMessage(() => limitFields({ refill: "1/day" }))).toBe("--refill needs --credits N");
    expect(usageMessage(() => limitFields({ credits: "none", refill: "1/day" }))).toBe("--refill needs --credits N");
    expect(usageMessage(() => limitFields({ credits: "1", refill: "1/week" }))).toContain(
      "--refill: expected AMOUNT/day or AMOUNT/month",
    );
  });

  it("--since: minutes, hours, days; zero and other forms refused", () => {
    expect(sinceMs("90m")).toBe(90 * 60_000);
    expect(sinceMs("1h")).toBe(3_600_000);
    expect(sinceMs("7d")).toBe(7 * 86_400_000);
    expect(usageMessage(() => sinceMs("0h"))).toContain("--since: expected a duration");
    expect(usageMessage(() => sinceMs("1w"))).toContain('got "1w"');
  });

  it("exactly one id", () => {
    expect(oneId(["key_1"], "show")).toBe("key_1");
    expect(usageMessage(() => oneId([], "show"))).toBe(
      "show needs exactly one KEY_ID (e.g. npm run keys -- show key_…)",
    );
    expect(usageMessage(() => oneId(["a", "b"], "revoke", "TOKEN_ID", "npm run keys -- tokens revoke tok_…"))).toBe(
      "revoke needs exactly one TOKEN_ID (e.g. npm run keys -- tokens revoke tok_…)",
    );
  });
});

describe("flagMessage: the admin API's field errors in terms of flags", () => {
  it("names the flag the field came from", () => {
    expect(flagMessage({ field: "expires_at", message: "must be in the future" })).toBe(
      "--expires: must be in the future",
    );
    expect(flagMessage({ field: "grace_seconds", message: "must be a whole number" })).toBe(
      "--grace-seconds: must be a whole number",
    );
    expect(flagMessage({ field: "credits", message: "x" })).toBe("--credits/--refill: x");
    expect(flagMessage({ field: "allowed_ips", message: "x" })).toBe("--allow-ip: x");
    expect(flagMessage({ field: "limit", message: "must be a whole number from 1 to 1000" })).toBe(
      "--limit: must be a whole number from 1 to 1000",
    );
    expect(flagMessage({ field: "(body)", message: "must be a JSON object" })).toBe("(body): must be a JSON object");
  });

  it("rewords the messages that speak JSON", () => {
    const cases = [
      flagMessage({
        field: "orgs",
        message: "must be a non-empty array of at most 20 org slugs (lowercase letters, digits, - and _)",
      }),
      flagMessage({
        field: "scopes",
        message: "must be an array of at most 50 scopes (letters, digits, :, ., - and _)",
      }),
      flagMessage({
        field: "expires_at",
        message:
          "must be a real calendar date-time in RFC 3339 / ISO 8601 form with a zone (e.g. 2030-01-01T00:00:00Z), or null",
      }),
      flagMessage({ field: "rate_limit", message: 'must be {"limit": 1–1000000, "period_seconds": 1–86400} or null' }),
      flagMessage({ field: "meta", message: "must be an object of at most 20 string values" }),
      flagMessage({ field: "(body)", message: "must change at least one of name, orgs, scopes" }),
    ];
    expect(cases).toEqual([
      "--org: give 1 to 20 org slugs (lowercase letters, digits, - and _); repeat --org for more",
      "--scopes: a comma-separated list of at most 50 scopes (letters, digits, :, ., - and _)",
      "--expires: must be a real calendar date-time in ISO 8601 form with a zone (e.g. 2030-01-01T00:00:00Z), now or never",
      "--rate-limit: LIMIT/PERIOD with LIMIT from 1 to 1000000 and PERIOD from 1 s to 86400 s (e.g. 100/60s, 1000/1h, 100/60s:exact), or none",
      "--meta: at most 20 KEY=VALUE pairs",
      "nothing to change: give at least one of --name, --org, --scopes, --expires, --enable/--disable, --rate-limit",
    ]);
    for (const m of cases) expect(m).not.toMatch(/\barray\b|\bnull\b|\{"/);
  });
});
