/**
 * Real gcc, g++, clang and clang++ through sccache-ts: every result compared byte for byte with a
 * plain compile of the same command in the same directory.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { have, makeSandbox, run, type Sandbox, total } from "../support/harness.ts"

const COMPILERS = ["gcc", "g++", "clang", "clang++"] as const

for (const cc of COMPILERS) {
  if (!have(cc)) throw new Error(`${cc} is not installed: .ci/run installs gcc, g++ and clang`)
}

/** Runs `cc args` plainly, then through the cache twice; returns the three runs and the outputs. */
const compare = (sb: Sandbox, cc: string, args: Array<string>, outputs: Array<string>) => {
  const read = () => outputs.map((o) => (fs.existsSync(path.join(sb.dir, o)) ? fs.readFileSync(path.join(sb.dir, o)) : undefined))
  const clear = () => outputs.forEach((o) => fs.rmSync(path.join(sb.dir, o), { force: true }))
  clear()
  const plain = run(cc, args, { cwd: sb.dir, env: sb.env })
  const plainOut = read()
  clear()
  const miss = sb.sccache([cc, ...args])
  const missOut = read()
  clear()
  const hit = sb.sccache([cc, ...args])
  const hitOut = read()
  for (const r of [miss, hit]) {
    expect(r.code).toBe(plain.code)
    expect(r.stdout.toString()).toBe(plain.stdout.toString())
    expect(r.stderr.toString()).toBe(plain.stderr.toString())
  }
  outputs.forEach((o, i) => {
    expect(missOut[i], `${o} after a miss`).toEqual(plainOut[i])
    expect(hitOut[i], `${o} after a hit`).toEqual(plainOut[i])
  })
  return { plain, plainOut }
}

describe.each(COMPILERS)("%s through sccache-ts", (cc) => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox()
    fs.mkdirSync(path.join(sb.dir, "out"))
    sb.write("inc/shared.h", "#define SHARED 42\nstatic inline int twice(int x) { return 2 * x; }\n")
    sb.write("hello.c", '#include <stdio.h>\n#include "shared.h"\nint main(void) { printf("%d\\n", twice(SHARED)); return 0; }\n')
    sb.write("warn.c", "int f(int x) { int unused; return x; }\n")
    sb.write("broken.c", "int f(void) { return nope; }\n")
    sb.write("a.c", "int a(void) { return 1; }\n")
    sb.write("b.c", "int b(void) { return 2; }\n")
  })
  afterAll(() => sb.stop())

  it("caches an object: miss, then a hit byte-identical to a plain compile", () => {
    const before = sb.stats().stats
    compare(sb, cc, ["-Iinc", "-O2", "-c", "hello.c", "-o", "out/hello.o"], ["out/hello.o"])
    const after = sb.stats().stats
    expect(total(after.cache_misses) - total(before.cache_misses)).toBe(1)
    expect(total(after.cache_hits) - total(before.cache_hits)).toBe(1)
  })

  it("writes .d files identical to the compiler's, for every dependency-file form", () => {
    for (const dep of [["-MD"], ["-MMD", "-MP"], ["-MD", "-MF", "out/x.d", "-MT", "tgt", "-MQ", "q$x"], ["-Wp,-MD,out/wp.d"]]) {
      const depFile = dep.includes("-MF") ? "out/x.d" : dep[0]!.startsWith("-Wp") ? "out/wp.d" : "out/dep.d"
      compare(sb, cc, ["-Iinc", "-c", "hello.c", "-o", "out/dep.o", ...dep], ["out/dep.o", depFile])
    }
  })

  it("hits for the same source compiled to another object name", () => {
    compare(sb, cc, ["-Iinc", "-c", "hello.c", "-o", "first.o"], ["first.o"])
    const before = sb.stats().stats
    sb.sccache([cc, "-Iinc", "-c", "hello.c", "-o", "second.o"])
    expect(total(sb.stats().stats.cache_hits)).toBe(total(before.cache_hits) + 1)
    expect(fs.readFileSync(path.join(sb.dir, "second.o"))).toEqual(fs.readFileSync(path.join(sb.dir, "first.o")))
  })

  it("replays warnings on a hit", () => {
    const { plain } = compare(sb, cc, ["-Wall", "-Wextra", "-c", "warn.c"], ["warn.o"])
    expect(plain.stderr.toString()).toMatch(/unused/)
  })

  it("passes a failed compile through exactly and never stores it", () => {
    const before = sb.stats().stats
    const { plain } = compare(sb, cc, ["-c", "broken.c", "-o", "broken.o"], ["broken.o"])
    expect(plain.code).not.toBe(0)
    const after = sb.stats().stats
    expect(after.compile_fails - before.compile_fails).toBe(2)
    expect(total(after.cache_hits)).toBe(total(before.cache_hits))
  })

  it("passes through what it can't cache: linking, -E, several inputs", () => {
    sb.sccache([cc, "-Iinc", "-c", "hello.c", "-o", "link.o"])
    const before = sb.stats().stats
    compare(sb, cc, ["link.o", "-o", "prog"], ["prog"])
    expect(run(path.join(sb.dir, "prog"), [], { cwd: sb.dir }).stdout.toString()).toBe("84\n")
    compare(sb, cc, ["-Iinc", "-E", "hello.c"], [])
    compare(sb, cc, ["-c", "a.c", "b.c"], ["a.o", "b.o"])
    const after = sb.stats().stats
    expect(after.requests_not_compile - before.requests_not_compile).toBe(2)
    expect(after.not_cached["-E"]! - (before.not_cached["-E"] ?? 0)).toBe(2)
    expect(after.not_cached["multiple input files"]! - (before.not_cached["multiple input files"] ?? 0)).toBe(2)
    expect(total(after.cache_hits)).toBe(total(before.cache_hits))
  })

  it("restores split DWARF (.dwo) beside the object", () => {
    compare(sb, cc, ["-g", "-gsplit-dwarf", "-c", "a.c", "-o", "out/split.o"], ["out/split.o", "out/split.dwo"])
  })

  it("misses after a header changes", () => {
    sb.write("inc/edit.h", "#define V 1\n")
    sb.write("edit.c", '#include "edit.h"\nint v(void) { return V; }\n')
    sb.sccache([cc, "-Iinc", "-c", "edit.c"])
    const before = sb.stats().stats
    sb.write("inc/edit.h", "#define V 2\n")
    compare(sb, cc, ["-Iinc", "-c", "edit.c"], ["edit.o"])
    const after = sb.stats().stats
    expect(total(after.cache_misses) - total(before.cache_misses)).toBe(1)
  })
})

describe("gcc specifics", () => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox()
    sb.write("cov.c", "int c(int x) { if (x) return 1; return 2; }\n")
  })
  afterAll(() => sb.stop())

  it("restores coverage notes (.gcno) and stack usage (.su)", () => {
    compare(sb, "gcc", ["--coverage", "-fstack-usage", "-c", "cov.c", "-o", "o/cov.o"], ["o/cov.o", "o/cov.gcno", "o/cov.su"])
  })

  it("caches MSVC-style compiles (clang --driver-mode=cl) exactly (test/e2e/msvc.test.ts has the rest)", () => {
    sb.write("cl.c", "int cl(void) { return 3; }\n")
    const before = sb.stats().stats
    // /Brepro: COFF objects otherwise carry a timestamp, and no two compiles would compare equal.
    compare(sb, "clang", ["--driver-mode=cl", "/Brepro", "/c", "cl.c", "/Focl.obj"], ["cl.obj"])
    expect(total(sb.stats().stats.cache_hits) - total(before.cache_hits)).toBe(1)
  })
})
