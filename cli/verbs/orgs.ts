/**
 * `orgs set --org ORG --rate-limit LIMIT/PERIOD[:exact|:regional]|none` and `orgs show --org ORG`: one rate
 * limit shared by every key of an org (docs/limits.md).
 */
import { ORG_RE } from "../../src/keys/record";
import { validateOrgSettings } from "../../src/manage/org-settings";
import type { Options } from "../args";
import { precheck, rateLimitOf, UsageError } from "../args";
import { describeOrg } from "../render";
import type { Verb } from "../run";

export const ORGS_FLAGS = {
  org: { type: "string" },
  "rate-limit": { type: "string" },
} as const satisfies Options;

export const ORGS_VERB: Verb = {
  options: ORGS_FLAGS,
  positionals: true,
  plan({ values, positionals }) {
    const [action, ...rest] = positionals;
    if (rest.length > 0 || (action !== "set" && action !== "show"))
      throw new UsageError("orgs needs set or show: npm run keys -- orgs set --org ORG --rate-limit 1000/60s");
    const org = values.org as string | undefined;
    if (org === undefined) throw new UsageError("--org is required");
    if (!ORG_RE.test(org))
      throw new UsageError("--org: must be an org slug ([A-Za-z0-9][A-Za-z0-9._-]*, ≤ 128 characters)");
    if (action === "show") {
      if (values["rate-limit"] !== undefined) throw new UsageError("--rate-limit is for orgs set");
      return { call: (b) => b.orgShow(org), human: describeOrg };
    }
    const raw = values["rate-limit"] as string | undefined;
    if (raw === undefined) throw new UsageError("orgs set needs --rate-limit LIMIT/PERIOD[:exact|:regional] (or none)");
    const body = { rate_limit: rateLimitOf(raw) };
    precheck(validateOrgSettings(body));
    return { call: (b) => b.orgSet(org, body), human: (v) => `Set ${describeOrg(v)}` };
  },
};
