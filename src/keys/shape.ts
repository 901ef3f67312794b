/**
 * A stored JSON object, declared field by field: what the guard of a value read back from
 * KV checks, and the TypeScript type that follows from it (`Shape`). Small on purpose: it is
 * on the hot path (the key record's guard, record.ts) and carries no validator of inputs
 * and no documentation — those are the management side's (fields.ts, issue.ts).
 *
 * @example
 *   const FIELDS = { v: required(literal(1)), name: required(string()), n: optional(nullable(date())) };
 *   type Thing = Shape<typeof FIELDS>;   // { v: 1; name: string; n?: string | null }
 *   const isThing = guardOf(FIELDS);     // (v: unknown) => v is Thing
 */

export type JsonKind = "string" | "number" | "boolean" | "array" | "object";

/** What a present, non-null value must be; `T` is its TypeScript type (type only). */
export interface Value<T> {
  readonly kind: JsonKind;
  readonly nullable: boolean;
  /** string: the value; array: each item (a string). */
  readonly pattern?: RegExp;
  /** string: Date.parse accepts it. */
  readonly date?: true;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** Checked last, on the value. */
  readonly refine?: (v: unknown) => boolean;
  /** The guard ignores the field: the hot path never reads it, and its type is the declaration's word. */
  readonly unchecked?: true;
  /** Never set: carries `T` for the type derivations. */
  readonly type?: T;
}

export interface Field<T, P extends "required" | "optional"> extends Value<T> {
  /** required: never absent; optional: absent when unset. */
  readonly presence: P;
}

export const string = (pattern?: RegExp): Value<string> => ({
  kind: "string",
  nullable: false,
  ...(pattern ? { pattern } : {}),
});
/** An ISO 8601 instant (what Date.parse accepts). */
export const date = (): Value<string> => ({ kind: "string", nullable: false, date: true });
export const boolean = (): Value<boolean> => ({ kind: "boolean", nullable: false });
export const literal = <L extends number>(value: L): Value<L> => ({
  kind: "number",
  nullable: false,
  refine: (v) => v === value,
});
/** An array of strings, each matching `pattern`, `min`–`max` of them. */
export const strings = (pattern?: RegExp, items: { min?: number; max?: number } = {}): Value<string[]> => ({
  kind: "array",
  nullable: false,
  ...(pattern ? { pattern } : {}),
  ...(items.min !== undefined ? { minItems: items.min } : {}),
  ...(items.max !== undefined ? { maxItems: items.max } : {}),
});
/** An object that `is` accepts. */
export const object = <T extends object>(is: (v: unknown) => v is T): Value<T> => ({
  kind: "object",
  nullable: false,
  refine: is,
});
/** Not checked by the guard (see Value.unchecked). */
export const unchecked = <T>(kind: JsonKind): Value<T> => ({ kind, nullable: false, unchecked: true });
export const nullable = <T>(value: Value<T>): Value<T | null> => ({ ...value, nullable: true });
export const required = <T>(value: Value<T>): Field<T, "required"> => ({ ...value, presence: "required" });
export const optional = <T>(value: Value<T>): Field<T, "optional"> => ({ ...value, presence: "optional" });

/** A declaration: each field's name and shape. */
export type Fields = Readonly<Record<string, Field<unknown, "required" | "optional">>>;
type TypeOf<F> = F extends Field<infer T, "required" | "optional"> ? T : never;
type RequiredNames<F extends Fields> = { [K in keyof F]: F[K]["presence"] extends "required" ? K : never }[keyof F];

/** The object type a declaration describes: required fields always there, optional ones maybe. */
export type Shape<F extends Fields> = { -readonly [K in RequiredNames<F>]: TypeOf<F[K]> } & {
  -readonly [K in Exclude<keyof F, RequiredNames<F>>]?: TypeOf<F[K]>;
} extends infer O
  ? { [K in keyof O]: O[K] }
  : never;

const KIND_CODE: Record<JsonKind, number> = { string: 0, number: 1, boolean: 2, array: 3, object: 4 };

/** One checked field, flat and of one shape (the guard's loop stays monomorphic). */
interface Check {
  name: string;
  required: boolean;
  nullable: boolean;
  kind: number;
  pattern: RegExp | null;
  date: boolean;
  minItems: number;
  maxItems: number;
  refine: ((v: unknown) => boolean) | null;
}

/**
 * The guard of a declaration: whether a value read back from storage is an object with
 * every required checked field, each checked field of its declared kind (null only where
 * nullable), strings matching their pattern and dates parsing, arrays of matching strings
 * within their bounds, then `refine`. Fields it does not declare are ignored (a newer
 * version's fields pass through).
 */
export function guardOf<F extends Fields>(fields: F): (v: unknown) => v is Shape<F> {
  const checks: Check[] = [];
  for (const [name, f] of Object.entries(fields)) {
    if (f.unchecked) continue;
    checks.push({
      name,
      required: f.presence === "required",
      nullable: f.nullable,
      kind: KIND_CODE[f.kind],
      pattern: f.pattern ?? null,
      date: f.date === true,
      minItems: f.minItems ?? 0,
      maxItems: f.maxItems ?? Infinity,
      refine: f.refine ?? null,
    });
  }
  return function guard(v: unknown): v is Shape<F> {
    if (typeof v !== "object" || v === null) return false;
    const r = v as Record<string, unknown>;
    for (let i = 0; i < checks.length; i++) {
      const g = checks[i]!;
      const x = r[g.name];
      if (x === undefined) {
        if (g.required) return false;
        continue;
      }
      if (x === null) {
        if (g.nullable) continue;
        return false;
      }
      switch (g.kind) {
        case 0:
          if (
            typeof x !== "string" ||
            (g.pattern !== null && !g.pattern.test(x)) ||
            (g.date && Number.isNaN(Date.parse(x)))
          )
            return false;
          break;
        case 3: {
          if (!Array.isArray(x) || x.length < g.minItems || x.length > g.maxItems) return false;
          for (let j = 0; j < x.length; j++) {
            const s = x[j];
            if (typeof s !== "string" || (g.pattern !== null && !g.pattern.test(s))) return false;
          }
          break;
        }
        case 1:
          if (typeof x !== "number") return false;
          break;
        case 2:
          if (typeof x !== "boolean") return false;
          break;
        default:
          if (typeof x !== "object" || Array.isArray(x)) return false;
      }
      if (g.refine !== null && !g.refine(x)) return false;
    }
    return true;
  };
}
