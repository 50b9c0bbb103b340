/**
 * vitest globalSetup: the real backend servers, started once per run on 127.0.0.1 and shared by
 * every test file (tests isolate themselves with random key prefixes). Workers read the addresses
 * with `inject("backends")`, or from TEST_BACKENDS_JSON in child processes.
 */
import type { TestProject } from "vitest/node"
import { startGcsEmulator } from "./gcs-emulator.ts"
import { requireBinary, startMemcached, startRedis } from "./processes.ts"
import { startS3Server } from "./s3-server.ts"

export interface Backends {
  /** redis://127.0.0.1:PORT, no password. */
  readonly redisUrl: string
  /** A second redis-server that wants `redisPassword`; its URL carries none. */
  readonly redisAuthUrl: string
  readonly redisPassword: string
  /** tcp://127.0.0.1:PORT, started with `-I 8m`. */
  readonly memcachedUrl: string
  readonly s3Endpoint: string
  readonly s3Bucket: string
  readonly gcsEndpoint: string
  readonly gcsBucket: string
}

declare module "vitest" {
  interface ProvidedContext {
    backends: Backends
  }
}

export default async function setup(project: TestProject) {
  // Before anything starts, so a machine without them fails at once with the way out.
  requireBinary("redis-server")
  requireBinary("memcached")
  // Set, it would override every GCS client's endpoint (the SDK reads it itself).
  delete process.env["STORAGE_EMULATOR_HOST"]
  const redisPassword = "s3cr3t:/@"
  const [redis, redisAuth, memcached, s3, gcs] = await Promise.all([
    startRedis(),
    startRedis({ password: redisPassword }),
    startMemcached(),
    startS3Server(),
    startGcsEmulator()
  ])
  const backends: Backends = {
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    redisAuthUrl: `redis://127.0.0.1:${redisAuth.port}`,
    redisPassword,
    memcachedUrl: `tcp://127.0.0.1:${memcached.port}`,
    s3Endpoint: s3.endpoint,
    s3Bucket: "sccache-test",
    gcsEndpoint: gcs.url,
    gcsBucket: "sccache-test"
  }
  await s3.createBucket(backends.s3Bucket)
  gcs.createBucket(backends.gcsBucket)
  project.provide("backends", backends)
  process.env["TEST_BACKENDS_JSON"] = JSON.stringify(backends)
  return async () => {
    // memcached takes a second to stop gracefully, and holds nothing worth it.
    await Promise.all([redis.stop(), redisAuth.stop(), memcached.kill(), s3.stop(), gcs.stop()])
  }
}
