import { Context, Data, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly variable: string; readonly message: string }> {}

export type Env = Readonly<Record<string, string | undefined>>

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace"

/** What the daemon reads from its environment when it starts. */
export interface DaemonSettings {
  readonly cacheDir: string
  readonly maxCacheSize: number
  readonly idleTimeoutSeconds: number
  readonly recache: boolean
  readonly logLevel: LogLevel
  readonly errorLog: string | undefined
  readonly direct: boolean
  /** Absolute directories whose paths are made relative in keys, longest first. */
  readonly basedirs: ReadonlyArray<string>
  /** zstd level of new entries (`SCCACHE_CACHE_ZSTD_LEVEL`). */
  readonly zstdLevel: number
}

export const DEFAULT_ZSTD_LEVEL = 3

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/** `10G`, `512M`, `1.5T`, `4096`: sccache's units (powers of 1024). */
export const parseSize = (text: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text)
  if (m === null) return undefined
  const n = Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!)
  return n > 0 ? n : undefined
}

/** sccache treats a set variable as true unless it says otherwise. */
export const parseBool = (value: string | undefined, fallback: boolean): boolean | undefined => {
  if (value === undefined) return fallback
  const v = value.trim().toLowerCase()
  if (v === "" || v === "1" || v === "true" || v === "yes" || v === "on") return true
  if (v === "0" || v === "false" || v === "no" || v === "off") return false
  return undefined
}

const LEVELS: ReadonlyArray<LogLevel> = ["error", "warn", "info", "debug", "trace"]

export const parseLogLevel = (value: string | undefined): LogLevel | undefined => {
  if (value === undefined || value.trim() === "") return "warn"
  // sccache accepts env_logger filters such as `sccache=debug`; the last level named wins.
  const parts = value.toLowerCase().split(/[,=]/).map((s) => s.trim())
  for (let i = parts.length - 1; i >= 0; i--) {
    const level = parts[i] as LogLevel
    if (LEVELS.includes(level)) return level
  }
  return undefined
}

export const homeDir = (env: Env): string => env["HOME"] ?? os.homedir()

export const defaultCacheDir = (env: Env): string =>
  path.join(env["XDG_CACHE_HOME"] ?? path.join(homeDir(env), ".cache"), "sccache-ts")

/**
 * sccache keeps its entries in `<dir>/<hex>/<hex>/<key>`. If it also uses our directory, it counts
 * our `sccache-ts-v1/` subfolder in its size and evicts from it (we never touch its files): say so
 * once at start, since each cache then misses more and sccache's limit covers both.
 */
export const sharedWithSccache = (dir: string): string | undefined => {
  const hex = "0123456789abcdef".split("")
  // Not throwing for the usual absence: 16 exceptions were 3 ms of a daemon's start.
  const shared = hex.some((d) => {
    try {
      return fs.statSync(path.join(dir, d), { throwIfNoEntry: false })?.isDirectory() === true
    } catch {
      return false
    }
  })
  return shared
    ? `${dir} is also sccache's cache: sccache counts sccache-ts's entries in its size and may evict them (they are only misses then); give each its own SCCACHE_DIR`
    : undefined
}

/** `SCCACHE_BASEDIRS`: absolute directories separated by `:` (or `;`, as sccache accepts). */
export const parseBasedirs = (value: string | undefined): ReadonlyArray<string> | ConfigError => {
  const dirs = (value ?? "").split(/[:;]/).map((d) => d.trim()).filter((d) => d !== "")
  const relative = dirs.find((d) => !path.isAbsolute(d))
  if (relative !== undefined) {
    return new ConfigError({ variable: "SCCACHE_BASEDIRS", message: `"${relative}" is not an absolute path` })
  }
  // Longest first, so the most specific base wins.
  return [...new Set(dirs.map((d) => path.resolve(d)))].sort((a, b) => b.length - a.length)
}

/** Pure: the daemon's settings from an environment, or the first variable that is wrong. */
export const parseDaemonSettings = (env: Env): DaemonSettings | ConfigError => {
  // A relative directory is the client's: it sends it absolute to the daemon it starts, as sccache resolves it.
  const dir = env["SCCACHE_DIR"]
  const port = env["SCCACHE_SERVER_PORT"]
  if (port !== undefined && port !== "" && !(/^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65536)) {
    return new ConfigError({ variable: "SCCACHE_SERVER_PORT", message: `not a port number: "${port}"` })
  }
  const levelText = env["SCCACHE_CACHE_ZSTD_LEVEL"]
  const zstdLevel = levelText === undefined || levelText.trim() === "" ? DEFAULT_ZSTD_LEVEL : Number(levelText)
  if (!Number.isInteger(zstdLevel) || zstdLevel < 1 || zstdLevel > 22) {
    return new ConfigError({ variable: "SCCACHE_CACHE_ZSTD_LEVEL", message: `not a zstd level from 1 to 22: "${levelText}"` })
  }
  const sizeText = env["SCCACHE_CACHE_SIZE"]
  const maxCacheSize = sizeText === undefined ? 10 * 1024 ** 3 : parseSize(sizeText)
  if (maxCacheSize === undefined) {
    return new ConfigError({ variable: "SCCACHE_CACHE_SIZE", message: `not a size (like 10G, 500M): "${sizeText}"` })
  }
  const idleText = env["SCCACHE_IDLE_TIMEOUT"]
  const idleTimeoutSeconds = idleText === undefined || idleText === "" ? 600 : Number(idleText)
  if (!Number.isInteger(idleTimeoutSeconds) || idleTimeoutSeconds < 0) {
    return new ConfigError({ variable: "SCCACHE_IDLE_TIMEOUT", message: `not a number of seconds: "${idleText}"` })
  }
  const logLevel = parseLogLevel(env["SCCACHE_LOG"])
  if (logLevel === undefined) {
    return new ConfigError({ variable: "SCCACHE_LOG", message: `not a level (error, warn, info, debug, trace): "${env["SCCACHE_LOG"]}"` })
  }
  const direct = parseBool(env["SCCACHE_DIRECT"], true)
  if (direct === undefined) {
    return new ConfigError({ variable: "SCCACHE_DIRECT", message: `not a boolean: "${env["SCCACHE_DIRECT"]}"` })
  }
  const basedirs = parseBasedirs(env["SCCACHE_BASEDIRS"])
  if (basedirs instanceof ConfigError) return basedirs
  return {
    basedirs,
    cacheDir: dir !== undefined && dir !== "" ? path.resolve(dir) : defaultCacheDir(env),
    maxCacheSize,
    idleTimeoutSeconds,
    recache: env["SCCACHE_RECACHE"] !== undefined,
    logLevel,
    errorLog: env["SCCACHE_ERROR_LOG"] || undefined,
    direct,
    zstdLevel
  }
}

/** The daemon's configuration, read once at start. */
export class DaemonConfig extends Context.Service<DaemonConfig, DaemonSettings>()("sccache-ts/config/DaemonConfig") {
  static readonly fromEnv = (env: Env) =>
    Layer.effect(DaemonConfig, Effect.suspend(() => {
      const settings = parseDaemonSettings(env)
      return settings instanceof ConfigError ? Effect.fail(settings) : Effect.succeed(settings)
    }))
}
