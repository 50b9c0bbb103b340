import { Context, Duration, Effect, Layer } from "effect"
import { DaemonConfig, DEFAULT_ZSTD_LEVEL } from "../config/Config.ts"
import { makeFlights } from "../pipeline/Keyed.ts"
import { record, Stats } from "../stats/Stats.ts"
import { decodedOnce } from "../storage/MemoryTier.ts"
import { Storage } from "../storage/Storage.ts"
import { type CacheEntry, decodeEntry, encodeEntry, EntryOutdated } from "./CacheEntry.ts"

/** No lookup may hold a compile longer than this, whatever the backend does. */
const LOOKUP_TIMEOUT = Duration.seconds(30)

/**
 * Cache entries over Storage, for every language: decoding, checksums, timeouts and their
 * counters. Nothing here fails: a broken cache is a miss plus a counted error.
 */
export class EntryCache extends Context.Service<EntryCache, {
  readonly lookup: (key: string) => Effect.Effect<CacheEntry | undefined>
  readonly store: (key: string, entry: CacheEntry) => Effect.Effect<void>
  /**
   * The same for blobs the caller decodes itself (direct-mode manifests). `wait: false` is for
   * the writer itself, which must not wait for its own write.
   */
  readonly lookupBlob: (key: string, opts?: { readonly wait: boolean }) => Effect.Effect<Uint8Array | undefined>
  readonly storeBlob: (key: string, blob: Uint8Array) => Effect.Effect<void>
  /**
   * Marks `keys` as being written from now on, and returns `write` to run later (after the
   * reply): lookups of those keys wait for it instead of missing.
   */
  readonly writeLater: (keys: ReadonlyArray<string>, write: Effect.Effect<void>) => Effect.Effect<Effect.Effect<void>>
}>()("sccache-ts/cache/EntryCache") {
  static readonly layer = Layer.effect(EntryCache, Effect.gen(function*() {
    const storage = yield* Storage
    const stats = yield* Stats
    // Test layers may leave the configuration out: sccache's default level then.
    const config = yield* Effect.serviceOption(DaemonConfig)
    const zstdLevel = config._tag === "Some" ? config.value.zstdLevel : DEFAULT_ZSTD_LEVEL
    // A read-only storage (its probe, or SCCACHE_*_RW_MODE) would take writes and drop them: none is
    // made, so none is counted as a cache write.
    const writable = (yield* storage.check.pipe(Effect.orElseSucceed(() => "read-write" as const))) === "read-write"
    const decode = decodedOnce(decodeEntry)
    // A lookup waits for a write of the same key that is under way: the compile right after the
    // one that stored it (the next build step, a second checkout) must see it.
    const writing = makeFlights()
    const lookupBlob = Effect.fn("EntryCache.lookupBlob")(function*(key: string, opts?: { readonly wait: boolean }) {
      if (opts?.wait !== false) yield* writing.wait(key)
      return yield* storage.get(key).pipe(
          Effect.timeoutOrElse({
            duration: LOOKUP_TIMEOUT,
            orElse: () =>
              stats.update((s) => void s.cache_timeouts++).pipe(
                Effect.andThen(Effect.logWarning(`cache lookup of ${key} timed out`)),
                Effect.as(undefined)
              )
          }),
          Effect.catch((e) =>
            stats.update((s) => void (e.reason === "timeout" ? s.cache_timeouts++ : s.cache_read_errors++)).pipe(
              Effect.andThen(Effect.logWarning(`cache lookup failed: ${e.message}`)),
              Effect.as(undefined)
            )
          )
        )
    })
    /** `entry`: a compile's result, counted in cache_writes as sccache does (manifests are not). */
    const storeBlob = Effect.fn("EntryCache.storeBlob")(function*(key: string, blob: Uint8Array, entry = false) {
      if (!writable) return
      const started = Date.now()
      yield* storage.put(key, blob).pipe(
        Effect.andThen(stats.update((s) => {
          record(s.cache_write_duration, Date.now() - started)
          if (entry) s.cache_writes++
        })),
        Effect.catch((e) =>
          stats.update((s) => void s.cache_write_errors++).pipe(
            Effect.andThen(Effect.logWarning(`cache write failed: ${e.message}`))
          )
        )
      )
    })
    const writeLater = (keys: ReadonlyArray<string>, write: Effect.Effect<void>) => Effect.sync(() => writing.claim(keys, write))
    return EntryCache.of({
      lookupBlob,
      storeBlob,
      writeLater,
      lookup: Effect.fn("EntryCache.lookup")(function*(key) {
        const blob = yield* lookupBlob(key)
        if (blob === undefined) return undefined
        const entry = yield* Effect.promise(() => decode(key, blob))
        if (entry instanceof EntryOutdated) return undefined
        if (entry instanceof Error) {
          // A corrupt entry is a miss; the compile that follows stores a good one over it.
          yield* stats.update((s) => void s.cache_read_errors++)
          yield* Effect.logWarning(`cache entry ${key} is corrupt: ${entry.message}`)
          return undefined
        }
        return entry
      }),
      store: (key, entry) =>
        Effect.promise(() => encodeEntry(key, entry, zstdLevel)).pipe(Effect.flatMap((blob) =>
          blob instanceof Error
            ? stats.update((s) => void s.cache_write_errors++).pipe(
              Effect.andThen(Effect.logWarning(`cache entry ${key} not stored: ${blob.size} bytes is over the entry size limit`))
            )
            : storeBlob(key, blob, true)
        ))
    })
  }))
}
