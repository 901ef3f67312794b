/**
 * The keys CLI end to end without wrangler (cli/main.ts, cli/run.ts, cli/verbs/): argv in,
 * stdout, stderr and the exit code out, against a recording backend. Which body or query
 * each verb hands the backend; the exit-code rules (0 ok, 1 refused, 2 usage); the same
 * one-line usage errors for every verb and for `tokens …`; no backend opened on bad usage;
 * the backend always closed.
 */
import { describe, expect, it } from "vitest";
import type { Values } from "../../../cli/args";
import type { Backend, OpenOptions } from "../../../cli/backends/backend";
import { openBackend } from "../../../cli/backends/open";
import { main, USAGE } from "../../../cli/main";
import type { Io } from "../../../cli/run";
import { TOKENS_USAGE } from "../../../cli/verbs/tokens";
import { WEBHOOKS_USAGE } from "../../../cli/verbs/webhooks";
import { EVENT_TYPES } from "../../../src/events/types";
import type { Outcome } from "../../../src/keys/lifecycle";

type Json = Record<string, unknown>;
type Call = [op: string, ...args: unknown[]];

function harness(answer: (op: string, ...args: unknown[]) => Outcome<Json> = () => ({ ok: true, value: {} })) {
  const calls: Call[] = [];
  const opened: { values: Values; opts?: OpenOptions }[] = [];
  let closed = 0;
  let stdout = "";
  let stderr = "";
  const backend = new Proxy({} as Backend, {
    get: (_, op: string) =>
      op === "then" // not a promise
        ? undefined
        : op === "close"
          ? async () => {
              closed++;
            }
          : async (...args: unknown[]) => {
              calls.push([op, ...args]);
              return answer(op, ...args);
            },
  });
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    open: async (values, opts) => {
      opened.push({ values, ...(opts ? { opts } : {}) });
      return backend;
    },
    env: {},
  };
  return {
    calls,
    opened,
    run: async (...argv: string[]) => {
      stdout = "";
      stderr = "";
      const code = await main(argv, io);
      return { code, stdout, stderr, closed };
    },
  };
}

/** The issue-10 shape of a usage error. */
function expectUsageError(
  r: { code: number; stdout: string; stderr: string },
  message: string,
  help = "npm run keys -- --help",
) {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.at(-1)).toBe(`see \`${help}\``);
  for (const line of lines.slice(0, -1)) expect(line).toMatch(/^error: /);
  expect(r.stderr).toContain(message);
  expect(r.stderr).not.toContain("Usage:");
}

describe("verbs → backend calls", () => {
  it("create: the body from the flags", async () => {
    const h = harness();
    const r = await h.run(
      "create",
      "--org",
      "acme",
      "--org",
      "b",
      "--name",
      "ci",
      "--scopes",
      "read,write",
      "--expires",
      "never",
      "--meta",
      "team=x",
      "--rate-limit",
      "10/1m",
      "--credits",
      "5",
      "--refill",
      "5/day",
      "--allow-ip",
      "10.0.0.0/8",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls).toEqual([
      [
        "create",
        {
          name: "ci",
          orgs: ["acme", "b"],
          scopes: ["read", "write"],
          expires_at: null,
          meta: { team: "x" },
          rate_limit: { limit: 10, period_seconds: 60 },
          credits: { remaining: 5, refill: { amount: 5, interval: "day" } },
          allowed_ips: ["10.0.0.0/8"],
        },
      ],
    ]);
    expect(r.stdout).toBe("{}\n");
  });

  it("the other key verbs, orgs, usage and tokens", async () => {
    const h = harness((op) => ({
      ok: true,
      value: op === "tokenList" ? { tokens: [], cursor: null } : { keys: [], events: [] },
    }));
    const ok = async (...argv: string[]) => expect((await h.run(...argv, "--json")).code, argv.join(" ")).toBe(0);
    await ok("import", "--key", "legacy", "--org", "acme");
    await ok("list", "--org", "acme", "--status", "active", "--limit", "5", "--cursor", "c");
    await ok("show", "key_1");
    await ok("revoke", "key_1");
    await ok("rotate", "key_1", "--grace-seconds", "60");
    await ok("update", "key_1", "--disable", "--allow-ip", "none", "--credits", "none");
    await ok("audit", "--id", "key_0123456789abcdef", "--limit", "3");
    await ok("orgs", "set", "--org", "acme", "--rate-limit", "none");
    await ok("orgs", "show", "--org", "acme");
    await ok("tokens", "create", "--name", "t", "--org", "*", "--role", "read", "--expires", "2030-01-01T00:00:00Z");
    await ok("tokens", "list");
    await ok("tokens", "revoke", "tok_1");
    expect(h.calls).toEqual([
      ["import", { key: "legacy", orgs: ["acme"] }],
      ["list", { org: "acme", status: "active", limit: "5", cursor: "c" }],
      ["show", "key_1"],
      ["revoke", "key_1"],
      ["rotate", "key_1", { grace_seconds: 60 }],
      ["update", "key_1", { enabled: false, credits: null, allowed_ips: null }],
      ["audit", { key_id: "key_0123456789abcdef", limit: "3" }],
      ["orgSet", "acme", { rate_limit: null }],
      ["orgShow", "acme"],
      ["tokenCreate", { name: "t", orgs: ["*"], role: "read", expires_at: "2030-01-01T00:00:00Z" }],
      ["tokenList", { limit: "1000" }],
      ["tokenRevoke", "tok_1"],
    ]);
  });

  it("webhooks add|list|remove|test|deliveries", async () => {
    const h = harness((op) =>
      op === "webhookTest"
        ? { ok: true, value: { webhook_id: "wh_1", event_id: "msg_1", status: "queued" } }
        : op === "webhookDeliveries"
          ? {
              ok: true,
              value: {
                webhook_id: "wh_1",
                pending: 0,
                attempts: [
                  {
                    event_id: "msg_1",
                    type: "webhook.test",
                    attempt: 1,
                    at: "2030-01-01T00:00:00.000Z",
                    status: 204,
                    error: null,
                    duration_ms: 12,
                    outcome: "delivered",
                    next_retry_at: null,
                  },
                ],
              },
            }
          : { ok: true, value: {} },
    );
    const add = await h.run(
      "webhooks",
      "add",
      "https://hooks.example.com/keygate",
      "--event",
      "key.revoked,key.created",
      "--event",
      "credits.low",
      "--org",
      "acme",
      "--json",
    );
    expect(add.code, add.stderr).toBe(0);
    expect((await h.run("webhooks", "add", "https://h.example/x", "--event", "all", "--json")).code).toBe(0);
    expect((await h.run("webhooks", "list", "--json")).code).toBe(0);
    expect((await h.run("webhooks", "remove", "wh_1", "--json")).code).toBe(0);
    const test = await h.run("webhooks", "test", "wh_1");
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toBe("Sent msg_1 (webhook.test): delivered, answered 204 in 12 ms\n");
    expect((await h.run("webhooks", "deliveries", "wh_1", "--limit", "5", "--json")).code).toBe(0);
    expect(h.calls).toEqual([
      [
        "webhookCreate",
        {
          url: "https://hooks.example.com/keygate",
          events: ["key.revoked", "key.created", "credits.low"],
          orgs: ["acme"],
        },
      ],
      ["webhookCreate", { url: "https://h.example/x", events: [...EVENT_TYPES] }],
      ["webhookList"],
      ["webhookRemove", "wh_1"],
      ["webhookTest", "wh_1"],
      ["webhookDeliveries", "wh_1", { limit: "20" }],
      ["webhookDeliveries", "wh_1", { limit: "5" }],
    ]);
    expectUsageError(
      await h.run("webhooks", "add", "https://h.example/x"),
      "--event is required",
      "npm run keys -- webhooks --help",
    );
    expectUsageError(
      await h.run("webhooks", "add", "--event", "all"),
      "webhooks add needs exactly one receiver URL",
      "npm run keys -- webhooks --help",
    );
    expectUsageError(
      await h.run("webhooks", "remove"),
      "needs exactly one WEBHOOK_ID",
      "npm run keys -- webhooks --help",
    );
    const help = await h.run("webhooks", "--help");
    expect(help.stdout).toBe(WEBHOOKS_USAGE);
  });

  it("usage: from/to from --since, granularity by span unless given", async () => {
    const h = harness();
    const before = Date.now();
    expect((await h.run("usage", "--org", "acme", "--since", "2h", "--json")).code).toBe(0);
    expect(
      (await h.run("usage", "--org", "acme", "--key", "key_0123456789abcdef", "--since", "7d", "--json")).code,
    ).toBe(0);
    expect((await h.run("usage", "--org", "acme", "--since", "30d", "--granularity", "hour", "--json")).code).toBe(0);
    const [a, b, c] = h.calls.map((call) => call[1] as Json);
    expect(a).toMatchObject({ org: "acme", granularity: "minute" });
    expect(Date.parse(a!.to as string) - Date.parse(a!.from as string)).toBe(2 * 3_600_000);
    expect(Date.parse(a!.to as string)).toBeGreaterThanOrEqual(before);
    expect(b).toMatchObject({ org: "acme", key: "key_0123456789abcdef", granularity: "hour" });
    expect(c).toMatchObject({ granularity: "hour" });
  });

  it("tokens list follows every page", async () => {
    const pages: Record<string, Json> = {
      "": { tokens: [{ id: "a" }], cursor: "p2" },
      p2: { tokens: [{ id: "b" }], cursor: null },
    };
    const h = harness((_, q) => ({ ok: true, value: pages[((q as Json).cursor as string | undefined) ?? ""]! }));
    const r = await h.run("tokens", "list", "--json");
    expect(JSON.parse(r.stdout)).toEqual({ tokens: [{ id: "a" }, { id: "b" }], cursor: null });
    expect(h.calls.map((c) => c[1])).toEqual([{ limit: "1000" }, { limit: "1000", cursor: "p2" }]);
  });

  it('a "More:" hint repeats every flag given, --url and --persist-to included, with the next cursor (issue 24)', async () => {
    const h = harness((op) => ({
      ok: true,
      value: op === "audit" ? { events: [], cursor: "c2" } : { keys: [], cursor: "c3" },
    }));
    const audit = await h.run("audit", "--url", "http://gw", "--org", "acme", "--limit", "5", "--cursor", "c1");
    expect(audit.stdout).toContain(
      "\n\nMore: npm run keys -- audit --url http://gw --org acme --limit 5 --cursor 'c2'\n",
    );
    const list = await h.run("list", "--persist-to", "/tmp/my state", "--name", "it's", "--status", "active");
    expect(list.stdout).toContain(
      "\n\nMore: npm run keys -- list --persist-to '/tmp/my state' --name 'it'\\''s' --status active --cursor 'c3'\n",
    );
  });

  it("session: the claims to sign; stdout is the token alone, what it is goes to stderr (issue 24)", async () => {
    const h = harness(() => ({
      ok: true,
      value: { token: "h.p.s", sub: "alice", org: "acme", scopes: ["read"], expires_at: "2030-01-01T00:00:00.000Z" },
    }));
    const r = await h.run("session", "--org", "acme", "--scopes", "read", "--sub", "alice", "--ttl", "30m");
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls).toEqual([["signSession", { org: "acme", sub: "alice", scopes: ["read"], ttl_seconds: 1800 }]]);
    expect(r.stdout).toBe("h.p.s\n");
    expect(r.stderr).toContain(
      "A session JWT for alice in org acme (scopes: read), valid until 2030-01-01T00:00:00.000Z",
    );
    await h.run("session", "--org", "acme");
    expect(h.calls[1]).toEqual(["signSession", { org: "acme", sub: "dev-user", scopes: [], ttl_seconds: 3600 }]);
    const json = await h.run("session", "--org", "acme", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ token: "h.p.s" });
    expect(json.stderr).toBe("");
  });

  it("without --json: the human form; the backend is closed after every command", async () => {
    const h = harness(() => ({ ok: true, value: { org: "acme", rate_limit: null } }));
    const r = await h.run("orgs", "show", "--org", "acme");
    expect(r).toMatchObject({ code: 0, stdout: "org acme: no org-wide rate limit\n", stderr: "", closed: 1 });
  });
});

describe("exit codes and messages", () => {
  it("help: the usage on stdout, exit 0 (top level, any verb, and tokens); no verb: usage on stderr, exit 2", async () => {
    const h = harness();
    for (const argv of [["--help"], ["help"], ["-h"], ["create", "--help"], ["list", "-h"]]) {
      expect(await h.run(...argv), argv.join(" ")).toMatchObject({ code: 0, stdout: USAGE, stderr: "" });
    }
    for (const argv of [
      ["tokens", "--help"],
      ["tokens", "create", "--help"],
    ]) {
      expect(await h.run(...argv), argv.join(" ")).toMatchObject({ code: 0, stdout: TOKENS_USAGE, stderr: "" });
    }
    expect(await h.run()).toMatchObject({ code: 2, stdout: "", stderr: USAGE });
    expect(await h.run("tokens")).toMatchObject({ code: 2, stdout: "", stderr: TOKENS_USAGE });
    expect(h.opened).toEqual([]);
  });

  it("bad usage exits 2 with one error line per problem and where the help is, before any backend is opened", async () => {
    const h = harness();
    const cases: [string[], string, string?][] = [
      [
        ["frobnicate"],
        'error: unknown verb "frobnicate": expected one of create, import, list, show, revoke, rotate, update, audit, orgs, usage, leaked, session, migration, shadow, tokens, webhooks',
      ],
      [["create", "--bogus"], 'error: unknown flag --bogus for "create"'],
      [["update", "key_1", "--org"], "error: --org needs a value"],
      [["list", "stray"], '"list" takes no positional argument (stray)'],
      [["show"], "show needs exactly one KEY_ID"],
      [["import", "--org", "acme"], "--key is required"],
      [["update", "key_1", "--enable", "--disable"], "--enable and --disable are exclusive"],
      [["update", "key_1", "--meta", "a=b"], "--meta cannot be changed after creation"],
      [["create", "--org", "a", "--rate-limit", "fast"], "--rate-limit: expected LIMIT/PERIOD"],
      [["create", "--org", "a", "--refill", "1/day"], "--refill needs --credits N"],
      [["orgs", "list"], "orgs needs set or show"],
      [["orgs", "set", "--org", "a"], "orgs set needs --rate-limit"],
      [["orgs", "show"], "--org is required"],
      [["usage"], "--org is required"],
      [["usage", "--org", "a", "--since", "forever"], "--since: expected a duration"],
      [
        ["tokens", "frob"],
        'error: unknown tokens verb "frob": expected one of create, list, revoke',
        "npm run keys -- tokens --help",
      ],
      [["tokens", "create", "--name", "x"], "error: --org is required", "npm run keys -- tokens --help"],
      [
        ["tokens", "create", "--name", "x", "--org", "a"],
        "error: --role is required: read or write",
        "npm run keys -- tokens --help",
      ],
      [["tokens", "revoke"], "revoke needs exactly one TOKEN_ID", "npm run keys -- tokens --help"],
      [["tokens", "list", "--bogus"], 'unknown flag --bogus for "list"', "npm run keys -- tokens --help"],
    ];
    for (const [argv, message, help] of cases) expectUsageError(await h.run(...argv), message, help);
    expect(h.opened).toEqual([]);
  });

  it("values the management core would refuse are usage errors before any backend is opened (issue 24)", async () => {
    const h = harness();
    const cases: [string[], string, string?][] = [
      [["create"], "error: --org: give 1 to 50 org slugs"],
      [["create", "--org", "acme", "--scopes", "a b"], "error: --scopes: a comma-separated list of at most"],
      [["create", "--org", "acme", "--expires", "2001-01-01T00:00:00Z"], "error: --expires: must be in the future"],
      [["import", "--key", "legacy"], "error: --org: give 1 to 50 org slugs"],
      [["rotate", "key_2", "--grace-seconds", "soon"], "error: --grace-seconds: must be a whole number of seconds"],
      [["update", "key_1", "--scopes", "a b"], "error: --scopes:"],
      [["list", "--limit", "0"], "error: --limit: must be a whole number from 1 to 1000"],
      [["audit", "--limit", "5000"], "error: --limit: must be a whole number from 1 to 1000"],
      [["orgs", "show", "--org", "not a slug"], "error: --org: must be an org slug"],
      [
        ["orgs", "set", "--org", "acme", "--rate-limit", "0/60s"],
        "error: --rate-limit: LIMIT/PERIOD with LIMIT from 1",
      ],
      // rate_limit.mode (issue 25): a mode other than exact or regional, and a bad limit with a good one.
      [
        ["create", "--org", "acme", "--rate-limit", "100/60s:fast"],
        'error: --rate-limit: expected LIMIT/PERIOD[:exact|:regional] such as 100/60s, 1000/1h or 100/60s:exact, got "100/60s:fast"',
      ],
      [["update", "key_1", "--rate-limit", "0/60s:exact"], "error: --rate-limit: LIMIT/PERIOD with LIMIT from 1"],
      [
        ["orgs", "set", "--org", "acme", "--rate-limit", "5/0s:regional"],
        "error: --rate-limit: LIMIT/PERIOD with LIMIT",
      ],
      [["usage", "--org", "acme", "--key", "nope"], "error: --key: must be a key id (key_…)"],
      [
        ["tokens", "create", "--name", "x", "--org", "a", "--role", "admin"],
        "error: --role: must be one of read, write",
        "npm run keys -- tokens --help",
      ],
      [["session"], "error: --org is required: the org the session acts for"],
      [["session", "--org", "*"], "error: --org: must be an org slug"],
      [["session", "--org", "acme", "--url", "http://gw"], "error: session signs with the local SESSION_JWT_SECRET"],
      [["session", "--org", "acme", "--ttl", "forever"], "error: --ttl: expected a duration such as 30m, 1h or 7d"],
      [["session", "--org", "acme", "--ttl", "31d"], "error: --ttl: at most 30d"],
      [["session", "--org", "acme", "--sub", "a b"], "error: --sub: 1–256 printable characters without spaces"],
      [["session", "--org", "acme", "--scopes", "a b"], "error: --scopes: a comma-separated list"],
      // webhooks (issue 21) follow the same rule: what no gateway would take, before anything opens.
      [
        ["webhooks", "add", "ftp://hooks.example.com/x", "--event", "key.created"],
        "error: RECEIVER_URL: must be an https:// URL of a public host",
        "npm run keys -- webhooks --help",
      ],
      [
        ["webhooks", "add", "https://user:pw@hooks.example.com/x", "--event", "key.created"],
        "error: RECEIVER_URL: must not carry credentials",
        "npm run keys -- webhooks --help",
      ],
      [
        ["webhooks", "add", "https://hooks.example.com/x", "--event", "key.bogus"],
        "error: --event: must be a list of distinct event types: key.created",
        "npm run keys -- webhooks --help",
      ],
      [
        ["webhooks", "add", "https://hooks.example.com/x", "--event", "all", "--org", "not a slug"],
        "error: --org: must be 1–50 distinct org slugs",
        "npm run keys -- webhooks --help",
      ],
      [
        ["webhooks", "deliveries", "wh_1", "--limit", "0"],
        "error: --limit: must be a whole number, 1–200",
        "npm run keys -- webhooks --help",
      ],
    ];
    for (const [argv, message, help] of cases) expectUsageError(await h.run(...argv), message, help);
    expect(h.opened).toEqual([]);
  });

  it("the API's field errors: exit 2, one line per distinct problem, in terms of flags", async () => {
    const h = harness(() => ({
      ok: false,
      error: "invalid",
      errors: [
        { field: "orgs", message: "must be a non-empty array of at most 20 org slugs (a-z)" },
        { field: "expires_at", message: "must be in the future" },
        { field: "expires_at", message: "must be in the future" },
      ],
    }));
    // Flags the CLI's own check lets through (it runs the same validation: see precheck below),
    // refused by the backend: how its field errors read.
    const r = await h.run("create", "--org", "acme", "--expires", "2099-01-01T00:00:00Z");
    expectUsageError(
      r,
      "error: --org: give 1 to 20 org slugs (a-z); repeat --org for more\nerror: --expires: must be in the future\nsee",
    );
    expect(r.stderr.match(/in the future/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\barray\b|\bnull\b/);
    const t = harness(() => ({
      ok: false,
      error: "invalid",
      errors: [{ field: "role", message: "must be one of read, write" }],
    }));
    expectUsageError(
      await t.run("tokens", "create", "--name", "x", "--org", "a", "--role", "admin"),
      "error: --role: must be one of read, write\n",
      "npm run keys -- tokens --help",
    );
  });

  it("webhooks add: the gateway's refusal of its URL names the RECEIVER_URL given, not leaked's --location", async () => {
    // A loopback receiver passes the CLI's own check (wrangler dev takes it); a deployed gateway refuses it.
    const h = harness(() => ({
      ok: false,
      error: "invalid",
      errors: [{ field: "url", message: "must be an https:// URL of a public host" }],
    }));
    const r = await h.run("webhooks", "add", "http://127.0.0.1:9/hook", "--event", "key.created", "--url", "http://gw");
    expectUsageError(
      r,
      "error: RECEIVER_URL: must be an https:// URL of a public host\n",
      "npm run keys -- webhooks --help",
    );
    expect(r.stderr).not.toContain("--location");
  });

  it("not found, conflict, refused: exit 1 with one error line, stdout empty, backend closed", async () => {
    for (const [outcome, message] of [
      [{ ok: false, error: "not_found", message: "not found" }, "error: not found\n"],
      [
        { ok: false, error: "conflict", message: "That key is already stored." },
        "error: That key is already stored.\n",
      ],
    ] as const) {
      const h = harness(() => outcome);
      const r = await h.run("show", "key_1");
      expect(r).toMatchObject({ code: 1, stdout: "", stderr: message, closed: 1 });
    }
  });

  it("the backend is asked for with the flags; tokens name the root admin token", async () => {
    const h = harness(() => ({ ok: true, value: { tokens: [], cursor: null } }));
    await h.run("list", "--url", "http://gw", "--json");
    await h.run("tokens", "list", "--persist-to", "/tmp/x", "--json");
    expect(h.opened[0]!.values).toMatchObject({ url: "http://gw" });
    expect(h.opened[0]!.opts?.tokenKind).toBeUndefined();
    expect(h.opened[1]!.values).toMatchObject({ "persist-to": "/tmp/x" });
    expect(h.opened[1]!.opts?.tokenKind).toBe("root admin token");
  });
});

describe("openBackend: choosing local or remote", () => {
  it("--url cannot go with local-state flags, and needs KEYGATE_ADMIN_TOKEN (named for the verb)", async () => {
    await expect(
      openBackend({ url: "http://gw", "persist-to": "x" }, { env: { KEYGATE_ADMIN_TOKEN: "t" } }),
    ).rejects.toThrow("--persist-to is for local state; it cannot be combined with --url");
    await expect(
      openBackend({ url: "http://gw", env: "staging" }, { env: { KEYGATE_ADMIN_TOKEN: "t" } }),
    ).rejects.toThrow("--env is for local state");
    await expect(openBackend({ url: "http://gw" }, { env: {} })).rejects.toThrow(
      "--url needs the gateway's admin token in the KEYGATE_ADMIN_TOKEN environment variable",
    );
    await expect(openBackend({ url: "http://gw" }, { env: {}, tokenKind: "root admin token" })).rejects.toThrow(
      "--url needs the gateway's root admin token",
    );
    await expect(openBackend({ url: "gw" }, { env: { KEYGATE_ADMIN_TOKEN: "t" } })).rejects.toThrow(
      '--url: "gw" is not an absolute URL',
    );
  });

  it("--url with a token: the remote backend (which calls that gateway)", async () => {
    const b = await openBackend({ url: "http://127.0.0.1:9/" }, { env: { KEYGATE_ADMIN_TOKEN: "t" } });
    await expect(b.list({})).rejects.toThrow(/^cannot reach http:\/\/127\.0\.0\.1:9\/_keygate/);
    await b.close();
  });
});
