/**
 * The keys CLI as a user runs it (`npm run keys -- …`): output, exit codes, refusals.
 */
import { describe, expect, it } from "vitest";
import { keysCli, tempStateDir } from "../support/node-wrangler";

const state = tempStateDir();

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
    // A dozen real CLI runs, most of which validate against local state (each starts the
    // local platform): ≈ 45 s alone on this 2-core machine, so give it room under load.
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
});
