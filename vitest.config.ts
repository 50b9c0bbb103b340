import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real redis-server, memcached, S3 (fauxqs) and GCS (emulator) servers on 127.0.0.1, once per run.
    globalSetup: ["test/support/servers.ts"],
    setupFiles: ["test/support/network-guard.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    env: { AWS_EC2_METADATA_DISABLED: "true" }
  }
})
