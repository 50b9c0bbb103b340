import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { inject } from "vitest"
import type { RedisSettings } from "../../src/config/BackendConfig.ts"
import { Stats } from "../../src/stats/Stats.ts"
import { makeDiskStorage } from "../../src/storage/DiskStorage.ts"
import { makeMemoryStorage } from "../../src/storage/MemoryStorage.ts"
import { makeMultiLevelStorage } from "../../src/storage/MultiLevelStorage.ts"
import { makeRedisStorage } from "../../src/storage/RedisStorage.ts"
import type { RemoteOptions } from "../../src/storage/RemoteStorage.ts"
import { freePort, startHangingServer } from "../support/processes.ts"
import { blob, eventually, key, prefix, settingsFrom, timed } from "../support/storage-contract.ts"

const backends = inject("backends")

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-ml-"))),
  (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
)

/** A disk level in a fresh directory, in front of Redis at `url` (the shared server by default). */
const twoLevels = Effect.fnUntraced(function*(opts: { url?: string; options?: RemoteOptions; keyPrefix?: string } = {}) {
  const disk = yield* makeDiskStorage({ dir: yield* tempDir, maxSize: 1024 ** 3 })
  const redis = yield* makeRedisStorage(
    settingsFrom<RedisSettings>({ SCCACHE_REDIS: opts.url ?? backends.redisUrl, SCCACHE_REDIS_KEY_PREFIX: opts.keyPrefix ?? prefix() }),
    opts.options
  )
  const storage = yield* makeMultiLevelStorage([
    { name: "disk", storage: disk, writable: true },
    { name: "redis", storage: redis, writable: true }
  ])
  return { disk, redis, storage }
})

const levels = Stats.use((s) => Effect.map(s.snapshot, (snapshot) => snapshot.levels))

const withStats = <A, E, R>(self: Effect.Effect<A, E, R>) => self.pipe(Effect.provide(Layer.fresh(Stats.layer)))

describe("multi-level storage: disk in front of a real Redis", () => {
  it.live("a remote hit is copied to the disk, so the next lookup is a disk hit", () =>
    withStats(Effect.gen(function*() {
      const { disk, redis, storage } = yield* twoLevels()
      const k = key()
      const data = blob(64 * 1024)
      yield* redis.put(k, data)
      assert.deepStrictEqual(yield* storage.get(k), Buffer.from(data))
      assert.isDefined(yield* disk.get(k))
      assert.isDefined(yield* storage.get(k))
      const l = yield* levels
      assert.deepInclude(l["disk"]!, { hits: 1, misses: 1, writes: 1 })
      assert.deepInclude(l["redis"]!, { hits: 1, misses: 0, errors: 0 })
    })), 10_000)

  it.live("a put lands on the disk at once and in the remote in the background", () =>
    withStats(Effect.gen(function*() {
      const { disk, redis, storage } = yield* twoLevels()
      const k = key()
      yield* storage.put(k, blob(1000))
      assert.isDefined(yield* disk.get(k))
      yield* eventually(Effect.flatMap(redis.get(k), (b) => (b === undefined ? Effect.fail("not yet") : Effect.void)), 3_000)
      assert.isUndefined(yield* storage.get(key()))
      const l = yield* levels
      assert.deepInclude(l["disk"]!, { writes: 1, misses: 1 })
      assert.deepInclude(l["redis"]!, { writes: 1, misses: 1 })
    })), 10_000)

  it.live("a dead remote still serves disk hits; its failures are misses counted as errors", () =>
    withStats(Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const { storage } = yield* twoLevels({ url: `redis://127.0.0.1:${port}` })
      const k = key()
      yield* storage.put(k, blob(1000))
      assert.isDefined(yield* storage.get(k))
      const { result, ms } = yield* timed(storage.get(key()))
      assert.deepStrictEqual(result._tag === "Success" ? result.success : "failed", undefined)
      assert.isBelow(ms, 2_000)
      yield* eventually(Effect.flatMap(levels, (l) => (l["redis"]?.writeErrors === 1 ? Effect.void : Effect.fail("not yet"))), 3_000)
      const l = yield* levels
      assert.deepInclude(l["disk"]!, { hits: 1, misses: 1, writes: 1 })
      assert.deepInclude(l["redis"]!, { hits: 0, misses: 0, errors: 1, writeErrors: 1 })
    })), 10_000)

  it.live("a put never waits for a remote that hangs; the lookup is bounded by the remote's timeout", () =>
    withStats(Effect.gen(function*() {
      const hanging = yield* Effect.acquireRelease(Effect.promise(startHangingServer), (s) => Effect.promise(s.close))
      const { storage } = yield* twoLevels({
        url: `redis://127.0.0.1:${hanging.port}`,
        options: { timeouts: { get: 500, put: 1500, check: 500 } }
      })
      const k = key()
      const put = yield* timed(storage.put(k, blob(1000)))
      assert.strictEqual(put.result._tag, "Success")
      assert.isBelow(put.ms, 300, "put waited for the remote")
      const miss = yield* timed(storage.get(key()))
      assert.isBelow(miss.ms, 1_500)
      yield* eventually(Effect.flatMap(levels, (l) => (l["redis"]?.writeErrors === 1 ? Effect.void : Effect.fail("not yet"))), 4_000)
      assert.deepInclude((yield* levels)["redis"]!, { timeouts: 1, writes: 0 })
    })), 10_000)

  it.live("closing the storage lets background writes finish", () =>
    withStats(Effect.gen(function*() {
      const remote = new Map<string, Uint8Array>()
      const memory = makeMemoryStorage(remote)
      // A remote whose uploads take a while, so the put is still in flight when the scope closes.
      const slow = { ...memory, put: (k: string, b: Uint8Array) => Effect.andThen(Effect.sleep("300 millis"), memory.put(k, b)) }
      const k = key()
      yield* Effect.scoped(Effect.gen(function*() {
        const disk = yield* makeDiskStorage({ dir: yield* tempDir, maxSize: 1024 ** 3 })
        const storage = yield* makeMultiLevelStorage([
          { name: "disk", storage: disk, writable: true },
          { name: "memory", storage: slow, writable: true }
        ])
        yield* storage.put(k, blob(100))
        assert.isFalse(remote.has(k))
      }))
      assert.isTrue(remote.has(k))
    })), 10_000)

  it.live("a read-only remote is read but never written, and no write is counted", () =>
    withStats(Effect.gen(function*() {
      const p = prefix()
      const disk = yield* makeDiskStorage({ dir: yield* tempDir, maxSize: 1024 ** 3 })
      const redis = yield* makeRedisStorage(settingsFrom<RedisSettings>({ SCCACHE_REDIS: backends.redisUrl, SCCACHE_REDIS_KEY_PREFIX: p }))
      const storage = yield* makeMultiLevelStorage([
        { name: "disk", storage: disk, writable: true },
        { name: "redis", storage: redis, writable: false }
      ])
      assert.strictEqual(storage.location, `Multi-level: ${disk.location}; Redis: ${backends.redisUrl}/0`)
      const k = key()
      yield* storage.put(k, blob(10))
      yield* Effect.sleep("100 millis")
      assert.isUndefined(yield* redis.get(k))
      const l = yield* levels
      assert.deepInclude(l["disk"]!, { writes: 1 })
      assert.isUndefined(l["redis"])
    })), 10_000)
})
