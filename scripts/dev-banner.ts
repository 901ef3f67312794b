/**
 * What `npm run dev` prints once the gateway answers: the demo key, requests to try with
 * the status each gets, the console, a session, the self-service API. Every expectation is
 * computed from the gateway's own parsed configuration (the profile's credential source,
 * its status for a missing key, the route table, the self-service API's scope), so the
 * banner promises what that profile answers — `--var AUTH_PROFILE:operate` prints 400 for
 * a missing key. A pure function of its input (no Node APIs): the workerd test
 * (test/worker/edge/gateway/dev-banner.test.ts) sends every request it lists to the real
 * gateway, in every profile, and compares the statuses.
 */
import { clientHeaders, curlCredentialArgs } from "../src/config/client";
import type { Config } from "../src/config/config";
import { matchRoute } from "../src/edge/routes/table";

export interface BannerInput {
  /** The gateway's base URL, e.g. http://127.0.0.1:8787. */
  gateway: string;
  origin: string;
  /** The origin is `npm run dev`'s demo origin (it echoes what it receives). */
  demoOrigin: boolean;
  /** The configuration the gateway runs with (wrangler.toml, .dev.vars, the --var given). */
  config: Config;
  demo: { key: string; id: string; expiresAt: string; org: string; scopes: readonly string[] };
  /** The console's address (null: on a CONSOLE_HOST of the developer's, port unknown here). */
  consoleUrl: string | null;
  /** The admin token generated for this state (null: the developer's own ADMIN_TOKEN). */
  adminToken: string | null;
  /** `npm run keys -- session` can sign for this gateway (its SESSION_JWT_SECRET is local). */
  sessions: boolean;
  /** What the keys CLI needs to act on this gateway's state, e.g. ["--persist-to", "/tmp/state"] (none: the default). */
  stateFlags?: readonly string[];
}

/** One request the banner suggests, and what the gateway answers it. */
export interface Try {
  path: string;
  /** The request's headers, as the curl line sends them. */
  headers: [name: string, value: string][];
  /** curl's arguments for those headers. */
  curlArgs: string[];
  status: number;
  note: string;
}

/** What a missing, wrong or refused credential never does: reach the origin. */
const UNFORWARDED = "never reached the origin";

/** The requests to try, each with the status this configuration answers. */
export function tries(input: BannerInput): Try[] {
  const { config, demo } = input;
  const withKey = {
    headers: clientHeaders(config, demo.key, demo.org),
    curlArgs: curlCredentialArgs(config, demo.key, demo.org),
  };
  const route = matchRoute(config.routes, "/hello", "GET");
  const allowed = route.scopes.every((s) => demo.scopes.includes(s));
  const out: Try[] = [
    route.auth === "public"
      ? { path: "/hello", ...withKey, status: 200, note: "a public route: forwarded (with the key's identity)" }
      : allowed
        ? { path: "/hello", ...withKey, status: 200, note: `the origin saw ${config.headers.org}: ${demo.org}` }
        : {
            path: "/hello",
            ...withKey,
            status: route.hide ? 404 : 403,
            note: `the route needs scopes ${route.scopes.join(",")}, ${UNFORWARDED}`,
          },
    route.auth === "public"
      ? { path: "/hello", headers: [], curlArgs: [], status: 200, note: "a public route: forwarded without identity" }
      : {
          path: "/hello",
          headers: [],
          curlArgs: [],
          status: config.missingStatus,
          note: `no key${config.missingStatus === 400 ? ` (the ${config.profile} profile answers 400)` : ""}, ${UNFORWARDED}`,
        },
  ];
  const self = config.selfService;
  if (self) {
    const may = self.scope === null || demo.scopes.includes(self.scope);
    out.push({
      path: self.path,
      ...withKey,
      status: may ? 200 : 403,
      note: may
        ? `the self-service API: the ${demo.org} org's keys`
        : `the self-service API needs scope ${self.scope}, which the demo key lacks`,
    });
  }
  return out;
}

/** The banner's text. */
export function banner(input: BannerInput): string {
  const { config, demo } = input;
  const lines = tries(input).map((t) => [`curl -i ${input.gateway}${t.path}`, ...t.curlArgs].join(" "));
  const width = Math.max(...lines.map((l) => l.length));
  const tryLines = tries(input).map((t, i) => `  ${lines[i]!.padEnd(width)}   # ${t.status}: ${t.note}`);
  const out = [
    "",
    `keygate is running on ${input.gateway} in front of ${input.origin}${input.demoOrigin ? " (demo origin: it echoes what it receives)" : ""},`,
    `with the ${config.profile} profile (AUTH_PROFILE: docs/profiles.md).`,
    "",
    `Demo key (org "${demo.org}", scopes ${demo.scopes.join(",")}; id ${demo.id}, expires ${demo.expiresAt.slice(0, 10)}):`,
    "",
    `  ${demo.key}`,
    "",
    "Try:",
    ...tryLines,
    "",
    `Console: ${input.consoleUrl ?? "on the CONSOLE_HOST you set"} — sign in with ${input.adminToken ? `the admin token\n  ${input.adminToken}` : "the ADMIN_TOKEN you set"}`,
  ];
  const state = (input.stateFlags ?? []).map((f) => ` ${/^[A-Za-z0-9_@%+=:,./-]+$/.test(f) ? f : `'${f}'`}`).join("");
  if (input.sessions) {
    const scopes = demo.scopes.length ? ` --scopes ${demo.scopes.join(",")}` : "";
    out.push(
      `Session: TOKEN=$(npm run -s keys -- session --org ${demo.org}${scopes}${state}), then -H "Authorization: Bearer $TOKEN"`,
    );
  }
  out.push(`More keys: npm run keys -- create --org acme --name my-client${state}`, "Stop: Ctrl-C", "");
  return out.join("\n");
}
