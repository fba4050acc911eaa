import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

// Test tiers (docs/development.md#test-tiers); a file's name or folder says its tier:
//   unit         packages/*/src/**/*.test.ts, tools/**/*.test.ts: pure Node, no tool beyond
//                node and a POSIX shell (fakes in __fixtures__/bin stand in for adb and
//                libimobiledevice); passes right after `npm ci`.
//   integration  packages/*/src/**/*.int.test.ts: real python3, adb, libimobiledevice, or
//                dozens of processes at once (the lock race).
//   e2e          test/e2e, test/supervisor: the built CLI as real processes.
//   prometheus   test/prometheus: a real Prometheus scraping the pod.
// `npx vitest run --project unit` runs one tier; `npx vitest run` runs them all.
const integration = "packages/*/src/**/*.int.test.ts";

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
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most test time is spent waiting on child processes and sockets: at least two files
    // run side by side even on two cores (vitest's default would be one there).
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "tools/**/*.test.ts"],
          exclude: [...configDefaults.exclude, integration],
        },
      },
      { extends: true, test: { name: "integration", include: [integration] } },
      { extends: true, test: { name: "e2e", include: ["test/e2e/**/*.test.ts", "test/supervisor/**/*.test.ts"] } },
      { extends: true, test: { name: "prometheus", include: ["test/prometheus/**/*.test.ts"] } },
    ],
  },
});
