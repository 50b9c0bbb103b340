/**
 * Direct mode, depend mode and base directories with real gcc and clang: the cases where a
 * compiler cache could answer with a stale object, each compared with a plain compile.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeSandbox, run, type Sandbox, total } from "../support/harness.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A compiler shim that logs each call, so a test can tell whether the real compiler ran. */
const loggingCompiler = (sb: Sandbox, cc: string): { exe: string; calls: () => Array<string> } => {
  const log = path.join(sb.dir, `${cc}.log`)
  const exe = path.join(sb.dir, "bin", cc)
  fs.mkdirSync(path.dirname(exe), { recursive: true })
  fs.writeFileSync(exe, `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/bin/${cc} "$@"\n`, { mode: 0o755 })
  return {
    exe,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => l !== "--version") : [])
  }
}

/** Compiles through the cache and plainly, in the same place; the object must be the same. */
const sameAsPlain = (sb: Sandbox, exe: string, args: Array<string>, obj: string, cwd = sb.dir) => {
  const cached = sb.sccache([exe, ...args], { cwd })
  const cachedObj = cached.code === 0 ? fs.readFileSync(path.join(cwd, obj)) : undefined
  fs.rmSync(path.join(cwd, obj), { force: true })
  const plain = run(exe, args, { cwd, env: sb.env })
  const plainObj = plain.code === 0 ? fs.readFileSync(path.join(cwd, obj)) : undefined
  expect(cached.code).toBe(plain.code)
  expect(cached.stderr.toString()).toBe(plain.stderr.toString())
  expect(cachedObj).toEqual(plainObj)
  return cached
}

describe.each(["gcc", "clang"])("direct mode with %s", (cc) => {
  let sb: Sandbox
  let shim: ReturnType<typeof loggingCompiler>
  beforeAll(() => {
    sb = makeSandbox()
    shim = loggingCompiler(sb, cc)
  })
  afterAll(() => sb.stop())

  const hits = () => {
    const s = sb.stats().stats
    return { direct: total(s.direct_hits), pre: total(s.preprocessor_hits), misses: total(s.cache_misses) }
  }

  it("hits without running the compiler at all, and a miss runs no separate preprocessor", async () => {
    sb.write("d1/t.h", "static int t(void) { return 7; }\n")
    sb.write("d1/main.c", '#include "t.h"\nint main(void) { return t(); }\n')
    await sleep(20)
    const before = shim.calls().length
    sameAsPlain(sb, shim.exe, ["-c", "d1/main.c", "-o", "d1/main.o"], "d1/main.o")
    // The miss: the compile, and once per configuration the include search probe; never -E.
    const missCalls = shim.calls().slice(before, -1)
    expect(missCalls.filter((c) => / -E( |$)/.test(c) && !c.includes("/dev/null"))).toEqual([])
    const mid = shim.calls().length
    const hit = sb.sccache([shim.exe, "-c", "d1/main.c", "-o", "d1/main.o"])
    expect(hit.code).toBe(0)
    // The miss's include search probe may still be running in the background; the hit runs nothing else.
    expect(shim.calls().slice(mid).filter((c) => !c.endsWith(" /dev/null"))).toEqual([])
    expect(hits().direct).toBeGreaterThanOrEqual(1)
  })

  it("misses after a header is edited", async () => {
    sb.write("d2/v.h", "#define V 1\n")
    sb.write("d2/main.c", '#include "v.h"\nint v(void) { return V; }\n')
    await sleep(20)
    sameAsPlain(sb, shim.exe, ["-c", "d2/main.c", "-o", "d2/main.o"], "d2/main.o")
    sb.write("d2/v.h", "#define V 2\n")
    await sleep(20)
    const before = hits()
    sameAsPlain(sb, shim.exe, ["-c", "d2/main.c", "-o", "d2/main.o"], "d2/main.o")
    expect(hits().misses).toBe(before.misses + 1)
  })

  it("fails like the compiler when a header is deleted, and recovers when the include goes", async () => {
    sb.write("d3/gone.h", "#define G 3\n")
    sb.write("d3/main.c", '#include "gone.h"\nint g(void) { return G; }\n')
    await sleep(20)
    sameAsPlain(sb, shim.exe, ["-c", "d3/main.c", "-o", "d3/main.o"], "d3/main.o")
    fs.rmSync(path.join(sb.dir, "d3/gone.h"))
    const failed = sameAsPlain(sb, shim.exe, ["-c", "d3/main.c", "-o", "d3/main.o"], "d3/main.o")
    expect(failed.code).not.toBe(0)
    sb.write("d3/main.c", "int g(void) { return 3; }\n")
    await sleep(20)
    sameAsPlain(sb, shim.exe, ["-c", "d3/main.c", "-o", "d3/main.o"], "d3/main.o")
  })

  it("sees a new header that shadows the one it read (-Ib -Ia, b/ created later)", async () => {
    sb.write("d4/a/foo.h", "#define WHICH 1\n")
    sb.write("d4/main.c", '#include <foo.h>\nint which(void) { return WHICH; }\n')
    await sleep(20)
    const args = ["-Ib", "-Ia", "-c", "main.c", "-o", "main.o"]
    const cwd = path.join(sb.dir, "d4")
    sameAsPlain(sb, shim.exe, args, "main.o", cwd)
    sameAsPlain(sb, shim.exe, args, "main.o", cwd)
    sb.write("d4/b/foo.h", "#define WHICH 2\n")
    sameAsPlain(sb, shim.exe, args, "main.o", cwd)
    // And a second shadow inside a directory that already existed.
    sb.write("d4/c/.keep", "")
    await sleep(20)
    const args2 = ["-Ic", "-Ib", "-c", "main.c", "-o", "main.o"]
    sameAsPlain(sb, shim.exe, args2, "main.o", cwd)
    sb.write("d4/c/foo.h", "#define WHICH 3\n")
    sameAsPlain(sb, shim.exe, args2, "main.o", cwd)
  })

  it("never gives a stale __TIME__, and __DATE__ in a header still hits within the day", async () => {
    sb.write("d5/main.c", 'const char *t = __TIME__;\n')
    await sleep(20)
    const first = sb.sccache([shim.exe, "-c", "d5/main.c", "-o", "d5/main.o"])
    expect(first.code).toBe(0)
    const obj1 = fs.readFileSync(path.join(sb.dir, "d5/main.o"))
    await sleep(1100)
    sb.sccache([shim.exe, "-c", "d5/main.c", "-o", "d5/main.o"])
    expect(fs.readFileSync(path.join(sb.dir, "d5/main.o"))).not.toEqual(obj1)

    sb.write("d5/date.h", "#define BUILT __DATE__\n")
    sb.write("d5/date.c", '#include "date.h"\nconst char *d = BUILT;\n')
    await sleep(20)
    sb.sccache([shim.exe, "-c", "d5/date.c", "-o", "d5/date.o"])
    const before = hits()
    sameAsPlain(sb, shim.exe, ["-c", "d5/date.c", "-o", "d5/date.o"], "d5/date.o")
    sameAsPlain(sb, shim.exe, ["-c", "d5/date.c", "-o", "d5/date.o"], "d5/date.o")
    expect(hits().pre).toBeGreaterThan(before.pre)
  })

  it("direct-hits a source using assert() (__FILE__) when its paths are relative", async () => {
    sb.write("d7/main.c", '#include <assert.h>\nint f(int x) { assert(x > 0); return x; }\n')
    await sleep(20)
    sameAsPlain(sb, shim.exe, ["-c", "d7/main.c", "-o", "d7/main.o"], "d7/main.o")
    const before = hits()
    sameAsPlain(sb, shim.exe, ["-c", "d7/main.c", "-o", "d7/main.o"], "d7/main.o")
    expect(hits().direct).toBe(before.direct + 1)
  })

  it("restores the .d file on a direct hit", async () => {
    sb.write("d6/inc/h.h", "#define H 6\n")
    sb.write("d6/main.c", '#include "h.h"\nint h(void) { return H; }\n')
    await sleep(20)
    const cwd = path.join(sb.dir, "d6")
    const args = ["-Iinc", "-MD", "-MP", "-c", "main.c", "-o", "main.o"]
    run(shim.exe, args, { cwd })
    const plainDep = fs.readFileSync(path.join(cwd, "main.d"), "utf8")
    sb.sccache([shim.exe, ...args], { cwd })
    fs.rmSync(path.join(cwd, "main.d"))
    const before = hits()
    sb.sccache([shim.exe, ...args], { cwd })
    expect(hits().direct).toBe(before.direct + 1)
    expect(fs.readFileSync(path.join(cwd, "main.d"), "utf8")).toBe(plainDep)
  })
})

describe("preprocessor mode and base directories", () => {
  it("SCCACHE_DIRECT=false: preprocessor hits only", async () => {
    const sb = makeSandbox({ SCCACHE_DIRECT: "false" })
    sb.write("a.c", "int a(void) { return 1; }\n")
    await sleep(20)
    sb.sccache(["gcc", "-c", "a.c"])
    sb.sccache(["gcc", "-c", "a.c"])
    const s = sb.stats().stats
    expect(total(s.preprocessor_hits)).toBe(1)
    expect(total(s.direct_hits)).toBe(0)
    sb.stop()
  })

  /** Two checkouts of one project, built CMake-style with absolute paths from a build directory. */
  const checkouts = (sb: Sandbox) => {
    for (const co of ["co1", "co2"]) {
      sb.write(`${co}/include/lib.h`, "static inline int twice(int x) { return 2 * x; }\n")
      sb.write(`${co}/src/a.c`, '#include "lib.h"\nint a(int x) { return twice(x); }\n')
      sb.write(`${co}/src/where.c`, 'const char *where = __FILE__;\n')
      fs.mkdirSync(path.join(sb.dir, co, "build"), { recursive: true })
    }
    return (co: string, file: string, extra: Array<string> = []) => {
      const root = path.join(sb.dir, co)
      return { cwd: path.join(root, "build"), args: [...extra, `-I${root}/include`, "-MD", "-c", `${root}/src/${file}.c`, "-o", `${file}.o`] }
    }
  }

  it("a second checkout hits with SCCACHE_BASEDIRS, with its own paths in the .d file", async () => {
    // Every sandbox lives under the temp directory: one base for both checkouts.
    const sb2 = makeSandbox({ SCCACHE_BASEDIRS: os.tmpdir() })
    const cmd = checkouts(sb2)
    await sleep(20)
    for (const co of ["co1", "co2"]) {
      const { cwd, args } = cmd(co, "a")
      const r = sb2.sccache(["gcc", ...args], { cwd })
      expect(r.code).toBe(0)
      const dep = fs.readFileSync(path.join(cwd, "a.d"), "utf8")
      expect(dep).toContain(path.join(sb2.dir, co, "src/a.c"))
      const obj = fs.readFileSync(path.join(cwd, "a.o"))
      run("gcc", args, { cwd })
      expect(fs.readFileSync(path.join(cwd, "a.d"), "utf8")).toBe(dep)
      expect(fs.readFileSync(path.join(cwd, "a.o"))).toEqual(obj)
    }
    let s = sb2.stats().stats
    expect(total(s.cache_misses)).toBe(1)
    expect(total(s.cache_hits)).toBe(1)

    // __FILE__ differs between checkouts: never shared, each object right for its place.
    for (const co of ["co1", "co2"]) {
      const { cwd, args } = cmd(co, "where")
      sb2.sccache(["gcc", ...args], { cwd })
      const obj = fs.readFileSync(path.join(cwd, "where.o"))
      run("gcc", args, { cwd })
      expect(fs.readFileSync(path.join(cwd, "where.o"))).toEqual(obj)
    }
    // -g records the working directory: no sharing, unless a prefix map hides it.
    const before = sb2.stats().stats
    for (const co of ["co1", "co2"]) {
      const { cwd, args } = cmd(co, "a", ["-g"])
      sb2.sccache(["gcc", ...args], { cwd })
    }
    s = sb2.stats().stats
    expect(total(s.cache_misses) - total(before.cache_misses)).toBe(2)
    for (const co of ["co1", "co2"]) {
      const root = path.join(sb2.dir, co)
      const { cwd, args } = cmd(co, "a", ["-g", `-ffile-prefix-map=${root}=.`])
      sb2.sccache(["gcc", ...args], { cwd })
      const obj = fs.readFileSync(path.join(cwd, "a.o"))
      run("gcc", args, { cwd })
      expect(fs.readFileSync(path.join(cwd, "a.o"))).toEqual(obj)
    }
    const after = sb2.stats().stats
    expect(total(after.cache_misses) - total(s.cache_misses)).toBe(1)
    expect(total(after.cache_hits) - total(s.cache_hits)).toBe(1)
    sb2.stop()
  })
})
