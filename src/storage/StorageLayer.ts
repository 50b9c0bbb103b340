import { Effect, Layer } from "effect"
import { type LevelSettings, parseBackendSettings, type RemoteSettings } from "../config/BackendConfig.ts"
import { ConfigError, DaemonConfig, type Env } from "../config/Config.ts"
import { Stats } from "../stats/Stats.ts"
import { DiskStorage, makeDiskStorage } from "./DiskStorage.ts"
import { makeGcsStorage } from "./GcsStorage.ts"
import { makeMemcachedStorage } from "./MemcachedStorage.ts"
import { countFailure, type Level, makeMultiLevelStorage } from "./MultiLevelStorage.ts"
import { makeRedisStorage } from "./RedisStorage.ts"
import type { RemoteOptions } from "./RemoteStorage.ts"
import { MemoryTier } from "./MemoryTier.ts"
import { makeS3Storage } from "./S3Storage.ts"
import { Storage, type StorageError, type StorageShape } from "./Storage.ts"

/** Opens a remote backend, loading its SDK only now; the client closes with the caller's scope. */
const openRemote = (settings: RemoteSettings, options: RemoteOptions) => {
  switch (settings.kind) {
    case "s3":
      return makeS3Storage(settings, options)
    case "gcs":
      return makeGcsStorage(settings, options)
    case "redis":
      return makeRedisStorage(settings, options)
    case "memcached":
      return makeMemcachedStorage(settings, options)
  }
}

/**
 * Probes a remote at start. Unlike sccache, a server that is down does not stop the daemon: its
 * lookups are skipped (the circuit breaker) and counted until it comes back. Refused writes make
 * it read-only.
 */
const remoteLevel = Effect.fnUntraced(function*(settings: RemoteSettings, storage: StorageShape) {
  const stats = yield* Stats
  const writable = yield* storage.check.pipe(
    Effect.tap((mode) =>
      mode === "read-only" && !settings.readOnly
        ? Effect.logWarning(`${storage.location}: writes are refused, so it is used read-only`)
        : Effect.logInfo(`${storage.location}: ${mode}`)
    ),
    Effect.map((mode) => mode === "read-write"),
    Effect.catch((e) =>
      stats.level(settings.kind, countFailure(e)).pipe(
        Effect.andThen(Effect.logWarning(`${e.message}; the cache works without it and tries it again after a backoff`)),
        Effect.as(!settings.readOnly)
      )
    )
  )
  return { name: settings.kind, storage, writable } satisfies Level
})

/**
 * The local disk tier; unlike a remote, a disk that cannot be read stops the cache. Read-only
 * (`SCCACHE_LOCAL_RW_MODE`) it serves hits and stores nothing.
 */
const diskLevel = (readOnly: boolean) =>
  Effect.gen(function*() {
    const { cacheDir, maxCacheSize } = yield* DaemonConfig
    const storage = yield* makeDiskStorage({ dir: cacheDir, maxSize: maxCacheSize })
    const mode = yield* storage.check
    return { name: "disk", storage, writable: mode === "read-write" && !readOnly } satisfies Level
  })

/** Whether the local disk is a cache level that stores: only then may the daemon keep files of its own there. */
export const localDiskStores = (env: Env): boolean => {
  const settings = parseBackendSettings(env)
  return !(settings instanceof ConfigError) && settings.levels.includes("disk") && !settings.localReadOnly
}

/**
 * The daemon's Storage, chosen from `env` with sccache's variables: the local disk alone (no SDK
 * is loaded), or levels (`SCCACHE_MULTILEVEL_CHAIN`, else the disk in front of a remote, or a
 * remote alone with `SCCACHE_LOCAL_DISK=false`); recent blobs are served from memory in front of
 * them all.
 */
export const storageLayer = (env: Env): Layer.Layer<Storage, ConfigError | StorageError, DaemonConfig | Stats> =>
  MemoryTier.layer().pipe(Layer.provide(backendLayer(env)))

const backendLayer = (env: Env): Layer.Layer<Storage, ConfigError | StorageError, DaemonConfig | Stats> =>
  Layer.unwrap(Effect.gen(function*() {
    const settings = parseBackendSettings(env)
    if (settings instanceof ConfigError) return yield* settings
    if (settings.levels.length === 1 && settings.levels[0] === "disk" && !settings.localReadOnly) return DiskStorage.layer
    return Layer.effect(
      Storage,
      Effect.gen(function*() {
        if (settings.ignored.length > 0) {
          yield* Effect.logWarning(`configured but not used: ${settings.ignored.join(", ")}`)
        }
        const { lookupTimeoutMs: ms } = settings
        const options: RemoteOptions = ms === undefined ? {} : { timeouts: { get: ms, check: ms } }
        const open = (l: LevelSettings) =>
          l === "disk" ? diskLevel(settings.localReadOnly) : Effect.flatMap(openRemote(l, options), (s) => remoteLevel(l, s))
        const [first, ...rest] = settings.levels
        const levels: [Level, ...Array<Level>] = [yield* open(first)]
        for (const l of rest) levels.push(yield* open(l))
        return yield* makeMultiLevelStorage(levels)
      })
    )
  }))
