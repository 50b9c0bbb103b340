import { Effect, FiberSet } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { type LevelCounters, Stats } from "../stats/Stats.ts"
import { Storage, type StorageError, type StorageShape } from "./Storage.ts"

/** One tier of a multi-level cache. */
export interface Level {
  /** Its name in the per-level stats: "disk", "s3", "gcs", "redis", "memcached". */
  readonly name: string
  readonly storage: StorageShape
  /** A read-only level is never written, and no write to it is counted. */
  readonly writable: boolean
}

/** How long a stopping daemon lets background writes finish before interrupting them. */
const DRAIN_TIMEOUT = "10 seconds"

/** A failed lookup or probe counts as a timeout or an error of its level. */
export const countFailure = (e: StorageError) => (l: LevelCounters): void => void (e.reason === "timeout" ? l.timeouts++ : l.errors++)

const multiLevelLocation = (levels: NonEmptyReadonlyArray<Level>): string =>
  levels.length === 1 ? levels[0].storage.location : `Multi-level: ${levels.map((l) => l.storage.location).join("; ")}`

/**
 * Levels in order, fastest first (local disk, then a remote). A lookup tries each in turn and
 * copies a hit into the levels before it. A write goes to the first level, and to the others in
 * background fibers the caller never waits for. Every outcome is counted per level; a failing
 * level is a miss for the caller (counted as an error or timeout there), never a failed lookup.
 * Each level's `writable` comes from its probe at start, so `check` only reports them; `size`
 * and a failing put are the first level's.
 */
export const makeMultiLevelStorage = Effect.fnUntraced(function*(levels: NonEmptyReadonlyArray<Level>) {
  const stats = yield* Stats
  const background = yield* FiberSet.make()
  // Added after the set, so it runs before the set's own finalizer interrupts what is left.
  yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(background).pipe(Effect.timeoutOption(DRAIN_TIMEOUT)))

  const count = (level: Level, f: (l: LevelCounters) => void) => stats.level(level.name, f)

  // An outage fails every compile's lookup: warn when a level starts failing and when it works
  // again, and log the failures in between at debug level only (they are all counted).
  const failing = new Set<string>()
  const failed = (level: Level, e: StorageError) =>
    Effect.suspend(() => {
      if (failing.has(level.name)) return Effect.logDebug(`cache level ${level.name}: ${e.message}`)
      failing.add(level.name)
      return Effect.logWarning(`cache level ${level.name} fails (later failures are only counted until it works again): ${e.message}`)
    })
  const worked = (level: Level) =>
    Effect.suspend(() => (failing.delete(level.name) ? Effect.logWarning(`cache level ${level.name} works again`) : Effect.void))

  const read = (level: Level, key: string) =>
    level.storage.get(key).pipe(
      Effect.tap((blob) =>
        count(level, (l) => void (blob === undefined ? l.misses++ : l.hits++)).pipe(Effect.andThen(worked(level)))
      ),
      Effect.catch((e) => count(level, countFailure(e)).pipe(Effect.andThen(failed(level, e)), Effect.as(undefined)))
    )

  const write = (level: Level, key: string, blob: Uint8Array) =>
    level.storage.put(key, blob).pipe(
      Effect.andThen(count(level, (l) => void l.writes++).pipe(Effect.andThen(worked(level)))),
      // Over the backend's size limit: the entry is simply not cached there.
      Effect.catchIf((e) => e.reason === "too-large", (e) =>
        count(level, (l) => void l.tooLarge++).pipe(Effect.andThen(Effect.logDebug(e.message)))),
      Effect.tapError((e) => count(level, (l) => void l.writeErrors++).pipe(Effect.andThen(failed(level, e))))
    )

  /** `front` is written now; the `rest` in the background, counted and logged only. */
  const store = (front: Level, rest: ReadonlyArray<Level>, key: string, blob: Uint8Array) =>
    Effect.gen(function*() {
      for (const level of rest) {
        if (level.writable) yield* FiberSet.run(background, Effect.ignore(write(level, key, blob)))
      }
      if (front.writable) yield* write(front, key, blob)
    })

  return Storage.of({
    location: multiLevelLocation(levels),
    get: Effect.fn("MultiLevelStorage.get")(function*(key: string) {
      for (const [i, level] of levels.entries()) {
        const blob = yield* read(level, key)
        if (blob === undefined) continue
        // Already counted and logged by `write`: a failed copy only costs the next lookup a level.
        if (i > 0) yield* Effect.ignore(store(levels[0], levels.slice(1, i), key, blob))
        return blob
      }
      return undefined
    }),
    put: Effect.fn("MultiLevelStorage.put")(function*(key: string, blob: Uint8Array) {
      yield* store(levels[0], levels.slice(1), key, blob)
    }),
    check: Effect.succeed(levels.some((l) => l.writable) ? "read-write" : "read-only"),
    size: levels[0].storage.size
  })
})
