import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { inject } from "vitest"
import type { RedisSettings } from "../../src/config/BackendConfig.ts"
import { makeRedisStorage } from "../../src/storage/RedisStorage.ts"
import { startRedis } from "../support/processes.ts"
import { blob, expectStorageError, key, prefix, settingsFrom, storageContract } from "../support/storage-contract.ts"

const backends = inject("backends")
const address = new URL(backends.redisUrl).host

/** A raw client on the shared server, to see what the backend really stored. */
const raw = (db = 0) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis({ host: "127.0.0.1", port: Number(address.split(":")[1]), db, maxRetriesPerRequest: 1 })),
    (r) => Effect.sync(() => r.disconnect())
  )

storageContract<RedisSettings>({
  name: "redis",
  address,
  env: (addr, o) => ({
    SCCACHE_REDIS: `redis://${addr}`,
    SCCACHE_REDIS_KEY_PREFIX: o.keyPrefix,
    SCCACHE_REDIS_RW_MODE: o.readOnly ? "READ_ONLY" : "READ_WRITE"
  }),
  open: makeRedisStorage,
  startPrivate: (port) => startRedis(port === undefined ? {} : { port }),
  rawKeys: (p) =>
    Effect.runPromise(Effect.scoped(Effect.flatMap(raw(), (r) => Effect.promise(() => r.keys(`${p}/*`)))))
})

describe("redis specifics", () => {
  it.live("a wrong password fails fast as an auth error; the right one (URL-encoded) works", () =>
    Effect.gen(function*() {
      const authAddress = new URL(backends.redisAuthUrl).host
      const wrong = yield* makeRedisStorage(settingsFrom<RedisSettings>({ SCCACHE_REDIS: `redis://:nope@${authAddress}` }))
      yield* expectStorageError(wrong.check, 2_000, ["auth"])
      yield* expectStorageError(wrong.get(key()), 2_000, ["auth"])
      const none = yield* makeRedisStorage(settingsFrom<RedisSettings>({ SCCACHE_REDIS: `redis://${authAddress}` }))
      yield* expectStorageError(none.get(key()), 2_000, ["auth"])
      const right = yield* makeRedisStorage(settingsFrom<RedisSettings>({
        SCCACHE_REDIS: `redis://:${encodeURIComponent(backends.redisPassword)}@${authAddress}`
      }))
      assert.strictEqual(yield* right.check, "read-write")
      // The same through sccache's separate variables.
      const separate = yield* makeRedisStorage(settingsFrom<RedisSettings>({
        SCCACHE_REDIS_ENDPOINT: `tcp://${authAddress}`,
        SCCACHE_REDIS_PASSWORD: backends.redisPassword
      }))
      assert.strictEqual(yield* separate.check, "read-write")
      assert.notInclude(right.location, backends.redisPassword)
    }), 15_000)

  it.live("uses the database of the URL and sets the expiration", () =>
    Effect.gen(function*() {
      const p = prefix()
      const storage = yield* makeRedisStorage(settingsFrom<RedisSettings>({
        SCCACHE_REDIS: `redis://${address}/3`,
        SCCACHE_REDIS_KEY_PREFIX: p,
        SCCACHE_REDIS_EXPIRATION: "600"
      }))
      assert.strictEqual(storage.location, `Redis: redis://${address}/3`)
      const k = key()
      yield* storage.put(k, blob(10))
      const db3 = yield* raw(3)
      const stored = `${p}/${k[0]}/${k[1]}/${k[2]}/${k}`
      const ttl = yield* Effect.promise(() => db3.ttl(stored))
      assert.isTrue(ttl > 590 && ttl <= 600, `ttl ${ttl}`)
      const db0 = yield* raw(0)
      assert.strictEqual(yield* Effect.promise(() => db0.exists(stored)), 0)
    }), 10_000)
})
