import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { emptyLevel, emptyStats, type StatsSnapshot } from "../../src/stats/Stats.ts"
import { duration, formatStatsJson, formatStatsText, type StatsReport } from "../../src/stats/StatsFormat.ts"

/** What sccache 0.4 printed after two misses, a hit, `-E`, a link and a two-input compile (see its README). */
const FIXTURE = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../fixtures/sccache-0.4/stats.json"), "utf8"))

const report = (stats: StatsSnapshot): StatsReport => ({
  stats,
  cache_location: 'Local disk: "/c"',
  basedirs: [],
  use_preprocessor_cache_mode: true,
  cache_size: 949,
  max_cache_size: 10 * 1024 ** 3,
  version: "0.1.0"
})

/** The counters sccache-ts keeps after the same six compiles. */
const sameCompiles = (): StatsSnapshot => {
  const s = emptyStats()
  s.compile_requests = 6
  s.cache_hits = { "C/C++": 1 }
  s.cache_misses = { "C/C++": 2 }
  s.adv_cache_hits = { "C/C++ [gcc]": 1 }
  s.adv_cache_misses = { "C/C++ [gcc]": 2 }
  s.non_cacheable_calls = 2
  s.non_compilation_calls = 1
  s.not_cached = { "-E": 1, "multiple input files": 1 }
  s.cache_writes = 2
  s.compilations = 2
  s.cache_write_duration = { count: 4, totalMs: 1.888191 }
  s.cache_read_hit_duration = { count: 1, totalMs: 0.001153 }
  s.compiler_write_duration = { count: 2, totalMs: 53.111158 }
  return s
}

/** A value's shape: numbers and strings by type, objects by their keys' shapes. */
const shape = (v: unknown): unknown =>
  v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : typeof v

describe("--stats-format json", () => {
  const json = JSON.parse(formatStatsJson(report(sameCompiles())))

  it("has sccache 0.4's fields in its order, sccache-ts's own after them", () => {
    const ours = Object.keys(json.stats)
    const theirs = Object.keys(FIXTURE.stats)
    expect(ours.slice(0, theirs.length)).toEqual(theirs)
    expect(ours.slice(theirs.length)).toEqual(["compilations", "direct_hits", "preprocessor_hits", "output_write_duration", "levels"])
    expect(Object.keys(json).slice(0, Object.keys(FIXTURE).length)).toEqual(Object.keys(FIXTURE))
  })

  it("gives each of sccache's fields sccache's shape (counts objects, {secs, nanos} durations)", () => {
    // Extra keys (adv_counts) are allowed inside; none of sccache's may be missing or differ in type.
    for (const [field, value] of Object.entries(FIXTURE.stats)) {
      expect({ [field]: shape(json.stats[field]) }).toMatchObject({ [field]: shape(value) })
    }
    // Counts per language, and newer sccache's per-family adv_counts beside them.
    expect(json.stats.cache_hits).toEqual({ counts: { "C/C++": 1 }, adv_counts: { "C/C++ [gcc]": 1 } })
    expect(json.stats.cache_errors).toEqual({ counts: {}, adv_counts: {} })
  })

  it("counts the same compiles as sccache 0.4 did", () => {
    for (const field of ["compile_requests", "requests_unsupported_compiler", "requests_not_compile", "requests_not_cacheable", "requests_executed", "cache_writes", "cache_timeouts", "cache_read_errors", "cache_write_errors", "forced_recaches", "compile_fails", "dist_errors"]) {
      expect([field, json.stats[field]]).toEqual([field, FIXTURE.stats[field]])
    }
    expect(json.stats.cache_hits.counts).toEqual(FIXTURE.stats.cache_hits.counts)
    expect(json.stats.cache_misses.counts).toEqual(FIXTURE.stats.cache_misses.counts)
    expect(json.stats.not_cached).toEqual(FIXTURE.stats.not_cached)
    expect(json.stats.dist_compiles).toEqual(FIXTURE.stats.dist_compiles)
    expect(json.stats.cache_write_duration).toEqual(FIXTURE.stats.cache_write_duration)
    expect(json.stats.compiler_write_duration).toEqual(FIXTURE.stats.compiler_write_duration)
  })

  it("writes durations as sccache's total {secs, nanos}", () => {
    expect(duration({ count: 3, totalMs: 1500.5 })).toEqual({ secs: 1, nanos: 500_500_000 })
    expect(duration({ count: 0, totalMs: 0 })).toEqual({ secs: 0, nanos: 0 })
    expect(duration({ count: 1, totalMs: 2999.9999999 })).toEqual({ secs: 3, nanos: 0 })
  })
})

describe("errors of every storage level", () => {
  /** A remote behind a working disk: its failures are misses for the compiles, counted on its level. */
  const failingRemote = (): StatsSnapshot => {
    const s = sameCompiles()
    s.levels = { disk: { ...emptyLevel(), misses: 2, writes: 2 }, redis: { ...emptyLevel(), errors: 2, timeouts: 1, writeErrors: 2 } }
    return s
  }

  it("count in Cache errors, Cache read errors, Cache write errors and Cache timeouts", () => {
    const text = formatStatsText(report(failingRemote()))
    expect(text).toMatch(/^Cache errors\s+2$/m)
    expect(text).toMatch(/^Cache errors \(storage: redis\)\s+2$/m)
    expect(text).toMatch(/^Cache read errors\s+2$/m)
    expect(text).toMatch(/^Cache write errors\s+2$/m)
    expect(text).toMatch(/^Cache timeouts\s+1$/m)
    const json = JSON.parse(formatStatsJson(report(failingRemote())))
    expect(json.stats.cache_errors.counts).toEqual({ "storage: redis": 2 })
    expect(json.stats.cache_write_errors).toBe(2)
  })

  it("count a failing first level's write once, though the entry cache sees it too", () => {
    const s = sameCompiles()
    s.cache_write_errors = 1
    s.levels = { disk: { ...emptyLevel(), writeErrors: 1 }, redis: { ...emptyLevel(), writeErrors: 1 } }
    expect(JSON.parse(formatStatsJson(report(s))).stats.cache_write_errors).toBe(2)
    // Without levels (the disk alone), the entry cache's count is the count.
    const alone = sameCompiles()
    alone.cache_write_errors = 1
    expect(JSON.parse(formatStatsJson(report(alone))).stats.cache_write_errors).toBe(1)
  })

  it("leave requests_executed to the compiles the cache handled, as sccache", () => {
    const s = sameCompiles()
    s.cache_errors = { "C/C++": 1 }
    expect(JSON.parse(formatStatsJson(report(s))).stats.requests_executed).toBe(1 + 2 + 1)
  })
})

describe("--show-adv-stats", () => {
  it("adds hits and misses per compiler family, which --show-stats leaves out", () => {
    const adv = formatStatsText(report(sameCompiles()), true)
    expect(adv).toMatch(/^Cache hits \(C\/C\+\+ \[gcc\]\)\s+1$/m)
    expect(adv).toMatch(/^Cache misses \(C\/C\+\+ \[gcc\]\)\s+2$/m)
    expect(formatStatsText(report(sameCompiles()))).not.toContain("[gcc]")
  })
})
