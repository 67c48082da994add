/**
 * Convex's value rules, measured the way the Convex backend measures them, so client data a
 * deployment would refuse is refused up front with a 400 naming the field (SPEC §6 "Production
 * limits") instead of failing inside a mutation with a 500. Pure and iterative: a value nested
 * 100,000 deep costs a loop, not the call stack.
 *
 * Sources, get-convex/convex-backend: `crates/value/src/lib.rs` (`impl Size for ConvexValue`:
 * null and booleans 1 byte, numbers 1 + 8), `crates/value/src/string.rs` (strings 2 + UTF-8
 * bytes), `crates/value/src/size.rs` (arrays 2 + items; objects 2 + per field its name, 1, its
 * value; nesting), `crates/value/src/array.rs` (8,192 items), `crates/value/src/object.rs`
 * (1,024 fields), `crates/common/src/document.rs` (`MAX_USER_SIZE` 1 MiB,
 * `MAX_DOCUMENT_NESTING` 16), `crates/convex/sync_types/src/identifier.rs`
 * (`check_valid_field_name`: at most 1,024 characters, non-control ASCII, no leading `$`).
 * Strings must be valid Unicode: a lone UTF-16 surrogate cannot become a Rust string.
 */

export const CONVEX_LIMITS = {
  documentBytes: 1 << 20,
  documentNesting: 16,
  /** Function arguments (crates/value/src/size.rs `MAX_NESTING`): the deepest value a call may carry. */
  argumentNesting: 64,
  arrayItems: 8_192,
  objectFields: 1_024,
  fieldNameLength: 1_024,
} as const;

export type ValueRule = "nesting" | "text" | "type" | "arrayItems" | "objectFields" | "fieldName" | "size";
/** `path` is dot-separated from the value measured ("" for the value itself; array items by index). */
export type ValueProblem = { rule: ValueRule; path: string; message: string };

type Walk = {
  /** Containers allowed around and including the deepest one. */
  maxNesting: number;
  /** Array lengths, field counts and field names (stored values); off for a raw request body. */
  storedShape: boolean;
  maxBytes: number;
};

/**
 * How many bytes Convex counts for `value` (a JSON-like value: null, booleans, numbers, bigints,
 * strings, ArrayBuffers, arrays, plain objects; `undefined` fields are left out, as Convex does).
 */
export function convexSize(value: unknown): number {
  if (value === undefined) return 0;
  const walked = walk(value, { maxNesting: Infinity, storedShape: false, maxBytes: Infinity });
  if ("problem" in walked) throw new Error(`${walked.problem.path || "value"}: ${walked.problem.message}`);
  return walked.bytes;
}

/**
 * The first reason Convex would refuse `value` as a field of a stored document, or null:
 * nesting (the document itself is one level, so a top-level field may nest 15 deep), text,
 * types, array and object sizes, field names, and at most `maxBytes` as Convex counts them.
 */
export function storedValueProblem(
  value: unknown,
  options: { maxBytes?: number; levelsAbove?: number } = {},
): ValueProblem | null {
  const walked = walk(value, {
    maxNesting: CONVEX_LIMITS.documentNesting - (options.levelsAbove ?? 1),
    storedShape: true,
    maxBytes: options.maxBytes ?? CONVEX_LIMITS.documentBytes,
  });
  return "problem" in walked ? walked.problem : null;
}

/**
 * For a whole request body before anything else reads it: nesting at most `maxNesting` (so no
 * recursive code downstream meets a value deeper than that) and no lone surrogate in any string
 * or key. Field names and sizes are left to each field's schema (unknown fields are dropped).
 */
export function requestJsonProblem(value: unknown, maxNesting: number): ValueProblem | null {
  const walked = walk(value, { maxNesting, storedShape: false, maxBytes: Infinity });
  return "problem" in walked ? walked.problem : null;
}

/**
 * When `document` (as it would be written) is over Convex's 1 MiB, the problem names the largest
 * of `candidates` (the fields the caller is writing), since that is the one to shrink.
 */
export function oversizedDocumentProblem(document: object, candidates: readonly string[]): ValueProblem | null {
  const bytes = convexSize(document);
  if (bytes <= CONVEX_LIMITS.documentBytes) return null;
  const fields = document as Record<string, unknown>;
  let largest = candidates[0] ?? "";
  for (const name of candidates) if (convexSize(fields[name]) > convexSize(fields[largest])) largest = name;
  return {
    rule: "size",
    path: largest,
    message:
      `makes the document ${bytes} bytes as Convex counts them (numbers 9 bytes each, strings 2 + UTF-8); ` +
      `a document holds at most ${CONVEX_LIMITS.documentBytes}.`,
  };
}

type Frame = { value: unknown; path: string; depth: number };

function walk(root: unknown, rules: Walk): { bytes: number } | { problem: ValueProblem } {
  let bytes = 0;
  const stack: Frame[] = [{ value: root, path: "", depth: 0 }];
  const fail = (rule: ValueRule, path: string, message: string) => ({ problem: { rule, path, message } });
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value === null || typeof value === "boolean") bytes += 1;
    else if (typeof value === "number" || typeof value === "bigint") bytes += 9;
    else if (typeof value === "string") {
      const length = utf8Length(value);
      if (length === null) return fail("text", path, "holds an unpaired UTF-16 surrogate, which Convex cannot store");
      bytes += 2 + length;
    } else if (value instanceof ArrayBuffer) bytes += 2 + value.byteLength;
    else if (Array.isArray(value) || isPlainObject(value)) {
      if (depth + 1 > rules.maxNesting)
        return fail("nesting", path, `is nested deeper than ${rules.maxNesting} levels`);
      bytes += 2;
      if (Array.isArray(value)) {
        if (rules.storedShape && value.length > CONVEX_LIMITS.arrayItems) {
          return fail("arrayItems", path, `is an array of more than ${CONVEX_LIMITS.arrayItems} items`);
        }
        for (let i = value.length - 1; i >= 0; i--) {
          stack.push({ value: value[i], path: join(path, String(i)), depth: depth + 1 });
        }
      } else {
        const entries = Object.entries(value).filter(([, item]) => item !== undefined);
        if (rules.storedShape && entries.length > CONVEX_LIMITS.objectFields) {
          return fail("objectFields", path, `is an object of more than ${CONVEX_LIMITS.objectFields} fields`);
        }
        for (let i = entries.length - 1; i >= 0; i--) {
          const [key, item] = entries[i]!;
          const keyPath = join(path, key);
          const keyLength = utf8Length(key);
          if (keyLength === null) return fail("text", keyPath, "is a key holding an unpaired UTF-16 surrogate");
          if (rules.storedShape) {
            const problem = fieldNameProblem(key);
            if (problem !== null) return fail("fieldName", keyPath, problem);
          }
          bytes += keyLength + 1;
          stack.push({ value: item, path: keyPath, depth: depth + 1 });
        }
      }
    } else {
      return fail("type", path, `is a ${typeof value}, which is not a Convex value`);
    }
    if (bytes > rules.maxBytes) {
      return fail("size", "", `is more than ${rules.maxBytes} bytes as Convex counts them (numbers 9 bytes each)`);
    }
  }
  return { bytes };
}

/** Why Convex would refuse `name` as a field name of a nested object, or null. */
function fieldNameProblem(name: string): string | null {
  if (name.length > CONVEX_LIMITS.fieldNameLength) {
    return `is a field name longer than ${CONVEX_LIMITS.fieldNameLength} characters`;
  }
  if (name.startsWith("$")) return 'is a field name starting with "$", which Convex reserves';
  if (!/^[\x20-\x7e]*$/.test(name)) return "is a field name with a character outside printable ASCII";
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** UTF-8 length of `text`, or null when it holds an unpaired surrogate (not Unicode text). */
export function utf8Length(text: string): number | null {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return null;
      bytes += 4;
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) return null;
    else bytes += 3;
  }
  return bytes;
}

/**
 * `text` cut to at most `maxLength` UTF-16 code units without splitting a surrogate pair (a cut
 * pair would leave a lone surrogate, which Convex refuses).
 */
export function truncateText(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const code = text.charCodeAt(maxLength - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? maxLength - 1 : maxLength;
  return text.slice(0, Math.max(0, end));
}
