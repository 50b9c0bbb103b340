import { it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { keyPath, logicalCwd, rebaseGccArgs } from "../../src/cache/BaseDirs.ts"
import { cKey, type CKeyInputs } from "../../src/cache/CKey.ts"
import { PreprocessedText } from "../../src/compiler/CompilerRunner.ts"
import { type GccCompilation, parseGccArgs } from "../../src/compiler/GccArgs.ts"
import { GCC_OPTIONS, includeDirs, keyFiles, lookupOption, rebaseArgs, showsColors, stripColors } from "../../src/compiler/GccOptions.ts"
import { assemblerReadsFiles } from "../../src/compiler/Language.ts"

const cacheable = (args: Array<string>, family: "gcc" | "clang" = "gcc", env: Record<string, string> = {}): GccCompilation => {
  const r = parseGccArgs(args, family, env)
  if (r._tag !== "Cacheable") throw new Error(`not cacheable: ${r.reason}`)
  return r.compilation
}

/** Every way an option of the table can be written with value `v`. */
const spellings = (name: string, v: string): Array<Array<string>> => {
  const spec = GCC_OPTIONS[name]!
  const out: Array<Array<string>> = []
  if (spec.value === "separate" || spec.value === "either") out.push([name, v])
  if (spec.value === "joined" || spec.value === "either") out.push([name + v])
  return out
}
const named = (pred: (n: string) => boolean) => Object.keys(GCC_OPTIONS).filter(pred)

describe("the gcc option table", () => {
  it("reads each option whole: exact names first, then the longest glued prefix", () => {
    expect(lookupOption(["-isystem/x"], 0)).toMatchObject({ name: "-isystem", value: "/x", words: 1 })
    expect(lookupOption(["-isysroot", "/r"], 0)).toMatchObject({ name: "-isysroot", value: "/r", words: 2 })
    expect(lookupOption(["-include-pch", "p.pch"], 0)).toMatchObject({ name: "-include-pch", words: 2 })
    expect(lookupOption(["-undef"], 0)).toMatchObject({ name: "-undef", value: undefined, words: 1 })
    expect(lookupOption(["-fsanitize-ignorelist=l.txt"], 0)).toMatchObject({ name: "-fsanitize-ignorelist=", value: "l.txt" })
    expect(lookupOption(["-fprofile-use"], 0)?.spec.notCacheable).toBe("-fprofile-use")
    expect(lookupOption(["-fdump-tree-all"], 0)?.spec.notCacheable).toBe("-fdump")
    expect(lookupOption(["-O2"], 0)).toBeUndefined()
  })

  it("every option it calls not cacheable makes the compile not cacheable, with that reason", () => {
    for (const name of named((n) => GCC_OPTIONS[n]!.notCacheable !== undefined)) {
      for (const words of spellings(name, "v").concat(GCC_OPTIONS[name]!.value === undefined ? [[name]] : [])) {
        const r = parseGccArgs(["-c", "a.c", ...words], "clang")
        expect({ words, r }).toEqual({ words, r: { _tag: "NotCacheable", reason: GCC_OPTIONS[name]!.notCacheable } })
      }
    }
  })

  it("every option that names a file hands that file to the key, in each spelling", () => {
    for (const name of named((n) => GCC_OPTIONS[n]!.keyFile === true && GCC_OPTIONS[n]!.notCacheable === undefined)) {
      for (const words of spellings(name, "dir/f.txt")) {
        expect({ words, files: cacheable(["-c", "a.c", ...words], "clang").keyFiles }).toEqual({ words, files: ["dir/f.txt"] })
      }
    }
    expect(keyFiles(["-c", "a.c", "-O2", "-I", "x"])).toEqual([])
  })

  it("a separate value is never taken for the input file", () => {
    for (const name of named((n) => GCC_OPTIONS[n]!.value === "separate" && GCC_OPTIONS[n]!.notCacheable === undefined)) {
      const r = parseGccArgs(["-c", "a.c", name, "b.c"], "clang")
      if (r._tag === "Cacheable") expect(r.compilation.input).toBe("a.c")
      else expect(r.reason).not.toBe("multiple input files")
    }
  })

  const rebase = (p: string) => (p.startsWith("/base/") ? `<${p.slice(6)}>` : p)

  it("rebases exactly the values the table marks as paths, in every spelling", () => {
    for (const name of Object.keys(GCC_OPTIONS)) {
      const spec = GCC_OPTIONS[name]!
      if (spec.value === undefined) continue
      for (const words of spellings(name, "/base/x")) {
        const out = rebaseArgs(words, rebase).join(" ")
        if (spec.path) expect({ name, out }).toEqual({ name, out: words.join(" ").replace("/base/x", "<x>") })
        else if (!spec.pathMap) expect({ name, out }).toEqual({ name, out: words.join(" ") })
      }
    }
    expect(rebaseArgs(["-ffile-prefix-map=/base/src=.", "/base/a.c", "-o", "/base/a.o"], rebase)).toEqual(["-ffile-prefix-map=<src>=.", "<a.c>", "-o", "<a.o>"])
  })

  it.prop("never rebases a -D value, an unknown option or a flag, whatever path it holds", [Schema.String, Schema.Literals(["-D", "-DX=", "-Wl,", "-fexec-charset=", "-mfoo="])], ([tail, opt]) => {
    const arg = `${opt}/base/${tail}`
    expect(rebaseArgs([arg, "-O2"], rebase)).toEqual([arg, "-O2"])
  }, { arbitrary: { runs: 200, seed: 17 } })

  it("base directories: one spelling shares across checkouts, absolute and relative spellings stay apart", () => {
    const key = (cwd: string, args: Array<string>) => rebaseGccArgs(args, cwd, [cwd])
    expect(key("/co1", ["-I/co1/inc", "-o", "/co1/t.o"])).toEqual(key("/co2", ["-I/co2/inc", "-o", "/co2/t.o"]))
    expect(key("/co1", ["-o", "/co1/t.o"])).not.toEqual(key("/co1", ["-o", "t.o"]))
    expect(key("/co1", ["-DX=/co1/data"])).not.toEqual(key("/co1", ["-DX=data"]))
    expect(keyPath("/usr/include/x.h", "/co1", ["/co1"])).toBe("/usr/include/x.h")
  })

  it("one list of include directories, from the table", () => {
    expect(includeDirs(["-Ib", "-I", "a", "-iquote", "q", "-isystem/s", "-idirafter", "z", "-O2", "-include", "p.h"])).toEqual(["b", "a", "q", "/s", "z"])
  })
})

describe("gcc/clang compiles the table and environment make special", () => {
  it("gcc's -Wp,-MMD,FILE passes -MT/-MQ to the -E run that writes the .d", () => {
    const c = cacheable(["-c", "t.c", "-MT", "foo.o", "-Wp,-MMD,dep.d"])
    expect(c.preprocessArgs).toEqual(["t.c", "-Wp,-MMD,dep.d", "-MT", "foo.o", "-E"])
    expect(c.dep).toEqual({ full: false, file: "dep.d", targets: ["-MT", "foo.o"] })
  })

  it("DEPENDENCIES_OUTPUT and SUNPRO_DEPENDENCIES make it not cacheable", () => {
    for (const v of ["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"]) {
      expect(parseGccArgs(["-c", "t.c"], "gcc", { [v]: "t.d" })).toEqual({ _tag: "NotCacheable", reason: v })
    }
    expect(parseGccArgs(["-c", "t.c"], "gcc", { PATH: "/bin" })._tag).toBe("Cacheable")
  })

  it("profiling objects record their output path; --coverage and split DWARF too", () => {
    for (const f of ["-fprofile-generate", "-fprofile-arcs", "--coverage", "-fprofile-generate=dir"]) {
      expect(cacheable(["-c", "t.c", f]).recordsOutputPath).toBe(true)
    }
    expect(cacheable(["-c", "t.c", "-O2"]).recordsOutputPath).toBe(false)
  })

  it("a .s file that reads other files is told apart from one that doesn't", () => {
    expect(assemblerReadsFiles('.section .rodata\nblob:\n  .incbin "data.bin"\n')).toBe(true)
    expect(assemblerReadsFiles('\t.include "x.s"\n')).toBe(true)
    expect(assemblerReadsFiles('lbl: .include "d"\n')).toBe(true)
    expect(assemblerReadsFiles('asm(".incbin \\"blob\\"");\n')).toBe(true)
    expect(assemblerReadsFiles('.globl x\nx: .long 1 # not .include here\n#include "x.h"\nint include;\n')).toBe(false)
  })

  it("gcc -g's working-directory line marker is not a file the compile read", () => {
    const t = new PreprocessedText()
    t.push('# 0 "t.c"\n# 0 "/home/u/p//"\n# 0 "<built-in>"\n# 1 "t.h" 1\nint x;\n')
    t.digest()
    expect([...t.files]).toEqual(["t.c", "t.h"])
  })

  it("the key holds the content of files options name, and not SOURCE_DATE_EPOCH", () => {
    const base: CKeyInputs = {
      compiler: { family: "clang", identity: "id", version: "clang 14" },
      driver: "/usr/bin/clang",
      compilation: cacheable(["-c", "a.c", "-fsanitize-ignorelist=l.txt"], "clang"),
      cwd: "/p",
      env: {},
      files: ["l.txt\0d1"],
      sourceDigest: "s",
      cpu: ""
    }
    expect(cKey({ ...base, files: ["l.txt\0d2"] })).not.toBe(cKey(base))
    expect(cKey({ ...base, env: { SOURCE_DATE_EPOCH: "1" } })).toBe(cKey(base))
  })

  it("the logical working directory is $PWD when it is the same directory, else the physical one", () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sct-pwd-")))
    fs.mkdirSync(path.join(root, "real"))
    fs.mkdirSync(path.join(root, "other"))
    fs.symlinkSync(path.join(root, "real"), path.join(root, "link"))
    const phys = path.join(root, "real")
    expect(logicalCwd(phys, path.join(root, "link"))).toBe(path.join(root, "link"))
    expect(logicalCwd(phys, path.join(root, "other"))).toBe(phys)
    expect(logicalCwd(phys, "relative/link")).toBe(phys)
    expect(logicalCwd(phys, undefined)).toBe(phys)
    fs.rmSync(root, { recursive: true })
  })
})

describe("diagnostic colors", () => {
  const COLOR_FLAGS = ["-fdiagnostics-color", "-fdiagnostics-color=always", "-fdiagnostics-color=never", "-fdiagnostics-color=auto", "-fno-diagnostics-color", "-fcolor-diagnostics", "-fno-color-diagnostics"]

  it.prop("color flags never reach the key, and the last one is the choice", [Schema.Array(Schema.Literals(COLOR_FLAGS))], ([flags]) => {
    const c = cacheable(["-c", "a.c", "-O2", ...flags, "-MD"])
    const plain = cacheable(["-c", "a.c", "-O2", "-MD"])
    expect([c.keyArgs, c.directArgs, c.colorsForced]).toEqual([plain.keyArgs, plain.directArgs, true])
    const last = flags.at(-1)
    expect(c.colors).toBe(last === undefined || last.endsWith("=auto") ? "auto" : /never|no-/.test(last) ? "never" : "always")
  }, { arbitrary: { runs: 200, seed: 23 } })

  it("stay in the key, unforced, when the object records its command line", () => {
    const c = cacheable(["-c", "a.c", "-frecord-gcc-switches", "-fdiagnostics-color=always"])
    expect(c.keyArgs).toContain("-fdiagnostics-color=always")
    expect(c.colorsForced).toBe(false)
  })

  it("are shown where the plain compiler shows them", () => {
    const term = { TERM: "xterm" }
    expect(showsColors("auto", true, term)).toBe(true)
    expect(showsColors("auto", false, term)).toBe(false)
    expect(showsColors("auto", true, { TERM: "dumb" })).toBe(false)
    expect(showsColors("auto", true, {})).toBe(false)
    expect(showsColors("always", false, {})).toBe(true)
    expect(showsColors("never", true, term)).toBe(false)
  })

  it("strip to exactly the text without colors", () => {
    const colored = "\x1b[01m\x1b[Kw.c:\x1b[m\x1b[K In function \u2018\x1b[01m\x1b[Kf\x1b[m\x1b[K\u2019:\n\x1b]8;;https://gcc.gnu.org/x\x07-Wall\x1b]8;;\x07\n"
    expect(stripColors(Buffer.from(colored)).toString()).toBe("w.c: In function \u2018f\u2019:\n-Wall\n")
  })
})
