/**
 * convex-test parses a function's argument and return validators (`JSON.parse(exportArgs())`) on
 * every call: about 3 % of the local server's CPU under a worker load. Those texts never change
 * once registered (convexTestInternals.ts memoizes them), so their parse is kept: `JSON.parse`
 * of exactly a remembered text answers the value parsed the first time, deeply frozen, so a
 * caller that tried to change it would throw instead of changing it for the next call. Any other
 * text (a request body, a syscall's arguments) goes to the original `JSON.parse`, after one
 * look-up by length.
 */
const parsedTexts = new Map<string, unknown>();
const lengths = new Set<number>();
const INSTALLED = Symbol.for("ias.local.parsedOnce");

/** Remembers `text` (valid JSON) so that later `JSON.parse(text)` calls share one frozen value. Returns `text`. */
export function parseOnce(text: string): string {
  if (parsedTexts.has(text)) return text;
  install();
  parsedTexts.set(text, deepFreeze(ORIGINAL_PARSE(text)));
  lengths.add(text.length);
  return text;
}

const ORIGINAL_PARSE = JSON.parse;

function install() {
  const holder = JSON as JSON & { [INSTALLED]?: true };
  if (holder[INSTALLED]) return;
  const parse = JSON.parse;
  const cachedParse = function (text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) {
    if (reviver === undefined && typeof text === "string" && lengths.has(text.length)) {
      const parsed = parsedTexts.get(text);
      if (parsed !== undefined) return parsed;
    }
    return parse(text, reviver);
  };
  Object.defineProperty(JSON, "parse", { value: cachedParse, configurable: true, writable: true });
  Object.defineProperty(JSON, INSTALLED, { value: true });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
