import { describe, expect, it } from "vitest"
import * as path from "node:path"
import { parseCommand } from "../../src/client/Commands.ts"
import { ConfigError, parseDaemonSettings, parseSize } from "../../src/config/Config.ts"
import { socketPath } from "../../src/config/SocketPath.ts"
import { emptyStats } from "../../src/stats/Stats.ts"
import { formatStatsJson, formatStatsText } from "../../src/stats/StatsFormat.ts"

describe("configuration", () => {
  it("reads sizes in sccache's binary units", () => {
    expect(parseSize("10G")).toBe(10 * 1024 ** 3)
    expect(parseSize("512M")).toBe(512 * 1024 ** 2)
    expect(parseSize("1.5K")).toBe(1536)
    expect(parseSize("4096")).toBe(4096)
    expect(parseSize("lots")).toBeUndefined()
    expect(parseSize("0")).toBeUndefined()
  })

  it("has sccache's defaults and names the variable that is wrong", () => {
    const s = parseDaemonSettings({ HOME: "/home/u" })
    expect(s).toMatchObject({ cacheDir: "/home/u/.cache/sccache-ts", maxCacheSize: 10 * 1024 ** 3, idleTimeoutSeconds: 600, direct: true, recache: false })
    expect(parseDaemonSettings({ SCCACHE_CACHE_SIZE: "big" })).toMatchObject({ _tag: "ConfigError", variable: "SCCACHE_CACHE_SIZE" })
    expect(parseDaemonSettings({ SCCACHE_IDLE_TIMEOUT: "-1" })).toBeInstanceOf(ConfigError)
    // sccache accepts a relative directory: the working directory's (the client sends it absolute).
    expect(parseDaemonSettings({ SCCACHE_DIR: "relative/dir" })).toMatchObject({ cacheDir: path.resolve("relative/dir") })
    expect(parseDaemonSettings({ SCCACHE_LOG: "DEBUG" })).toMatchObject({ logLevel: "debug" })
    expect(parseDaemonSettings({ SCCACHE_LOG: "sccache=trace" })).toMatchObject({ logLevel: "trace" })
    expect(parseDaemonSettings({ SCCACHE_DIRECT: "false" })).toMatchObject({ direct: false })
    expect(parseDaemonSettings({ SCCACHE_RECACHE: "1" })).toMatchObject({ recache: true })
  })

  it("puts the socket where the issue says", () => {
    const uid = process.getuid!()
    expect(socketPath({ SCCACHE_SERVER_UDS: "/x/s.sock" })).toBe("/x/s.sock")
    expect(socketPath({ XDG_RUNTIME_DIR: "/run/user/1" })).toBe("/run/user/1/sccache-ts/daemon.sock")
    expect(socketPath({ TMPDIR: "/scratch" })).toBe(`/scratch/sccache-ts-${uid}/daemon.sock`)
    expect(socketPath({})).toBe(`/tmp/sccache-ts-${uid}/daemon.sock`)
  })
})

describe("commands", () => {
  it("parses sccache's flags", () => {
    expect(parseCommand(["-s"])).toEqual({ _tag: "ShowStats", format: "text", advanced: false })
    expect(parseCommand(["--show-adv-stats"])).toEqual({ _tag: "ShowStats", format: "text", advanced: true })
    expect(parseCommand(["--show-stats", "--stats-format", "json"])).toEqual({ _tag: "ShowStats", format: "json", advanced: false })
    expect(parseCommand(["--stats-format=json", "--stop-server"])).toEqual({ _tag: "StopServer", format: "json" })
    expect(parseCommand(["-z"])).toEqual({ _tag: "ZeroStats" })
    expect(parseCommand(["--start-server"])).toEqual({ _tag: "StartServer" })
    expect(parseCommand(["--version"])).toEqual({ _tag: "Version" })
  })

  it("refuses bad usage with a message", () => {
    expect(parseCommand([])).toMatchObject({ _tag: "UsageError" })
    expect(parseCommand(["--bogus"])).toMatchObject({ _tag: "UsageError", message: expect.stringContaining("--bogus") })
    expect(parseCommand(["-s", "-z"])).toMatchObject({ _tag: "UsageError" })
    expect(parseCommand(["-s", "--stats-format", "xml"])).toMatchObject({ _tag: "UsageError" })
  })
})

describe("stats formats", () => {
  const stats = emptyStats()
  stats.compile_requests = 4
  stats.cache_hits = { "C/C++": 1 }
  stats.cache_misses = { "C/C++": 3 }
  stats.not_cached = { linking: 2 }
  const report = { stats, cache_location: 'Local disk: "/c"', basedirs: ["/b"], use_preprocessor_cache_mode: true, cache_size: 2048, max_cache_size: 10 * 1024 ** 3, version: "0.1.0" }

  it("prints sccache's field names, rates and sizes", () => {
    const text = formatStatsText(report)
    expect(text).toMatch(/^Compile requests\s+4$/m)
    expect(text).toMatch(/^Cache hits \(C\/C\+\+\)\s+1$/m)
    expect(text).toMatch(/^Cache hits rate\s+25\.00 %$/m)
    expect(text).toMatch(/^Non-cacheable reasons:\nlinking\s+2$/m)
    expect(text).toMatch(/^Cache location\s+Local disk: "\/c"$/m)
    expect(text).toMatch(/^Cache size\s+2\.0 KiB$/m)
    expect(text).toMatch(/^Base directories\s+\/b$/m)
    expect(text).toMatch(/^Use direct\/preprocessor mode\?\s+yes$/m)
    expect(text).toMatch(/^Max cache size\s+10\.0 GiB$/m)
  })

  it("shapes JSON as sccache does", () => {
    const json = JSON.parse(formatStatsJson(report))
    expect(json.stats.cache_hits.counts).toEqual({ "C/C++": 1 })
    expect(json.stats.compile_requests).toBe(4)
    expect(json.cache_location).toBe('Local disk: "/c"')
  })
})
