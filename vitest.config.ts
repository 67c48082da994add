import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Convex functions run under the edge runtime, as on a deployment (Convex testing guide).
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
