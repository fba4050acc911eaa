import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources of sibling packages, not their build output.
    conditions: ["source"],
  },
  // Tests run in the SSR environment, which has its own conditions: without these a
  // package's stale dist/ wins over its sources once it has been built.
  ssr: {
    resolve: { conditions: ["source"] },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
