/**
 * A fast yes/no form of convex-test's `validateValidator` for schema validation of written
 * documents. convex-test walks the validator JSON on every insert and patch and tries each union
 * member by throwing and catching an Error (with a formatted message) per mismatch, which made
 * document validation the largest single cost of a local mutation.
 *
 * `compileCheck(validator)(value)` answers true only when convex-test's check would pass; false
 * means "not sure": the caller then runs convex-test's own check, which throws its own message
 * (or passes). So a missing case here costs speed, never a different answer.
 */

export type ValidatorJson = { type: string; value?: unknown; tableName?: string };
type Check = (value: unknown) => boolean;

const NOT_SURE: Check = () => false;

export function compileCheck(validator: ValidatorJson): Check {
  switch (validator.type) {
    case "null":
      return (value) => value === null;
    case "number":
      return (value) => typeof value === "number";
    case "bigint":
      return (value) => typeof value === "bigint";
    case "boolean":
      return (value) => typeof value === "boolean";
    case "string":
      return (value) => typeof value === "string";
    case "bytes":
      return (value) => value instanceof ArrayBuffer;
    case "any":
      return () => true;
    case "literal": {
      const expected = validator.value;
      return (value) => value === expected;
    }
    case "id": {
      const table = validator.tableName;
      return (value) => typeof value === "string" && tableNameFromId(value) === table;
    }
    case "array": {
      const element = compileCheck(validator.value as ValidatorJson);
      return (value) => {
        if (!Array.isArray(value)) return false;
        for (const item of value) if (!element(item)) return false;
        return true;
      };
    }
    case "union": {
      const members = (validator.value as ValidatorJson[]).map(compileCheck);
      return (value) => {
        for (const member of members) if (member(value)) return true;
        return false;
      };
    }
    case "object":
      return compileObject(validator.value as Record<string, { fieldType: ValidatorJson; optional: boolean }>);
    default:
      // commitTs placeholders, records and anything newer: convex-test decides.
      return NOT_SURE;
  }
}

function compileObject(fields: Record<string, { fieldType: ValidatorJson; optional: boolean }>): Check {
  const entries = Object.entries(fields).map(([name, { fieldType, optional }]) => ({
    name,
    optional,
    check: compileCheck(fieldType),
  }));
  const known = new Set(Object.keys(fields));
  return (value) => {
    if (!isSimpleObject(value)) return false;
    const record = value as Record<string, unknown>;
    for (const { name, optional, check } of entries) {
      const field = record[name];
      if (field === undefined ? !optional : !check(field)) return false;
    }
    for (const name of Object.keys(record)) if (!known.has(name)) return false;
    return true;
  };
}

/** convex-test's `tableNameFromId`: the part after a non-empty numeric prefix, or null. */
function tableNameFromId(id: string): string | null {
  const match = /^[0-9]+/.exec(id);
  if (match === null || match[0].length === id.length) return null;
  return id.slice(match[0].length);
}

/** convex-test's `isSimpleObject`, for objects only (null and primitives are not). */
function isSimpleObject(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype || prototype?.constructor?.name === "Object";
}
