/**
 * The client/daemon contract, with real processes: start-up races, a daemon that dies, stale
 * sockets, idle exit, another build's daemon, a broken cache, and bad usage.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"
import { BIN, daemonPids, run, runAsync, type Sandbox, sandboxesPerTest, settledDaemonPids, total } from "../support/harness.ts"

const newSandbox = sandboxesPerTest()
const sandbox = (env: NodeJS.ProcessEnv = {}) => {
  const sb = newSandbox(env)
  sb.write("a.c", "int a(void) { return 1; }\n")
  return sb
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A compiler that takes its time: gcc behind a sleep. */
const slowCompiler = (sb: Sandbox, seconds: number): string => {
  const p = path.join(sb.dir, "slowcc")
  // Only real compiles are slow; the daemon's probes of the compiler are not.
  fs.writeFileSync(p, `#!/bin/sh\ncase " $* " in *" -c "*) sleep ${seconds};; esac\nexec gcc "$@"\n`, { mode: 0o755 })
  return p
}

const rawRequest = (socket: string, request: unknown) =>
  new Promise<unknown>((resolve, reject) => {
    const conn = net.createConnection(socket, () => conn.write(encodeFrame(request)))
    const reader = new FrameReader()
    conn.on("data", (chunk) => {
      const frames = reader.push(chunk)
      if (isBadFrame(frames)) reject(new Error(frames.badFrame))
      else if (frames.length > 0) {
        resolve(frames[0])
        conn.destroy()
      }
    })
    conn.on("error", reject)
  })

describe("daemon life cycle", () => {
  it("starts exactly one daemon when many clients arrive at once on a cold machine, on Bun and on Node alike", async () => {
    const sb = sandbox()
    for (let i = 0; i < 12; i++) sb.write(`f${i}.c`, `int f${i}(void) { return ${i}; }\n`)
    // Every other client on Node: clients of both runtimes racing still start one daemon.
    const env = (i: number) => (i % 2 === 0 ? sb.env : { ...sb.env, SCCACHE_TS_RUNTIME: "node" })
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => runAsync(BIN, ["gcc", "-c", `f${i}.c`], { cwd: sb.dir, env: env(i) })))
    expect(runs.map((r) => r.code)).toEqual(Array(12).fill(0))
    for (let i = 0; i < 12; i++) expect(fs.existsSync(path.join(sb.dir, `f${i}.o`))).toBe(true)
    expect(await settledDaemonPids(sb)).toHaveLength(1)
    const log = fs.readFileSync(path.join(path.dirname(sb.dir), "daemon.log"), "utf8")
    expect(log.match(/listening on/g)).toHaveLength(1)
    expect(sb.stats().stats.compile_requests).toBe(12)
  })

  it("creates the socket directory 0700 and the socket 0600", () => {
    const sb = sandbox()
    sb.sccache(["--start-server"])
    expect(fs.statSync(path.dirname(sb.socket)).mode & 0o777).toBe(0o700)
    expect(fs.statSync(sb.socket).mode & 0o777).toBe(0o600)
  })

  it("refuses a socket directory that others can write to", () => {
    const sb = sandbox()
    fs.mkdirSync(path.dirname(sb.socket), { mode: 0o777 })
    fs.chmodSync(path.dirname(sb.socket), 0o777)
    const r = sb.sccache(["--start-server"])
    expect(r.code).toBe(2)
    expect(r.stderr.toString()).toMatch(/^sccache-ts: error: .*writable by others/)
    // A compile still works: it just runs without the cache.
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(true)
  })

  it("falls back to a local compile when the daemon dies mid-compile", async () => {
    const sb = sandbox()
    const slow = slowCompiler(sb, 2)
    sb.sccache(["--start-server"])
    const [pid] = daemonPids(sb)
    const compile = runAsync(BIN, [slow, "-c", "a.c", "-o", "slow.o"], { cwd: sb.dir, env: sb.env })
    await sleep(700)
    process.kill(pid!, "SIGKILL")
    const r = await compile
    expect(r.code).toBe(0)
    expect(fs.readFileSync(path.join(sb.dir, "slow.o"))).toEqual(
      (run("gcc", ["-c", "a.c", "-o", "ref.o"], { cwd: sb.dir }), fs.readFileSync(path.join(sb.dir, "ref.o")))
    )
  })

  it("replaces the stale socket a killed daemon left behind", async () => {
    const sb = sandbox()
    sb.sccache(["--start-server"])
    const [pid] = await settledDaemonPids(sb)
    process.kill(pid!, "SIGKILL")
    // Dead, not dying: a compile that reaches a daemon as the kill lands loses its connection and
    // compiles by itself (a zombie's state is Z: nobody reaps here).
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
      } catch {
        return false
      }
    }
    for (const end = Date.now() + 5000; running() && Date.now() < end;) await sleep(20)
    expect(running()).toBe(false)
    expect(fs.existsSync(sb.socket)).toBe(true)
    const compiled = sb.sccache(["gcc", "-c", "a.c"])
    expect(compiled.code).toBe(0)
    const now = await settledDaemonPids(sb)
    // If the new daemon is gone, its log says how far it got.
    expect(now, `stderr: ${compiled.stderr}; log: ${fs.readFileSync(sb.env["SCCACHE_ERROR_LOG"]!, "utf8")}`).toHaveLength(1)
    expect(now[0]).not.toBe(pid)
    expect(sb.stats().stats.compile_requests).toBe(1)
  })

  it("exits when idle, but never while a compile is running", async () => {
    const sb = sandbox({ SCCACHE_IDLE_TIMEOUT: "1" })
    const slow = slowCompiler(sb, 1.2)
    const compile = runAsync(BIN, [slow, "-c", "a.c", "-o", "slow.o"], { cwd: sb.dir, env: sb.env })
    await sleep(1800)
    expect(daemonPids(sb)).toHaveLength(1)
    expect((await compile).code).toBe(0)
    await sleep(2000)
    expect(daemonPids(sb)).toHaveLength(0)
    expect(fs.existsSync(sb.socket)).toBe(false)
  })

  it("a daemon of another build steps aside, and the client starts its own", async () => {
    const sb = sandbox()
    sb.sccache(["--start-server"])
    const [old] = daemonPids(sb)
    const reply = await rawRequest(sb.socket, { type: "stats", build: "0.0.0+another" })
    expect(reply).toMatchObject({ type: "version-mismatch" })
    await sleep(300)
    expect(daemonPids(sb)).not.toContain(old)
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    expect(sb.stats().stats.compile_requests).toBe(1)
  })

  it("--stop-server prints the final stats and stops it", () => {
    const sb = sandbox()
    sb.sccache(["gcc", "-c", "a.c"])
    const r = sb.sccache(["--stop-server"])
    expect(r.stdout.toString()).toMatch(/^Compile requests\s+1$/m)
    expect(daemonPids(sb)).toHaveLength(0)
    // With no daemon, stats are zeros and none is started.
    expect(sb.stats().stats.compile_requests).toBe(0)
    expect(daemonPids(sb)).toHaveLength(0)
  })

  it("--zero-stats zeroes the counters", () => {
    const sb = sandbox()
    sb.sccache(["gcc", "-c", "a.c"])
    expect(sb.sccache(["--zero-stats"]).stdout.toString()).toBe("Statistics zeroed.\n")
    expect(sb.stats().stats.compile_requests).toBe(0)
  })
})

describe("never breaks a build", () => {
  it("a bad configuration still compiles, and counts the error", () => {
    const sb = sandbox({ SCCACHE_CACHE_SIZE: "lots" })
    const r = sb.sccache(["gcc", "-c", "a.c"])
    expect(r.code).toBe(0)
    expect(r.stderr.toString()).toBe("")
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(true)
    const s = sb.stats()
    expect(total(s.stats.cache_errors)).toBe(1)
    expect(s.cache_location).toMatch(/SCCACHE_CACHE_SIZE/)
  })

  it("an unusable cache directory still compiles, and counts the error", () => {
    const sb = sandbox()
    const file = path.join(path.dirname(sb.dir), "not-a-dir")
    fs.writeFileSync(file, "")
    const env = { SCCACHE_DIR: path.join(file, "cache") }
    expect(sb.sccache(["gcc", "-c", "a.c"], { env }).code).toBe(0)
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(true)
    expect(total(sb.stats().stats.cache_errors)).toBe(1)
  })

  it("a corrupt entry is a counted miss, and is replaced", async () => {
    const sb = sandbox()
    sb.sccache(["gcc", "-c", "a.c"])
    const cacheDir = sb.env["SCCACHE_DIR"]!
    const files = () => execFileSync("find", [cacheDir, "-type", "f", "-path", "*sccache-ts-v1*"]).toString().trim().split("\n")
    // The result and its direct-mode manifest, which is written after the reply.
    for (let i = 0; i < 100 && files().length < 2; i++) await sleep(20)
    expect(files()).toHaveLength(2)
    for (const f of files()) fs.writeFileSync(f, "garbage")
    // A daemon serves what it wrote from memory: a new one reads the disk.
    sb.stop()
    fs.rmSync(path.join(sb.dir, "a.o"))
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(true)
    let s = sb.stats().stats
    expect(s.cache_read_errors).toBeGreaterThanOrEqual(1)
    // The new daemon's count: the corrupt entry's miss.
    expect(total(s.cache_misses)).toBe(1)
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    s = sb.stats().stats
    expect(total(s.cache_hits)).toBe(1)
  })

  it("an output directory that does not exist gives the compiler's own error, on a hit too", () => {
    const sb = sandbox()
    sb.sccache(["gcc", "-c", "a.c"])
    const plain = run("gcc", ["-c", "a.c", "-o", "nodir/a.o"], { cwd: sb.dir })
    const cached = sb.sccache(["gcc", "-c", "a.c", "-o", "nodir/a.o"])
    expect(cached.code).toBe(plain.code)
    expect(cached.stderr.toString()).toBe(plain.stderr.toString())
  })
})

describe("command line", () => {
  it("bad usage exits 2 with sccache-ts: error:", () => {
    const sb = sandbox()
    for (const args of [["--bogus"], ["-s", "--stats-format", "xml"], []]) {
      const r = sb.sccache(args)
      expect(r.code).toBe(2)
      expect(r.stderr.toString()).toMatch(/^sccache-ts: error: /)
    }
    const missing = sb.sccache(["no-such-compiler-xyz", "-c", "a.c"])
    expect(missing.code).toBe(2)
    expect(missing.stderr.toString()).toMatch(/^sccache-ts: error: cannot find compiler/)
  })

  it("--version and --help", () => {
    const sb = sandbox()
    expect(sb.sccache(["--version"]).stdout.toString()).toMatch(/^sccache-ts \d+\.\d+\.\d+/)
    expect(sb.sccache(["--help"]).stdout.toString()).toMatch(/--show-stats/)
  })

  it("masquerades as the compiler through a symlink, without calling itself", () => {
    const sb = sandbox()
    const shims = path.join(sb.dir, "shims")
    fs.mkdirSync(shims)
    fs.symlinkSync(BIN, path.join(shims, "gcc"))
    const env = { ...sb.env, PATH: `${shims}:${process.env["PATH"]}` }
    for (let i = 0; i < 2; i++) expect(run("gcc", ["-c", "a.c"], { cwd: sb.dir, env }).code).toBe(0)
    // And `sccache-ts gcc` with that gcc first on PATH finds the real one.
    expect(run(BIN, ["gcc", "-c", "a.c"], { cwd: sb.dir, env }).code).toBe(0)
    expect(run(BIN, [BIN, "gcc", "-c", "a.c"], { cwd: sb.dir, env }).code).toBe(0)
    const s = sb.stats().stats
    expect(total(s.cache_misses)).toBe(1)
    expect(total(s.cache_hits)).toBe(3)
  })
})
