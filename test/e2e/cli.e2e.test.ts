/**
 * The keys CLI as a user runs it (`npm run keys -- …`): output, exit codes, refusals; bad
 * usage answered without starting the local platform; messages in plain words when the
 * running gateway cannot be reached.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { keysCli, tempStateDir } from "../support/node-wrangler";

const state = tempStateDir();
/** The local platform made unavailable: wrangler cannot be loaded (test/support/no-local-platform.cjs). */
const NO_PLATFORM = {
  NODE_OPTIONS:
    `${process.env.NODE_OPTIONS ?? ""} --require ${path.resolve(import.meta.dirname, "../support/no-local-platform.cjs")}`.trim(),
};

describe("npm run keys", () => {
  it("create --json prints one JSON object with the key once, and nothing else on stdout", async () => {
    const r = await keysCli([
      "create",
      "--org",
      "acme",
      "--org",
      "globex",
      "--name",
      "ci",
      "--scopes",
      "read,write",
      "--expires",
      "2099-01-01T00:00:00Z",
      "--json",
      "--persist-to",
      state,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      name: "ci",
      orgs: ["acme", "globex"],
      scopes: ["read", "write"],
      expires_at: "2099-01-01T00:00:00.000Z",
    });
    expect(out.key).toMatch(/^kg_[0-9A-Za-z]{38}$/);
    expect(out.id).toMatch(/^key_/);
    expect(out.key_prefix).toBe((out.key as string).slice(0, 7));
  });

  it("create without --json prints a readable summary with the key", async () => {
    const r = await keysCli(["create", "--org", "acme", "--persist-to", state]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Created key key_\w+ for acme/);
    expect(r.stdout).toMatch(/kg_[0-9A-Za-z]{38}/);
    expect(r.stdout).toContain("only time the key is shown");
  });

  it("bad usage exits 2: one `error:` line per problem naming the flag, then where the usage is (not the usage itself)", async () => {
    const cases: [string[], string][] = [
      [["create", "--persist-to", state], "--org"],
      [["create", "--org", "bad slug!", "--persist-to", state], "--org"],
      [["create", "--org", "acme", "--expires", "tomorrow", "--persist-to", state], "--expires"],
      [["create", "--org", "acme", "--expires", "2001-01-01T00:00:00Z", "--persist-to", state], "in the future"],
      [["create", "--org", "acme", "--bogus"], "bogus"],
      [["import", "--org", "acme", "--persist-to", state], "--key is required"],
      [["import", "--key", "kg_notavalidkeygatekey", "--org", "acme", "--persist-to", state], "key prefix"],
      [["frobnicate"], 'error: unknown verb "frobnicate"'],
      [["create", "--org", "acme", "--rate-limit", "0/60s", "--persist-to", state], "--rate-limit: LIMIT/PERIOD"],
      [["create", "--org", "acme", "--scopes", "a b", "--persist-to", state], "--scopes: a comma-separated list"],
      [["list", "--org", "acme", "--limit", "0", "--persist-to", state], "--limit: must be a whole number"],
      [["update", "key_00000000000000000000", "--org"], "--org needs a value"],
    ];
    for (const [args, message] of cases) {
      const r = await keysCli(args);
      const label = args.join(" ");
      expect(r.code, label).toBe(2);
      expect(r.stderr, label).toContain(message);
      expect(r.stdout, label).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines.at(-1), label).toBe("see `npm run keys -- --help`");
      for (const line of lines.slice(0, -1)) expect(line, label).toMatch(/^error: /);
      expect(r.stderr, label).not.toContain("Usage:");
      // Flags are not JSON: no JSON types or syntax in what the user reads.
      expect(r.stderr, label).not.toMatch(/\barray\b|\bnull\b|\{"/);
    }
    // A dozen real CLI runs; since issue 24 all but one are refused before the local
    // platform starts (≈ 5 s alone; it was ≈ 45 s): room kept for a loaded machine.
  }, 150_000);

  it("local commands print no warnings a user cannot act on (the platform proxy's Durable Object notices)", async () => {
    const r = await keysCli(["list", "--org", "acme", "--persist-to", state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("importing the same key twice is refused (exit 1) and the plaintext is never printed", async () => {
    const legacy = `legacy-${Date.now()}-abcdef`;
    const first = await keysCli(["import", "--key", legacy, "--org", "acme", "--json", "--persist-to", state]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toContain(legacy);
    expect(JSON.parse(first.stdout)).toMatchObject({ orgs: ["acme"], key_prefix: "lega" });
    const again = await keysCli(["import", "--key", legacy, "--org", "acme", "--persist-to", state]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already stored");
    expect(again.stderr + again.stdout).not.toContain(legacy);
  });

  it("bad usage is answered without starting the local platform (issue 24: it took 2.5 s to say --org is missing)", async () => {
    const found = path.join(tempStateDir(), "found.txt");
    writeFileSync(found, "kg_notakeyatall\n");
    // The control: a command that needs the platform fails with the stand-in's error.
    const needs = await keysCli(["list", "--org", "acme", "--persist-to", state], NO_PLATFORM);
    expect(needs.code).not.toBe(0);
    expect(needs.stderr).toContain("the local platform is unavailable (test)");
    for (const [args, message] of [
      [["create"], "--org: give 1 to 50 org slugs"],
      [["create", "--org", "acme", "--expires", "2001-01-01T00:00:00Z"], "--expires: must be in the future"],
      [["rotate", "key_00000000000000000000", "--grace-seconds", "soon"], "--grace-seconds: must be a whole number"],
      [["usage", "--org", "acme", "--key", "nope"], "--key: must be a key id"],
      [["orgs", "set", "--org", "acme", "--rate-limit", "0/60s"], "--rate-limit: LIMIT/PERIOD"],
      [
        ["create", "--org", "acme", "--rate-limit", "100/60s:fast"],
        "--rate-limit: expected LIMIT/PERIOD[:exact|:regional]",
      ],
      [["orgs", "set", "--org", "acme", "--rate-limit", "0/60s:exact"], "--rate-limit: LIMIT/PERIOD"],
      [["session"], "--org is required"],
      [["tokens", "create", "--name", "x", "--org", "acme", "--role", "admin"], "--role: must be one of read, write"],
      [["leaked", "--file", found, "--location", "ftp://x"], "--location: must be an http(s) URL"],
      [["webhooks", "add", "ftp://hooks.example.com/x", "--event", "key.revoked"], "RECEIVER_URL: must be an https://"],
      [["webhooks", "add", "https://hooks.example.com/x", "--event", "key.nope"], "--event: must be a list of"],
      [["webhooks", "deliveries", "wh_x", "--limit", "0"], "--limit: must be a whole number"],
      // The migration verbs (issue 22) too.
      [["import", "--hash", "sha256:abcd", "--org", "acme"], "--hash: must carry a sha256 digest"],
      [["import", "--file", "/nonexistent/keys.jsonl"], '--file: cannot read "/nonexistent/keys.jsonl"'],
      [["import", "--file", found, "--org", "not a slug"], "--org:"],
      [["migration", "--org", "not a slug"], "--org: must be an org slug"],
      [["shadow", "--since", "40d"], "--since: the range must be at most 35 days"],
    ] as const) {
      const r = await keysCli([...args, "--persist-to", state], NO_PLATFORM);
      const label = args.join(" ");
      expect(r.code, `${label}: ${r.stderr}`).toBe(2);
      expect(r.stderr, label).toContain(message);
      expect(r.stderr, label).not.toContain("unavailable");
    }
  });

  it("a gateway registered in the state's dev registry but gone: plain words, never the platform's error text", async () => {
    const stale = tempStateDir();
    mkdirSync(path.join(stale, "dev-registry"), { recursive: true });
    // What a `wrangler dev` of another version, or one stopped while writing, leaves behind:
    // wrangler's proxy fails on it with an assertion's "false == true" (issue 24).
    writeFileSync(path.join(stale, "dev-registry", "keygate"), "{}\n");
    const registry = path.resolve(stale, "dev-registry");
    const usage = await keysCli(["usage", "--org", "acme", "--persist-to", stale]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toBe(
      `error: usage is kept by the running gateway, and no running \`wrangler dev\` of this local state answered (the one registered in ${registry} did not answer: it has stopped, or another wrangler version started it): start it with \`npm run dev\` (same --persist-to), or use --url\n`,
    );
    const set = await keysCli(["orgs", "set", "--org", "acme", "--rate-limit", "10/60s", "--persist-to", stale]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain(
      `took it from the revocation feed: the one registered in ${registry} did not answer: it has stopped, or another wrangler version started it.`,
    );
    // Webhooks live in the running gateway's hub too (issue 21): the same plain words.
    const hooks = await keysCli(["webhooks", "list", "--persist-to", stale]);
    expect(hooks.code).toBe(1);
    expect(hooks.stderr).toBe(
      `error: webhooks are kept by the running gateway, and no running \`wrangler dev\` of this local state answered (the one registered in ${registry} did not answer: it has stopped, or another wrangler version started it): start it with \`npm run dev\` (same --persist-to), or use --url\n`,
    );
    // So is report mode's shadow report (issue 22).
    const shadow = await keysCli(["shadow", "--persist-to", stale]);
    expect(shadow.code).toBe(1);
    expect(shadow.stderr).toBe(
      `error: the shadow report is kept by the running gateway, and no running \`wrangler dev\` of this local state answered (the one registered in ${registry} did not answer: it has stopped, or another wrangler version started it): start it with \`npm run dev\` (same --persist-to), or use --url\n`,
    );
    for (const r of [usage, set, hooks, shadow])
      expect(r.stderr).not.toMatch(/==|\(false|Network connection|core:user/);
  });
});
