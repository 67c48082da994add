// @vitest-environment node
/**
 * The views of one AsyncLocalStorage that local mode gives convex-test for its six stores
 * (scripts/local/sharedAsyncContext.ts) must behave as separate stores do.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { expect, test } from "vitest";
import { StoreView, withSharedStores } from "../../scripts/local/sharedAsyncContext";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

test("each view keeps its own value across awaits, timers and nested runs", async () => {
  const a = new StoreView<string>();
  const b = new StoreView<number>();
  expect(a.getStore()).toBeUndefined();
  const seen = await a.run("outer", async () => {
    const inner = await b.run(1, async () => {
      await tick();
      const nested = await a.run("inner", async () => {
        await Promise.resolve();
        return [a.getStore(), b.getStore()];
      });
      return [...nested, a.getStore(), b.getStore()];
    });
    await tick();
    return [...inner, a.getStore(), b.getStore()];
  });
  expect(seen).toEqual(["inner", 1, "outer", 1, "outer", undefined]);
  expect([a.getStore(), b.getStore()]).toEqual([undefined, undefined]);
});

test("concurrent runs do not see each other's values", async () => {
  const view = new StoreView<number>();
  const results = await Promise.all(
    [1, 2, 3].map((n) =>
      view.run(n, async () => {
        for (let i = 0; i < 3; i++) await tick();
        return view.getStore();
      }),
    ),
  );
  expect(results).toEqual([1, 2, 3]);
});

test("exit leaves out only its own view's value; enterWith sets it for what follows", async () => {
  const a = new StoreView<string>();
  const b = new StoreView<string>();
  await a.run("a", () =>
    b.run("b", async () => {
      expect(a.exit(() => [a.getStore(), b.getStore()])).toEqual([undefined, "b"]);
      expect([a.getStore(), b.getStore()]).toEqual(["a", "b"]);
      await a.run("x", async () => {
        b.enterWith("entered");
        await tick();
        expect([a.getStore(), b.getStore()]).toEqual(["x", "entered"]);
      });
    }),
  );
  expect(() => a.disable()).toThrow(/share one storage/);
});

test("while loading, new stores are views; afterwards the real class is back", async () => {
  const during = await withSharedStores(async () => {
    const { AsyncLocalStorage: Current } = await import("node:async_hooks");
    return new Current();
  });
  expect(during).toBeInstanceOf(StoreView);
  const { AsyncLocalStorage: After } = await import("node:async_hooks");
  expect(After).toBe(AsyncLocalStorage);
  expect(new After()).not.toBeInstanceOf(StoreView);
  // A failing load puts it back too.
  await expect(withSharedStores(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  expect((await import("node:async_hooks")).AsyncLocalStorage).toBe(AsyncLocalStorage);
});
