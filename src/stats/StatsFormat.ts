import type { LevelCounters, StatsSnapshot, Timing } from "./Stats.ts"

/** What the daemon answers to a stats request. */
export interface StatsReport {
  readonly stats: StatsSnapshot
  readonly cache_location: string
  readonly basedirs: ReadonlyArray<string>
  /** sccache's name for direct mode. */
  readonly use_preprocessor_cache_mode: boolean
  readonly cache_size: number | null
  readonly max_cache_size: number | null
  readonly version: string
  /** The daemon's process, so --stop-server can wait for it to exit. */
  readonly pid?: number
}

const sum = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0)

const rate = (hits: number, misses: number): string =>
  hits + misses === 0 ? "-" : `${((100 * hits) / (hits + misses)).toFixed(2)} %`

const seconds = (t: Timing): string => `${(t.count === 0 ? 0 : t.totalMs / t.count / 1000).toFixed(3)} s`

/** sccache prints sizes in binary units with one decimal ("1.2 GiB"). */
export const formatSize = (bytes: number | null): string => {
  if (bytes === null) return "-"
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} bytes` : `${v.toFixed(1)} ${units[i]}`
}


const levelSum = (s: StatsSnapshot, f: (l: LevelCounters) => number): number =>
  Object.values(s.levels).reduce((a, l) => a + f(l), 0)

/**
 * Pure: the totals shown under sccache's names. A level of a multi-level storage that fails is a
 * miss for the compile and counted on its level only, so the totals add every level in: a CI check
 * on "Cache errors" sees a failing remote. A multi-level storage counts every write on its level
 * (and its first level's failures reach the entry cache too), so its levels alone give the write errors.
 */
export const totals = (s: StatsSnapshot) => {
  const storageErrors: Record<string, number> = {}
  if (s.cache_read_errors > 0) storageErrors["storage"] = s.cache_read_errors
  for (const [name, l] of Object.entries(s.levels)) if (l.errors > 0) storageErrors[`storage: ${name}`] = l.errors
  return {
    /** sccache's meaning: compiles the cache handled, hit or miss (or failed on the way). */
    requestsExecuted: sum(s.cache_hits) + sum(s.cache_misses) + sum(s.cache_errors),
    /** Per language (compiles the cache failed) and per storage level (reads that failed). */
    errors: { ...s.cache_errors, ...storageErrors },
    readErrors: s.cache_read_errors + levelSum(s, (l) => l.errors),
    writeErrors: Object.keys(s.levels).length === 0 ? s.cache_write_errors : levelSum(s, (l) => l.writeErrors),
    timeouts: s.cache_timeouts + levelSum(s, (l) => l.timeouts)
  }
}

/** Per-family rows (`C/C++ [gcc]`), for --show-adv-stats. */
const advRows = (name: string, m: Record<string, number>): Array<[string, number]> =>
  Object.keys(m).sort().map((k) => [`${name} (${k})`, m[k]!])

/** Pure: the `--show-stats` text, with sccache's field names and order; `advanced` adds per-family rows. */
export const formatStatsText = (r: StatsReport, advanced = false): string => {
  const s = r.stats
  const t = totals(s)
  const rows: Array<[string, string]> = []
  const row = (name: string, value: string | number) => rows.push([name, String(value)])
  const langs = [...new Set([...Object.keys(s.cache_hits), ...Object.keys(s.cache_misses)])].sort()
  row("Compile requests", s.compile_requests)
  row("Compile requests executed", t.requestsExecuted)
  row("Cache hits", sum(s.cache_hits))
  for (const l of Object.keys(s.cache_hits).sort()) row(`Cache hits (${l})`, s.cache_hits[l]!)
  if (advanced) for (const [n, v] of advRows("Cache hits", s.adv_cache_hits)) row(n, v)
  row("Cache misses", sum(s.cache_misses))
  for (const l of Object.keys(s.cache_misses).sort()) row(`Cache misses (${l})`, s.cache_misses[l]!)
  if (advanced) for (const [n, v] of advRows("Cache misses", s.adv_cache_misses)) row(n, v)
  row("Cache hits rate", rate(sum(s.cache_hits), sum(s.cache_misses)))
  for (const l of langs) row(`Cache hits rate (${l})`, rate(s.cache_hits[l] ?? 0, s.cache_misses[l] ?? 0))
  row("Direct hits", sum(s.direct_hits))
  row("Preprocessor hits", sum(s.preprocessor_hits))
  row("Cache timeouts", t.timeouts)
  row("Cache read errors", t.readErrors)
  row("Forced recaches", s.forced_recaches)
  row("Cache write errors", t.writeErrors)
  row("Cache errors", sum(t.errors))
  for (const l of Object.keys(t.errors).sort()) row(`Cache errors (${l})`, t.errors[l]!)
  row("Compilations", s.compilations)
  row("Compilation failures", s.compile_fails)
  row("Non-cacheable compilations", s.non_cacheable_compilations)
  row("Non-cacheable calls", s.non_cacheable_calls)
  row("Non-compilation calls", s.non_compilation_calls)
  row("Unsupported compiler calls", s.unsupported_compiler_calls)
  row("Average cache write", seconds(s.cache_write_duration))
  row("Average compiler", seconds(s.compiler_write_duration))
  row("Average cache read hit", seconds(s.cache_read_hit_duration))
  row("Average output write", seconds(s.output_write_duration))
  row("Failed distributed compilations", 0)
  for (const [level, c] of Object.entries(s.levels).sort()) {
    row(`Storage ${level}`, `hits ${c.hits}, misses ${c.misses}, errors ${c.errors}, timeouts ${c.timeouts}, writes ${c.writes}, write errors ${c.writeErrors}, too large ${c.tooLarge}`)
  }
  const width = Math.max(...rows.map(([n]) => n.length), "Use direct/preprocessor mode?".length) + 2
  const lines = rows.map(([n, v]) => `${n.padEnd(width)}${v}`)
  const reasons = Object.entries(s.not_cached).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  if (reasons.length > 0) {
    lines.push("", "Non-cacheable reasons:")
    const rw = Math.max(...reasons.map(([n]) => n.length)) + 2
    for (const [n, v] of reasons) lines.push(`${n.padEnd(rw)}${v}`)
  }
  lines.push(
    "",
    `${"Cache location".padEnd(width)}${r.cache_location}`,
    `${"Base directories".padEnd(width)}${r.basedirs.length === 0 ? "-" : r.basedirs.join(", ")}`,
    `${"Use direct/preprocessor mode?".padEnd(width)}${r.use_preprocessor_cache_mode ? "yes" : "no"}`,
    `${"Version (client)".padEnd(width)}${r.version}`,
    `${"Cache size".padEnd(width)}${formatSize(r.cache_size)}`,
    `${"Max cache size".padEnd(width)}${formatSize(r.max_cache_size)}`
  )
  return lines.join("\n") + "\n"
}

/** sccache's Duration: the total, in whole seconds and the nanoseconds beyond them. */
export const duration = (t: Timing): { secs: number; nanos: number } => {
  const nanos = Math.round(t.totalMs * 1e6)
  return { secs: Math.floor(nanos / 1e9), nanos: nanos % 1e9 }
}

/**
 * Pure: `--stats-format json`, field for field as sccache 0.4 prints it (same names, same order,
 * durations as `{secs, nanos}` totals), then newer sccache's fields (`adv_counts`, `version`,
 * `basedirs`, `use_preprocessor_cache_mode`) and sccache-ts's own counters.
 */
export const formatStatsJson = (r: StatsReport): string => {
  const s = r.stats
  const t = totals(s)
  const counts = (m: Record<string, number>, adv: Record<string, number> = {}) => ({ counts: m, adv_counts: adv })
  return JSON.stringify({
    stats: {
      compile_requests: s.compile_requests,
      requests_unsupported_compiler: s.unsupported_compiler_calls,
      requests_not_compile: s.non_compilation_calls,
      requests_not_cacheable: s.non_cacheable_calls,
      requests_executed: t.requestsExecuted,
      cache_errors: counts(t.errors),
      cache_hits: counts(s.cache_hits, s.adv_cache_hits),
      cache_misses: counts(s.cache_misses, s.adv_cache_misses),
      cache_timeouts: t.timeouts,
      cache_read_errors: t.readErrors,
      non_cacheable_compilations: s.non_cacheable_compilations,
      forced_recaches: s.forced_recaches,
      cache_write_errors: t.writeErrors,
      cache_writes: s.cache_writes,
      cache_write_duration: duration(s.cache_write_duration),
      cache_read_hit_duration: duration(s.cache_read_hit_duration),
      compiler_write_duration: duration(s.compiler_write_duration),
      compile_fails: s.compile_fails,
      not_cached: s.not_cached,
      // No distributed compilation in sccache-ts: always empty, for dashboards that read them.
      dist_compiles: {},
      dist_errors: 0,
      // sccache-ts's own.
      compilations: s.compilations,
      direct_hits: counts(s.direct_hits),
      preprocessor_hits: counts(s.preprocessor_hits),
      output_write_duration: duration(s.output_write_duration),
      levels: s.levels
    },
    cache_location: r.cache_location,
    cache_size: r.cache_size,
    max_cache_size: r.max_cache_size,
    use_preprocessor_cache_mode: r.use_preprocessor_cache_mode,
    version: r.version,
    basedirs: r.basedirs
  }) + "\n"
}
