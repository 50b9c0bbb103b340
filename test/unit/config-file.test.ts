import { it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { stringify } from "smol-toml"
import { describe, expect } from "vitest"
import { decodeEntry, encodeEntry } from "../../src/cache/CacheEntry.ts"
import { withExtraFiles } from "../../src/cache/CKey.ts"
import { parseBackendSettings, redactUrl } from "../../src/config/BackendConfig.ts"
import { ConfigError, type Env, parseDaemonSettings, sharedWithSccache } from "../../src/config/Config.ts"
import { configFilePath, loadConfig, parseConfigFile } from "../../src/config/ConfigFile.ts"
import { absolutePaths } from "../../src/config/PathVariables.ts"
import { socketPath } from "../../src/config/SocketPath.ts"
import { unsupportedNotice, unsupportedVariables, VARIABLES } from "../../src/config/Variables.ts"
import { localDiskStores } from "../../src/storage/StorageLayer.ts"

const ROOT = path.resolve(import.meta.dirname, "../..")

/** A file system of one file, for loadConfig. */
const reader = (files: Record<string, string>) => (file: string): string => {
  const text = files[file]
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" })
  return text
}

const loaded = (env: Env, files: Record<string, string>) => {
  const r = loadConfig(env, reader(files))
  if (r instanceof ConfigError) throw new Error(`${r.variable}: ${r.message}`)
  return r
}

const FULL = `
server_startup_timeout_ms = 15000
basedirs = ["/home/ci/a", "/home/ci/b"]

[cache.disk]
dir = "/var/cache/sc"
size = 7516192768
rw_mode = "READ_ONLY"

[cache.disk.preprocessor_cache_mode]
use_preprocessor_cache_mode = false
file_stat_matches = true

[cache.redis]
endpoint = "redis://10.0.0.1:6380"
username = "ci"
password = "p@ss"
db = 2
expiration = 3600
key_prefix = "/team/"

[cache.s3]
bucket = "b"
endpoint = "minio:9000"
use_ssl = false
key_prefix = "s3p"
server_side_encryption = true

[cache.memcached]
endpoint = "tcp://127.0.0.1:11211"
expiration = 60

[cache.gcs]
bucket = "g"
cred_path = "/k.json"
rw_mode = "READ_WRITE"

[cache.gha]
url = "http://localhost"

[dist]
scheduler_url = "http://1.2.3.4:10600"
`

describe("sccache's config file", () => {
  it("maps every section and key sccache-ts supports to the variable that means the same", () => {
    const r = parseConfigFile(FULL, "/c")
    expect(r).not.toBeInstanceOf(ConfigError)
    const { vars } = r as Exclude<typeof r, ConfigError>
    expect(vars).toEqual({
      SCCACHE_SERVER_STARTUP_TIMEOUT_MS: "15000",
      SCCACHE_BASEDIRS: "/home/ci/a:/home/ci/b",
      SCCACHE_DIR: "/var/cache/sc",
      SCCACHE_CACHE_SIZE: "7516192768",
      SCCACHE_LOCAL_RW_MODE: "READ_ONLY",
      SCCACHE_DIRECT: "false",
      SCCACHE_REDIS_ENDPOINT: "redis://10.0.0.1:6380",
      SCCACHE_REDIS_USERNAME: "ci",
      SCCACHE_REDIS_PASSWORD: "p@ss",
      SCCACHE_REDIS_DB: "2",
      SCCACHE_REDIS_EXPIRATION: "3600",
      SCCACHE_REDIS_KEY_PREFIX: "/team/",
      SCCACHE_BUCKET: "b",
      SCCACHE_ENDPOINT: "minio:9000",
      SCCACHE_S3_USE_SSL: "false",
      SCCACHE_S3_KEY_PREFIX: "s3p",
      SCCACHE_MEMCACHED_ENDPOINT: "tcp://127.0.0.1:11211",
      SCCACHE_MEMCACHED_EXPIRATION: "60",
      SCCACHE_GCS_BUCKET: "g",
      SCCACHE_GCS_KEY_PATH: "/k.json",
      SCCACHE_GCS_RW_MODE: "READ_WRITE"
    })
  })

  it("names the keys it does not act on, never dropping one in silence", () => {
    const r = parseConfigFile(FULL, "/c") as { unsupported: ReadonlyArray<string> }
    expect([...r.unsupported].sort()).toEqual([
      "cache.disk.preprocessor_cache_mode.file_stat_matches",
      "cache.gha.url",
      "cache.s3.server_side_encryption",
      "dist.scheduler_url"
    ])
  })

  it("gives the settings it parses the meaning of the variables", () => {
    const { env } = loaded({ SCCACHE_CONF: "/c", HOME: "/h" }, { "/c": FULL })
    expect(parseDaemonSettings(env)).toMatchObject({
      cacheDir: "/var/cache/sc",
      maxCacheSize: 7516192768,
      direct: false,
      basedirs: ["/home/ci/a", "/home/ci/b"]
    })
    const backends = parseBackendSettings(env)
    expect(backends).toMatchObject({ localReadOnly: true, ignored: ["redis", "memcached", "gcs"] })
    expect((backends as Exclude<typeof backends, ConfigError>).levels[1]).toMatchObject({ kind: "s3", bucket: "b", endpoint: "http://minio:9000", keyPrefix: "s3p" })
  })

  it("lets the environment override the file, as sccache does", () => {
    const file = `[cache.disk]\ndir = "/from/file"\nsize = 1000\n[cache.redis]\nendpoint = "redis://file:1"\n`
    const { env } = loaded({ SCCACHE_CONF: "/c", SCCACHE_DIR: "/from/env", SCCACHE_REDIS_ENDPOINT: "redis://env:2" }, { "/c": file })
    expect(env["SCCACHE_DIR"]).toBe("/from/env")
    expect(env["SCCACHE_CACHE_SIZE"]).toBe("1000")
    expect(env["SCCACHE_REDIS_ENDPOINT"]).toBe("redis://env:2")
  })

  it.prop("a variable always wins over the file's key", [Schema.String, Schema.String], ([fromFile, fromEnv]) => {
    // A file is UTF-8 text: it cannot hold a lone surrogate.
    if (/\p{Surrogate}/u.test(fromFile)) return
    const file = stringify({ cache: { redis: { key_prefix: fromFile } } })
    const { env } = loaded({ SCCACHE_CONF: "/c", SCCACHE_REDIS_KEY_PREFIX: fromEnv }, { "/c": file })
    expect(env["SCCACHE_REDIS_KEY_PREFIX"]).toBe(fromEnv)
    expect(loaded({ SCCACHE_CONF: "/c" }, { "/c": file }).env["SCCACHE_REDIS_KEY_PREFIX"]).toBe(fromFile)
  }, { arbitrary: { runs: 100, seed: 11 } })

  it("looks in SCCACHE_CONF, else ~/.config/sccache/config; a missing default file is no file", () => {
    expect(configFilePath({ HOME: "/h" })).toBe("/h/.config/sccache/config")
    expect(configFilePath({ HOME: "/h", XDG_CONFIG_HOME: "/x" })).toBe("/x/sccache/config")
    expect(configFilePath({ SCCACHE_CONF: "/etc/sc.toml" })).toBe("/etc/sc.toml")
    expect(loaded({ HOME: "/h" }, {}).unsupported).toEqual([])
    expect(loaded({ HOME: "/h" }, { "/h/.config/sccache/config": `[cache.disk]\ndir = "/d"\n` }).env["SCCACHE_DIR"]).toBe("/d")
    // Named but missing: a setting lost, so it is reported.
    expect(loaded({ SCCACHE_CONF: "/nope" }, {}).unsupported).toEqual(["SCCACHE_CONF (/nope: no such file)"])
  })

  it("refuses a file that is not TOML or has a value of the wrong type, naming where", () => {
    expect(loadConfig({ SCCACHE_CONF: "/c" }, reader({ "/c": "[cache.disk\ndir = 1" }))).toMatchObject({
      _tag: "ConfigError",
      variable: "SCCACHE_CONF",
      message: expect.stringMatching(/\/c is not valid TOML at line 1/)
    })
    expect(parseConfigFile(`[cache.disk]\ndir = [1, 2]\n`, "/c")).toMatchObject({ _tag: "ConfigError", variable: "SCCACHE_DIR" })
  })
})

describe("sccache's variables", () => {
  it("names every sccache variable sccache-ts does not support, and any other SCCACHE_ name", () => {
    const env: Env = {
      SCCACHE_GHA_ENABLED: "true",
      SCCACHE_AZURE_CONNECTION_STRING: "x",
      SCCACHE_WEBDAV_ENDPOINT: "http://w",
      SCCACHE_OSS_BUCKET: "o",
      SCCACHE_COS_BUCKET: "c",
      SCCACHE_REDIS_CLUSTER_ENDPOINTS: "redis://a,redis://b",
      SCCACHE_DIRR: "/typo",
      SCCACHE_DIR: "/d",
      SCCACHE_REDIS_ENDPOINT: "redis://h",
      SCCACHE_SERVER_PORT: "4226",
      PATH: "/bin"
    }
    expect(unsupportedVariables(env)).toEqual([
      "SCCACHE_AZURE_CONNECTION_STRING",
      "SCCACHE_COS_BUCKET",
      "SCCACHE_DIRR",
      "SCCACHE_GHA_ENABLED",
      "SCCACHE_OSS_BUCKET",
      "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
      "SCCACHE_WEBDAV_ENDPOINT"
    ])
    expect(unsupportedNotice(unsupportedVariables(env))).toMatch(/^not supported by sccache-ts, ignored: SCCACHE_AZURE_CONNECTION_STRING, .*SCCACHE_WEBDAV_ENDPOINT$/)
    expect(unsupportedNotice([])).toBeUndefined()
  })

  it("has a row for every SCCACHE_ variable the sources read, and the docs name every row", () => {
    const used = new Set<string>()
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (p.endsWith(".ts") && e.name !== "Variables.ts") for (const m of fs.readFileSync(p, "utf8").matchAll(/"(SCCACHE_[A-Z0-9_]+)"/g)) used.add(m[1]!)
      }
    }
    walk(path.join(ROOT, "src"))
    const supported = new Set(VARIABLES.filter((v) => v.supported).map((v) => v.name))
    expect([...used].filter((name) => !supported.has(name))).toEqual([])
    const docs = fs.readFileSync(path.join(ROOT, "docs", "configuration.md"), "utf8")
    expect(VARIABLES.map((v) => v.name).filter((name) => !docs.includes(`\`${name}\``))).toEqual([])
  })

  it("gives SCCACHE_SERVER_PORT a daemon of its own, and rejects a port that is not one", () => {
    const base = { TMPDIR: "/t" }
    expect(socketPath({ ...base, SCCACHE_SERVER_PORT: "4227" })).not.toBe(socketPath(base))
    expect(socketPath({ ...base, SCCACHE_SERVER_PORT: "4227" })).not.toBe(socketPath({ ...base, SCCACHE_SERVER_PORT: "4228" }))
    // An explicit socket is the socket, port or not.
    expect(socketPath({ SCCACHE_SERVER_UDS: "/s/x.sock", SCCACHE_SERVER_PORT: "4227" })).toBe("/s/x.sock")
    expect(parseDaemonSettings({ SCCACHE_SERVER_PORT: "../x" })).toMatchObject({ variable: "SCCACHE_SERVER_PORT" })
    expect(parseDaemonSettings({ SCCACHE_SERVER_PORT: "70000" })).toMatchObject({ variable: "SCCACHE_SERVER_PORT" })
  })

  it("reads the zstd level from 1 to 22, 3 by default", () => {
    expect(parseDaemonSettings({})).toMatchObject({ zstdLevel: 3 })
    expect(parseDaemonSettings({ SCCACHE_CACHE_ZSTD_LEVEL: "19" })).toMatchObject({ zstdLevel: 19 })
    for (const bad of ["0", "23", "fast"]) {
      expect(parseDaemonSettings({ SCCACHE_CACHE_ZSTD_LEVEL: bad })).toMatchObject({ variable: "SCCACHE_CACHE_ZSTD_LEVEL" })
    }
  })

  it("stores entries at that zstd level", async () => {
    // Text that compresses better the harder zstd tries.
    const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i % 97} ${(i * 7919) % 1000}\n`).join(""))
    const entry = { exitCode: 0, stdout: new Uint8Array(), stderr: text, files: [{ role: "obj", mode: 0o644, data: text }] }
    const fast = await encodeEntry("k", entry, 1)
    const small = await encodeEntry("k", entry, 19)
    if (fast instanceof Error || small instanceof Error) throw new Error("too large")
    expect(small.length).toBeLessThan(fast.length)
    for (const blob of [fast, small]) {
      const back = await decodeEntry("k", blob)
      if (back instanceof Error) throw back
      expect(Buffer.from(back.stderr).equals(text)).toBe(true)
    }
  })

  it("makes path variables absolute against the client's directory, leaving the rest", () => {
    expect(absolutePaths({ SCCACHE_DIR: "c", SCCACHE_CONF: "../sc.toml", SCCACHE_BUCKET: "b" }, "/w/p")).toEqual({
      SCCACHE_DIR: "/w/p/c",
      SCCACHE_CONF: "/w/sc.toml",
      SCCACHE_BUCKET: "b"
    })
  })

  it("keys SCCACHE_EXTRAFILES by the files' contents, not their names", () => {
    const digests: Record<string, string> = { "/w/a.txt": "d1", "/w/b.txt": "d2", "/x/c.txt": "d1" }
    const digestOf = (f: string) => digests[f]
    expect(withExtraFiles({ SCCACHE_EXTRAFILES: "a.txt:b.txt" }, "/w", digestOf)).toEqual({ SCCACHE_EXTRAFILES: "d1,d2" })
    // Another name with the same content: the same key input.
    expect(withExtraFiles({ SCCACHE_EXTRAFILES: "/x/c.txt" }, "/w", digestOf)).toEqual(withExtraFiles({ SCCACHE_EXTRAFILES: "a.txt" }, "/w", digestOf))
    expect(withExtraFiles({ SCCACHE_EXTRAFILES: "a.txt:gone" }, "/w", digestOf)).toEqual({ missing: "gone" })
    const env = { PATH: "/bin" }
    expect(withExtraFiles(env, "/w", digestOf)).toBe(env)
  })
})

describe("a directory shared with sccache", () => {
  it("is recognised by sccache's entry folders, and only by them", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-shared-"))
    fs.mkdirSync(path.join(dir, "sccache-ts-v1"))
    expect(sharedWithSccache(dir)).toBeUndefined()
    fs.mkdirSync(path.join(dir, "b"))
    expect(sharedWithSccache(dir)).toMatch(/is also sccache's cache: sccache counts sccache-ts's entries/)
    expect(sharedWithSccache(path.join(dir, "missing"))).toBeUndefined()
  })

  it("is not the default: sccache-ts's own directory is not sccache's", () => {
    expect(parseDaemonSettings({ HOME: "/h" })).toMatchObject({ cacheDir: "/h/.cache/sccache-ts" })
  })
})

describe("storage levels", () => {
  const kinds = (env: Env) => {
    const s = parseBackendSettings(env)
    if (s instanceof ConfigError) throw new Error(`${s.variable}: ${s.message}`)
    return s.levels.map((l) => (l === "disk" ? l : l.kind))
  }
  const remoteOf = (env: Env) => {
    const s = parseBackendSettings(env)
    if (s instanceof ConfigError) throw new Error(`${s.variable}: ${s.message}`)
    return s.levels.find((l) => l !== "disk")
  }
  const remotes = { SCCACHE_BUCKET: "b", SCCACHE_REDIS_ENDPOINT: "redis://h", SCCACHE_MEMCACHED_ENDPOINT: "tcp://m:1" }

  it("follows SCCACHE_MULTILEVEL_CHAIN's order and uses only what it names", () => {
    expect(kinds({ ...remotes, SCCACHE_MULTILEVEL_CHAIN: "disk,redis,s3" })).toEqual(["disk", "redis", "s3"])
    expect(kinds({ ...remotes, SCCACHE_MULTILEVEL_CHAIN: "memcached, disk" })).toEqual(["memcached", "disk"])
    expect(parseBackendSettings({ ...remotes, SCCACHE_MULTILEVEL_CHAIN: "redis" })).toMatchObject({ ignored: ["s3", "memcached"] })
  })

  it("refuses a chain naming a level that is not configured, unknown, or twice", () => {
    for (const chain of ["disk,gcs", "disk,azure", "disk,disk", " , "]) {
      expect(parseBackendSettings({ ...remotes, SCCACHE_MULTILEVEL_CHAIN: chain })).toMatchObject({ variable: "SCCACHE_MULTILEVEL_CHAIN" })
    }
  })

  it("lets the daemon keep files of its own in the local cache only when that level stores", () => {
    expect(localDiskStores({})).toBe(true)
    expect(localDiskStores({ SCCACHE_LOCAL_RW_MODE: "READ_ONLY" })).toBe(false)
    expect(localDiskStores({ ...remotes, SCCACHE_MULTILEVEL_CHAIN: "redis" })).toBe(false)
    expect(localDiskStores({ SCCACHE_LOCAL_RW_MODE: "RO" })).toBe(false)
  })

  it("reads SCCACHE_LOCAL_RW_MODE", () => {
    expect(parseBackendSettings({ SCCACHE_LOCAL_RW_MODE: "READ_ONLY" })).toMatchObject({ localReadOnly: true })
    expect(parseBackendSettings({ SCCACHE_LOCAL_RW_MODE: "read_write" })).toMatchObject({ localReadOnly: false })
    expect(parseBackendSettings({ SCCACHE_LOCAL_RW_MODE: "RO" })).toMatchObject({ variable: "SCCACHE_LOCAL_RW_MODE" })
  })

  it("takes the Redis database from sccache's `?db=` form too", () => {
    expect(remoteOf({ SCCACHE_REDIS: "redis://u:p@h:6379/?db=4" })).toMatchObject({ db: 4, password: "p" })
    expect(remoteOf({ SCCACHE_REDIS: "redis://h/3" })).toMatchObject({ db: 3 })
  })
})

describe("credentials in URLs", () => {
  it("never echo a malformed SCCACHE_REDIS's password (issue 10)", () => {
    const e = parseBackendSettings({ SCCACHE_REDIS: "redis://admin:hunter2@:6379" })
    expect(e).toBeInstanceOf(ConfigError)
    expect((e as ConfigError).message).not.toContain("hunter2")
    expect((e as ConfigError).message).toContain("admin:***@")
    const s3 = parseBackendSettings({ SCCACHE_BUCKET: "b", SCCACHE_ENDPOINT: "http://key:secret@bad host" })
    expect((s3 as ConfigError).message).not.toContain("secret")
  })

  it("hide the password and keep the rest", () => {
    expect(redactUrl("redis://u:p@h:1/0")).toBe("redis://u:***@h:1/0")
    expect(redactUrl("redis://:p@h")).toBe("redis://:***@h")
    expect(redactUrl("https://token@h/x")).toBe("https://***@h/x")
    expect(redactUrl("redis://h:1")).toBe("redis://h:1")
  })

  it.prop("hide any password, even one holding @, : or /", [Schema.String.check(Schema.isMinLength(4))], ([password]) => {
    const shown = redactUrl(`redis://user:${password}@host:6379/0`)
    expect(shown).toBe("redis://user:***@host:6379/0")
  }, { arbitrary: { runs: 200, seed: 3 } })
})
