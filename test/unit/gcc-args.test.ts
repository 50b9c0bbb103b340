import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { type GccCompilation, mappedCwd, parseGccArgs } from "../../src/compiler/GccArgs.ts"

const cacheable = (args: Array<string>, family: "gcc" | "clang" = "gcc"): GccCompilation => {
  const r = parseGccArgs(args, family)
  if (r._tag !== "Cacheable") throw new Error(`not cacheable: ${r.reason}`)
  return r.compilation
}
const reason = (args: Array<string>) => {
  const r = parseGccArgs(args, "gcc")
  return r._tag === "NotCacheable" ? r.reason : undefined
}

describe("parseGccArgs: examples", () => {
  it("finds input, output and language", () => {
    const c = cacheable(["-c", "src/foo.c", "-o", "obj/foo.o", "-O2"])
    expect(c).toMatchObject({ input: "src/foo.c", output: "obj/foo.o", language: "c" })
    expect(cacheable(["-c", "src/foo.cpp"]).output).toBe("foo.o")
    expect(cacheable(["-S", "x.cc"]).output).toBe("x.s")
    expect(cacheable(["-c", "-x", "c++", "weird.txt"]).language).toBe("c++")
    expect(cacheable(["-c", "-ofoo.o", "a.c"]).output).toBe("foo.o")
  })

  it("leaves -I, -D, -U, -include and outputs out of the key, but in the -E run", () => {
    const c = cacheable(["-c", "-Iinc", "-I", "inc2", "-DX=1", "-D", "Y", "-UZ", "-include", "pre.h", "-isystem", "s", "a.c", "-o", "a.o", "-O2"])
    expect(c.keyArgs).toEqual(["-c", "-O2"])
    expect(c.preprocessArgs).toEqual(["-Iinc", "-I", "inc2", "-DX=1", "-D", "Y", "-UZ", "-include", "pre.h", "-isystem", "s", "a.c", "-O2", "-E"])
  })

  it("names the dependency file as gcc does and has the -E run write it", () => {
    expect(cacheable(["-c", "a.c", "-o", "o/a.o", "-MD"]).dep).toEqual({ full: true, file: "o/a.d", targets: [] })
    expect(cacheable(["-c", "d/a.c", "-MMD"]).dep?.file).toBe("a.d")
    const c = cacheable(["-c", "a.c", "-MD", "-MF", "x.d", "-MT", "t", "-MP"])
    expect(c.dep).toEqual({ full: true, file: "x.d", targets: ["-MT", "t"] })
    expect(c.preprocessArgs).toEqual(["a.c", "-MP", "-MD", "-MF", "x.d", "-MT", "t", "-E"])
    expect(c.keyArgs).toEqual(["-c", "-MD", "-MP"])
    // With no -MT/-MQ the compile's target is the object, so the -E run is told so.
    expect(cacheable(["-c", "a.c", "-o", "o/a.o", "-MD"]).preprocessArgs).toEqual(["a.c", "-MD", "-MF", "o/a.d", "-MQ", "o/a.o", "-E"])
    expect(cacheable(["-c", "a.c", "-Wp,-MD,x.d"]).preprocessArgs).toEqual(["a.c", "-Wp,-MD,x.d", "-E"])
    expect(cacheable(["-c", "a.c", "-Wp,-MD,x.d"], "clang").preprocessArgs).toEqual(["a.c", "-MD", "-MF", "x.d", "-MQ", "a.o", "-E"])
  })

  it("lists side outputs and what puts paths into the key", () => {
    const c = cacheable(["-c", "a.c", "-o", "o/a.o", "-g", "-gsplit-dwarf", "--coverage", "-fstack-usage"])
    expect(c.sideOutputs).toEqual([{ role: "dwo", file: "o/a.dwo" }, { role: "gcno", file: "o/a.gcno" }, { role: "su", file: "o/a.su" }])
    expect(c.outputPathInKey).toBe(true)
    expect(c.recordsCwd).toBe(true)
    expect(cacheable(["-c", "a.c", "-g", "-g0"]).recordsCwd).toBe(false)
    expect(cacheable(["-c", "a.c"]).recordsCwd).toBe(false)
    expect(cacheable(["-c", "a.c", "-march=native"]).nativeCpu).toBe(true)
  })

  it("refuses what it can't cache, with a reason", () => {
    expect(parseGccArgs(["a.o", "-o", "prog"], "gcc")).toEqual({ _tag: "NotCacheable", reason: "linking", nonCompilation: true })
    expect(reason(["-E", "a.c"])).toBe("-E")
    expect(reason(["-c", "a.c", "b.c"])).toBe("multiple input files")
    expect(reason(["-c"])).toBe("no input file")
    expect(reason(["-c", "a.unknown"])).toBe("unknown source language")
    expect(reason(["-c", "-x", "fortran", "a.f"])).toBe("unknown source language")
    expect(reason(["-c", "a.c", "-save-temps"])).toBe("-save-temps")
    expect(reason(["-c", "a.c", "-fprofile-use"])).toBe("-fprofile-use")
    expect(reason(["-c", "-"])).toBe("input from stdin")
    expect(reason(["-c", "a.c", "-o", "-"])).toBe("output to stdout")
    expect(reason(["-c", "a.c", "-M"])).toBe("-M")
    expect(reason(["-c", "a.c", "-o"])).toBe("missing argument to -o")
    expect(reason(["-c", "a.c", "-arch", "x86_64", "-arch", "arm64"])).toBe("multiple -arch")
  })

  it("maps the working directory as the last matching prefix map does", () => {
    expect(mappedCwd("/home/u/src/p", [["/home/u", "/a"], ["/home/u/src", "/b"]])).toBe("/b/p")
    expect(mappedCwd("/home/u/src/p", [["/home/u/src", "/b"], ["/home/u", "/a"]])).toBe("/a/src/p")
    expect(mappedCwd("/home/user", [["/home/u", "/a"]])).toBe("/home/user")
  })
})

/** Flags that change the object without showing in the preprocessed text. */
const AFFECTING = ["-O0", "-O2", "-Os", "-g", "-Wall", "-Werror", "-fPIC", "-fno-inline", "-m32", "-ffast-math", "-fstack-protector", "-std=c99", "-pedantic", "-w"] as const
/** Arguments whose effect is wholly in the preprocessed text, or that only name outputs. */
const NEUTRAL: ReadonlyArray<ReadonlyArray<string>> = [["-Iinc"], ["-I", "x"], ["-DFOO=1"], ["-D", "BAR"], ["-UBAZ"], ["-include", "p.h"], ["-o", "elsewhere.o"], ["-MD"], ["-MF", "f.d"], ["-MT", "t"], ["-isystem", "/s"], ["-iquote", "q"]]

const Affecting = Schema.Array(Schema.Literals(AFFECTING))
const Insertions = Schema.Array(Schema.Struct({ at: Schema.Int, which: Schema.Int }))

describe("parseGccArgs: properties", () => {
  it.prop("-I/-D/-U/-include and output names never change the key", [Affecting, Insertions], ([flags, inserts]) => {
    const base = ["-c", ...flags, "a.c"]
    // Noise goes in between whole arguments, never between an option and its value.
    const units: Array<ReadonlyArray<string>> = base.map((a) => [a])
    for (const { at, which } of inserts) {
      // "-MD" adds a dependency kind, which is in the key on purpose: it changes the .d text.
      const noise = NEUTRAL[Math.abs(which) % NEUTRAL.length]!
      if (noise[0] === "-MD") continue
      units.splice(1 + (Math.abs(at) % units.length), 0, noise)
    }
    expect(cacheable(units.flat()).keyArgs).toEqual(cacheable(base).keyArgs)
  }, { arbitrary: { runs: 300, seed: 7 } })

  it.prop("every flag that changes the object changes the key", [Affecting, Schema.Literals(AFFECTING)], ([flags, extra]) => {
    const base = cacheable(["-c", ...flags, "a.c"]).keyArgs
    expect(cacheable(["-c", ...flags, extra, "a.c"]).keyArgs).not.toEqual(base)
  }, { arbitrary: { runs: 300, seed: 11 } })

  it.prop("never throws, whatever the arguments", [Schema.Array(Schema.String)], ([args]) => {
    const r = parseGccArgs(args, "gcc")
    expect(["Cacheable", "NotCacheable"]).toContain(r._tag)
  }, { arbitrary: { runs: 500, seed: 3 } })
})
