/**
 * One index of the local engine: committed documents sorted by (index fields, _creationTime, _id),
 * the order Convex and convex-test give an index range. Entries are the documents' slots (no key
 * copies) in chunks of at most MAX_CHUNK, so a write moves at most one chunk, a range is found by
 * binary search and walked either way without copying it, and a bulk build is one sort. A table's
 * indexes share one slot per document: a write that leaves an index's key alone changes nothing
 * in that index, the slot's document is swapped once for all of them (indexes.ts).
 */
import { compareValues, type Value } from "convex/values";

export type Document = Record<string, Value>;
/** An index key or a prefix of one; `undefined` is a missing field (it sorts first). */
export type Key = Array<Value | undefined>;
/** A place between entries: `offset` within `chunk`; the end is (chunks.length, 0). */
export type Position = { chunk: number; offset: number };
/** A document's entry in every index of its table; `document` is its committed version. */
export type Slot = { document: Document };

const MAX_CHUNK = 512;
/** A chunk this small is merged into a neighbour when both fit in one. */
const MIN_CHUNK = MAX_CHUNK / 4;

export class SortedIndex {
  private chunks: Slot[][] = [];
  /** Reads each field as convex-test reads field paths (`a.b` steps only into plain objects). */
  private readonly getters: Array<(document: Document) => Value | undefined>;

  /** Orders two documents by the whole key (compiled once per index: see compileCompare). */
  readonly compare: (a: Document, b: Document) => number;
  /** The same order for two slots' documents. */
  private readonly compareSlots: (a: Slot, b: Slot) => number;

  constructor(readonly fields: string[]) {
    this.getters = fields.map(compileGetter);
    this.compare = compileCompare(this.getters);
    this.compareSlots = compileCompare(this.getters, ".document");
  }

  /**
   * Builds the index over `documents` with one sort: O(n log n), where n puts would move O(n²).
   * `orderedBy` says by how many of the index's last fields `documents` is already in order (2
   * for input in by_creation_time order): a stable sort by the other fields then finishes it,
   * comparing fewer fields and allocating no keys. TimSort also runs in O(n) on ordered input.
   */
  static build(fields: string[], slots: Iterable<Slot>, orderedBy = 0): SortedIndex {
    const index = new SortedIndex(fields);
    const sorted = Array.from(slots);
    const getters = index.getters.slice(0, fields.length - orderedBy);
    if (getters.length > 0) {
      sorted.sort(getters.length === fields.length ? index.compareSlots : compileCompare(getters, ".document"));
    }
    for (let start = 0; start < sorted.length; start += MAX_CHUNK / 2) {
      index.chunks.push(sorted.slice(start, start + MAX_CHUNK / 2));
    }
    return index;
  }

  get size(): number {
    let total = 0;
    for (const chunk of this.chunks) total += chunk.length;
    return total;
  }

  /** The value of the index's `i`-th field in `document`. */
  field(document: Document, i: number): Value | undefined {
    return this.getters[i]!(document);
  }

  keyOf(document: Document): Key {
    return this.getters.map((get) => get(document));
  }

  /** Compares a document's key with a (shorter or equal) key prefix, field by field. */
  compareToKey(document: Document, key: Key): number {
    for (let i = 0; i < key.length; i++) {
      const order = compareFieldValues(this.getters[i]!(document), key[i]);
      if (order !== 0) return order;
    }
    return 0;
  }

  insert(slot: Slot) {
    if (this.chunks.length === 0) {
      this.chunks.push([slot]);
      return;
    }
    const at = this.locate(slot.document, true);
    // The end position appends to the last chunk.
    const chunkIndex = at.chunk === this.chunks.length ? at.chunk - 1 : at.chunk;
    const chunk = this.chunks[chunkIndex]!;
    chunk.splice(at.chunk === this.chunks.length ? chunk.length : at.offset, 0, slot);
    if (chunk.length > MAX_CHUNK) this.chunks.splice(chunkIndex + 1, 0, chunk.splice(chunk.length >>> 1));
  }

  /** Removes `slot`, found by its document's key (so before the slot gets another document). */
  remove(slot: Slot): boolean {
    const at = this.locate(slot.document, false);
    const chunk = this.chunks[at.chunk];
    if (chunk === undefined || chunk[at.offset] !== slot) return false;
    chunk.splice(at.offset, 1);
    if (chunk.length === 0) this.chunks.splice(at.chunk, 1);
    else if (chunk.length < MIN_CHUNK) this.mergeSmall(at.chunk);
    return true;
  }

  /**
   * The first position whose entry passes `passes(compareToKey(entry, key))`, where passing is
   * monotone in index order (false, then true): one binary search over chunks, one within.
   */
  seek(passes: (order: number) => boolean, key: Key): Position {
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle]!;
      if (passes(this.compareToKey(chunk[chunk.length - 1]!.document, key))) high = middle;
      else low = middle + 1;
    }
    if (low === this.chunks.length) return this.end();
    const chunk = this.chunks[low]!;
    let from = 0;
    let to = chunk.length - 1;
    while (from < to) {
      const middle = (from + to) >>> 1;
      if (passes(this.compareToKey(chunk[middle]!.document, key))) to = middle;
      else from = middle + 1;
    }
    return { chunk: low, offset: from };
  }

  /**
   * `seek` for a whole document's key, without building the key: the first entry at or after
   * `document` (`after`: strictly after it). Keys end with `_id`, so at most one entry equals it.
   */
  private locate(document: Document, after: boolean): Position {
    const compare = this.compare;
    const bound = after ? 0 : -1;
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle]!;
      if (compare(chunk[chunk.length - 1]!.document, document) > bound) high = middle;
      else low = middle + 1;
    }
    if (low === this.chunks.length) return this.end();
    const chunk = this.chunks[low]!;
    let from = 0;
    let to = chunk.length - 1;
    while (from < to) {
      const middle = (from + to) >>> 1;
      if (compare(chunk[middle]!.document, document) > bound) to = middle;
      else from = middle + 1;
    }
    return { chunk: low, offset: from };
  }

  end(): Position {
    return { chunk: this.chunks.length, offset: 0 };
  }

  /** Entries from `from` up to (not including) `to`, lazily, ascending or descending. */
  *walk(from: Position, to: Position, order: "asc" | "desc"): Generator<Document, void> {
    if (order === "asc") {
      for (let c = from.chunk, o = from.offset; c < to.chunk || (c === to.chunk && o < to.offset);) {
        const chunk = this.chunks[c]!;
        yield chunk[o]!.document;
        if (++o === chunk.length) [c, o] = [c + 1, 0];
      }
      return;
    }
    let c = to.chunk;
    let o = to.offset;
    for (;;) {
      if (o === 0) {
        if (c === 0) return;
        c -= 1;
        o = this.chunks[c]!.length;
      }
      o -= 1;
      if (c < from.chunk || (c === from.chunk && o < from.offset)) return;
      yield this.chunks[c]![o]!.document;
    }
  }

  private mergeSmall(chunkIndex: number) {
    const chunk = this.chunks[chunkIndex]!;
    for (const neighbour of [chunkIndex - 1, chunkIndex + 1]) {
      const other = this.chunks[neighbour];
      if (other === undefined || other.length + chunk.length > MAX_CHUNK) continue;
      const [first, second] = neighbour < chunkIndex ? [other, chunk] : [chunk, other];
      this.chunks.splice(Math.min(neighbour, chunkIndex), 2, first.concat(second));
      return;
    }
  }
}

/** A plain field name, read with a property load of its own (fast, and each index's load site sees only its table's documents). */
const PLAIN_FIELD = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Reads `field` as convex-test reads field paths (`a.b` steps only into plain objects). */
function compileGetter(field: string): (document: Document) => Value | undefined {
  const path = field.split(".");
  if (path.length === 1) {
    if (PLAIN_FIELD.test(field)) return new Function("document", `return document.${field};`) as never;
    return (document: Document) => document[field];
  }
  return (document: Document) => {
    let value: unknown = document;
    for (const part of path) value = isSimpleObject(value) ? value[part] : undefined;
    return value as Value | undefined;
  };
}

/**
 * The whole-key comparison as one function per index with the getters unrolled, so comparing
 * two documents allocates nothing and calls no closure per field in a loop. `member` compares
 * what two entries hold there (their slots' `.document`).
 */
function compileCompare(
  getters: Array<(document: Document) => Value | undefined>,
): (a: Document, b: Document) => number;
function compileCompare(
  getters: Array<(document: Document) => Value | undefined>,
  member: ".document",
): (a: Slot, b: Slot) => number;
function compileCompare(getters: Array<(document: Document) => Value | undefined>, member = "") {
  const steps = getters.map(
    (_, i) => `order = compare(g${i}(a${member}), g${i}(b${member})); if (order !== 0) return order;`,
  );
  const make = new Function(
    "compare",
    ...getters.map((_, i) => `g${i}`),
    `return function compareDocuments(a, b) { let order; ${steps.join(" ")} return 0; };`,
  ) as (...args: unknown[]) => (a: never, b: never) => number;
  return make(compareFieldValues, ...getters);
}

/** Field paths step only into plain objects, as convex-test's do (not arrays or byte buffers). */
function isSimpleObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype || prototype?.constructor?.name === "Object";
}

/**
 * `compareValues` (Convex's order: UTF-8 for strings, -0 before 0, NaNs by bits) with fast paths
 * for the common cases of an index key: equal strings, ordinary numbers, ASCII-ordered strings,
 * missing fields, nulls and booleans.
 */
export function compareFieldValues(a: Value | undefined, b: Value | undefined): number {
  if (typeof a === "string" && typeof b === "string") {
    if (a === b) return 0;
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i++) {
      const x = a.charCodeAt(i);
      const y = b.charCodeAt(i);
      if (x === y) continue;
      // Below the surrogates UTF-16 units order like UTF-8 bytes; above, leave it to Convex.
      if (x < 0xd800 && y < 0xd800) return x - y;
      return compareValues(a, b);
    }
    return a.length - b.length;
  }
  if (typeof a === "number" && typeof b === "number") {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a !== 0 && a === b) return 0;
  }
  // Convex orders types undefined < null < bigint < number < boolean < string < ...
  if (a === undefined) return b === undefined ? 0 : -1;
  if (b === undefined) return 1;
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  return compareValues(a, b);
}
