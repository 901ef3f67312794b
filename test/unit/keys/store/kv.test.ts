/**
 * docs/storage.md is a contract: its prefix table must be exactly what store.ts's kvKey
 * builds, its JSON examples must be records the code accepts, and no other module may
 * build a KV key name.
 */
import { describe, expect, it } from "vitest";
import doc from "../../../../docs/storage.md?raw";
import type { KeyField } from "../../../../src/keys/fields";
import { KEY_FIELDS, summarize } from "../../../../src/keys/fields";
import { newKeyId } from "../../../../src/keys/issue";
import type { KeyRecord } from "../../../../src/keys/record";
import { isKeyRecord } from "../../../../src/keys/record";
import { invertedMs } from "../../../../src/keys/store/audit";
import { kvKey } from "../../../../src/keys/store/kv";

/** A row of docs/storage.md's field table, as KEY_FIELDS declares the field. */
function fieldRow(f: KeyField): string {
  const record = f.stored ? f.stored.presence : "—";
  const summary = f.summary ? (f.stored?.presence === "optional" ? "when set" : "yes") : "—";
  const v = f.view;
  const view = !v
    ? "—"
    : `${v.show === "always" ? "always" : v.show === "set" ? "when set" : "one key"}${v.as ? ` (as \`${v.as}\`)` : ""}`;
  const create = f.create ? (f.create.required ? "required" : "yes") : "—";
  const update = f.update ? (f.update.as ? `as \`${f.update.as}\`` : "yes") : "—";
  const rotate = f.rotate === "settable" ? "settable" : f.create || f.rotate === "inherited" ? "inherited" : "—";
  return `| \`${f.name}\` | ${f.type} | ${record} | ${summary} | ${view} | ${create} | ${update} | ${rotate} | ${f.doc} |`;
}

/** Placeholder arguments for every kvKey function, as the document writes them. */
const FORMATS: Record<string, string[]> = {
  record: ["<hash>"],
  idPointer: ["<key id>"],
  orgIndex: ["<org>", "<key id>"],
  lastUsed: ["<org>", "<key id>"],
  audit: ["<inverted ms>", "<event id>"],
  keyAudit: ["<key id>", "<inverted ms>", "<event id>"],
  orgAudit: ["<org>", "<inverted ms>", "<event id>"],
  token: ["<hash>"],
  tokenPointer: ["<token id>"],
  orgSettings: ["<org>"],
  importMarker: ["<key id>"],
  legacyDone: ["<legacy identity>"],
  legacyAlgorithms: [],
};
/** kvKey's prefix helpers (for list()): each must start a documented format. */
const PREFIXES: Record<string, string[]> = {
  orgPrefix: ["<org>"],
  auditPrefix: [],
  keyAuditPrefix: ["<key id>"],
  orgAuditPrefix: ["<org>"],
  idPrefix: [],
  tokenPointerPrefix: [],
  importMarkerPrefix: [],
};

function section(title: string): string {
  const start = doc.indexOf(`## ${title}`);
  expect(start, `section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf("\n## ", start + 3);
  return doc.slice(start, end < 0 ? undefined : end);
}

function documentedFormats(): string[] {
  return section("Key prefixes")
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) => /^\| `([^`]+)`/.exec(l)![1]!);
}

type Fn = (...args: string[]) => string;

describe("docs/storage.md matches the code", () => {
  it("every kvKey function is covered here (a new one must be documented)", () => {
    expect(Object.keys(kvKey).sort()).toEqual([...Object.keys(FORMATS), ...Object.keys(PREFIXES)].sort());
  });

  it("the prefix table lists exactly the key formats kvKey builds", () => {
    const built = Object.entries(FORMATS).map(([name, args]) => (kvKey[name as keyof typeof kvKey] as Fn)(...args));
    expect(documentedFormats().sort()).toEqual(built.sort());
  });

  it("every list() prefix kvKey builds starts a documented format", () => {
    const formats = documentedFormats();
    for (const [name, args] of Object.entries(PREFIXES)) {
      const prefix = (kvKey[name as keyof typeof kvKey] as Fn)(...args);
      expect(
        formats.some((f) => f.startsWith(prefix)),
        name,
      ).toBe(true);
    }
  });

  it("the documented placeholders hold: fixed-length ids, 13-digit inverted times", () => {
    expect(newKeyId()).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(doc).toContain("`key_` + 20 base62 characters");
    expect(invertedMs(0)).toBe("9999999999999");
    expect(invertedMs(Date.parse("2026-01-01T00:00:00Z"))).toHaveLength(13);
    expect(doc).toContain("`9999999999999 − (event time in ms since epoch)`, 13 digits");
  });

  it("the JSON examples are records the code accepts", () => {
    const blocks = [...section("Records").matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const record = JSON.parse(blocks[0]!) as KeyRecord;
    expect(isKeyRecord(record)).toBe(true);
    const summary = JSON.parse(blocks[2]!);
    const fromCode = summarize(record) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(summary)) expect(fromCode[k], k).toEqual(v);
    expect(
      Object.keys(fromCode)
        .filter((k) => !(k in summary))
        .sort(),
    ).toEqual(["replaced_by", "revoked_reason", "rotated_at"]); // "added when set"
    expect(JSON.parse(blocks[3]!)).toEqual({ last_used_at: expect.any(String) });
    expect(JSON.parse(blocks[4]!)).toMatchObject({
      id: expect.any(String),
      at: expect.any(String),
      actor: expect.any(String),
      action: "update",
      key_id: record.id,
    });
  });
});

describe("docs/storage.md matches the key's field declaration (src/keys/fields.ts)", () => {
  it("the field table has one row per declared field, in order, saying what the declaration says", () => {
    const rows = section("Records")
      .split("\n")
      .filter((l) => l.startsWith("| `"));
    expect(rows).toEqual(KEY_FIELDS.map(fieldRow));
  });

  it("the record example sets every stored field, in declaration order, to the declared example", () => {
    const block = /```json\n([\s\S]*?)```/.exec(section("Records"))![1]!;
    const record = JSON.parse(block) as Record<string, unknown>;
    const stored = KEY_FIELDS.filter((f) => f.stored);
    expect(Object.keys(record)).toEqual(stored.map((f) => f.name));
    for (const f of stored) expect(record[f.name], f.name).toEqual(f.example);
    expect(isKeyRecord(record)).toBe(true);
  });

  it("the guard refuses the example without any one of its required checked fields", () => {
    const record = Object.fromEntries(KEY_FIELDS.filter((f) => f.stored).map((f) => [f.name, f.example]));
    for (const f of KEY_FIELDS.filter((f) => f.stored?.presence === "required" && !f.stored.unchecked)) {
      const { [f.name]: _, ...without } = record;
      expect(isKeyRecord(without), f.name).toBe(false);
    }
  });
});

describe("keys/store/kv.ts is the only module that names KV keys", () => {
  const sources = import.meta.glob("../../../../src/**/*.ts", { query: "?raw", import: "default", eager: true });
  const prefixes = [...new Set(documentedFormats().map((f) => f.split(":")[0]!))];

  it("no other source file has a string or template literal starting with a KV prefix", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(10);
    const literal = new RegExp(`["'\`](?:${prefixes.join("|")}):`);
    for (const [file, text] of Object.entries(sources)) {
      if (file.endsWith("/keys/store/kv.ts")) continue;
      const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      expect(literal.test(code), file).toBe(false);
    }
    expect(literal.test(sources["../../../../src/keys/store/kv.ts"]!)).toBe(true); // the check can see one
  });
});
