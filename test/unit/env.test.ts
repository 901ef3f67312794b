/**
 * src/env.ts against wrangler.toml, both ways, in every environment: `Env` is written by
 * hand (docs/configuration.md says why), so this test is what keeps it true. Each binding of
 * BINDINGS is declared in the top level and in every `[env.*]` section (wrangler does not
 * inherit bindings), under its section and, for a Durable Object, with its class — a class
 * the Worker's entry exports and a migration creates; no section declares a binding Env
 * does not have; and every `[vars]` name is a declared variable, never a secret.
 */
import { describe, expect, it } from "vitest";
import { VARIABLES } from "../../src/config/variables";
import { BINDINGS } from "../../src/env";
import * as entry from "../../src/index";
import toml from "../../wrangler.toml?raw";

type Table = Record<string, string>;

/** The subset of TOML wrangler.toml uses: [table] and [[array of tables]] headers, `key = "string"` pairs. */
function parseToml(text: string): { tables: Map<string, Table>; arrays: Map<string, Table[]> } {
  const tables = new Map<string, Table>([["", {}]]);
  const arrays = new Map<string, Table[]>();
  let current = tables.get("")!;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const array = /^\[\[([^\]]+)\]\]$/.exec(line);
    const table = /^\[([^\]]+)\]$/.exec(line);
    if (array) {
      current = {};
      arrays.set(array[1]!, [...(arrays.get(array[1]!) ?? []), current]);
    } else if (table) {
      current = {};
      tables.set(table[1]!, current);
    } else {
      const pair = /^([A-Za-z0-9_]+)\s*=\s*"([^"]*)"/.exec(line);
      if (pair) current[pair[1]!] = pair[2]!;
      else {
        const key = /^([A-Za-z0-9_]+)\s*=/.exec(line);
        if (key) current[key[1]!] = "(not a string)";
      }
    }
  }
  return { tables, arrays };
}

/** The environments wrangler.toml declares: "" (the top level) and each `[env.NAME…]`. */
function environmentsOf(text: string): string[] {
  return ["", ...new Set([...text.matchAll(/^\[\[?env\.([A-Za-z0-9_-]+)\./gm)].map((m) => m[1]!))];
}

/** One environment's bindings, by name: the section that declares each, and a Durable Object's class. */
function bindingsOf(text: string, env: string): Map<string, { section: string; className?: string }> {
  const { arrays } = parseToml(text);
  const at = (section: string) => arrays.get(env === "" ? section : `env.${env}.${section}`) ?? [];
  const out = new Map<string, { section: string; className?: string }>();
  for (const t of at("kv_namespaces")) out.set(t.binding!, { section: "kv_namespaces" });
  for (const t of at("ratelimits")) out.set(t.name!, { section: "ratelimits" });
  for (const t of at("durable_objects.bindings"))
    out.set(t.name!, { section: "durable_objects", className: t.class_name! });
  return out;
}

const expected = new Map(Object.entries(BINDINGS).map(([name, b]) => [name, { ...b }]));

describe("Env (src/env.ts) and wrangler.toml declare the same bindings", () => {
  const environments = environmentsOf(toml);

  it("reads the top level and both deployment environments", () => {
    expect(environments).toEqual(["", "staging", "production"]);
  });

  for (const env of environmentsOf(toml)) {
    it(`${env === "" ? "the top level" : `[env.${env}]`}: every binding of Env, each in its section, and no other`, () => {
      expect(Object.fromEntries(bindingsOf(toml, env))).toEqual(Object.fromEntries(expected));
    });
  }

  it("each Durable Object class is exported by the Worker's entry and created by a migration", () => {
    const created = (parseToml(toml).arrays.get("migrations") ?? []).map((m) => m.new_sqlite_classes);
    const exported = entry as Record<string, unknown>;
    for (const b of Object.values(BINDINGS)) {
      if (!("className" in b)) continue;
      expect(typeof exported[b.className], b.className).toBe("function");
      expect(toml).toMatch(new RegExp(`new_sqlite_classes = \\["${b.className}"\\]`));
    }
    expect(created.length).toBe(6);
    // Each migration's tag once, in order (a deployed Worker applies the tags it has not seen yet, in order).
    const tags = (parseToml(toml).arrays.get("migrations") ?? []).map((m) => m.tag);
    expect(tags).toEqual(tags.map((_, i) => `v${i + 1}`));
  });

  it("catches a binding missing from one environment, or one Env does not have", () => {
    const withoutFeed = toml.replace(
      /\[\[env\.staging\.durable_objects\.bindings\]\]\nname = "REVOCATION_FEED"\nclass_name = "RevocationFeed"\n/,
      "",
    );
    expect(withoutFeed).not.toBe(toml);
    expect(Object.fromEntries(bindingsOf(withoutFeed, "staging"))).not.toEqual(Object.fromEntries(expected));
    const extra = `${toml}\n[[kv_namespaces]]\nbinding = "UNTYPED"\nid = "0"\n`;
    expect(Object.fromEntries(bindingsOf(extra, ""))).not.toEqual(Object.fromEntries(expected));
  });
});

describe("wrangler.toml's [vars] are declared variables", () => {
  for (const env of environmentsOf(toml)) {
    it(`${env === "" ? "[vars]" : `[env.${env}.vars]`}: each name is declared in config/variables.ts, none a secret`, () => {
      const vars = parseToml(toml).tables.get(env === "" ? "vars" : `env.${env}.vars`) ?? {};
      expect(Object.keys(vars).length).toBeGreaterThan(0);
      for (const name of Object.keys(vars)) {
        const spec = (VARIABLES as Record<string, { secret?: boolean }>)[name];
        expect(spec, name).toBeDefined();
        expect(spec?.secret, name).not.toBe(true);
      }
    });
  }
});
