import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["server/**/*.test.ts", "client/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts", "web-client/**/*.test.ts"],
    exclude: ["node_modules", "dist", "web-client/dist"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
