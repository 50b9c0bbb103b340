import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe as group, expect } from "vitest"
import { formatManifest } from "../../src/explain/Explain.ts"
import { closest, closestNow, describe, differences, explainMiss, type KeyInputs, keyInputsOf } from "../../src/explain/KeyInputs.ts"

const base: KeyInputs = {
  key: "k1",
  manifest: "m1",
  cwd: "/w",
  source: "/w/a.c",
  output: "/w/a.o",
  compiler: "gcc-12",
  args: ["-c", "-O2", "-I", "inc"],
  env: ["LANG=C"],
  files: [["/w/a.c", "s1"], ["/w/inc/v.h", "h1"], ["/usr/include/stdio.h", "io"]]
}

const lines = (before: KeyInputs, now: KeyInputs) => differences(before, now).map((d) => describe(d, now))

group("why a compile missed", () => {
  it("names the source, each header that changed, appeared or went, by path relative to the build", () => {
    expect(lines(base, { ...base, key: "k2", files: [["/w/a.c", "s2"], ...base.files.slice(1)] })).toEqual(["the source a.c changed"])
    expect(lines(base, { ...base, key: "k2", files: [base.files[0]!, ["/w/inc/v.h", "h2"], ["/w/inc/new.h", "n"]] })).toEqual([
      "the header inc/v.h changed",
      "the header inc/new.h is read now, and was not before",
      "the header /usr/include/stdio.h was read before, and is not now"
    ])
  })

  it("names arguments added and removed (repeats counted), variables, the directory and the compiler", () => {
    expect(lines(base, { ...base, args: ["-c", "-O0", "-I", "inc", "-I", "inc"] })).toEqual(["arguments -O0 -I inc added, argument -O2 removed"])
    expect(lines(base, { ...base, env: ["LANG=de_DE.UTF-8", "SCCACHE_C_CUSTOM_CACHE_BUSTER=1"] })).toEqual([
      'the variable LANG changed: "C" → "de_DE.UTF-8"',
      'the variable SCCACHE_C_CUSTOM_CACHE_BUSTER changed: unset → "1"'
    ])
    expect(lines(base, { ...base, cwd: "/v" })[0]).toMatch(/^the working directory changed: \/w → \/v/)
    expect(lines(base, { ...base, compiler: "gcc-13" })).toEqual(["the compiler changed (another binary or version)"])
  })

  it.prop("finds no difference between a record and itself", [Schema.Array(Schema.String), Schema.Array(Schema.Tuple([Schema.String, Schema.String]))], ([args, files]) => {
    const r = { ...base, args, files: [["/w/a.c", "s"] as const, ...files] }
    expect(differences(r, r)).toEqual([])
  }, { arbitrary: { runs: 100, seed: 7 } })

  it("compares with the closest known compile: the same source, fewest differences, the latest on a tie", () => {
    const older = { ...base, key: "old", args: ["-c", "-O1", "-I", "inc"] }
    const other = { ...base, key: "b", source: "/w/b.c", output: "/w/b.o" }
    const found = closest({ ...base, key: "now" }, [older, base, other])
    expect(found?.record.key).toBe("k1")
    expect(found?.differences).toEqual([])
    expect(closest({ ...base, key: "now" }, [other])).toBeUndefined()
  })

  it("says when nothing is known, and when the very key was seen (its entry is gone)", () => {
    expect(explainMiss(base, [])).toEqual(["no earlier compile of a.c is known to this daemon (since it started)"])
    expect(explainMiss(base, [base])[0]).toMatch(/same key as an earlier compile of a\.c: its entry is gone/)
    expect(explainMiss({ ...base, key: "k2", args: ["-c", "-O3", "-I", "inc"] }, [base])).toEqual(["argument -O3 added, argument -O2 removed"])
  })

  it("digests the known compile's files as they are now, so a changed header shows without compiling", () => {
    const now: Record<string, string> = { ...Object.fromEntries(base.files), "/w/inc/v.h": "h2" }
    const { key: _k, manifest: _m, files: _f, ...inv } = base
    const found = closestNow(inv, [base], (f) => now[f])
    expect(found?.differences.map((d) => describe(d, found.now))).toEqual(["the header inc/v.h changed"])
    const gone = closestNow(inv, [base], (f) => (f === "/w/inc/v.h" ? undefined : now[f]))
    expect(gone?.differences.map((d) => describe(d, gone.now))).toEqual(["the header inc/v.h changed"])
  })

  it("records a compile with its source among its files, absolute", () => {
    const r = keyInputsOf({ key: "k", cwd: "/w", input: "a.c", output: "a.o", compiler: "c", args: [], env: [], read: ["inc/v.h", "/w/a.c"] }, (f) => `d:${f}`)
    expect(r.files).toEqual([["/w/a.c", "d:/w/a.c"], ["/w/inc/v.h", "d:/w/inc/v.h"]])
    expect(r.source).toBe("/w/a.c")
    expect(r.output).toBe("/w/a.o")
  })
})

group("--debug-preprocessor-cache", () => {
  it("shows each candidate's files as same, changed or missing, and its absent names", () => {
    const m = { candidates: [{ result: "r".repeat(64), includes: [["a.c", "s1"], ["inc/v.h", "h1"], ["gone.h", "g"]] as const, absent: [["inc", ["x.h"]]] as const }] }
    const digests: Record<string, string> = { "/w/a.c": "s1", "/w/inc/v.h": "h2" }
    expect(formatManifest("m", m as never, "/w", (f) => digests[f])).toEqual([
      "manifest m: 1 candidate",
      `  1. result ${"r".repeat(64)}`,
      "     same    a.c",
      "     changed inc/v.h",
      "     missing gone.h",
      "     absent inc/{x.h}"
    ])
  })
})
