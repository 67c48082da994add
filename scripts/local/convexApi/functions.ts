/**
 * Runs the deployment's public functions for Convex clients (HTTP API and sync protocol): path
 * resolution and visibility as a deployment checks them, identity from a verified JWT, the
 * commit clock that versions what clients see, pagination journals, and Convex's error shape.
 * Everything goes through convex-test's public accessor (`withIdentity`, `query`, `mutation`).
 */
import { makeFunctionReference } from "convex/server";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { Engine } from "../engine";
import type { ModuleMap } from "../modules";
import type { FunctionOutcome } from "./protocol";
import type { VerifiedIdentity } from "./identity";
import { createQueryCache, type QueryResult } from "./queryCache";
import { createReadTracker } from "./readSets";

export type FunctionKind = "query" | "mutation" | "action";
export type UdfResult = { success: true; value: Value } | { success: false; errorMessage: string; errorData?: Value };

/** A query as a subscription (or an HTTP call) names it; `argsKey` is its args' JSON text. */
export type QueryRequest = { path: string; argsJson: JSONValue; argsKey: string; journal: string | null };

/**
 * Versions what clients see: bumped inside every top-level commit (the engine calls listeners
 * under the transaction lock), so a query that reads `now()` inside its transaction knows
 * exactly which commits it saw. Starts at the wall clock, so it never goes back across restarts.
 */
export function createCommitClock(engine: Engine) {
  let ts = BigInt(Date.now()) * 1_000_000n;
  engine.onCommit(() => {
    const now = BigInt(Date.now()) * 1_000_000n;
    ts = now > ts ? now : ts + 1n;
  });
  return { now: () => ts };
}
export type CommitClock = ReturnType<typeof createCommitClock>;

const FUNCTION_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MODULE_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9_.]*$/;

/** `module/path:name` as the client canonicalizes it, or null when it cannot name a function. */
export function canonicalPath(udfPath: string): string | null {
  const pieces = udfPath.split(":");
  if (pieces.length > 2) return null;
  const moduleName = pieces[0]!.replace(/\.js$/, "");
  const functionName = pieces[1] ?? "default";
  if (!FUNCTION_NAME.test(functionName)) return null;
  if (moduleName === "" || !moduleName.split("/").every((part) => MODULE_COMPONENT.test(part))) return null;
  return `${moduleName}:${functionName}`;
}

const KIND_NAME: Record<FunctionKind, string> = { query: "Query", mutation: "Mutation", action: "Action" };

type Resolved = { path: string; kind: FunctionKind };
type Registered = { isQuery?: boolean; isMutation?: boolean; isAction?: boolean; isPublic?: boolean };

export function createFunctionRunner(
  engine: Engine,
  modules: ModuleMap,
  clock: CommitClock,
  log: (line: string) => void,
) {
  const loaders = new Map<string, () => Promise<Record<string, unknown>>>();
  for (const [key, load] of Object.entries(modules)) {
    const match = /^(?:\.\.\/)+convex\/(.+)\.(?:ts|js|mjs|cjs)$/.exec(key);
    if (match !== null && !match[1]!.startsWith("_generated/")) loaders.set(match[1]!, load);
  }
  const cache = createQueryCache(engine, clock.now);
  const tracker = createReadTracker(engine);
  const computing = createMutex();

  /**
   * The canonical path and kind of a public function (`kind` "any" takes whichever it is), or the
   * error a deployment answers: internal functions are as unknown to clients as missing ones.
   */
  async function resolvePublic(udfPath: string, kind: FunctionKind | "any"): Promise<Resolved | UdfResult> {
    const path = canonicalPath(udfPath);
    const notFound = { success: false as const, errorMessage: `Could not find public function for '${udfPath}'.` };
    if (path === null) return notFound;
    const [moduleName, exportName] = path.split(":") as [string, string];
    const load = loaders.get(moduleName);
    if (load === undefined) return notFound;
    const registered = (await load())[exportName] as Registered | undefined;
    const actual = registered?.isQuery
      ? "query"
      : registered?.isMutation
        ? "mutation"
        : registered?.isAction
          ? "action"
          : null;
    if (actual === null || registered?.isPublic !== true) return notFound;
    if (kind !== "any" && actual !== kind) {
      return {
        success: false,
        errorMessage: `Trying to execute ${path} as ${KIND_NAME[kind]}, but it is defined as ${KIND_NAME[actual]}.`,
      };
    }
    return { path, kind: actual };
  }

  function accessorFor(identity: VerifiedIdentity | null) {
    return identity === null ? engine.t : engine.t.withIdentity(identity.identity);
  }

  function failureOf(kind: FunctionKind, path: string, error: unknown): UdfResult {
    if (isConvexError(error)) {
      return { success: false, errorMessage: `Uncaught ConvexError: ${error.message}`, errorData: error.data };
    }
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    // Not the arguments: they may carry passwords (auth:signIn) or tokens.
    log(`Local server: ${kind} ${path} failed: ${name}: ${message}`);
    return { success: false, errorMessage: `Uncaught ${name}: ${message}` };
  }

  async function runOne(
    ctx: QueryRunner,
    request: QueryRequest,
  ): Promise<{ result: QueryResult; tables: Set<string> }> {
    const resolved = await resolvePublic(request.path, "query");
    if ("success" in resolved) return { result: resultOf(resolved, request.journal), tables: new Set() };
    const args = argsOf(request.argsJson);
    if (args === null) return { result: resultOf(badArgs, request.journal), tables: new Set() };
    const { args: pageArgs, endCursor } = withJournal(args, request.journal);
    const { value: result, tables } = await tracker.track(async () => {
      try {
        const value = await ctx.runQuery(makeFunctionReference<"query">(resolved.path), pageArgs);
        return resultOf({ success: true, value }, journalAfter(pageArgs, endCursor, value, request.journal));
      } catch (error) {
        return resultOf(failureOf("query", resolved.path, error), request.journal);
      }
    });
    return { result, tables };
  }

  async function computeInTransaction(identity: VerifiedIdentity | null, requests: QueryRequest[], keys: string[]) {
    let answer: { ts: bigint; results: QueryResult[] } | undefined;
    await accessorFor(identity).query(async (ctx) => {
      const snapshot = clock.now(); // exact: no commit can land while this transaction runs
      const results: QueryResult[] = [];
      for (let i = 0; i < requests.length; i++) {
        let result = cache.current(keys[i]!);
        if (result === undefined) {
          const computed = await runOne(ctx as unknown as QueryRunner, requests[i]!);
          cache.put(keys[i]!, computed.result, computed.tables, snapshot);
          result = computed.result;
        }
        results.push(result);
      }
      answer = { ts: snapshot, results };
      return null;
    });
    return answer!;
  }

  return {
    resolvePublic,
    /**
     * Results of `requests` as one identity, all as of one commit timestamp ≥ `notBefore`
     * (answered with them): from the cache when they all hold at one, else run in a transaction.
     */
    async runQueries(identity: VerifiedIdentity | null, requests: QueryRequest[], notBefore: bigint) {
      const prefix = `${identity?.cacheKey ?? ""}\u0000`;
      const keys = requests.map((r) => `${prefix}${r.path}\u0000${r.argsKey}\u0000${r.journal ?? ""}`);
      const shared = cache.snapshot(keys, notBefore);
      if (shared !== null) return shared;
      // One computing transaction at a time (they are serialized anyway): sessions that missed
      // the same results wait for the first and then answer from what it computed.
      const release = await computing.acquire();
      try {
        return cache.snapshot(keys, notBefore) ?? (await computeInTransaction(identity, requests, keys));
      } finally {
        release();
      }
    },
    /**
     * A mutation or action (resolved beforehand). `ts` is a commit timestamp at or after the
     * mutation's own commit: a subscription at `ts` sees its writes.
     */
    async runWrite(
      resolved: Resolved,
      identity: VerifiedIdentity | null,
      argsJson: JSONValue,
    ): Promise<{ result: UdfResult; ts: bigint }> {
      const args = argsOf(argsJson);
      if (args === null) return { result: badArgs, ts: clock.now() };
      const reference = makeFunctionReference<any>(resolved.path);
      try {
        const accessor = accessorFor(identity);
        const value =
          resolved.kind === "mutation"
            ? await accessor.mutation(reference, args)
            : await accessor.action(reference, args);
        return { result: { success: true, value: value as Value }, ts: clock.now() };
      } catch (error) {
        return { result: failureOf(resolved.kind, resolved.path, error), ts: clock.now() };
      }
    },
  };
}
export type FunctionRunner = ReturnType<typeof createFunctionRunner>;

export function isResolved(value: Resolved | UdfResult): value is Resolved {
  return !("success" in value);
}

type QueryRunner = { runQuery(reference: unknown, args: Record<string, Value>): Promise<Value> };

const badArgs: UdfResult = { success: false, errorMessage: "The function's arguments must be an object." };

/** Decodes Convex-encoded args; null unless they are an object. */
function argsOf(argsJson: JSONValue): Record<string, Value> | null {
  try {
    const args = jsonToConvex(argsJson);
    return typeof args === "object" && args !== null && !Array.isArray(args) && !(args instanceof ArrayBuffer)
      ? (args as Record<string, Value>)
      : null;
  } catch {
    return null;
  }
}

export function outcomeOf(result: UdfResult): FunctionOutcome {
  if (result.success) return { success: true, valueJson: JSON.stringify(convexToJson(result.value)) };
  return {
    success: false,
    errorMessage: result.errorMessage,
    errorDataJson: result.errorData === undefined ? undefined : JSON.stringify(convexToJson(result.errorData)),
  };
}

function resultOf(result: UdfResult, journal: string | null): QueryResult {
  const outcome = outcomeOf(result);
  const body = outcome.success
    ? `v${outcome.valueJson}`
    : `e${outcome.errorMessage}\u0000${outcome.errorDataJson ?? ""}`;
  return { outcome, journal, key: `${body}\u0000${journal ?? ""}` };
}

/**
 * Gapless reactive pagination, as a deployment's query journal does it: a page query's first run
 * records where its page ended; re-runs end at that cursor (`endCursor`), so a page grows or
 * shrinks in place instead of leaving a gap before the next page. The journal is our own JSON.
 */
function withJournal(args: Record<string, Value>, journal: string | null) {
  const options = args.paginationOpts as Record<string, Value> | undefined;
  if (typeof options !== "object" || options === null || typeof options.numItems !== "number") {
    return { args, endCursor: undefined };
  }
  if (typeof options.endCursor === "string") return { args, endCursor: options.endCursor };
  const recorded = parseJournal(journal);
  if (recorded === null) return { args, endCursor: undefined };
  return { args: { ...args, paginationOpts: { ...options, endCursor: recorded } }, endCursor: recorded };
}

function journalAfter(
  args: Record<string, Value>,
  endCursor: string | undefined,
  value: Value,
  previous: string | null,
) {
  if (typeof (args.paginationOpts as { numItems?: unknown } | undefined)?.numItems !== "number") return previous;
  const continueCursor = (value as { continueCursor?: unknown } | null)?.continueCursor;
  const end = endCursor ?? (typeof continueCursor === "string" ? continueCursor : undefined);
  return end === undefined ? previous : JSON.stringify({ endCursor: end });
}

function parseJournal(journal: string | null): string | null {
  if (journal === null) return null;
  try {
    const parsed = JSON.parse(journal) as { endCursor?: unknown };
    return typeof parsed?.endCursor === "string" ? parsed.endCursor : null;
  } catch {
    return null; // not ours (another backend's journal): start afresh, as a first run would
  }
}

/** A FIFO lock: `acquire` resolves with the release function once every earlier holder released. */
function createMutex() {
  let tail: Promise<void> = Promise.resolve();
  return {
    acquire(): Promise<() => void> {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const ready = tail.then(() => release);
      tail = tail.then(() => held);
      return ready;
    },
  };
}

function isConvexError(error: unknown): error is Error & { data: Value } {
  return typeof error === "object" && error !== null && Symbol.for("ConvexError") in error && "data" in error;
}

/** The `json` value format of the HTTP API: int64 as decimal strings, bytes as base64, no `$` wrappers. */
export function exportClean(value: Value): JSONValue {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return value;
  }
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(exportClean);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, exportClean(field as Value)]));
  }
  return value;
}
