import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { inject } from "vitest"
import type { MemcachedSettings } from "../../src/config/BackendConfig.ts"
import { Stats } from "../../src/stats/Stats.ts"
import { makeMemcachedStorage } from "../../src/storage/MemcachedStorage.ts"
import { makeMultiLevelStorage } from "../../src/storage/MultiLevelStorage.ts"
import { startMemcached } from "../support/processes.ts"
import { blob, expectStorageError, key, prefix, settingsFrom, storageContract } from "../support/storage-contract.ts"

const backends = inject("backends")
const address = new URL(backends.memcachedUrl).host

storageContract<MemcachedSettings>({
  name: "memcached",
  address,
  env: (addr, o) => ({
    SCCACHE_MEMCACHED: `tcp://${addr}`,
    SCCACHE_MEMCACHED_KEY_PREFIX: o.keyPrefix,
    SCCACHE_MEMCACHED_RW_MODE: o.readOnly ? "READ_ONLY" : "READ_WRITE"
  }),
  open: makeMemcachedStorage,
  startPrivate: (port) => startMemcached(port === undefined ? {} : { port })
})

describe("memcached specifics", () => {
  it.live("a value over the server's item size is a too-large error, counted as tooLarge and not as a failure", () =>
    Effect.gen(function*() {
      const storage = yield* makeMemcachedStorage(settingsFrom<MemcachedSettings>({ SCCACHE_MEMCACHED: backends.memcachedUrl }))
      const k = key()
      // The server runs with -I 8m.
      yield* expectStorageError(storage.put(k, blob(9 * 1024 * 1024)), 5_000, ["too-large"])
      const level = yield* makeMultiLevelStorage([{ name: "memcached", storage, writable: true }])
      yield* level.put(k, blob(9 * 1024 * 1024))
      const counters = (yield* (yield* Stats).snapshot).levels["memcached"]!
      assert.strictEqual(counters.tooLarge, 1)
      assert.strictEqual(counters.writeErrors, 0)
      assert.isUndefined(yield* level.get(k))
      // The connection survives the refusal.
      yield* level.put(k, blob(100))
      assert.isDefined(yield* level.get(k))
    }).pipe(Effect.provide(Layer.fresh(Stats.layer))), 15_000)

  it.live("spreads keys over several servers", () =>
    Effect.gen(function*() {
      const second = yield* Effect.acquireRelease(Effect.promise(() => startMemcached()), (s) => Effect.promise(s.kill))
      const storage = yield* makeMemcachedStorage(settingsFrom<MemcachedSettings>({
        SCCACHE_MEMCACHED: `${backends.memcachedUrl} tcp://127.0.0.1:${second.port}`,
        SCCACHE_MEMCACHED_KEY_PREFIX: prefix()
      }))
      assert.strictEqual(storage.location, `Memcached: ${backends.memcachedUrl} tcp://127.0.0.1:${second.port}`)
      const keys = Array.from({ length: 20 }, key)
      yield* Effect.forEach(keys, (k) => storage.put(k, new TextEncoder().encode(k)), { discard: true })
      const back = yield* Effect.forEach(keys, (k) => storage.get(k))
      assert.deepStrictEqual(back.map((b) => new TextDecoder().decode(b)), keys)
    }), 10_000)
})
