/**
 * CUDA through sccache-ts with the real nvcc (no GPU needed to compile). nvcc's objects differ
 * from run to run (temporary names are baked in), so a hit is compared with the first compile's
 * object, not with a fresh one. nvcc takes seconds per compile: the tests are few.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { have, makeSandbox, run, type Sandbox, total } from "../support/harness.ts"

// Skipped where nvcc is absent: the CUDA toolkit is large and not every machine has it.
// A hang guard well above a loaded machine's nvcc (several seconds a compile).
describe.skipIf(!have("nvcc"))("nvcc through sccache-ts", { timeout: 180_000 }, () => {
  let sb: Sandbox
  const read = (f: string) => fs.readFileSync(path.join(sb.dir, f))
  const counts = () => {
    const s = sb.stats().stats
    return { hits: s.cache_hits.adv_counts?.["cuda [nvcc]"] ?? 0, misses: s.cache_misses.adv_counts?.["cuda [nvcc]"] ?? 0 }
  }

  beforeAll(() => {
    sb = makeSandbox()
    sb.write("k.h", "#define K 7\n")
    sb.write("dev.h", "#define DEV 1\n")
    // dev.h is read by the device pass only.
    sb.write("k.cu", '#include "k.h"\n#ifdef __CUDA_ARCH__\n#include "dev.h"\n#endif\n__global__ void k(int* p) { *p = K; }\n')
    sb.write("bad.cu", "__global__ void k(int* p) { *p = nope; }\n")
  })
  afterAll(() => sb.stop())

  it("caches nvcc -c: a hit replays the first compile's object exactly", () => {
    const first = sb.sccache(["nvcc", "-c", "k.cu", "-o", "k.o"])
    expect(first.code).toBe(0)
    const obj = read("k.o")
    fs.rmSync(path.join(sb.dir, "k.o"))
    const before = counts()
    const again = sb.sccache(["nvcc", "-c", "k.cu", "-o", "k.o"])
    expect(again.code).toBe(0)
    expect(again.stdout.toString()).toBe(first.stdout.toString())
    expect(again.stderr.toString()).toBe(first.stderr.toString())
    expect(read("k.o")).toEqual(obj)
    expect(counts()).toEqual({ hits: before.hits + 1, misses: before.misses })
  })

  it("another -arch misses, and so does an edited header of either pass", () => {
    const before = counts()
    expect(sb.sccache(["nvcc", "-arch=sm_75", "-c", "k.cu", "-o", "k75.o"]).code).toBe(0)
    sb.write("dev.h", "#define DEV 2\n")
    expect(sb.sccache(["nvcc", "-c", "k.cu", "-o", "k.o"]).code).toBe(0)
    expect(counts()).toEqual({ hits: before.hits, misses: before.misses + 2 })
  })

  it("a failed compile passes its exit code and diagnostics through", () => {
    const plain = run("nvcc", ["-c", "bad.cu", "-o", "bad.o"], { cwd: sb.dir, env: sb.env })
    const cached = sb.sccache(["nvcc", "-c", "bad.cu", "-o", "bad.o"])
    expect(plain.code).not.toBe(0)
    expect(cached.code).toBe(plain.code)
    expect(cached.stderr.toString()).toBe(plain.stderr.toString())
  })

  it("passes nvcc -E through with a reason", () => {
    const before = sb.stats().stats
    const r = sb.sccache(["nvcc", "-E", "k.cu"])
    expect(r.code).toBe(0)
    expect((sb.stats().stats.not_cached["-E"] ?? 0) - (before.not_cached["-E"] ?? 0)).toBe(1)
    expect(total(sb.stats().stats.cache_hits)).toBe(total(before.cache_hits))
  })
})
