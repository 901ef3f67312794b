/**
 * The migration verbs of the keys CLI (cli/verbs/migration.ts, docs/migrating.md) against a
 * recording backend: `import --hash`, `import --file` (batches, a bad line reported by its
 * number without stopping, deferred keys sent again, resuming skips what is stored, the
 * progress on stderr, the exit code), `migration`, `shadow`; bad usage of each answered
 * before any backend opens (issue 24's precheck).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend } from "../../../cli/backends/backend";
import { main } from "../../../cli/main";
import type { Io } from "../../../cli/run";
import type { Outcome } from "../../../src/keys/lifecycle";

type Json = Record<string, unknown>;

function harness(answer: (op: string, arg: unknown) => Outcome<Json>, tty = false) {
  const calls: [string, unknown][] = [];
  let stdout = "";
  let stderr = "";
  let opened = 0;
  const backend = new Proxy({} as Backend, {
    get: (_, op: string) =>
      op === "then"
        ? undefined
        : op === "close"
          ? async () => {}
          : async (...args: unknown[]) => {
              calls.push([op, args[args.length - 1]]);
              return answer(op, args[args.length - 1]);
            },
  });
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    open: async () => {
      opened++;
      return backend;
    },
    env: {},
    tty,
  };
  return {
    calls,
    opened: () => opened,
    run: async (...argv: string[]) => {
      stdout = "";
      stderr = "";
      const code = await main(argv, io);
      return { code, stdout, stderr };
    },
  };
}

/** A backend importing every key of a batch (a hash: pending), unless `status` says otherwise for it. */
const importer =
  (status: (item: Json) => string = () => "imported") =>
  (op: string, arg: unknown): Outcome<Json> => {
    if (op !== "importMany") return { ok: true, value: {} };
    const items = arg as Json[];
    const results = items.map((item, index) => {
      const s = status(item);
      return s === "imported"
        ? { index, status: s, id: `key_${index}`, state: item.hash ? "pending" : "migrated" }
        : s === "invalid"
          ? { index, status: s, errors: [{ field: "hash", message: "must carry a sha256 digest" }] }
          : { index, status: s };
    });
    const n = (s: string) => results.filter((r) => r.status === s).length;
    return {
      ok: true,
      value: { imported: n("imported"), skipped: n("skipped"), failed: n("invalid"), deferred: n("deferred"), results },
    };
  };

let dir: string;
function file(lines: string[]): string {
  dir ??= mkdtempSync(path.join(tmpdir(), "keygate-cli-import-"));
  const p = path.join(dir, `keys-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}
const HASH = "sha256:" + "ab".repeat(32);

afterEach(() => {
  delete process.env.INIT_CWD;
});

describe("import --hash", () => {
  it("sends the hash and key_prefix in place of the key", async () => {
    const h = harness(() => ({ ok: true, value: {} }));
    const r = await h.run("import", "--hash", HASH, "--key-prefix", "argus_ab", "--org", "home", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls).toEqual([["import", { hash: HASH, key_prefix: "argus_ab", orgs: ["home"] }]]);
  });

  it("--key or --hash, one of them", async () => {
    const h = harness(() => ({ ok: true, value: {} }));
    expect((await h.run("import", "--key", "k", "--hash", HASH, "--org", "o")).stderr).toContain(
      "error: give --key or --hash, not both",
    );
    const none = await h.run("import", "--org", "o");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--hash ALGORITHM:DIGEST, or --file keys.jsonl");
    expect(h.calls).toEqual([]);
  });
});

describe("import --file", () => {
  it("one batch of every line, flags as defaults; a summary on stdout, exit 0", async () => {
    const h = harness(importer());
    const f = file([
      JSON.stringify({ hash: HASH, orgs: ["a"] }),
      "",
      JSON.stringify({ key: "legacy-1", name: "mine" }),
    ]);
    const r = await h.run("import", "--file", f, "--org", "dflt", "--scopes", "read");
    expect(r.code, r.stderr).toBe(0);
    expect(h.calls).toEqual([
      [
        "importMany",
        [
          { orgs: ["a"], scopes: ["read"], hash: HASH },
          { orgs: ["dflt"], scopes: ["read"], key: "legacy-1", name: "mine" },
        ],
      ],
    ]);
    expect(r.stdout).toMatch(
      /^2 lines in [\d.]+ s.*: 2 imported \(1 by hash, re-indexed at their first use\), 0 already stored, 0 bad lines\.\n$/,
    );
  });

  it("a bad line is reported by its number and the rest go on; exit 1", async () => {
    const h = harness(importer((item) => (item.hash === "sha256:bad" ? "invalid" : "imported")));
    const f = file([
      JSON.stringify({ key: "k1", orgs: ["o"] }),
      "{not json",
      JSON.stringify(["an", "array"]),
      JSON.stringify({ hash: "sha256:bad", orgs: ["o"] }),
      JSON.stringify({ key: "k5", orgs: ["o"] }),
    ]);
    const r = await h.run("import", "--file", f, "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 2: not valid JSON\n");
    expect(r.stderr).toContain("line 3: must be one JSON object");
    expect(r.stderr).toContain("line 4: --hash: must carry a sha256 digest\n");
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ lines: 5, imported: 2, skipped: 0, failed: 3 });
    expect(out.failures.map((f: { line: number }) => f.line)).toEqual([2, 3, 4]);
  });

  it("a key given twice is reported at its second line, naming the first (the gateway's duplicate_of is a batch index)", async () => {
    const h = harness((op, arg) => {
      if (op !== "importMany") return { ok: true, value: {} };
      const items = arg as Json[];
      const results = items.map((item, index) =>
        index > 0 && item.key === items[0]!.key
          ? { index, status: "refused", message: "the same key as item 0 of this batch", duplicate_of: 0 }
          : { index, status: "imported", id: `key_${index}`, state: "migrated" },
      );
      return { ok: true, value: { results } };
    });
    const f = file([
      JSON.stringify({ key: "k1", orgs: ["o"] }),
      "",
      JSON.stringify({ key: "k2", orgs: ["o"] }),
      JSON.stringify({ key: "k1", orgs: ["o"], name: "again" }),
    ]);
    const r = await h.run("import", "--file", f, "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 4: the same key as line 1: give each key once\n");
    expect(JSON.parse(r.stdout)).toMatchObject({ lines: 3, imported: 2, failed: 1 });
  });

  it("batches of 1,000, then of what the gateway took; deferred keys are sent again, in order; a second run skips what is stored", async () => {
    let calls = 0;
    const h = harness((op, arg) => {
      if (op !== "importMany") return { ok: true, value: {} };
      calls++;
      const items = arg as Json[];
      // The gateway's budget: 600 per call.
      const results = items.map((_, index) => ({ index, status: index < 600 ? "imported" : "deferred" }));
      return { ok: true, value: { results } };
    });
    const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ key: `k${i}`, orgs: ["o"] }));
    const r = await h.run("import", "--file", file(lines), "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ lines: 1500, imported: 1500 });
    const sizes = h.calls.map(([, items]) => (items as Json[]).length);
    expect(sizes).toEqual([1000, 600, 300]);
    expect((h.calls[1]![1] as Json[])[0]).toEqual({ key: "k600", orgs: ["o"] });
    expect(calls).toBe(3);

    const again = harness(importer(() => "skipped"));
    const r2 = await again.run("import", "--file", file(lines));
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain("0 imported, 1,500 already stored, 0 bad lines.");
  });

  it("progress on stderr: a redrawn bar on a terminal, a line now and then otherwise", async () => {
    const lines = Array.from({ length: 3 }, (_, i) => JSON.stringify({ key: `k${i}`, orgs: ["o"] }));
    const tty = await harness(importer(), true).run("import", "--file", file(lines));
    expect(tty.stderr).toMatch(/\r\x1b\[K\[#+\] 3\/3 lines · [\d,]+ keys\/s · \d+ s\n$/);
    const plain = await harness(importer(), false).run("import", "--file", file(lines));
    expect(plain.stderr).toMatch(/^\[\.+\] 0\/3 lines.*\n\[#+\] 3\/3 lines.*\n$/);
  });

  it("a relative file is read from where npm was run (INIT_CWD)", async () => {
    const f = file([JSON.stringify({ key: "k", orgs: ["o"] })]);
    process.env.INIT_CWD = path.dirname(f);
    const r = await harness(importer()).run("import", "--file", path.basename(f), "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ imported: 1 });
  });

  it("an unreadable file, or --file with --key, is bad usage before anything opens", async () => {
    const h = harness(importer());
    const missing = await h.run("import", "--file", "/nonexistent/keys.jsonl");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'error: --file: cannot read "/nonexistent/keys.jsonl" (ENOENT)\nsee `npm run keys -- --help`\n',
    );
    const both = await h.run("import", "--file", "x.jsonl", "--key", "k");
    expect(both.code).toBe(2);
    expect(h.calls).toEqual([]);
    expect(h.opened()).toBe(0);
  });
});

describe("bad usage of the migration verbs, answered before any backend opens", () => {
  it("each value the management core would refuse is a usage error naming its flag", async () => {
    const h = harness(importer());
    const lines = file([JSON.stringify({ key: "k", orgs: ["o"] })]);
    const cases: [string[], string][] = [
      [["import", "--hash", "md5:abc", "--org", "acme"], 'error: --hash: must be "<algorithm>:<digest>"'],
      [["import", "--hash", "sha256:abcd", "--org", "acme"], "error: --hash: must carry a sha256 digest"],
      [["import", "--hash", `sha256:${"a".repeat(64)}`], "error: --org: give 1 to 50 org slugs"],
      [
        ["import", "--hash", `sha256:${"a".repeat(64)}`, "--key-prefix", "a b", "--org", "acme"],
        "error: --key-prefix: must be 1–20 printable ASCII characters",
      ],
      [["import", "--key", "legacy-key-1", "--hash", `sha256:${"a".repeat(64)}`], "give --key or --hash, not both"],
      [["import", "--file", lines, "--org", "not a slug"], "error: --org:"],
      [["import", "--file", lines, "--expires", "2001-01-01T00:00:00Z"], "error: --expires: must be in the future"],
      [["migration", "--org", "not a slug"], "error: --org: must be an org slug"],
      [["shadow", "--since", "forever"], "error: --since: expected a duration"],
      [["shadow", "--since", "40d"], "error: --since: the range must be at most 35 days"],
      [["shadow", "--org", "not a slug"], "error: --org: must be an org slug"],
    ];
    for (const [argv, message] of cases) {
      const r = await h.run(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toContain(message);
      expect(r.stderr.trimEnd().split("\n").at(-1), argv.join(" ")).toBe("see `npm run keys -- --help`");
    }
    expect(h.opened()).toBe(0);
    expect(h.calls).toEqual([]);
  });

  it("what only the gateway knows is its own to check: KEY_PREFIX, LEGACY_HASH_PEPPER", async () => {
    const h = harness(() => ({ ok: true, value: { id: "key_1", orgs: ["acme"], key_prefix: "kg_abcd" } }));
    // An hmac-sha256 digest needs the gateway's LEGACY_HASH_PEPPER; a kg_ key its KEY_PREFIX: both go through.
    for (const argv of [
      ["import", "--hash", `hmac-sha256:${"b".repeat(64)}`, "--org", "acme", "--json"],
      ["import", "--key", "kg_notavalidkeygatekey", "--org", "acme", "--json"],
    ])
      expect((await h.run(...argv)).code, argv.join(" ")).toBe(0);
    expect(h.opened()).toBe(2);
  });
});

describe("migration and shadow", () => {
  it("migration: the counts per org, and whether legacy lookups are on", async () => {
    const h = harness(() => ({
      ok: true,
      value: {
        org: null,
        totals: { imported: 3, migrated: 1, pending: 2, retired: 0 },
        orgs: [{ org: "home", imported: 3, migrated: 1, pending: 2, retired: 0 }],
        legacy_lookups: ["sha256"],
        complete: true,
      },
    }));
    const r = await h.run("migration", "--org", "home");
    expect(h.calls).toEqual([["migration", { org: "home" }]]);
    expect(r.stdout).toBe(
      "Imported keys: 3 imported, 1 migrated, 2 pending\n  home: 3 imported, 1 migrated, 2 pending\n" +
        "While keys are pending, a key that misses keygate's index is looked up under its sha256 hash too.\n",
    );
  });

  it("shadow: the range from --since, and the report's one line first", async () => {
    const h = harness(() => ({
      ok: true,
      value: {
        summary: "0 would_break in 7 days on 1 route: safe to switch.",
        routes: [
          {
            route: "/v1/*",
            totals: { requests: 4, agree: 4, would_break: 0, would_admit: 0, status_differs: 0, body_differs: 0 },
            samples: {},
          },
        ],
      },
    }));
    const r = await h.run("shadow", "--since", "7d", "--route", "/v1/*");
    const q = h.calls[0]![1] as Json;
    expect(Date.parse(q.to as string) - Date.parse(q.from as string)).toBe(7 * 86_400_000);
    expect(q.route).toBe("/v1/*");
    expect(r.stdout.split("\n")[0]).toBe("0 would_break in 7 days on 1 route: safe to switch.");
    expect(r.stdout).toMatch(/\/v1\/\*\s+4\s+4\s+0/);
  });
});
