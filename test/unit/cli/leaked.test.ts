/**
 * `npm run keys -- leaked --file found.txt` (cli/verbs/leaked.ts) without wrangler: the file
 * read before any backend opens (one token a line), the reports the backend is handed
 * (batches of LEAKED_BATCH; a report "unavailable" for one request's KV share sent again
 * until done), and what is printed — tokens named by their line, never by their value.
 * Also `keys show`'s leak line (cli/render.ts).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Backend } from "../../../cli/backends/backend";
import { main } from "../../../cli/main";
import { describeKey } from "../../../cli/render";
import type { Io } from "../../../cli/run";
import { LEAKED_BATCH, tokensOf } from "../../../cli/verbs/leaked";
import type { KeyView } from "../../../src/keys/fields";
import type { Outcome } from "../../../src/keys/lifecycle";

type Json = Record<string, unknown>;

function harness(answer: (body: Json, n: number) => Outcome<Json>) {
  const reports: Json[] = [];
  let opened = 0;
  let stdout = "";
  let stderr = "";
  const backend = {
    leaked: async (body: Json) => {
      reports.push(body);
      return answer(body, reports.length);
    },
    close: async () => {},
  } as unknown as Backend;
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    open: async () => {
      opened++;
      return backend;
    },
    env: {},
  };
  return {
    reports,
    opened: () => opened,
    run: async (...argv: string[]) => {
      stdout = "";
      stderr = "";
      const code = await main(argv, io);
      return { code, stdout, stderr };
    },
  };
}

function file(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "keygate-leaked-"));
  const p = path.join(dir, "found.txt");
  writeFileSync(p, text);
  return p;
}

const labels = (body: Json, positive: (t: string) => boolean) => ({
  results: (body.tokens as string[]).map((t) =>
    positive(t)
      ? { token_hash: "h", label: "true_positive", key_id: `key_${t.slice(-4)}`, status: "revoked" }
      : { token_hash: "h", label: "false_positive" },
  ),
});

describe("leaked --file", () => {
  it("reports the file's tokens (one a line, blank lines skipped) with --source and --location", async () => {
    const h = harness((body) => ({ ok: true, value: labels(body, (t) => t.startsWith("kg_")) }));
    const f = file("kg_secretAAAA\n\n  ghp_notours  \r\nkg_secretBBBB\n");
    const r = await h.run("leaked", "--file", f, "--source", "gitleaks", "--location", "https://ci.example/1");
    expect(r.code, r.stderr).toBe(0);
    expect(h.reports).toEqual([
      { tokens: ["kg_secretAAAA", "ghp_notours", "kg_secretBBBB"], source: "gitleaks", url: "https://ci.example/1" },
    ]);
    // Named by line, never by value.
    expect(r.stdout).toContain("3 tokens, 2 of them keys of this gateway");
    expect(r.stdout).toMatch(/^1\s+true_positive\s+key_AAAA\s+revoked$/m);
    expect(r.stdout).toMatch(/^3\s+false_positive\s+-\s+-$/m);
    expect(r.stdout).toMatch(/^4\s+true_positive\s+key_BBBB\s+revoked$/m);
    expect(r.stdout).not.toContain("kg_secret");
    expect(r.stdout).not.toContain("ghp_notours");
  });

  it("a relative file is read from where npm was run (INIT_CWD), as import --file reads its own", async () => {
    const h = harness((body) => ({ ok: true, value: labels(body, () => false) }));
    const f = file("kg_secretAAAA\n");
    process.env.INIT_CWD = path.dirname(f);
    try {
      const r = await h.run("leaked", "--file", path.basename(f), "--json");
      expect(r.code, r.stderr).toBe(0);
      expect(h.reports).toEqual([{ tokens: ["kg_secretAAAA"], source: "cli" }]);
    } finally {
      delete process.env.INIT_CWD;
    }
  });

  it("--json prints the API's answer; the source defaults to cli", async () => {
    const h = harness((body) => ({ ok: true, value: labels(body, () => false) }));
    const r = await h.run("leaked", "--file", file("x\n"), "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ results: [{ token_hash: "h", label: "false_positive" }] });
    expect(h.reports[0]).toEqual({ tokens: ["x"], source: "cli" });
  });

  it(`sends reports of ${LEAKED_BATCH} tokens, and a report "unavailable" again until it is done`, async () => {
    const tokens = Array.from({ length: LEAKED_BATCH + 5 }, (_, i) => `kg_token${String(i).padStart(4, "0")}`);
    const h = harness((body, n) =>
      n === 1
        ? { ok: false, error: "unavailable", message: "send the same report again" }
        : { ok: true, value: labels(body, () => true) },
    );
    const r = await h.run("leaked", "--file", file(tokens.join("\n")), "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(h.reports.map((b) => (b.tokens as string[]).length)).toEqual([LEAKED_BATCH, LEAKED_BATCH, 5]);
    expect(h.reports[0]).toEqual(h.reports[1]);
    expect(JSON.parse(r.stdout).results).toHaveLength(LEAKED_BATCH + 5);
  });

  it("bad usage exits 2 before any backend opens: no --file, an unreadable file, an empty one", async () => {
    const h = harness(() => ({ ok: true, value: { results: [] } }));
    for (const [argv, message] of [
      [["leaked"], "--file is required"],
      [["leaked", "--file", "/nonexistent/found.txt"], 'cannot read "/nonexistent/found.txt" (ENOENT)'],
      [["leaked", "--file", file("\n \n")], "holds no token"],
    ] as const) {
      const r = await h.run(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(h.opened()).toBe(0);
  });

  it("the API's field errors in terms of flags; a refusal exits 1", async () => {
    const invalid = harness(() => ({
      ok: false,
      error: "invalid",
      errors: [{ field: "url", message: "must be an http(s) URL of at most 2048 characters" }],
    }));
    const r = await invalid.run("leaked", "--file", file("x"), "--location", "javascript:1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--location: must be an http(s) URL");
    const refused = harness(() => ({ ok: false, error: "forbidden", message: "read-only" }));
    expect((await refused.run("leaked", "--file", file("x"))).code).toBe(1);
  });

  it("tokensOf: line numbers as in the file", () => {
    expect(tokensOf("a\r\n\r\nb\n  c  ")).toEqual([
      { token: "a", line: 1 },
      { token: "b", line: 3 },
      { token: "c", line: 4 },
    ]);
  });
});

describe("keys show: a leaked key", () => {
  it("prints the report: where, when, by whom, what was done", () => {
    const k = {
      id: "key_7Fq2Lr9XcB3mNp8TzK1a",
      name: "deploy",
      key_prefix: "kg_AbCd",
      orgs: ["acme"],
      scopes: [],
      status: "revoked",
      enabled: true,
      created_at: "2026-11-01T09:00:00.000Z",
      expires_at: null,
      last_used_at: null,
      revoked_at: "2026-11-03T08:00:00.000Z",
      revoked_reason: "leaked",
      rate_limit: null,
      leaked: {
        at: "2026-11-03T08:00:00.000Z",
        reporter: "reporter:github",
        source: "commit",
        url: "https://github.com/octo/app/blob/5f3c2a1/.env",
        action: "revoke",
      },
    } as unknown as KeyView;
    const text = describeKey(k);
    expect(text).toContain("  revoked:    2026-11-03T08:00:00Z (leaked)");
    expect(text).toContain(
      "  leaked:     Reported leaked at https://github.com/octo/app/blob/5f3c2a1/.env on 2026-11-03T08:00:00Z by reporter:github (commit): revoked",
    );
  });
});
