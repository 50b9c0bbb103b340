import type { StatsSnapshot, Timing } from "./Stats.ts"

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

/** Pure: the `--show-stats` text, with sccache's field names and order. */
export const formatStatsText = (r: StatsReport): string => {
  const s = r.stats
  const rows: Array<[string, string]> = []
  const row = (name: string, value: string | number) => rows.push([name, String(value)])
  const langs = [...new Set([...Object.keys(s.cache_hits), ...Object.keys(s.cache_misses)])].sort()
  row("Compile requests", s.compile_requests)
  row("Compile requests executed", s.requests_executed)
  row("Cache hits", sum(s.cache_hits))
  for (const l of Object.keys(s.cache_hits).sort()) row(`Cache hits (${l})`, s.cache_hits[l]!)
  row("Cache misses", sum(s.cache_misses))
  for (const l of Object.keys(s.cache_misses).sort()) row(`Cache misses (${l})`, s.cache_misses[l]!)
  row("Cache hits rate", rate(sum(s.cache_hits), sum(s.cache_misses)))
  for (const l of langs) row(`Cache hits rate (${l})`, rate(s.cache_hits[l] ?? 0, s.cache_misses[l] ?? 0))
  row("Direct hits", sum(s.direct_hits))
  row("Preprocessor hits", sum(s.preprocessor_hits))
  row("Cache timeouts", s.cache_timeouts)
  row("Cache read errors", s.cache_read_errors)
  row("Forced recaches", s.forced_recaches)
  row("Cache write errors", s.cache_write_errors)
  row("Cache errors", sum(s.cache_errors))
  for (const l of Object.keys(s.cache_errors).sort()) row(`Cache errors (${l})`, s.cache_errors[l]!)
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

/** Pure: `--stats-format json`, in sccache's shape (`stats.cache_hits.counts`, …). */
export const formatStatsJson = (r: StatsReport): string => {
  const s = r.stats
  const { adv, ...plain } = s
  const counts = (m: keyof typeof adv) => ({ counts: s[m], adv_counts: adv[m] })
  return JSON.stringify({
    stats: {
      ...plain,
      cache_hits: counts("cache_hits"),
      cache_misses: counts("cache_misses"),
      direct_hits: counts("direct_hits"),
      preprocessor_hits: counts("preprocessor_hits"),
      cache_errors: counts("cache_errors")
    },
    cache_location: r.cache_location,
    basedirs: r.basedirs,
    use_preprocessor_cache_mode: r.use_preprocessor_cache_mode,
    cache_size: r.cache_size,
    max_cache_size: r.max_cache_size,
    version: r.version
  }) + "\n"
}
