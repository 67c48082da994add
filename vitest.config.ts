import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` runs in-process convex-test suites and pure logic; `e2e` spawns processes
 * (the local server, the `ias` CLI) and drives a browser, so its timeouts are sized for a loaded
 * 2-core machine.
 */
export default defineConfig({
  test: {
    // Convex functions run under the edge runtime, as on a deployment (Convex testing guide).
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // expect.poll waits for a browser or a process; vitest's default 1 s is too short on a loaded machine.
          expect: { poll: { timeout: 15_000 } },
        },
      },
    ],
  },
});
