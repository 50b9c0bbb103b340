import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { inject } from "vitest"
import { ConfigError, DaemonConfig, type Env } from "../../src/config/Config.ts"
import { Stats } from "../../src/stats/Stats.ts"
import { Storage } from "../../src/storage/Storage.ts"
import { storageLayer } from "../../src/storage/StorageLayer.ts"
import { freePort } from "../support/processes.ts"
import { blob, eventually, key, prefix } from "../support/storage-contract.ts"

const backends = inject("backends")

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-layer-"))),
  (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
)

/** Runs `f` on the daemon's Storage for `env`, with fresh Stats, as the daemon composes them. */
const withStorage = <A, E>(env: Env, f: (storage: Storage["Service"]) => Effect.Effect<A, E, Stats>) =>
  Storage.use(f).pipe(
    Effect.provide(storageLayer(env).pipe(Layer.provide(DaemonConfig.fromEnv(env))), { local: true }),
    Effect.provide(Layer.fresh(Stats.layer))
  )

const levels = Stats.use((s) => Effect.map(s.snapshot, (snapshot) => snapshot.levels))

describe("storageLayer(env)", () => {
  it.live("is the local disk alone without remote variables", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const location = yield* withStorage({ SCCACHE_DIR: dir }, (s) => Effect.succeed(s.location))
      assert.strictEqual(location, `Local disk: "${dir}"`)
    }), 10_000)

  it.live("puts the disk in front of Redis, naming both", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const p = prefix()
      const env = { SCCACHE_DIR: dir, SCCACHE_REDIS: backends.redisUrl, SCCACHE_REDIS_KEY_PREFIX: p }
      const k = key()
      yield* withStorage(env, (storage) =>
        Effect.gen(function*() {
          assert.strictEqual(storage.location, `Multi-level: Local disk: "${dir}"; Redis: ${backends.redisUrl}/0`)
          assert.strictEqual(yield* storage.check, "read-write")
          yield* storage.put(k, blob(100))
          yield* eventually(Effect.flatMap(levels, (l) => (l["redis"]?.writes === 1 ? Effect.void : Effect.fail("not yet"))), 3_000)
        }))
      // A second daemon with an empty disk gets the entry from Redis.
      const other = yield* tempDir
      yield* withStorage({ ...env, SCCACHE_DIR: other }, (storage) =>
        Effect.gen(function*() {
          assert.isDefined(yield* storage.get(k))
          assert.deepInclude((yield* levels)["redis"]!, { hits: 1 })
        }))
    }), 10_000)

  it.live("uses the remote alone with SCCACHE_LOCAL_DISK=false", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { SCCACHE_DIR: dir, SCCACHE_MEMCACHED: backends.memcachedUrl, SCCACHE_LOCAL_DISK: "false" }
      yield* withStorage(env, (storage) =>
        Effect.gen(function*() {
          assert.strictEqual(storage.location, `Memcached: ${backends.memcachedUrl}`)
          const k = key()
          yield* storage.put(k, blob(100))
          assert.isDefined(yield* storage.get(k))
        }))
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(dir)), [])
    }), 10_000)

  it.live("prefers S3 over Redis, as sccache", () =>
    Effect.gen(function*() {
      const env = {
        SCCACHE_DIR: yield* tempDir,
        SCCACHE_REDIS: backends.redisUrl,
        SCCACHE_BUCKET: backends.s3Bucket,
        SCCACHE_ENDPOINT: backends.s3Endpoint,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test"
      }
      const location = yield* withStorage(env, (s) => Effect.succeed(s.location))
      assert.match(location, /; S3, bucket: sccache-test, endpoint: http:\/\/127\.0\.0\.1:\d+$/)
    }), 10_000)

  it.live("starts with a remote that is down, counting the failed probe, and caches on disk", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const env = { SCCACHE_DIR: yield* tempDir, SCCACHE_REDIS: `redis://127.0.0.1:${port}` }
      yield* withStorage(env, (storage) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* storage.check, "read-write")
          assert.deepInclude((yield* levels)["redis"]!, { errors: 1 })
          const k = key()
          yield* storage.put(k, blob(100))
          assert.isDefined(yield* storage.get(k))
          assert.isUndefined(yield* storage.get(key()))
        }))
    }), 10_000)

  it.live("fails with the ConfigError of a bad variable", () =>
    Effect.gen(function*() {
      const env = { SCCACHE_DIR: yield* tempDir, SCCACHE_REDIS: "http://127.0.0.1:1" }
      const error = yield* Effect.flip(withStorage(env, () => Effect.void))
      assert.instanceOf(error, ConfigError)
      assert.strictEqual((error as ConfigError).variable, "SCCACHE_REDIS")
    }), 10_000)

  it.live("loads no storage SDK for the disk alone, and only the configured one otherwise", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      // A fresh Node process: vitest's own workers may have loaded the SDKs for other tests.
      const probe = (env: Env) =>
        Effect.promise(() =>
          promisify(execFile)(process.execPath, ["--input-type=module", "-e", `
            import { registerHooks } from "node:module"
            const seen = new Set()
            registerHooks({ resolve(spec, ctx, next) {
              if (/^(@aws-sdk|@google-cloud|ioredis|memjs)/.test(spec)) seen.add(spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/"))
              return next(spec, ctx)
            } })
            const { Effect, Layer } = await import("effect")
            const { DaemonConfig } = await import("./src/config/Config.ts")
            const { Stats } = await import("./src/stats/Stats.ts")
            const { Storage } = await import("./src/storage/Storage.ts")
            const { storageLayer } = await import("./src/storage/StorageLayer.ts")
            const env = JSON.parse(process.argv[1])
            const location = await Effect.runPromise(Storage.use((s) => Effect.succeed(s.location)).pipe(
              Effect.provide(storageLayer(env).pipe(Layer.provide(DaemonConfig.fromEnv(env)), Layer.provide(Stats.layer)))))
            console.log(JSON.stringify({ location, loaded: [...seen].sort() }))
          `, JSON.stringify(env)], { cwd: path.resolve(import.meta.dirname, "../.."), timeout: 15_000 })
        ).pipe(Effect.map(({ stdout }) => JSON.parse(stdout.trim().split("\n").pop()!) as { location: string; loaded: Array<string> }))
      const diskOnly = yield* probe({ SCCACHE_DIR: dir })
      assert.deepStrictEqual(diskOnly, { location: `Local disk: "${dir}"`, loaded: [] })
      const redis = yield* probe({ SCCACHE_DIR: dir, SCCACHE_REDIS: backends.redisUrl })
      assert.deepStrictEqual(redis.loaded, ["ioredis"])
    }), 30_000)
})
