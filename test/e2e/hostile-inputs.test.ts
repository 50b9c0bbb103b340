/**
 * Faults and bad inputs the daemon must survive, each compared with a plain compile of the same
 * command in the same directory: outputs, stdout, stderr and exit code, and nothing half-written.
 * Runs the built binary with real gcc; the cache-directory faults mount small tmpfs file systems
 * (the suite runs as root).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { BIN, makeSandbox, run, type Run, runAsync, type Sandbox, sandboxesPerTest, total } from "../support/harness.ts"

const cleanups: Array<() => void> = []
const sandbox = sandboxesPerTest()
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Each output's bytes (hex digest would hide nothing: compared whole), or null when absent. */
  readonly files: Record<string, string | null>
  /** Temp files of an atomic write left behind. */
  readonly leftovers: ReadonlyArray<string>
}

const read = (file: string) => (fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file).toString("base64") : null)

const resultOf = (r: Run, dir: string, outputs: ReadonlyArray<string>): Result => ({
  code: r.code,
  stdout: r.stdout.toString("latin1"),
  stderr: r.stderr.toString("latin1"),
  files: Object.fromEntries(outputs.map((f) => [f, read(path.join(dir, f))])),
  leftovers: fs.readdirSync(dir).filter((f) => f.startsWith(".tmp-sccache-ts-"))
})

const removeAll = (dir: string, outputs: ReadonlyArray<string>) => {
  for (const f of outputs) fs.rmSync(path.join(dir, f), { force: true })
}

/**
 * Plain gcc, then `times` runs through the cache (a miss, then hits), all in `sb.dir`: every run
 * through the cache gives exactly what the plain one gave.
 */
const sameAsPlain = (sb: Sandbox, args: ReadonlyArray<string>, outputs: ReadonlyArray<string>, times = 2) => {
  removeAll(sb.dir, outputs)
  const plain = resultOf(run("gcc", args, { cwd: sb.dir, env: sb.env }), sb.dir, outputs)
  for (let i = 0; i < times; i++) {
    removeAll(sb.dir, outputs)
    expect(resultOf(sb.sccache(["gcc", ...args]), sb.dir, outputs)).toEqual(plain)
  }
  return plain
}

describe("hostile files", () => {
  it("a looping symlink as the source: the compiler's own error, at once", () => {
    const sb = sandbox()
    fs.symlinkSync("loop.c", path.join(sb.dir, "loop.c"))
    const plain = sameAsPlain(sb, ["-c", "loop.c", "-o", "loop.o"], ["loop.o"])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(/Too many levels of symbolic links/)
  }, 60_000)

  it("a looping symlink as a header, and a header that is a directory", () => {
    const sb = sandbox()
    sb.write("a.c", '#include "loop.h"\nint a;\n')
    fs.symlinkSync("loop.h", path.join(sb.dir, "loop.h"))
    expect(sameAsPlain(sb, ["-c", "a.c"], ["a.o"]).code).toBe(1)
    sb.write("b.c", '#include "dir.h"\nint b;\n')
    fs.mkdirSync(path.join(sb.dir, "dir.h"))
    const plain = sameAsPlain(sb, ["-c", "b.c"], ["b.o"])
    expect(plain.code).not.toBe(0)
    // And a good compile after them is cached as usual: the daemon is well.
    sb.write("c.c", "int c;\n")
    expect(sameAsPlain(sb, ["-c", "c.c"], ["c.o"]).code).toBe(0)
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
  }, 60_000)

  // Root reads a 0000 file, so the client, its daemon and the plain gcc all run as `nobody`.
  it("an unreadable header (mode 0000, everything run as an unprivileged user)", () => {
    const sb = sandbox()
    const top = path.dirname(sb.dir)
    sb.write("a.c", '#include "secret.h"\nint a;\n')
    sb.write("secret.h", "int secret;\n")
    fs.chmodSync(path.join(sb.dir, "secret.h"), 0)
    fs.chmodSync(top, 0o755)
    execFileSync("chown", ["-R", "nobody:nogroup", top])
    const asNobody = (cmd: string, args: ReadonlyArray<string>) =>
      run("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", cmd, ...args], { cwd: sb.dir, env: sb.env })
    cleanups.push(() => void asNobody(BIN, ["--stop-server"]))
    const plain = resultOf(asNobody("gcc", ["-c", "a.c"]), sb.dir, ["a.o"])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(/Permission denied/)
    for (let i = 0; i < 2; i++) expect(resultOf(asNobody(BIN, ["gcc", "-c", "a.c"]), sb.dir, ["a.o"])).toEqual(plain)
  }, 60_000)

  it("a source deleted between the daemon's lookup and the compile", () => {
    const sb = sandbox()
    sb.write("a.c", "int a(void) { return 1; }\n")
    // gcc behind a pause, so the source can go while the daemon is already compiling it.
    const slowcc = path.join(sb.dir, "slowcc")
    fs.writeFileSync(slowcc, `#!/bin/sh\ncase " $* " in *" -c "*) sleep 2; rm -f a.c;; esac\nexec gcc "$@"\n`, { mode: 0o755 })
    const cached = resultOf(sb.sccache(["./slowcc", "-c", "a.c"]), sb.dir, ["a.o"])
    const plain = resultOf(run("gcc", ["-c", "a.c"], { cwd: sb.dir, env: sb.env }), sb.dir, ["a.o"])
    expect(plain.code).toBe(1)
    expect(cached).toEqual(plain)
    // Nothing was stored for it: the same name with other contents is compiled, not served.
    sb.write("a.c", "int a(void) { return 2; }\n")
    expect(sameAsPlain(sb, ["-c", "a.c"], ["a.o"], 1).code).toBe(0)
  }, 60_000)
})

describe("outputs that are not regular files", () => {
  it("-o /dev/null is never stored: a later -o a.o gets the real object", () => {
    const sb = sandbox()
    sb.write("a.c", "int a(void) { return 1; }\n")
    const r = sb.sccache(["gcc", "-c", "a.c", "-o", "/dev/null"])
    expect(r.code).toBe(0)
    expect(fs.statSync("/dev/null").isCharacterDevice()).toBe(true)
    sameAsPlain(sb, ["-c", "a.c", "-o", "a.o"], ["a.o"])
    // Nor is /dev/null replaced by a hit of a.o's entry.
    expect(sb.sccache(["gcc", "-c", "a.c", "-o", "/dev/null"]).code).toBe(0)
    expect(fs.statSync("/dev/null").isCharacterDevice()).toBe(true)
    const s = sb.stats().stats
    expect(s.not_cached["output is not a regular file"]).toBe(2)
  }, 60_000)

  // /dev/stdout is a symlink to /proc/self/fd/1; a private one stands for it, so that a wrong
  // result can't delete the machine's /dev/stdout (gcc removes a failed output).
  it("an output that is the client's stdout (as -o /dev/stdout is), stdout being a file", () => {
    const sb = sandbox()
    sb.write("a.c", "int a(void) { return 1; }\n")
    fs.symlinkSync("/proc/self/fd/1", path.join(sb.dir, "stdout.o"))
    const toFile = (cmd: string, args: ReadonlyArray<string>, file: string) => {
      const fd = fs.openSync(path.join(sb.dir, file), "w")
      try {
        return spawnSync(cmd, args, { cwd: sb.dir, env: sb.env, stdio: ["ignore", fd, "pipe"] })
      } finally {
        fs.closeSync(fd)
      }
    }
    const plain = toFile("gcc", ["-c", "a.c", "-o", "stdout.o"], "plain.out")
    expect(plain.status).toBe(0)
    for (const name of ["miss.out", "hit.out"]) {
      const cached = toFile(BIN, ["gcc", "-c", "a.c", "-o", "stdout.o"], name)
      expect([cached.status, cached.stderr.toString()]).toEqual([0, ""])
      expect(fs.readFileSync(path.join(sb.dir, name))).toEqual(fs.readFileSync(path.join(sb.dir, "plain.out")))
      expect(fs.lstatSync(path.join(sb.dir, "stdout.o")).isSymbolicLink()).toBe(true)
    }
  }, 60_000)

  it("a FIFO as the output is left to the compiler, as with plain gcc", async () => {
    const sb = sandbox()
    sb.write("a.c", "int a(void) { return 1; }\n")
    execFileSync("mkfifo", [path.join(sb.dir, "fifo.o")])
    // A reader on the FIFO, as a pipeline consuming the object would be.
    const drain = async (cmd: string, args: ReadonlyArray<string>) => {
      const reader = runAsync("cat", ["fifo.o"], { cwd: sb.dir })
      const r = await runAsync(cmd, args, { cwd: sb.dir, env: sb.env })
      // gcc fails on a FIFO too (as seeks), naming its own temp file.
      const stderr = r.stderr.toString().replaceAll(/\/tmp\/cc\w+\.s/g, "<tmp>.s")
      return { code: r.code, stderr, read: (await reader).stdout.toString("base64") }
    }
    const plain = await drain("gcc", ["-c", "a.c", "-o", "fifo.o"])
    expect(await drain(BIN, ["gcc", "-c", "a.c", "-o", "fifo.o"])).toEqual(plain)
    expect(fs.statSync(path.join(sb.dir, "fifo.o")).isFIFO()).toBe(true)
  }, 60_000)
})

describe("the client's umask on misses and hits", () => {
  it.each([[0o077, 0o600], [0o002, 0o664]])("umask %o gives what gcc gives", (umask, expected) => {
    const sb = sandbox()
    sb.write("a.c", "int a(void) { return 1; }\n")
    const sh = (cmd: string) => run("sh", ["-c", `umask ${umask.toString(8)}; ${cmd}`], { cwd: sb.dir, env: sb.env })
    const mode = () => fs.statSync(path.join(sb.dir, "a.o")).mode & 0o777
    sh("gcc -c a.c")
    expect(mode()).toBe(expected)
    // The daemon runs under another umask (the one it was started with, here 022).
    expect(run("sh", ["-c", `umask 022; ${BIN} --start-server`], { cwd: sb.dir, env: sb.env }).code).toBe(0)
    for (const kind of ["miss", "hit"]) {
      fs.rmSync(path.join(sb.dir, "a.o"))
      expect(sh(`${BIN} gcc -c a.c`).code).toBe(0)
      expect([kind, mode()]).toEqual([kind, expected])
    }
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
  }, 60_000)
})

/** A tmpfs of `size` at `dir`, unmounted after the test (after its daemon stopped). */
const tmpfs = (dir: string, size: string) => {
  fs.mkdirSync(dir, { recursive: true })
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=700`, "tmpfs", dir])
  cleanups.push(() => void spawnSync("umount", ["-l", dir]))
}

const waitFor = async (what: () => boolean) => {
  for (let i = 0; i < 50 && !what(); i++) await sleep(100)
  return what()
}

describe("a cache directory that fails", () => {
  it("fills up (ENOSPC): the compile gives the plain result, and the error is counted", async () => {
    const sb = sandbox()
    tmpfs(sb.env["SCCACHE_DIR"]!, "64k")
    // A 256 KiB object of random bytes can't fit, nor can the cache's (compressed) entry for it.
    sb.write("big.c", `unsigned char big[] = { ${[...randomBytes(256 * 1024)].join(",")} };\n`)
    sameAsPlain(sb, ["-c", "big.c"], ["big.o"], 1)
    expect(await waitFor(() => sb.stats().stats.cache_write_errors >= 1)).toBe(true)
    sameAsPlain(sb, ["-c", "big.c"], ["big.o"], 1)
  }, 60_000)

  it("turns read-only while the daemon runs", async () => {
    const sb = sandbox()
    const cache = sb.env["SCCACHE_DIR"]!
    tmpfs(cache, "16m")
    sb.write("a.c", "int a(void) { return 1; }\n")
    sb.write("b.c", "int b(void) { return 2; }\n")
    sameAsPlain(sb, ["-c", "a.c"], ["a.o"])
    execFileSync("mount", ["-o", "remount,ro", cache])
    sameAsPlain(sb, ["-c", "b.c"], ["b.o"])
    sameAsPlain(sb, ["-c", "a.c"], ["a.o"])
    expect(await waitFor(() => sb.stats().stats.cache_write_errors >= 1)).toBe(true)
  }, 60_000)

  it("is a file", () => {
    const sb = sandbox()
    fs.writeFileSync(sb.env["SCCACHE_DIR"]!, "not a directory")
    sb.write("a.c", "int a(void) { return 1; }\n")
    sameAsPlain(sb, ["-c", "a.c"], ["a.o"])
    expect(total(sb.stats().stats.cache_errors)).toBe(2)
  }, 60_000)
})

describe("two daemons on one cache directory with a tiny size limit", () => {
  it("build at once, eviction racing reads and writes: every object is right", async () => {
    const shared = makeSandbox()
    const cache = shared.env["SCCACHE_DIR"]!
    fs.rmSync(shared.dir, { recursive: true })
    const a = sandbox({ SCCACHE_DIR: cache, SCCACHE_CACHE_SIZE: "24K" })
    const b = sandbox({ SCCACHE_DIR: cache, SCCACHE_CACHE_SIZE: "24K" })
    const sources = Array.from({ length: 16 }, (_, i) => [`f${i}.c`, `int f${i}[${100 + 50 * i}] = { ${i} };\nint g${i}(int x) { return x * ${i}; }\n`] as const)
    const expected = new Map<string, Buffer>()
    for (const sb of [a, b]) for (const [f, text] of sources) sb.write(f, text)
    for (const [f] of sources) {
      run("gcc", ["-c", f], { cwd: a.dir })
      expected.set(f, fs.readFileSync(path.join(a.dir, f.replace(".c", ".o"))))
    }
    const build = async (sb: Sandbox) => {
      for (const [f] of sources) fs.rmSync(path.join(sb.dir, f.replace(".c", ".o")), { force: true })
      const runs = await Promise.all(sources.map(([f]) => runAsync(BIN, ["gcc", "-c", f], { cwd: sb.dir, env: sb.env })))
      expect(runs.map((r) => [r.code, r.stderr.toString()])).toEqual(sources.map(() => [0, ""]))
      for (const [f] of sources) expect([f, fs.readFileSync(path.join(sb.dir, f.replace(".c", ".o")))]).toEqual([f, expected.get(f)])
    }
    for (let round = 0; round < 3; round++) await Promise.all([build(a), build(b)])
    const hits = total(a.stats().stats.cache_hits) + total(b.stats().stats.cache_hits)
    const misses = total(a.stats().stats.cache_misses) + total(b.stats().stats.cache_misses)
    expect(hits + misses).toBe(2 * 3 * sources.length)
  }, 180_000)
})

describe("large inputs and outputs", () => {
  it("20 MB of warnings from real gcc, on a miss and a hit", () => {
    const sb = sandbox()
    // Few long lines: gcc takes minutes over 10,000 short #warnings, seconds over these.
    const line = `#warning ${"w".repeat(50_000)}\n`
    sb.write("warn.c", line.repeat(210) + "int w;\n")
    const plain = sameAsPlain(sb, ["-c", "warn.c"], ["warn.o"])
    expect(plain.stderr.length).toBeGreaterThan(20_000_000)
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
  }, 180_000)

  it("a multi-MB object, on a miss and a hit", () => {
    const sb = sandbox()
    sb.write("big.c", "char big[12 * 1024 * 1024] = { 1, 2, 3 };\n")
    const plain = sameAsPlain(sb, ["-c", "big.c"], ["big.o"])
    expect(Buffer.from(plain.files["big.o"]!, "base64").length).toBeGreaterThan(12 * 1024 * 1024)
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
  }, 120_000)

  // clang: gcc itself refuses this many options (it passes them all to cc1 in one 128 KiB
  // environment string, COLLECT_GCC_OPTIONS).
  it("a response file of 100k arguments (clang)", () => {
    const sb = sandbox()
    sb.write("args.rsp", [...Array.from({ length: 99_999 }, (_, i) => `-DA${i.toString(36)}`), "-DM=7"].join("\n"))
    sb.write("m.c", "int m = M;\n")
    const args = ["-c", "m.c", "@args.rsp"]
    const plain = resultOf(run("clang", args, { cwd: sb.dir, env: sb.env }), sb.dir, ["m.o"])
    expect(plain.code).toBe(0)
    for (let i = 0; i < 2; i++) {
      fs.rmSync(path.join(sb.dir, "m.o"))
      expect(resultOf(sb.sccache(["clang", ...args]), sb.dir, ["m.o"])).toEqual(plain)
    }
    expect(total(sb.stats().stats.cache_hits)).toBe(1)
  }, 240_000)
})
