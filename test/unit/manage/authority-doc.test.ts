/**
 * docs/authority.md is the authority table (src/manage/authority.ts) rendered: each
 * generated block of the page (between `<!-- name -->` and `<!-- /name -->`) must be what
 * src/manage/authority-doc.ts renders from the table now, and the table must give a rule
 * to every field the key declaration lets a request name (src/keys/fields.ts) — so a field
 * or an operation added to the code without its rule, or a rule changed without the page,
 * fails here (as docs/configuration.md is held to src/config/docs.ts).
 */
import { describe, expect, it } from "vitest";
import authority from "../../../docs/authority.md?raw";
import security from "../../../docs/security.md?raw";
import { CREATE_FIELDS, ROTATE_FIELDS } from "../../../src/keys/fields";
import { PATCH_FIELDS } from "../../../src/keys/issue";
import { FIELDS, OPERATIONS } from "../../../src/manage/authority";
import { OPERATION_DOCS, renderAuthorityTables, SURFACES } from "../../../src/manage/authority-doc";
import { ROLES } from "../../../src/manage/principal";

function block(name: string): string | null {
  const m = new RegExp(`<!-- ${name} -->\\n([\\s\\S]*?)\\n<!-- /${name} -->`).exec(authority);
  return m ? m[1]! : null;
}

describe("docs/authority.md is the authority table", () => {
  it("every generated block is what the code renders now", () => {
    for (const [name, rendered] of Object.entries(renderAuthorityTables())) {
      expect(block(name), `docs/authority.md block ${name}`).toBe(rendered);
    }
  });

  it("has no stale generated block", () => {
    const names = [...authority.matchAll(/<!-- ([a-z:]+) -->/g)].map((m) => m[1]);
    expect(names.sort()).toEqual(Object.keys(renderAuthorityTables()).sort());
  });

  it("every operation has a rule for every principal, and words; every surface offers only operations the table knows", () => {
    for (const [op, rule] of Object.entries(OPERATIONS)) {
      expect(Object.keys(rule.reach).sort(), op).toEqual([...ROLES].sort());
      expect(OPERATION_DOCS[op as keyof typeof OPERATION_DOCS], op).toBeTruthy();
    }
    for (const [surface, s] of Object.entries(SURFACES))
      for (const op of s.operations) expect(OPERATIONS, `${surface}: ${op}`).toHaveProperty(op);
  });

  it("every field a request may name has a rule, for every principal", () => {
    const declared = {
      create: CREATE_FIELDS.map((f) => f.name),
      import: ["key", "hash", "key_prefix", ...CREATE_FIELDS.map((f) => f.name)],
      update: [...PATCH_FIELDS],
      rotate: ["grace_seconds", ...ROTATE_FIELDS.map((f) => f.name)],
    };
    for (const [op, fields] of Object.entries(declared)) {
      const rules = FIELDS[op as keyof typeof FIELDS];
      expect(Object.keys(rules).sort(), op).toEqual([...fields].sort());
      for (const [field, byRole] of Object.entries(rules))
        expect(Object.keys(byRole).sort(), `${op}.${field}`).toEqual([...ROLES].sort());
    }
  });

  it("docs/security.md says what each principal can and cannot do, and links here", () => {
    expect(security).toContain("## What each principal can do");
    for (const who of ["key holder", "session", "portal", "scoped token"])
      expect(security.toLowerCase(), who).toContain(who);
    expect(security).toContain("(authority.md)");
  });
});
