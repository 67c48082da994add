/**
 * A stored document as Convex JSON (`convexToJson`), without copying it when it is plain JSON
 * already: strings, finite numbers other than -0, booleans, null, arrays and objects (whose
 * undefined fields both leave out). Most documents are; encoding each written document for the
 * journal was a copy of it per commit.
 * Documents are never changed in place (convex-test replaces them), so sharing one is safe.
 */
import { convexToJson, type Value } from "convex/values";

export function documentJson(document: Value): unknown {
  return isPlainJson(document) ? document : convexToJson(document);
}

/**
 * True when `JSON.stringify(value)` is the JSON value `JSON.stringify(convexToJson(value))` is
 * (convexToJson also sorts each object's keys, which the journal does not need).
 */
export function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (const item of value) if (item === undefined || !isPlainJson(item)) return false;
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false; // ArrayBuffer and the like
      for (const key in value) {
        const field = (value as Record<string, unknown>)[key];
        // A `$` name is refused by convexToJson (its encodings use them). An undefined field both
        // leave out: a field a patch removed stays in convex-test's document as undefined.
        if (key.startsWith("$") || (field !== undefined && !isPlainJson(field))) return false;
      }
      return true;
    }
    default:
      return false; // bigint, undefined, functions, symbols
  }
}
