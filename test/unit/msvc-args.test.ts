/** The cl-syntax parser (pure): options in both spellings, outputs, reasons, /showIncludes, response files. */
import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { parseMsvcArgs, parseShowIncludes, splitWindowsCommandLine, withoutShowIncludes } from "../../src/families/msvc/MsvcArgs.ts"

const ok = (args: Array<string>, isDir?: (p: string) => boolean, colon = true) => {
  const r = parseMsvcArgs(args, isDir, colon)
  if (r._tag !== "Cacheable") throw new Error(`not cacheable: ${r.reason}`)
  return r.compilation
}
const reason = (args: Array<string>) => {
  const r = parseMsvcArgs(args)
  return r._tag === "NotCacheable" ? r.reason : undefined
}

describe("parseMsvcArgs", () => {
  it("names the object by /Fo (file, directory), /Fo:, -o, or after the source", () => {
    expect(ok(["/c", "a.c", "/Fox.obj"]).output).toBe("x.obj")
    expect(ok(["/c", "src/a.c", "/Foobj/"]).output).toBe("obj/a.obj")
    expect(ok(["/c", "a.c", "/Foobj"], (p) => p === "obj").output).toBe("obj/a.obj")
    expect(ok(["/c", "a.c", "/Fo:", "y.obj"]).output).toBe("y.obj")
    expect(ok(["/c", "a.c", "/Fo:z.obj"]).output).toBe("z.obj")
    // A driver without the /Fo: spelling reads a name starting with a colon.
    expect(ok(["/c", "a.c", "/Fo:z.obj"], undefined, false).output).toBe(":z.obj")
    expect(ok(["-c", "a.c", "-o", "w.obj"]).output).toBe("w.obj")
    expect(ok(["/c", "dir/a.cpp"]).output).toBe("a.obj")
  })

  it("reads / and - spellings alike, and keeps preprocessor options out of the key", () => {
    for (const dash of ["/", "-"]) {
      const c = ok([`${dash}c`, `${dash}Iinc`, `${dash}D`, "X=1", `${dash}O2`, `${dash}FIpre.h`, "a.c"])
      expect(c.keyArgs).toEqual([`${dash}c`, `${dash}O2`])
      expect(c.includeDirs).toEqual(["inc"])
      expect(c.preprocessArgs).toEqual([`${dash}Iinc`, `${dash}D`, "X=1", `${dash}O2`, `${dash}FIpre.h`, "a.c", "/E"])
      expect(c.directArgs).not.toContain("a.c")
    }
  })

  it("takes the language from /Tc, /Tp, /TC, /TP, else from the name", () => {
    expect(ok(["/c", "/Tcx.txt"]).language).toBe("c")
    expect(ok(["/c", "/Tp", "x.txt"]).language).toBe("c++")
    expect(ok(["/c", "/TP", "a.c"]).language).toBe("c++")
    expect(ok(["/c", "a.cpp"]).language).toBe("c++")
    expect(reason(["/c", "a.txt"])).toBe("unknown source language")
  })

  it("says why for what it can't cache", () => {
    expect(reason(["/c", "/Zi", "a.c"])).toBe("/Zi (program database)")
    expect(reason(["/c", "/Ycpch.h", "a.c"])).toBe("precompiled header")
    expect(reason(["/c", "/Yupch.h", "a.c"])).toBe("precompiled header")
    expect(reason(["/c", "/Fpx.pch", "a.c"])).toBe("precompiled header")
    expect(reason(["/E", "a.c"])).toBe("/E")
    expect(reason(["/EP", "a.c"])).toBe("/E")
    expect(reason(["/P", "a.c"])).toBe("/P")
    expect(reason(["/c", "/clang:-E", "a.c"])).toBe("/clang: -E")
    expect(reason(["/c", "-Xclang", "-MD", "a.c"])).toBe("-Xclang -MD")
    expect(reason(["/c", "a.c", "b.c"])).toBe("multiple input files")
    expect(parseMsvcArgs(["a.c"])).toEqual({ _tag: "NotCacheable", reason: "linking", nonCompilation: true })
  })

  it("marks /Z7 (paths in the object) and /showIncludes", () => {
    expect(ok(["/c", "/Z7", "a.c"]).recordsPaths).toBe(true)
    expect(ok(["/c", "a.c"]).recordsPaths).toBe(false)
    expect(ok(["/c", "/showIncludes", "a.c"]).showIncludes).toBe(true)
  })
})

describe("/showIncludes", () => {
  const Line = Schema.Union([Schema.Literals(["a.h", "dir/b.h", "c d.h"]), Schema.Literals(["warning\n", "x\n"])])
  it.prop("stripping its lines leaves exactly the rest; parsing them names exactly the headers", [Schema.Array(Line), Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })))], ([lines, depths]) => {
    const text = lines.map((l, i) => (l.endsWith("\n") ? l : `Note: including file:${" ".repeat(1 + (depths[i] ?? 0))}${l}\n`)).join("")
    expect(withoutShowIncludes(text)).toBe(lines.filter((l) => l.endsWith("\n")).join(""))
    expect(parseShowIncludes(text)).toEqual([...new Set(lines.filter((l) => !l.endsWith("\n")))])
  }, { arbitrary: { runs: 200, seed: 3 } })
})

describe("splitWindowsCommandLine", () => {
  it("splits as the MSVC tools do", () => {
    expect(splitWindowsCommandLine('/c "a b.c"  /DX=1\n/Fo"o dir\\\\" x')).toEqual(["/c", "a b.c", "/DX=1", "/Foo dir\\", "x"])
    expect(splitWindowsCommandLine('a\\b "c\\"d" e\\\\\\"f')).toEqual(["a\\b", 'c"d', 'e\\"f'])
    expect(splitWindowsCommandLine('"" x')).toEqual(["", "x"])
  })
})
