import * as fs from "node:fs"
import * as path from "node:path"
import { parse, TomlError } from "smol-toml"
import { ConfigError, type Env, homeDir } from "./Config.ts"
import { unsupportedVariables, variableForKey } from "./Variables.ts"

/** `SCCACHE_CONF`, else sccache's place on Linux: `$XDG_CONFIG_HOME/sccache/config` (`~/.config/…`). */
export const configFilePath = (env: Env): string => {
  const explicit = env["SCCACHE_CONF"]
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit)
  return path.join(env["XDG_CONFIG_HOME"] || path.join(homeDir(env), ".config"), "sccache", "config")
}

export interface FileSettings {
  /** The file's settings as the variables that mean the same, so one parser serves both. */
  readonly vars: Readonly<Record<string, string>>
  /** Keys sccache-ts does not act on (`cache.gha.url`, `dist.scheduler_url`, …). */
  readonly unsupported: ReadonlyArray<string>
}

const isTable = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Date)

/** Leaves of the TOML document as dotted keys: `cache.disk.dir`. Arrays are values. */
const leaves = (table: Record<string, unknown>, prefix = ""): Array<[string, unknown]> =>
  Object.entries(table).flatMap(([k, value]) =>
    isTable(value) ? leaves(value, `${prefix}${k}.`) : [[`${prefix}${k}`, value] as [string, unknown]]
  )

/** A TOML value as a variable would spell it; arrays of paths join with `:`, as SCCACHE_BASEDIRS does. */
const asText = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "number" || typeof value === "bigint") return String(value)
  if (typeof value === "boolean") return value ? "true" : "false"
  if (Array.isArray(value) && value.every((x) => typeof x === "string")) return value.join(":")
  return undefined
}

/** Pure: sccache's TOML config file as variables, plus the keys sccache-ts does not support. */
export const parseConfigFile = (text: string, file: string): FileSettings | ConfigError => {
  let doc: Record<string, unknown>
  try {
    doc = parse(text)
  } catch (e) {
    const where = e instanceof TomlError ? ` at line ${e.line}, column ${e.column}` : ""
    return new ConfigError({ variable: "SCCACHE_CONF", message: `${file} is not valid TOML${where}` })
  }
  const vars: Record<string, string> = {}
  const unsupported: Array<string> = []
  for (const [key, value] of leaves(doc)) {
    const known = variableForKey(key)
    if (known === undefined || !known.supported) {
      unsupported.push(key)
      continue
    }
    const text = asText(value)
    if (text === undefined) {
      return new ConfigError({ variable: known.name, message: `${file}: ${key} has a value of the wrong type` })
    }
    vars[known.name] = text
  }
  return { vars, unsupported }
}

export interface LoadedConfig {
  /** The environment over the file's settings: a variable always wins, as in sccache. */
  readonly env: Env
  /** Every setting given that sccache-ts does not act on: variables, then file keys. */
  readonly unsupported: ReadonlyArray<string>
}

/** The config file and the environment, merged; a missing file is no file, as for sccache. */
export const loadConfig = (env: Env, read: (file: string) => string = (f) => fs.readFileSync(f, "utf8")): LoadedConfig | ConfigError => {
  const file = configFilePath(env)
  let text: string | undefined
  try {
    text = read(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      return new ConfigError({ variable: "SCCACHE_CONF", message: `cannot read ${file}: ${(e as Error).message}` })
    }
  }
  const parsed = text === undefined ? { vars: {}, unsupported: [] } : parseConfigFile(text, file)
  if (parsed instanceof ConfigError) return parsed
  const merged: Record<string, string | undefined> = { ...parsed.vars }
  for (const [k, value] of Object.entries(env)) if (value !== undefined) merged[k] = value
  // A file that names a place sccache-ts cannot read is a setting lost: say so.
  const missing = text === undefined && env["SCCACHE_CONF"] ? [`SCCACHE_CONF (${file}: no such file)`] : []
  return { env: merged, unsupported: [...unsupportedVariables(env), ...parsed.unsupported, ...missing] }
}

export { absolutePaths } from "./PathVariables.ts"

/** The environment over the config file, or the environment alone when the file is broken (the daemon reports it). */
export const withConfigFile = (env: Env): Env => {
  const loaded = loadConfig(env)
  return loaded instanceof ConfigError ? env : loaded.env
}
