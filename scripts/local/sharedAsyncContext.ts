/**
 * One `AsyncLocalStorage` for convex-test's six. On Node 20 every promise created while a store
 * is enabled gets a copy of each enabled store (`AsyncLocalStorage._propagate` in a promise hook),
 * and convex-test keeps six at module level: six copies for each of the hundreds of promises a
 * call makes. A `StoreView` keeps its value in a frame of one shared storage instead (a frozen
 * map from each view's key to its value, replaced by `run`), so a promise copies one frame.
 * Measured on the engine alone (`DIRECT=1 engine-cycles.ts 4000 32`, three alternating pairs):
 * 1.89–2.09 against 2.11–2.18 ms of CPU per cycle.
 *
 * `withSharedStores(load)` makes `AsyncLocalStorage` of `node:async_hooks` the view class while
 * `load` runs (convex-test's module creates its stores when it is first evaluated), then puts the
 * real class back for everyone else. A module already evaluated keeps its real stores; the
 * engine works either way (convexTestInternals.ts finds convex-test's state in both).
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

type Frame = Readonly<Record<symbol, unknown>>;

/** `node:async_hooks` as CommonJS sees it: the object whose properties its ES exports follow. */
const asyncHooks = createRequire(import.meta.url)("node:async_hooks") as typeof import("node:async_hooks");
const Real = asyncHooks.AsyncLocalStorage;
const shared = new Real<Frame>();
const EMPTY: Frame = Object.freeze({});

/** The part of `AsyncLocalStorage` convex-test uses, over the shared storage. */
export class StoreView<T> {
  static bind = Real.bind;
  static snapshot = Real.snapshot;
  private readonly key = Symbol("StoreView");

  getStore(): T | undefined {
    return shared.getStore()?.[this.key] as T | undefined;
  }

  run<R, A extends unknown[]>(store: T, callback: (...args: A) => R, ...args: A): R {
    return shared.run({ ...(shared.getStore() ?? EMPTY), [this.key]: store }, callback, ...args);
  }

  exit<R, A extends unknown[]>(callback: (...args: A) => R, ...args: A): R {
    const frame: Record<symbol, unknown> = { ...(shared.getStore() ?? EMPTY) };
    delete frame[this.key];
    return shared.run(frame, callback, ...args);
  }

  enterWith(store: T): void {
    shared.enterWith({ ...(shared.getStore() ?? EMPTY), [this.key]: store });
  }

  disable(): void {
    throw new Error("StoreView.disable: the views share one storage; exit() leaves this one's value out.");
  }
}

/** Runs `load` with `new AsyncLocalStorage()` making a `StoreView`; the real class is back after. */
export async function withSharedStores<T>(load: () => Promise<T>): Promise<T> {
  (asyncHooks as { AsyncLocalStorage: unknown }).AsyncLocalStorage = StoreView;
  syncBuiltinESMExports();
  try {
    return await load();
  } finally {
    (asyncHooks as { AsyncLocalStorage: unknown }).AsyncLocalStorage = Real;
    syncBuiltinESMExports();
  }
}

/** The values a store passed to the shared storage's `run` carries (for finding convex-test's state). */
export function valuesOfFrame(frame: unknown): unknown[] {
  if (frame === null || typeof frame !== "object") return [];
  return Object.getOwnPropertySymbols(frame).map((key) => (frame as Frame)[key]);
}
