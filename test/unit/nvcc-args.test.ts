/** The nvcc parser (pure): value spellings, outputs per mode, the host compiler, reasons. */
import { describe, expect, it } from "vitest"
import { parseNvccArgs } from "../../src/families/nvcc/NvccArgs.ts"

const ok = (args: Array<string>) => {
  const r = parseNvccArgs(args)
  if (r._tag !== "Cacheable") throw new Error(`not cacheable: ${r.reason}`)
  return r.compilation
}
const reason = (args: Array<string>) => {
  const r = parseNvccArgs(args)
  return r._tag === "NotCacheable" ? r.reason : undefined
}

describe("parseNvccArgs", () => {
  it("names the output per mode, or by -o / --output-file", () => {
    expect(ok(["-c", "k.cu"]).output).toBe("k.o")
    expect(ok(["--ptx", "k.cu"]).output).toBe("k.ptx")
    expect(ok(["-cubin", "k.cu"]).output).toBe("k.cubin")
    expect(ok(["--fatbin", "k.cu"]).output).toBe("k.fatbin")
    expect(ok(["-c", "k.cu", "-o", "out/x.o"]).output).toBe("out/x.o")
    expect(ok(["-c", "k.cu", "--output-file=y.o"]).output).toBe("y.o")
  })

  it("keeps every GPU target and host option in the key, in every spelling, and never the names of input or output", () => {
    const c = ok(["-c", "-arch=sm_80", "-gencode", "arch=compute_75,code=sm_75", "--gpu-code", "sm_80", "-Xcompiler", "-fPIC", "-DX=1", "-Iinc", "-O3", "k.cu", "-o", "k.o"])
    expect(c.keyArgs).toEqual(["-c", "-arch=sm_80", "-gencode", "arch=compute_75,code=sm_75", "--gpu-code", "sm_80", "-Xcompiler", "-fPIC", "-DX=1", "-Iinc", "-O3"])
    expect(c.includeDirs).toEqual(["inc"])
  })

  it("finds the host compiler in -ccbin and --compiler-bindir", () => {
    expect(ok(["-c", "-ccbin", "clang++", "k.cu"]).hostCompiler).toBe("clang++")
    expect(ok(["-c", "--compiler-bindir=/opt/gcc/bin", "k.cu"]).hostCompiler).toBe("/opt/gcc/bin")
  })

  it("says why for what it can't cache", () => {
    expect(reason(["-E", "k.cu"])).toBe("-E")
    expect(reason(["-c", "-M", "k.cu"])).toBe("-M")
    expect(reason(["-c", "-MD", "k.cu"])).toBe("-MD with nvcc")
    expect(reason(["-c", "--keep", "k.cu"])).toBe("-keep")
    expect(reason(["-c", "--dryrun", "k.cu"])).toBe("-dryrun")
    expect(reason(["-c", "a.cu", "b.cu"])).toBe("multiple input files")
    expect(parseNvccArgs(["k.cu", "-o", "app"])).toEqual({ _tag: "NotCacheable", reason: "linking", nonCompilation: true })
  })
})
