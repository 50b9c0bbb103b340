/**
 * A team's sccache setup, unchanged, through the built binary: sccache's config file (with the
 * test Redis on 127.0.0.1), its variables (a port for a separate daemon, read-only disk, no-cache,
 * extra files, a relative directory), every unsupported setting named, and the JSON stats beside
 * those of the real sccache 0.4 after the same compiles.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import { BIN, have, ROOT, run, type Sandbox, sandboxesPerTest, total } from "../support/harness.ts"
import { freePort } from "../support/processes.ts"

const backends = inject("backends")
/** Daemons connect to loopback only, as the tests do. */
const GUARD = { NODE_OPTIONS: `--import=${path.join(ROOT, "test", "support", "network-guard.ts")}` }

const newSandbox = sandboxesPerTest(GUARD)
const sandbox = (env: NodeJS.ProcessEnv = {}) => {
  const sb = newSandbox(env)
  sb.write("a.c", "int a(void) { return 1; }\n")
  sb.write("b.c", "int b(void) { return 2; }\n")
  sb.write("m.c", "int main(void) { return 0; }\n")
  return sb
}

const compile = (sb: Sandbox, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const r = sb.sccache(["gcc", ...args], { env })
  expect(r.stderr.toString()).toBe("")
  expect(r.code).toBe(0)
  return r
}

/** A config file in the sandbox, named by SCCACHE_CONF. */
const configFile = (sb: Sandbox, toml: string): string => {
  const file = path.join(sb.dir, "..", "sccache.toml")
  fs.writeFileSync(file, toml)
  return file
}

const entriesIn = (dir: string): number =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length : 0

describe("sccache's config file", () => {
  it("sets up Redis from [cache.redis]: a second machine with an empty disk hits from it", () => {
    const prefix = `cfg-${randomBytes(4).toString("hex")}`
    const toml = `[cache.redis]\nendpoint = "${backends.redisUrl}"\nkey_prefix = "${prefix}"\n`
    const a = sandbox()
    const confA = configFile(a, toml)
    compile(a, ["-c", "a.c", "-o", "a.o"], { SCCACHE_CONF: confA })
    a.stop()
    const b = sandbox()
    const confB = configFile(b, toml)
    b.write("a.c", "int a(void) { return 1; }\n")
    compile(b, ["-c", "a.c", "-o", "a.o"], { SCCACHE_CONF: confB })
    const s = b.sccache(["--show-stats", "--stats-format", "json"], { env: { SCCACHE_CONF: confB } })
    const json = JSON.parse(s.stdout.toString())
    expect(json.cache_location).toMatch(/Redis: redis:\/\/127\.0\.0\.1:\d+\/0/)
    expect(total(json.stats.cache_hits)).toBe(1)
    expect(json.stats.levels.redis.hits).toBeGreaterThanOrEqual(1)
    expect(fs.readFileSync(path.join(a.dir, "a.o")).equals(fs.readFileSync(path.join(b.dir, "a.o")))).toBe(true)
  })

  it("lets a variable override the file's key, as sccache does", () => {
    const prefix = `cfg-${randomBytes(4).toString("hex")}`
    const a = sandbox()
    const conf = configFile(a, `[cache.redis]\nendpoint = "${backends.redisUrl}"\nkey_prefix = "${prefix}"\n`)
    compile(a, ["-c", "a.c", "-o", "a.o"], { SCCACHE_CONF: conf })
    a.stop()
    // Same file, another prefix from the environment: a second machine finds nothing.
    const b = sandbox({ SCCACHE_CONF: conf, SCCACHE_REDIS_KEY_PREFIX: `${prefix}-other` })
    compile(b, ["-c", "a.c", "-o", "a.o"])
    const s = b.stats()
    expect(total(s.stats.cache_hits)).toBe(0)
    expect(s.stats.levels["redis"]!.misses).toBeGreaterThanOrEqual(1)
  })

  it("names every unsupported setting, variable or key, in one line of --show-stats and of the log", () => {
    const sb = sandbox({ SCCACHE_GHA_ENABLED: "true", SCCACHE_AZURE_BLOB_CONTAINER: "c" })
    const conf = configFile(sb, `[cache.disk]\nsize = "1G"\n[cache.webdav]\nendpoint = "http://127.0.0.1:1/dav"\n`)
    const env = { SCCACHE_CONF: conf }
    const line = "not supported by sccache-ts, ignored: SCCACHE_AZURE_BLOB_CONTAINER, SCCACHE_GHA_ENABLED, cache.webdav.endpoint"
    // With no daemon running, and from the daemon.
    expect(sb.sccache(["--show-stats"], { env }).stdout.toString()).toContain(line)
    compile(sb, ["-c", "a.c", "-o", "a.o"], env)
    const text = sb.sccache(["--show-stats"], { env }).stdout.toString()
    expect(text).toMatch(new RegExp(`^Cache location .*\\(${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)$`, "m"))
    expect(text).toMatch(/^Max cache size\s+1\.0 GiB$/m)
    sb.stop()
    const log = fs.readFileSync(sb.env["SCCACHE_ERROR_LOG"]!, "utf8")
    expect(log.split("\n").filter((l) => l.includes(line))).toHaveLength(1)
  })
})

describe("sccache's variables", () => {
  it("SCCACHE_SERVER_PORT: each port is a separate daemon with its own settings", async () => {
    const sb = sandbox()
    // No explicit socket: each port's goes under TMPDIR (a private, short one: sun_path has 108 bytes).
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "p-"))
    const [p1, p2] = [await freePort(), await freePort()]
    const one = { SCCACHE_SERVER_UDS: "", TMPDIR: tmp, SCCACHE_SERVER_PORT: String(p1), SCCACHE_DIR: path.join(tmp, "c1") }
    const two = { SCCACHE_SERVER_UDS: "", TMPDIR: tmp, SCCACHE_SERVER_PORT: String(p2), SCCACHE_DIR: path.join(tmp, "c2") }
    try {
      compile(sb, ["-c", "a.c", "-o", "a.o"], one)
      compile(sb, ["-c", "a.c", "-o", "a.o"], two)
      compile(sb, ["-c", "b.c", "-o", "b.o"], two)
      const stats = (env: NodeJS.ProcessEnv) => JSON.parse(sb.sccache(["--show-stats", "--stats-format", "json"], { env }).stdout.toString())
      expect(stats(one).stats.compile_requests).toBe(1)
      expect(stats(one).cache_location).toContain(path.join(tmp, "c1"))
      expect(stats(two).stats.compile_requests).toBe(2)
      expect(stats(two).cache_location).toContain(path.join(tmp, "c2"))
    } finally {
      sb.sccache(["--stop-server"], { env: one })
      sb.sccache(["--stop-server"], { env: two })
    }
  })

  it("a relative SCCACHE_DIR is the client's directory's, as in sccache (it used to disable the cache)", () => {
    const sb = sandbox({ SCCACHE_DIR: "rel-cache" })
    compile(sb, ["-c", "a.c", "-o", "a.o"])
    compile(sb, ["-c", "a.c", "-o", "a2.o"])
    const s = sb.stats()
    expect(total(s.stats.cache_hits)).toBe(1)
    expect(s.cache_location).toBe(`Local disk: "${path.join(sb.dir, "rel-cache")}"`)
    expect(entriesIn(path.join(sb.dir, "rel-cache", "sccache-ts-v1"))).toBeGreaterThan(0)
  })

  it("SCCACHE_LOCAL_RW_MODE=READ_ONLY serves what is there and stores nothing", () => {
    const sb = sandbox()
    compile(sb, ["-c", "a.c", "-o", "a.o"])
    sb.stop()
    const cacheDir = path.join(sb.env["SCCACHE_DIR"]!, "sccache-ts-v1")
    const before = entriesIn(cacheDir)
    const ro = { SCCACHE_LOCAL_RW_MODE: "READ_ONLY" }
    compile(sb, ["-c", "a.c", "-o", "a2.o"], ro)
    compile(sb, ["-c", "b.c", "-o", "b.o"], ro)
    compile(sb, ["-c", "b.c", "-o", "b2.o"], ro)
    const s = JSON.parse(sb.sccache(["--show-stats", "--stats-format", "json"], { env: ro }).stdout.toString())
    expect(total(s.stats.cache_hits)).toBe(1)
    expect(total(s.stats.cache_misses)).toBe(2)
    expect(s.stats.cache_writes).toBe(0)
    expect(entriesIn(cacheDir)).toBe(before)
  })

  it("SCCACHE_NO_CACHE runs that compile as a plain one, counted, nothing stored", () => {
    const sb = sandbox()
    compile(sb, ["-c", "a.c", "-o", "a.o"], { SCCACHE_NO_CACHE: "1" })
    compile(sb, ["-c", "a.c", "-o", "a2.o"])
    const s = sb.stats()
    expect(s.stats.not_cached).toEqual({ SCCACHE_NO_CACHE: 1 })
    expect(s.stats.requests_not_cacheable).toBe(1)
    expect(total(s.stats.cache_hits)).toBe(0)
    expect(total(s.stats.cache_misses)).toBe(1)
    expect(fs.readFileSync(path.join(sb.dir, "a.o")).equals(fs.readFileSync(path.join(sb.dir, "a2.o")))).toBe(true)
  })

  it("SCCACHE_EXTRAFILES keys on the files' contents", () => {
    const sb = sandbox()
    const extra = sb.write("extra.txt", "one\n")
    const env = { SCCACHE_EXTRAFILES: "extra.txt" }
    compile(sb, ["-c", "a.c", "-o", "a.o"], env)
    compile(sb, ["-c", "a.c", "-o", "a.o"], env)
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
    fs.writeFileSync(extra, "two\n")
    compile(sb, ["-c", "a.c", "-o", "a.o"], env)
    expect(total(sb.stats().stats.cache_misses)).toBe(2)
    // The same content under another name is the same key.
    sb.write("copy.txt", "two\n")
    compile(sb, ["-c", "a.c", "-o", "a.o"], { SCCACHE_EXTRAFILES: "copy.txt" })
    expect(total(sb.stats().stats.cache_hits)).toBe(2)
    compile(sb, ["-c", "a.c", "-o", "a.o"], { SCCACHE_EXTRAFILES: "missing.txt" })
    expect(sb.stats().stats.not_cached).toEqual({ "SCCACHE_EXTRAFILES: cannot read missing.txt": 1 })
  })

  it("a remote that fails behind the disk shows in Cache errors, not only in its level's row", async () => {
    const port = await freePort()
    const sb = sandbox({ SCCACHE_REDIS_ENDPOINT: `redis://127.0.0.1:${port}` })
    compile(sb, ["-c", "a.c", "-o", "a.o"])
    compile(sb, ["-c", "b.c", "-o", "b.o"])
    const text = sb.sccache(["--show-stats"]).stdout.toString()
    const errors = Number(/^Cache errors\s+(\d+)$/m.exec(text)?.[1])
    expect(errors).toBeGreaterThanOrEqual(1)
    expect(text).toMatch(/^Cache errors \(storage: redis\)\s+\d+$/m)
  })
})

describe("--stats-format json beside the real sccache 0.4", () => {
  /** The compiles of test/fixtures/sccache-0.4: two misses, a hit, -E, a link, two inputs. */
  const compiles = (cmd: string, prefix: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) => {
    for (const args of [["-c", "a.c", "-o", "a.o"], ["-c", "b.c", "-o", "b.o"], ["-c", "a.c", "-o", "a2.o"], ["-E", "a.c"], ["m.c", "-o", "m"], ["-c", "a.c", "b.c"]]) {
      run(cmd, [...prefix, "gcc", ...args], { cwd, env })
    }
  }

  // sccache is a test dependency only here; a machine without it (CI installs it) skips this one.
  it.skipIf(!have("sccache"))("prints the same fields in the same order, with the same counts", async () => {
    const sb = sandbox()
    const real = path.join(sb.dir, "..", "real")
    fs.mkdirSync(real)
    for (const f of ["a.c", "b.c", "m.c"]) fs.copyFileSync(path.join(sb.dir, f), path.join(real, f))
    const sccacheEnv = { PATH: process.env["PATH"], HOME: real, SCCACHE_DIR: path.join(real, "cache"), SCCACHE_SERVER_PORT: String(await freePort()), SCCACHE_IDLE_TIMEOUT: "30", LC_ALL: "C" }
    let theirs: { stats: Record<string, unknown> } & Record<string, unknown>
    try {
      compiles("sccache", [], real, sccacheEnv)
      theirs = JSON.parse(run("sccache", ["--show-stats", "--stats-format", "json"], { cwd: real, env: sccacheEnv }).stdout.toString())
    } finally {
      run("sccache", ["--stop-server"], { cwd: real, env: sccacheEnv })
    }
    compiles(BIN, [], sb.dir, sb.env)
    const ours = sb.stats() as unknown as { stats: Record<string, unknown> } & Record<string, unknown>
    const theirKeys = Object.keys(theirs.stats)
    expect(Object.keys(ours.stats).slice(0, theirKeys.length)).toEqual(theirKeys)
    for (const k of Object.keys(theirs)) expect(ours).toHaveProperty(k)
    for (const k of ["compile_requests", "requests_unsupported_compiler", "requests_not_compile", "requests_executed", "cache_writes", "cache_write_errors", "cache_read_errors", "cache_timeouts", "compile_fails", "dist_errors"]) {
      expect([k, ours.stats[k]]).toEqual([k, theirs.stats[k]])
    }
    for (const k of ["cache_hits", "cache_misses", "cache_errors"]) {
      expect([k, (ours.stats[k] as { counts: unknown }).counts]).toEqual([k, (theirs.stats[k] as { counts: unknown }).counts])
    }
    // The reasons' wording is each tool's own; their number is the same.
    expect(ours.stats["requests_not_cacheable"]).toBe(theirs.stats["requests_not_cacheable"])
    for (const k of ["cache_write_duration", "cache_read_hit_duration", "compiler_write_duration"]) {
      expect(Object.keys(ours.stats[k] as object)).toEqual(["secs", "nanos"])
    }
  })
})

describe("why a compile missed", () => {
  it("--explain names the header, argument and variable that changed; the debug log names the header of a real miss", () => {
    const sb = sandbox()
    sb.write("inc/v.h", "#define V 1\n")
    sb.write("v.c", '#include "v.h"\nint v(void) { return V; }\n')
    const args = ["-c", "v.c", "-Iinc", "-o", "v.o"]
    const explain = (extra: ReadonlyArray<string> = [], env: NodeJS.ProcessEnv = {}) =>
      sb.sccache(["--explain", "gcc", ...args, ...extra], { env }).stdout.toString()
    compile(sb, args)
    expect(explain()).toMatch(/^hit: no input of v\.c changed since the compile of result [0-9a-f]{64}/)
    sb.write("inc/v.h", "#define V 2\n")
    expect(explain().split("\n")[0]).toBe("miss: the header inc/v.h changed")
    expect(explain(["-O2"], { SCCACHE_C_CUSTOM_CACHE_BUSTER: "v2" }).split("\n").slice(0, 3)).toEqual([
      "miss: the header inc/v.h changed",
      "miss: argument -O2 added",
      'miss: the variable SCCACHE_C_CUSTOM_CACHE_BUSTER changed: unset → "v2"'
    ])
    // The manifest of the closest compile, its header marked.
    expect(explain()).toMatch(/^manifest [0-9a-f]{64}: 1 candidate\n {2}1\. result [0-9a-f]{64}\n(?: {5}.*\n)* {5}changed inc\/v\.h$/m)
    compile(sb, args)
    expect(total(sb.stats().stats.cache_misses)).toBe(2)
    expect(sb.sccache(["--debug-preprocessor-cache"]).stdout.toString()).toMatch(/2 candidates/)
    sb.stop()
    const log = fs.readFileSync(sb.env["SCCACHE_ERROR_LOG"]!, "utf8")
    expect(log).toMatch(/cache miss for \S*v\.c: no earlier compile of v\.c is known/)
    expect(log).toMatch(/cache miss for \S*v\.c: the header inc\/v\.h changed/)
  })

  it("--explain without a daemon says nothing is known, and refuses a compiler it cannot find", () => {
    const sb = sandbox()
    expect(sb.sccache(["--explain", "gcc", "-c", "a.c"]).stdout.toString()).toBe("no daemon is running: nothing is known about earlier compiles\n")
    const r = sb.sccache(["--explain", "no-such-cc", "-c", "a.c"])
    expect(r.code).toBe(2)
    expect(r.stderr.toString()).toBe('sccache-ts: error: cannot find compiler "no-such-cc"\n')
  })
})

describe("a directory shared with sccache", () => {
  // The real sccache is what evicts; a machine without it (CI installs it) skips this one.
  it.skipIf(!have("sccache"))("sccache evicts sccache-ts's entries there (only misses follow), and the daemon warns of it", async () => {
    const sb = sandbox()
    const cacheDir = sb.env["SCCACHE_DIR"]!
    compile(sb, ["-c", "a.c", "-o", "a.o"])
    compile(sb, ["-c", "b.c", "-o", "b.o"])
    sb.stop()
    const ours = path.join(cacheDir, "sccache-ts-v1")
    const before = entriesIn(ours)
    // A real sccache on the same directory, with a limit below what sccache-ts keeps there.
    const env = { PATH: process.env["PATH"], HOME: sb.dir, SCCACHE_DIR: cacheDir, SCCACHE_CACHE_SIZE: "1K", SCCACHE_SERVER_PORT: String(await freePort()), SCCACHE_IDLE_TIMEOUT: "30" }
    try {
      expect(run("sccache", ["gcc", "-c", "m.c", "-o", "m.o"], { cwd: sb.dir, env }).code).toBe(0)
    } finally {
      run("sccache", ["--stop-server"], { cwd: sb.dir, env })
    }
    expect(entriesIn(ours)).toBeLessThan(before)
    // sccache-ts still compiles right: a plain compile's object, counted as a miss, no error.
    compile(sb, ["-c", "a.c", "-o", "a2.o"])
    expect(run("gcc", ["-c", "a.c", "-o", "plain.o"], { cwd: sb.dir }).code).toBe(0)
    expect(fs.readFileSync(path.join(sb.dir, "a2.o")).equals(fs.readFileSync(path.join(sb.dir, "plain.o")))).toBe(true)
    const s = sb.stats()
    expect(total(s.stats.cache_misses)).toBe(1)
    expect(total(s.stats.cache_errors)).toBe(0)
    sb.stop()
    expect(fs.readFileSync(sb.env["SCCACHE_ERROR_LOG"]!, "utf8")).toContain(`${cacheDir} is also sccache's cache`)
  })
})

describe("SCCACHE_MULTILEVEL_CHAIN", () => {
  it("uses the levels it names, in its order: Redis alone, then Redis in front of the disk", () => {
    const prefix = `chain-${randomBytes(4).toString("hex")}`
    const remote = { SCCACHE_REDIS_ENDPOINT: backends.redisUrl, SCCACHE_REDIS_KEY_PREFIX: prefix }
    const alone = sandbox({ ...remote, SCCACHE_MULTILEVEL_CHAIN: "redis" })
    compile(alone, ["-c", "a.c", "-o", "a.o"])
    const s = alone.stats()
    expect(s.cache_location).toMatch(/^Redis: /)
    expect(Object.keys(s.stats.levels)).toEqual(["redis"])
    expect(entriesIn(path.join(alone.env["SCCACHE_DIR"]!, "sccache-ts-v1"))).toBe(0)
    alone.stop()
    const front = sandbox({ ...remote, SCCACHE_MULTILEVEL_CHAIN: "redis,disk" })
    compile(front, ["-c", "a.c", "-o", "a.o"])
    const t = front.stats()
    expect(t.cache_location).toMatch(/^Multi-level: Redis: .*; Local disk: /)
    expect(total(t.stats.cache_hits)).toBe(1)
    expect(t.stats.levels["redis"]!.hits).toBeGreaterThanOrEqual(1)
    expect(t.stats.levels["disk"]?.hits ?? 0).toBe(0)
  })
})
