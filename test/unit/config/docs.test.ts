/**
 * docs/configuration.md's variables table is held to the declaration (src/config/variables.ts,
 * and its documentation half src/config/docs.ts):
 * it lists exactly the declared variables, one row each, with their defaults, secrets marked,
 * int bounds and enum values stated, and a link to the page that explains a variable
 * documented elsewhere (which must name it). A variable added to the code without a row,
 * or a row for a variable the code does not read, fails here.
 */
import { describe, expect, it } from "vitest";
import configuration from "../../../docs/configuration.md?raw";
import consolePage from "../../../docs/console.md?raw";
import leakedKeys from "../../../docs/leaked-keys.md?raw";
import migrating from "../../../docs/migrating.md?raw";
import revocation from "../../../docs/revocation.md?raw";
import selfService from "../../../docs/self-service.md?raw";
import sessions from "../../../docs/sessions.md?raw";
import usage from "../../../docs/usage.md?raw";
import webhooks from "../../../docs/webhooks.md?raw";
import type { VarName, VarSpec } from "../../../src/config/config";
import { DEFAULTS, VARIABLES } from "../../../src/config/config";
import type { DocPage, VarDoc } from "../../../src/config/docs";
import { documentedDefault, VARIABLE_DOCS } from "../../../src/config/docs";

const PAGES: Record<DocPage, string> = {
  configuration,
  console: consolePage,
  sessions,
  "self-service": selfService,
  revocation,
  usage,
  migrating,
  webhooks,
  "leaked-keys": leakedKeys,
};

interface Row {
  name: string;
  secret: boolean;
  default: string;
  meaning: string;
}

/** The rows of the table under the "| variable | default | meaning |" header, in order. */
function rows(): Row[] {
  const lines = configuration.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| variable | default | meaning |"));
  expect(start, "docs/configuration.md has the variables table").toBeGreaterThanOrEqual(0);
  const out: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    expect(cells, line).toHaveLength(3);
    const m = /^`([A-Z][A-Z0-9_]*)`( \(secret\))?$/.exec(cells[0]!);
    expect(m, `one variable per row, as \`NAME\` or \`NAME\` (secret): ${cells[0]}`).not.toBeNull();
    out.push({ name: m![1]!, secret: m![2] !== undefined, default: cells[1]!, meaning: cells[2]! });
  }
  return out;
}

const declared = Object.entries(VARIABLES as Record<VarName, VarSpec>) as [VarName, VarSpec][];
/** 3600000 → "3,600,000", as the docs write numbers. */
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, ",");

describe("docs/configuration.md's variables table matches the declaration", () => {
  it("lists exactly the declared variables, each once, in the declaration's order", () => {
    const names = rows().map((r) => r.name);
    expect(new Set(names).size, "no variable listed twice").toBe(names.length);
    expect(names).toEqual(declared.map(([name]) => name));
  });

  it("states each default as declared, and what unset means when there is none", () => {
    for (const r of rows()) expect(r.default, r.name).toBe(documentedDefault(r.name as VarName));
    // The declared defaults are what parseConfig applies (test/unit/config/config.test.ts), e.g.:
    expect(rows().find((r) => r.name === "CACHE_TTL_MS")!.default).toBe(`\`${DEFAULTS.CACHE_TTL_MS}\``);
    expect(rows().find((r) => r.name === "ORIGIN_URL")!.default).toBe("(required)");
  });

  it("marks exactly the secrets", () => {
    for (const r of rows()) expect(r.secret, r.name).toBe((VARIABLES[r.name as VarName] as VarSpec).secret === true);
    expect(
      rows()
        .filter((r) => r.secret)
        .map((r) => r.name),
    ).toEqual([
      "KEY_PEPPER",
      "ADMIN_TOKEN",
      "ORIGIN_SIGNING_SECRET",
      "SESSION_JWT_SECRET",
      "LEGACY_HASH_PEPPER",
      "LEAK_REPORT_TOKEN",
    ]);
  });

  it("states every whole number's bounds and every enum's values", () => {
    for (const r of rows()) {
      const spec: VarSpec = VARIABLES[r.name as VarName];
      if (spec.kind === "int") expect(r.meaning, r.name).toContain(`${grouped(spec.min!)}–${grouped(spec.max!)}`);
      if (spec.kind === "enum") for (const v of spec.values!) expect(r.meaning, r.name).toContain(`\`${v}\``);
    }
  });

  it("links a variable explained on its own page to that page, which names it", () => {
    for (const [name] of declared) {
      const { doc }: VarDoc = VARIABLE_DOCS[name];
      const page = PAGES[doc];
      expect(page, `docs/${doc}.md`).toBeDefined();
      expect(page, `docs/${doc}.md names ${name}`).toContain(`\`${name}\``);
      if (doc !== "configuration") expect(rows().find((r) => r.name === name)!.meaning, name).toContain(`](${doc}.md)`);
    }
  });
});
