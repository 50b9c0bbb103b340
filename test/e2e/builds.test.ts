/**
 * Whole builds as users run them: make -j2 with CC="sccache-ts gcc", and CMake's compiler
 * launcher. The second build must be all hits, with objects identical to a plain build's.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, copyCProject as copyProject, have, makeSandbox, run, total } from "../support/harness.ts"

const OBJECTS = ["words.o", "checksum.o", "stats.o", "main.o"]

for (const tool of ["make", "cmake"]) {
  if (!have(tool)) throw new Error(`${tool} is not installed: .ci/run installs it`)
}

describe("builds", () => {
  const sb = makeSandbox()
  afterAll(() => sb.stop())

  it("make -j2 through sccache-ts gcc: the rebuild is all hits, byte-identical to plain make", () => {
    const plainDir = copyProject(path.join(sb.dir, "plain"))
    expect(run("make", ["-j2", "CC=gcc"], { cwd: plainDir, env: sb.env }).code).toBe(0)
    const proj = copyProject(path.join(sb.dir, "cached"))
    const cc = `CC=${BIN} gcc`
    expect(run("make", ["-j2", cc], { cwd: proj, env: sb.env }).code).toBe(0)
    let s = sb.stats().stats
    expect(total(s.cache_misses)).toBe(4)
    expect(run("make", ["clean"], { cwd: proj }).code).toBe(0)
    const rebuild = run("make", ["-j2", cc], { cwd: proj, env: sb.env })
    expect(rebuild.code).toBe(0)
    s = sb.stats().stats
    expect(total(s.cache_hits)).toBe(4)
    expect(total(s.cache_misses)).toBe(4)
    for (const o of OBJECTS) {
      expect(fs.readFileSync(path.join(proj, "build", o)), o).toEqual(fs.readFileSync(path.join(plainDir, "build", o)))
      expect(fs.readFileSync(path.join(proj, "build", o.replace(".o", ".d"))).toString()).toBe(
        fs.readFileSync(path.join(plainDir, "build", o.replace(".o", ".d"))).toString()
      )
    }
    expect(run(path.join(proj, "build", "demo"), [], { cwd: proj }).stdout.toString()).toBe("6 words, checksum 2a7b0737, mean 2.50\n")
    // The link went through too, uncached and counted as such.
    expect(s.requests_not_compile).toBe(2)
  })

  it("CMake's compiler launcher: a second build directory is all hits", () => {
    const before = sb.stats().stats
    const proj = copyProject(path.join(sb.dir, "cmake"))
    for (const b of ["build1", "build2"]) {
      const dir = path.join(proj, b)
      const conf = run("cmake", ["-S", proj, "-B", dir, `-DCMAKE_C_COMPILER_LAUNCHER=${BIN}`, "-DCMAKE_BUILD_TYPE=Release"], { cwd: proj, env: sb.env })
      expect(conf.code, conf.stderr.toString()).toBe(0)
      const build = run("cmake", ["--build", dir, "-j2"], { cwd: proj, env: sb.env })
      expect(build.code, build.stderr.toString()).toBe(0)
      expect(run(path.join(dir, "demo"), [], { cwd: proj }).stdout.toString()).toBe("6 words, checksum 2a7b0737, mean 2.50\n")
    }
    const after = sb.stats().stats
    expect(total(after.cache_misses) - total(before.cache_misses)).toBe(4)
    expect(total(after.cache_hits) - total(before.cache_hits)).toBe(4)
  })
})
