/**
 * cl.exe syntax through sccache-ts, with the real clang as `clang-cl` (a symlink, as distributions
 * install it) and as `clang --driver-mode=cl`. Sources use no system headers; /Brepro makes a plain
 * compile reproducible, so every object is compared byte for byte with one.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { have, makeSandbox, run, type Sandbox, total } from "../support/harness.ts"

if (!have("clang")) throw new Error("clang is not installed: .ci/run installs it")

const DRIVERS: ReadonlyArray<{ readonly name: string; readonly exe: string; readonly pre: ReadonlyArray<string> }> = [
  { name: "clang-cl", exe: "clang-cl", pre: [] },
  { name: "clang --driver-mode=cl", exe: "clang", pre: ["--driver-mode=cl"] }
]

describe.each(DRIVERS)("$name (cl syntax) through sccache-ts", ({ exe, pre }) => {
  let sb: Sandbox
  let env: NodeJS.ProcessEnv
  const plain = (args: ReadonlyArray<string>) => run(exe, [...pre, ...args], { cwd: sb.dir, env })
  const cached = (args: ReadonlyArray<string>, extra: NodeJS.ProcessEnv = {}) => sb.sccache([exe, ...pre, ...args], { env: { ...env, ...extra } })
  const read = (f: string) => (fs.existsSync(path.join(sb.dir, f)) ? fs.readFileSync(path.join(sb.dir, f)) : undefined)

  /** A plain compile, then two through the cache: same exit code, stdout, stderr and object as the plain one. */
  const compare = (args: ReadonlyArray<string>, obj: string, extra: NodeJS.ProcessEnv = {}) => {
    fs.rmSync(path.join(sb.dir, obj), { force: true })
    const p = plain(args)
    const want = read(obj)
    const before = sb.stats().stats
    const runs = [0, 1].map(() => {
      fs.rmSync(path.join(sb.dir, obj), { force: true })
      const r = cached(args, extra)
      return { r, obj: read(obj) }
    })
    for (const { r, obj: got } of runs) {
      expect(r.code).toBe(p.code)
      expect(r.stdout.toString()).toBe(p.stdout.toString())
      expect(r.stderr.toString()).toBe(p.stderr.toString())
      expect(got).toEqual(want)
    }
    const after = sb.stats().stats
    return { plain: p, misses: total(after.cache_misses) - total(before.cache_misses), hits: total(after.cache_hits) - total(before.cache_hits), after }
  }

  beforeAll(() => {
    sb = makeSandbox()
    const bin = path.join(sb.dir, "..", "bin")
    fs.mkdirSync(bin, { recursive: true })
    // clang picks its cl mode from its name.
    fs.symlinkSync(execFileSync("sh", ["-c", "command -v clang"]).toString().trim(), path.join(bin, "clang-cl"))
    env = { ...sb.env, PATH: `${bin}:${sb.env["PATH"]}` }
    sb.write("inc/h.h", "#define X 3\n")
    sb.write("inc/forced.h", "#define FORCED 5\n")
    sb.write("m.c", '#include "h.h"\nint f(void) { return X; }\n')
    sb.write("w.cpp", '#include "h.h"\ntemplate <class T> T twice(T x) { return 2 * x; }\nint g() { int unused; return twice(X); }\n')
    sb.write("odd.txt", "int odd(void) { return 1; }\n")
    sb.write("defs.c", "int d(void) { return FORCED + VALUE\n#ifdef GONE\n + 100\n#endif\n; }\n")
    fs.mkdirSync(path.join(sb.dir, "objs"))
    // Which spelling of /Fo: this clang knows.
    run(exe, [...pre, "/c", "/Brepro", "m.c", "/Fo:probe.obj"], { cwd: sb.dir, env })
  })
  afterAll(() => sb.stop())

  it("caches an object: a miss, then a hit byte-identical to a plain compile", () => {
    const r = compare(["/c", "/Brepro", "/O2", "/Iinc", "m.c", "/Fom.obj"], "m.obj")
    expect(r.misses).toBe(1)
    expect(r.hits).toBe(1)
  })

  it("replays /showIncludes on stdout exactly as the compiler prints it, and hides it when not asked", () => {
    const shown = compare(["/c", "/Brepro", "/Iinc", "/showIncludes", "m.c", "/Foshown.obj"], "shown.obj")
    expect(shown.plain.stdout.toString()).toMatch(/^Note: including file: +inc[/\\]h\.h$/m)
    expect(shown.hits).toBe(1)
    // Direct mode learns the headers from /showIncludes it adds itself; the user sees none of it.
    const quiet = compare(["/c", "/Brepro", "/Iinc", "m.c", "/Foquiet.obj"], "quiet.obj")
    expect(quiet.plain.stdout.toString()).toBe("")
    expect(quiet.hits).toBe(1)
  })

  it("a header edited after a hit makes a miss with the new object", () => {
    const args = ["/c", "/Brepro", "/Iinc", "m.c", "/Foedit.obj"]
    compare(args, "edit.obj")
    sb.write("inc/h.h", "#define X 4\n")
    try {
      const r = compare(args, "edit.obj")
      expect(r.misses).toBe(1)
    } finally {
      sb.write("inc/h.h", "#define X 3\n")
    }
  })

  it("names the object by every /Fo form and by -o", () => {
    for (const [args, obj] of [
      [["/Foobjs/"], "objs/m.obj"],
      // clang 14 reads `/Fo:x` as /Fo naming ":x" (later ones, as cl does, as x): either way, as the compiler does.
      [["/Fo:glued.obj"], fs.existsSync(path.join(sb.dir, ":probe.obj")) ? ":glued.obj" : "glued.obj"],
      [["-o", "dash.obj"], "dash.obj"],
      [[], "m.obj"]
    ] as const) {
      // The same source and flags under another object name hit (the first form misses).
      const r = compare(["/c", "/Brepro", "-Iinc", "m.c", ...args], obj)
      expect(r.hits, obj).toBeGreaterThanOrEqual(1)
    }
  })

  it("caches C++ with warnings, /D, /U, /FI, /TC and /Tp, replaying the diagnostics", () => {
    const cpp = compare(["-c", "-Brepro", "/W4", "/EHsc", "/Iinc", "w.cpp", "/Fow.obj"], "w.obj")
    expect(cpp.plain.stderr.toString()).toMatch(/unused/)
    expect(cpp.hits).toBe(1)
    expect(compare(["/c", "/Brepro", "/FIinc/forced.h", "/DVALUE=7", "/UGONE", "/DGONE", "/TC", "defs.c", "/Fodefs.obj"], "defs.obj").hits).toBe(1)
    expect(compare(["/c", "/Brepro", "/Tpodd.txt", "/Foodd.obj"], "odd.obj").hits).toBe(1)
    // Another value for /D is another object.
    expect(compare(["/c", "/Brepro", "/FIinc/forced.h", "/DVALUE=8", "/TC", "defs.c", "/Fodefs.obj"], "defs.obj").misses).toBe(1)
  })

  it("caches /Z7 (debug info in the object) and /clang:, -Xclang options", () => {
    expect(compare(["/c", "/Brepro", "/Z7", "/Iinc", "m.c", "/Foz7.obj"], "z7.obj").hits).toBe(1)
    expect(compare(["/c", "/Brepro", "/clang:-fno-inline", "-Xclang", "-fno-common", "/Iinc", "m.c", "/Foxc.obj"], "xc.obj").hits).toBe(1)
  })

  it("reads @ response files with Windows quoting", () => {
    sb.write("args.rsp", '/c /Brepro "/Iinc" "/DRSP=a b" m.c /Forsp.obj\n')
    expect(compare(["@args.rsp"], "rsp.obj").hits).toBe(1)
  })

  it("caches in preprocessor mode too (SCCACHE_DIRECT=false), with /showIncludes replayed", () => {
    sb.write("pp.c", '#include "h.h"\nint pp(void) { return X + 1; }\n')
    // Its own daemon: direct mode is a daemon setting.
    const alt = makeSandbox({ SCCACHE_DIRECT: "false" })
    try {
      fs.cpSync(path.join(sb.dir, "inc"), path.join(alt.dir, "inc"), { recursive: true })
      fs.copyFileSync(path.join(sb.dir, "pp.c"), path.join(alt.dir, "pp.c"))
      const args = [exe, ...pre, "/c", "/Brepro", "/Iinc", "/showIncludes", "pp.c", "/Fopp.obj"]
      const p = run(exe, args.slice(1), { cwd: alt.dir, env })
      const want = fs.readFileSync(path.join(alt.dir, "pp.obj"))
      for (let i = 0; i < 2; i++) {
        fs.rmSync(path.join(alt.dir, "pp.obj"))
        const r = alt.sccache(args, { env: { ...env, SCCACHE_DIR: alt.env["SCCACHE_DIR"], SCCACHE_SERVER_UDS: alt.socket, SCCACHE_DIRECT: "false" } })
        expect(r.stdout.toString()).toBe(p.stdout.toString())
        expect(fs.readFileSync(path.join(alt.dir, "pp.obj"))).toEqual(want)
      }
      const s = alt.stats().stats
      expect(total(s.preprocessor_hits)).toBe(1)
      expect(total(s.direct_hits)).toBe(0)
    } finally {
      alt.stop()
    }
  })

  it("passes /Zi, precompiled headers, /E, /EP and /P through exactly, each with a reason", () => {
    const before = sb.stats().stats
    const through = (args: ReadonlyArray<string>, outputs: ReadonlyArray<string>) => {
      const clear = () => outputs.forEach((o) => fs.rmSync(path.join(sb.dir, o), { force: true }))
      clear()
      const p = plain(args)
      const want = outputs.map(read)
      clear()
      const r = cached(args)
      expect(r.code).toBe(p.code)
      expect(r.stdout.toString()).toBe(p.stdout.toString())
      expect(r.stderr.toString()).toBe(p.stderr.toString())
      expect(outputs.map(read)).toEqual(want)
    }
    through(["/c", "/Zi", "/Brepro", "/Iinc", "m.c", "/Fozi.obj", "/Fdzi.pdb"], ["zi.obj"])
    through(["/c", "/Brepro", "/Ycinc/h.h", "/Iinc", "m.c", "/Fopch.obj", "/Fpm.pch"], ["pch.obj"])
    through(["/E", "/Iinc", "m.c"], [])
    through(["/EP", "/Iinc", "m.c"], [])
    through(["/P", "/Iinc", "m.c", "/Fipre.i"], ["pre.i"])
    const after = sb.stats().stats
    const grew = (reason: string) => (after.not_cached[reason] ?? 0) - (before.not_cached[reason] ?? 0)
    expect(grew("/Zi (program database)")).toBe(1)
    expect(grew("precompiled header")).toBe(1)
    expect(grew("/E")).toBe(2)
    expect(grew("/P")).toBe(1)
    expect(total(after.cache_hits)).toBe(total(before.cache_hits))
  })

  it("counts its compiles as c [msvc] in the per-compiler stats", () => {
    const hits = sb.stats().stats.cache_hits.adv_counts ?? {}
    expect(hits["c [msvc]"]).toBeGreaterThan(0)
    expect(hits["c++ [msvc]"]).toBeGreaterThan(0)
    expect(Object.keys(hits).every((k) => k.endsWith("[msvc]"))).toBe(true)
  })
})
