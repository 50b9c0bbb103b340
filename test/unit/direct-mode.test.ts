import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { depFromTemplate, depToTemplate, relativizeArg, relativizePath } from "../../src/cache/BaseDirs.ts"
import { addCandidate, MAX_CANDIDATES, manifestKey, type ManifestKeyInputs, parseSearchDirs, shadowCandidates } from "../../src/cache/Manifest.ts"
import { PreprocessedText } from "../../src/compiler/CompilerRunner.ts"
import { parseDepFile } from "../../src/compiler/DepFile.ts"
import { parseGccArgs } from "../../src/compiler/GccArgs.ts"
import { includeDirs } from "../../src/compiler/GccOptions.ts"

describe("base directories", () => {
  const bases = ["/home/u/src"]
  it("makes paths under a base relative to the working directory, and leaves others alone", () => {
    expect(relativizePath("/home/u/src/p/a.c", "/home/u/src/p/build", bases)).toBe("../a.c")
    expect(relativizePath("/usr/include/stdio.h", "/home/u/src/p", bases)).toBe("/usr/include/stdio.h")
    expect(relativizePath("/home/u/srcx/a.c", "/home/u/src/p", bases)).toBe("/home/u/srcx/a.c")
    expect(relativizePath("rel/a.c", "/x", bases)).toBe("rel/a.c")
  })

  it("rewrites paths inside arguments", () => {
    const cwd = "/home/u/src/p/build"
    expect(relativizeArg("-I/home/u/src/p/include", cwd, bases)).toBe("-I../include")
    expect(relativizeArg("-ffile-prefix-map=/home/u/src/p=.", cwd, bases)).toBe("-ffile-prefix-map=..=.")
    expect(relativizeArg("-O2", cwd, bases)).toBe("-O2")
    expect(relativizeArg("-I/usr/include", cwd, bases)).toBe("-I/usr/include")
  })

  it.prop("a .d template restores the same text in the same place", [Schema.Array(Schema.Literals(["a.c", "inc/x.h", "sub dir/y.h", "/usr/include/z.h"]))], ([files]) => {
    const cwd = "/home/u/src/p"
    const dep = `out.o: ${files.map((f) => (f.startsWith("/") ? f : `${cwd}/${f}`).replace(/ /g, "\\ ")).join(" \\\n ")}\n`
    expect(depFromTemplate(depToTemplate(dep, cwd, bases), cwd)).toBe(dep)
  }, { arbitrary: { runs: 100, seed: 8 } })

  it("moves .d paths to another checkout", () => {
    const dep = "a.o: /h/co1/src/a.c /h/co1/include/lib.h /usr/include/stdio.h\n"
    const template = depToTemplate(dep, "/h/co1/build", ["/h"])
    expect(depFromTemplate(template, "/h/co2/build")).toBe("a.o: /h/co2/src/a.c /h/co2/include/lib.h /usr/include/stdio.h\n")
  })
})

describe("dependency files", () => {
  it("lists every prerequisite once, with escapes undone", () => {
    const text = "out/a.o: src/a.c /usr/include/stdio.h \\\n inc/with\\ space.h inc/$$dollar.h\ninc/with\\ space.h:\n"
    expect(parseDepFile(text)).toEqual(["src/a.c", "/usr/include/stdio.h", "inc/with space.h", "inc/$dollar.h"])
  })
})

describe("manifests", () => {
  it("finds the places where a new header would shadow one that was read", () => {
    const shadows = shadowCandidates(["main.c", "a/foo.h", "/usr/include/stdio.h"], ["b", "a", "/usr/include"], "/w")
    expect(shadows.get("/w/b")).toEqual(new Set(["foo.h", "stdio.h"]))
    expect(shadows.get("/w/a")).toEqual(new Set(["stdio.h"]))
    // The directories of the files read (quote includes look there first).
    expect(shadows.get("/w")).toEqual(new Set(["foo.h", "stdio.h"]))
    expect(shadows.get("/usr/include")).toEqual(new Set(["foo.h"]))
  })

  it("reads the search path, including directories that don't exist yet", () => {
    const stderr = [
      'ignoring nonexistent directory "b"',
      '#include "..." search starts here:',
      "#include <...> search starts here:",
      " a",
      " /usr/include",
      "End of search list."
    ].join("\n")
    expect(parseSearchDirs(stderr)).toEqual(["b", "a", "/usr/include"])
    expect(parseSearchDirs("nothing here")).toBeUndefined()
    expect(includeDirs(["-Ib", "-I", "a", "-iquote", "q", "-isystem/s", "-O2"])).toEqual(["b", "a", "q", "/s"])
  })

  it("keeps the newest candidates, one per result", () => {
    let m = undefined as Parameters<typeof addCandidate>[0]
    for (let i = 0; i < MAX_CANDIDATES + 5; i++) m = addCandidate(m, { result: `r${i % (MAX_CANDIDATES + 2)}`, includes: [], absent: [] })
    expect(m!.candidates.length).toBe(MAX_CANDIDATES)
    expect(m!.candidates[0]!.result).toBe(`r${(MAX_CANDIDATES + 4) % (MAX_CANDIDATES + 2)}`)
    expect(new Set(m!.candidates.map((c) => c.result)).size).toBe(MAX_CANDIDATES)
  })

  it("keys on everything a direct-mode hit must match", () => {
    const c = parseGccArgs(["-c", "a.c", "-Iinc", "-DX"], "gcc")
    if (c._tag !== "Cacheable") throw new Error(c.reason)
    const base: ManifestKeyInputs = {
      compiler: { family: "gcc", identity: "id", version: "v" },
      driver: "/usr/bin/gcc",
      compilation: c.compilation,
      args: c.compilation.directArgs,
      input: "a.c",
      inputDigest: "d1",
      cwd: undefined,
      env: {},
      cpu: ""
    }
    const k = manifestKey(base)
    expect(manifestKey({ ...base, args: [...base.args, "-DY"] })).not.toBe(k)
    expect(manifestKey({ ...base, inputDigest: "d2" })).not.toBe(k)
    expect(manifestKey({ ...base, input: "b.c" })).not.toBe(k)
    expect(manifestKey({ ...base, env: { CPATH: "/x" } })).not.toBe(k)
    expect(manifestKey({ ...base, cwd: "/w" })).not.toBe(k)
    expect(manifestKey({ ...base, env: { HOME: "/x" } })).toBe(k)
  })
})

describe("preprocessed text", () => {
  const text = '# 1 "/h/co1/src/a.c"\nint a;\n# 1 "/h/co1/inc/x.h" 1\nint x;\n# 3 "<built-in>"\n.incbin "f"\n'
  it("collects the files read and hashes them rebased", () => {
    const one = new PreprocessedText((f) => f.replace("/h/co1", "."))
    // Fed in awkward pieces: markers split across chunks.
    for (let i = 0; i < text.length; i += 7) one.push(text.slice(i, i + 7))
    const two = new PreprocessedText((f) => f.replace("/h/co2", "."))
    two.push(text.replaceAll("/h/co1", "/h/co2"))
    expect(one.files).toEqual(new Set(["/h/co1/src/a.c", "/h/co1/inc/x.h"]))
    expect(one.incbin).toBe(true)
    expect(one.digest()).toBe(two.digest())
  })

  it("without rebasing, another place is another text", () => {
    const one = new PreprocessedText()
    one.push(text)
    const two = new PreprocessedText()
    two.push(text.replaceAll("/h/co1", "/h/co2"))
    expect(one.digest()).not.toBe(two.digest())
  })
})
