// @vitest-environment node
/**
 * The journal's document encoding (scripts/local/documentJson.ts) writes the JSON value
 * `convexToJson` writes, sharing the document itself only when it is plain JSON already.
 */
import { convexToJson, type Value } from "convex/values";
import { expect, test } from "vitest";
import { documentJson, isPlainJson } from "../../scripts/local/documentJson";

const SPECIAL: Value[] = [1n, -0, Number.NaN, Infinity, -Infinity, new Uint8Array([1, 2, 3]).buffer];
const PLAIN: Value[] = ["", "é\u{1F600}", 0, 1.5, -2, true, false, null, [], {}];

function random(seed: number) {
  return (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n);
  };
}

/** A random value of depth ≤ `depth`, with a special leaf now and then. */
function value(below: (n: number) => number, depth: number): Value {
  const pick = below(10);
  if (depth === 0 || pick < 5) return below(6) === 0 ? SPECIAL[below(SPECIAL.length)]! : PLAIN[below(PLAIN.length)]!;
  if (pick < 7) return Array.from({ length: below(4) }, () => value(below, depth - 1));
  // Now and then a field a patch removed: convex-test keeps it as undefined.
  return Object.fromEntries(
    Array.from({ length: below(4) }, (_, i) => [`f${i}`, below(8) === 0 ? undefined : value(below, depth - 1)]),
  ) as Value;
}

test("every document encodes as convexToJson encodes it; plain ones are not copied", () => {
  const below = random(11);
  let shared = 0;
  for (let i = 0; i < 3_000; i++) {
    const document = { _id: `${i}jobs`, _creationTime: 1_700_000_000_000 + i / 7, body: value(below, 4) };
    const encoded = documentJson(document);
    // The same JSON value (convexToJson also sorts each object's keys; order is not meaning).
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(JSON.parse(JSON.stringify(convexToJson(document))));
    if (encoded === document) shared++;
  }
  // Both paths were taken, many times each.
  expect(shared).toBeGreaterThan(300);
  expect(shared).toBeLessThan(2_700);
});

test("what plain JSON is", () => {
  for (const plain of PLAIN) expect(isPlainJson(plain), String(plain)).toBe(true);
  for (const special of SPECIAL) expect(isPlainJson({ a: [special] }), String(special)).toBe(false);
  // Both leave the field out; a job whose patch removed `leaseExpiresAt` is shared, not copied.
  expect(isPlainJson({ a: undefined, b: 1 })).toBe(true);
  expect(JSON.stringify(documentJson({ a: undefined, b: 1 }))).toBe(
    JSON.stringify(convexToJson({ a: undefined, b: 1 })),
  );
  expect(isPlainJson({ $a: 1 })).toBe(false); // convexToJson refuses it
  expect(() => documentJson({ $a: 1 })).toThrow();
  expect(isPlainJson([undefined] as never)).toBe(false);
});
