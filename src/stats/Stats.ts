import { Context, Effect, Layer } from "effect"
import type { Outcome } from "../cache/Outcome.ts"

export interface Timing {
  count: number
  totalMs: number
}

/** Per storage level (multi-level caches): what each level saw. */
export interface LevelCounters {
  hits: number
  misses: number
  errors: number
  timeouts: number
  writes: number
  writeErrors: number
  tooLarge: number
}

/** The counters of sccache's `--show-stats`, under sccache's JSON names where it has them. */
export interface StatsSnapshot {
  compile_requests: number
  cache_hits: Record<string, number>
  cache_misses: Record<string, number>
  /** The same per compiler kind, `c [gcc]`, `c [msvc]`, `cuda [nvcc]`, `rust`: sccache's adv_counts. */
  adv_cache_hits: Record<string, number>
  adv_cache_misses: Record<string, number>
  direct_hits: Record<string, number>
  preprocessor_hits: Record<string, number>
  cache_timeouts: number
  cache_read_errors: number
  forced_recaches: number
  cache_write_errors: number
  /** Compile results stored (manifests are not counted). */
  cache_writes: number
  cache_errors: Record<string, number>
  compilations: number
  compile_fails: number
  not_cached: Record<string, number>
  non_cacheable_compilations: number
  non_cacheable_calls: number
  non_compilation_calls: number
  unsupported_compiler_calls: number
  cache_write_duration: Timing
  compiler_write_duration: Timing
  cache_read_hit_duration: Timing
  /** Writing a hit's outputs into place: part of cache_read_hit_duration. */
  output_write_duration: Timing
  levels: Record<string, LevelCounters>
}

export const emptyStats = (): StatsSnapshot => ({
  compile_requests: 0,
  cache_hits: {},
  cache_misses: {},
  adv_cache_hits: {},
  adv_cache_misses: {},
  direct_hits: {},
  preprocessor_hits: {},
  cache_timeouts: 0,
  cache_read_errors: 0,
  forced_recaches: 0,
  cache_write_errors: 0,
  cache_writes: 0,
  cache_errors: {},
  compilations: 0,
  compile_fails: 0,
  not_cached: {},
  non_cacheable_compilations: 0,
  non_cacheable_calls: 0,
  non_compilation_calls: 0,
  unsupported_compiler_calls: 0,
  cache_write_duration: { count: 0, totalMs: 0 },
  compiler_write_duration: { count: 0, totalMs: 0 },
  cache_read_hit_duration: { count: 0, totalMs: 0 },
  output_write_duration: { count: 0, totalMs: 0 },
  levels: {}
})

/** Adds one measurement to a timing. */
export const record = (t: Timing, ms: number): void => {
  t.count++
  t.totalMs += ms
}

export const bump = (map: Record<string, number>, key: string, by = 1): void => {
  map[key] = (map[key] ?? 0) + by
}

/** Pure: every counter one compile request touches, from its outcome. The only place outcomes are counted. */
export const countOutcome = (s: StatsSnapshot, o: Outcome): void => {
  s.compile_requests++
  switch (o._tag) {
    case "Unsupported":
      s.unsupported_compiler_calls++
      return
    case "NotCompilation":
      s.non_compilation_calls++
      return
    case "NotCacheable":
      s.non_cacheable_calls++
      bump(s.not_cached, o.reason)
      return
    case "Hit":
      bump(s.cache_hits, o.kind.lang)
      bump(s.adv_cache_hits, o.kind.adv)
      if (o.mode !== undefined) bump(o.mode === "direct" ? s.direct_hits : s.preprocessor_hits, o.kind.lang)
      record(s.cache_read_hit_duration, o.ms)
      record(s.output_write_duration, o.writeMs)
      return
    case "Miss":
      bump(s.cache_misses, o.kind.lang)
      bump(s.adv_cache_misses, o.kind.adv)
      if (o.recache) s.forced_recaches++
      if (o.run !== undefined) {
        s.compilations++
        record(s.compiler_write_duration, o.run.ms)
        if (o.run.exitCode !== 0) s.compile_fails++
      }
      if (o.notStored !== undefined) {
        s.non_cacheable_compilations++
        bump(s.not_cached, o.notStored)
      }
      return
    case "CacheError":
      bump(s.cache_errors, o.kind.lang)
      return
  }
}

export const emptyLevel = (): LevelCounters => ({ hits: 0, misses: 0, errors: 0, timeouts: 0, writes: 0, writeErrors: 0, tooLarge: 0 })

/** In-memory counters of one daemon; every subsystem records through `update`. */
export class Stats extends Context.Service<Stats, {
  readonly update: (f: (s: StatsSnapshot) => void) => Effect.Effect<void>
  /** Counts one compile request's outcome. */
  readonly count: (o: Outcome) => Effect.Effect<void>
  readonly level: (name: string, f: (l: LevelCounters) => void) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<StatsSnapshot>
  readonly zero: Effect.Effect<void>
}>()("sccache-ts/stats/Stats") {
  static readonly layer = Layer.sync(Stats, () => {
    let s = emptyStats()
    return Stats.of({
      update: (f) => Effect.sync(() => f(s)),
      count: (o) => Effect.sync(() => countOutcome(s, o)),
      level: (name, f) => Effect.sync(() => f(s.levels[name] ??= emptyLevel())),
      snapshot: Effect.sync(() => structuredClone(s)),
      zero: Effect.sync(() => {
        s = emptyStats()
      })
    })
  })
}
