/**
 * C/C++ compiles where a cache could hand out a wrong object or .d file, or never hit: each
 * compared with what the plain compiler gives, with real gcc and clang, in direct mode and in
 * preprocessor mode (SCCACHE_DIRECT=false).
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GCC_OPTIONS } from "../../src/compiler/GccOptions.ts"
import { BIN, makeSandbox, run, type Sandbox, total } from "../support/harness.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const counts = (sb: Sandbox) => {
  const s = sb.stats().stats
  return { hits: total(s.cache_hits), misses: total(s.cache_misses), notCached: s.not_cached }
}

/** Runs `args` through the cache, then plainly in a copy of the state; outputs must be identical. */
const sameAsPlain = (sb: Sandbox, cwd: string, cc: string, args: Array<string>, outputs: Array<string>, env: NodeJS.ProcessEnv = {}) => {
  for (const o of outputs) fs.rmSync(path.join(cwd, o), { force: true })
  const cached = sb.sccache([cc, ...args], { cwd, env })
  expect(cached.stderr.toString()).toBe("")
  expect(cached.code).toBe(0)
  const got = outputs.map((o) => fs.readFileSync(path.join(cwd, o)))
  for (const o of outputs) fs.rmSync(path.join(cwd, o), { force: true })
  const plain = run(cc, args, { cwd, env: { ...sb.env, ...env } })
  expect(plain.code).toBe(0)
  const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex")
  outputs.forEach((o, i) => expect({ file: o, digest: digest(got[i]!) }).toEqual({ file: o, digest: digest(fs.readFileSync(path.join(cwd, o))) }))
}

/** A fresh folder in the sandbox, with these files. */
const folder = (sb: Sandbox, name: string, files: Record<string, string>): string => {
  for (const [f, text] of Object.entries(files)) sb.write(path.join(name, f), text)
  return path.join(sb.dir, name)
}

/**
 * How to exercise each option the table says names a file whose content is a key input:
 * two contents that the compiler accepts. Every such option must have a recipe here.
 */
interface Recipe {
  readonly cc: "gcc" | "clang"
  /** `FILE` stands for the file's path. */
  readonly args: ReadonlyArray<string>
  readonly variants: readonly [string, string]
  /** The file is built from these C sources instead (a shared object). */
  readonly sharedObject?: true
}
const list: readonly [string, string] = ["fun:f\n", "fun:main\n"]
const RECIPES: Record<string, Recipe | { readonly skip: string }> = {
  "-fsanitize-ignorelist=": { cc: "clang", args: ["-fsanitize=address", "-fsanitize-ignorelist=FILE"], variants: list },
  "-fsanitize-blacklist=": { cc: "clang", args: ["-fsanitize=address", "-fsanitize-blacklist=FILE"], variants: list },
  "-fsanitize-coverage-allowlist=": { cc: "clang", args: ["-fsanitize-coverage=trace-pc-guard", "-fsanitize-coverage-allowlist=FILE"], variants: list },
  "-fsanitize-coverage-ignorelist=": { cc: "clang", args: ["-fsanitize-coverage=trace-pc-guard", "-fsanitize-coverage-ignorelist=FILE"], variants: list },
  "-fsanitize-coverage-whitelist=": { cc: "clang", args: ["-fsanitize-coverage=trace-pc-guard", "-fsanitize-coverage-whitelist=FILE"], variants: list },
  "-fsanitize-coverage-blacklist=": { cc: "clang", args: ["-fsanitize-coverage=trace-pc-guard", "-fsanitize-coverage-blacklist=FILE"], variants: list },
  "-fprofile-list=": { cc: "clang", args: ["-fprofile-instr-generate", "-fprofile-list=FILE"], variants: list },
  "-fxray-attr-list=": { cc: "clang", args: ["-fxray-instrument", "-fxray-attr-list=FILE"], variants: ["[always]\nfun:f\n", "[never]\nfun:f\n"] },
  "-fxray-always-instrument=": { cc: "clang", args: ["-fxray-instrument", "-fxray-always-instrument=FILE"], variants: list },
  "-fxray-never-instrument=": { cc: "clang", args: ["-fxray-instrument", "-fxray-never-instrument=FILE"], variants: list },
  "-fprofile-sample-use=": { cc: "clang", args: ["-O1", "-fprofile-sample-use=FILE"], variants: ["f:100:10\n 1: 10\n", "main:100:10\n 1: 10\n"] },
  "-fauto-profile=": { cc: "clang", args: ["-O1", "-fauto-profile=FILE"], variants: ["f:100:10\n 1: 10\n", "main:100:10\n 1: 10\n"] },
  "-fprofile-use=": { cc: "clang", args: ["-O1", "-Wno-profile-instr-out-of-date", "-Wno-profile-instr-unprofiled", "-fprofile-use=FILE"], variants: ["PROFDATA f", "PROFDATA main"] },
  "-fprofile-instr-use=": { cc: "clang", args: ["-O1", "-Wno-profile-instr-out-of-date", "-Wno-profile-instr-unprofiled", "-fprofile-instr-use=FILE"], variants: ["PROFDATA f", "PROFDATA main"] },
  "-fprofile-remapping-file=": { cc: "clang", args: ["-O1", "-Wno-profile-instr-out-of-date", "-Wno-profile-instr-unprofiled", "-fprofile-instr-use=p.profdata", "-fprofile-remapping-file=FILE"], variants: ["name 1f 1g\n", "name 1f 1h\n"] },
  "-fplugin=": { cc: "clang", args: ["-fplugin=./FILE"], variants: ["int plugin_a;\n", "int plugin_b;\n"], sharedObject: true },
  "-specs=": { cc: "gcc", args: ["-specs=FILE"], variants: ["*cc1_options:\n+ -DSPEC_A\n\n", "*cc1_options:\n+ -DSPEC_B\n\n"] },
  "--specs=": { cc: "gcc", args: ["--specs=FILE"], variants: ["*cc1_options:\n+ -DSPEC_A\n\n", "*cc1_options:\n+ -DSPEC_B\n\n"] },
  "-specs": { cc: "gcc", args: ["-specs", "FILE"], variants: ["*cc1_options:\n+ -DSPEC_A\n\n", "*cc1_options:\n+ -DSPEC_B\n\n"] },
  "-T": { cc: "gcc", args: ["-T", "FILE"], variants: ["SECTIONS {}\n", "SECTIONS { .text : { *(.text) } }\n"] },
  "-ivfsoverlay": { cc: "clang", args: ["-ivfsoverlay", "FILE"], variants: ['{"version": 0, "roots": []}\n', '{"version": 0, "case-sensitive": "false", "roots": []}\n'] },
  "-include-pch": { skip: "not cacheable at all (precompiled header): its own test below" }
}

/** Writes variant `v` of a recipe's file, turning PROFDATA and shared-object recipes into the real thing. */
const writeKeyFile = (dir: string, file: string, recipe: Recipe, v: 0 | 1) => {
  const text = recipe.variants[v]
  const target = path.join(dir, file)
  if (recipe.sharedObject) {
    fs.writeFileSync(path.join(dir, "plugin.c"), text)
    expect(run("clang", ["-shared", "-fPIC", "-o", target, "plugin.c"], { cwd: dir }).code).toBe(0)
  } else if (text.startsWith("PROFDATA ")) {
    fs.writeFileSync(path.join(dir, "p.proftext"), `${text.slice(9)}\n# Func Hash:\n0\n# Num Counters:\n1\n# Counter Values:\n100\n`)
    expect(run("llvm-profdata", ["merge", "-o", target, "p.proftext"], { cwd: dir }).code).toBe(0)
  } else fs.writeFileSync(target, text)
}

describe.each([
  ["direct mode", {}],
  ["preprocessor mode", { SCCACHE_DIRECT: "false" }]
])("C/C++ correctness in %s", (_mode, config) => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox(config)
  })
  afterAll(() => sb.stop())

  const named = Object.keys(GCC_OPTIONS).filter((n) => GCC_OPTIONS[n]!.keyFile)

  it("every option the table says names a key file has a recipe here", () => {
    expect(named.filter((n) => RECIPES[n] === undefined)).toEqual([])
  })

  it.each(named.filter((n) => RECIPES[n] !== undefined && !("skip" in RECIPES[n]!)))("%s: a change to the file it names is a miss", async (name) => {
    const recipe = RECIPES[name] as Recipe
    const dir = folder(sb, `keyfile${name.replace(/[^a-z]/g, "")}`, { "t.c": "int f(int *p) { return *p; }\nint main(void) { return 0; }\n" })
    // A profile for the remapping file to apply to.
    writeKeyFile(dir, "p.profdata", { cc: "clang", args: [], variants: ["PROFDATA f", "PROFDATA f"] }, 0)
    const file = recipe.sharedObject ? "k.so" : "k.txt"
    const args = [...recipe.args.map((a) => a.replace("FILE", file)), "-c", "t.c"]
    writeKeyFile(dir, file, recipe, 0)
    await sleep(20)
    expect(sb.sccache([recipe.cc, ...args], { cwd: dir }).code).toBe(0)
    const before = counts(sb)
    expect(sb.sccache([recipe.cc, ...args], { cwd: dir }).code).toBe(0)
    expect(counts(sb).hits).toBe(before.hits + 1)
    writeKeyFile(dir, file, recipe, 1)
    await sleep(20)
    sameAsPlain(sb, dir, recipe.cc, args, ["t.o"])
    expect(counts(sb).misses).toBe(before.misses + 1)
  }, 120_000)

  it("assembler that pulls in other files (.incbin, .include) is not cached, and the object is right", async () => {
    const dir = folder(sb, "asm", {
      "a.s": '.section .rodata\n.globl blob\nblob:\n.incbin "data.bin"\n',
      "b.s": '.include "inc.s"\n',
      "c.S": '#define N 1\n.include "inc.s"\n',
      "data.bin": "AAAA",
      "inc.s": ".globl x\nx: .long 1\n"
    })
    await sleep(20)
    const all = () => {
      for (const f of ["a", "b", "c"]) sameAsPlain(sb, dir, "gcc", ["-c", `${f}.${f === "c" ? "S" : "s"}`], [`${f}.o`])
    }
    all()
    fs.writeFileSync(path.join(dir, "data.bin"), "BBBB")
    fs.writeFileSync(path.join(dir, "inc.s"), ".globl x\nx: .long 2\n")
    await sleep(20)
    all()
    expect(counts(sb).notCached["unsupported code directive (.incbin/.include)"]).toBe(6)
  })

  it("a profiling object names the .gcda of its own build directory", async () => {
    const dir = folder(sb, "prof", { "t.c": "int main(void) { return 0; }\n", "b1/.keep": "", "b2/.keep": "" })
    await sleep(20)
    // (gcc stamps each such object, so it is never byte-identical to another compile: check the path.)
    for (const flag of ["-fprofile-generate", "-fprofile-arcs"]) {
      for (const b of ["b1", "b2"]) {
        expect(sb.sccache(["gcc", flag, "-c", "../t.c"], { cwd: path.join(dir, b) }).code).toBe(0)
        const obj = fs.readFileSync(path.join(dir, b, "t.o")).toString("latin1")
        expect(obj).toContain(path.join(dir, b, "t.gcda"))
        expect(obj).not.toContain(path.join(dir, b === "b1" ? "b2" : "b1", "t.gcda"))
      }
    }
  })

  it("gcc's -Wp,-MMD,FILE keeps the -MT/-MQ target on a hit, whatever the -o", async () => {
    const dir = folder(sb, "wp", { "t.c": "int x;\n" })
    await sleep(20)
    for (const extra of [[], ["-o", "other.o"], ["-MQ", "q.o"]]) {
      const args = ["-c", "t.c", "-MT", "foo.o", ...extra, "-Wp,-MMD,dep.d"]
      const obj = extra[0] === "-o" ? "other.o" : "t.o"
      sameAsPlain(sb, dir, "gcc", args, [obj, "dep.d"])
      sameAsPlain(sb, dir, "gcc", args, [obj, "dep.d"])
    }
    expect(counts(sb).hits).toBeGreaterThanOrEqual(3)
  })

  it("DEPENDENCIES_OUTPUT and SUNPRO_DEPENDENCIES: the file gcc writes is there every time", async () => {
    const dir = folder(sb, "depout", { "t.c": '#include "t.h"\nint x;\n', "t.h": "\n" })
    await sleep(20)
    for (const v of ["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"]) {
      for (let i = 0; i < 2; i++) sameAsPlain(sb, dir, "gcc", ["-c", "t.c"], ["t.o", "t.d"], { [v]: "t.d" })
      expect(counts(sb).notCached[v]).toBe(2)
    }
  })

  it("a -D value that looks like a path is not rebased: -DX=$PWD/data and -DX=data differ", async () => {
    const dir = folder(sb, "dval", { "t.c": "#define S(x) #x\n#define SS(x) S(x)\nconst char *p = SS(X);\n" })
    await sleep(20)
    sameAsPlain(sb, dir, "gcc", [`-DX=${dir}/data`, "-c", "t.c"], ["t.o"])
    sameAsPlain(sb, dir, "gcc", ["-DX=data", "-c", "t.c"], ["t.o"])
    sameAsPlain(sb, dir, "gcc", [`-DX=${dir}/data`, "-c", "t.c"], ["t.o"])
  })

  it("-o test.o and -o $PWD/test.o each get their own .d target", async () => {
    const dir = folder(sb, "oabs", { "src/test.c": '#include "h.h"\nint t;\n', "include/h.h": "int h;\n" })
    await sleep(20)
    for (const out of [[], ["-o", `${dir}/test.o`], [], ["-o", `${dir}/test.o`]]) {
      sameAsPlain(sb, dir, "gcc", ["-MMD", "-Iinclude", "-c", "src/test.c", ...out], ["test.o", "test.d"])
    }
    expect(counts(sb).hits).toBeGreaterThanOrEqual(2)
  })

  it("compiles direct mode hands to the preprocessor are still cached", async () => {
    const dir = folder(sb, "pp", {
      "t.c": '#include "t.h"\nint main(void) { return T; }\n',
      "t.h": "#define T 0\n",
      "date.c": "const char *d = __DATE__;\n"
    })
    await sleep(20)
    const cases: Array<{ args: Array<string>; outputs: Array<string>; env?: NodeJS.ProcessEnv }> = [
      { args: ["-g", "-MMD", "-c", "t.c"], outputs: ["t.o", "t.d"] },
      { args: ["-g", "-c", "t.c", "-o", "g.o"], outputs: ["g.o"] },
      { args: ["-c", "t.c", "-Wp,-MMD,w.d", "-o", "w.o"], outputs: ["w.o", "w.d"] },
      { args: ["-c", "t.c", "-Xpreprocessor", "-DX", "-o", "x.o"], outputs: ["x.o"] },
      { args: ["-g", "-c", "date.c"], outputs: ["date.o"], env: { SOURCE_DATE_EPOCH: "1700000000" } }
    ]
    for (const cc of ["gcc", "clang"]) {
      for (const c of cases) {
        sameAsPlain(sb, dir, cc, c.args, c.outputs, c.env)
        const before = counts(sb).hits
        sameAsPlain(sb, dir, cc, c.args, c.outputs, c.env)
        expect({ cc, args: c.args, hits: counts(sb).hits }).toEqual({ cc, args: c.args, hits: before + 1 })
      }
    }
  }, 180_000)

  it("SOURCE_DATE_EPOCH changes the key only of files that use __DATE__ or __TIME__", async () => {
    const dir = folder(sb, "sde", { "plain.c": "int p;\n", "date.c": "const char *d = __DATE__;\n" })
    await sleep(20)
    sameAsPlain(sb, dir, "gcc", ["-c", "plain.c"], ["plain.o"], { SOURCE_DATE_EPOCH: "1600000000" })
    sameAsPlain(sb, dir, "gcc", ["-c", "date.c"], ["date.o"], { SOURCE_DATE_EPOCH: "1600000000" })
    const before = counts(sb)
    sameAsPlain(sb, dir, "gcc", ["-c", "plain.c"], ["plain.o"], { SOURCE_DATE_EPOCH: "1700000000" })
    expect(counts(sb).hits).toBe(before.hits + 1)
    sameAsPlain(sb, dir, "gcc", ["-c", "date.c"], ["date.o"], { SOURCE_DATE_EPOCH: "1700000000" })
    expect(counts(sb).misses).toBe(before.misses + 1)
  })
})

describe("C/C++ correctness: sharing", () => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox({ SCCACHE_BASEDIRS: os.tmpdir() })
  })
  afterAll(() => sb.stop())

  it("clang++ reaching libstdc++ through /usr/bin/../lib/gcc hits on the second build", async () => {
    const files: Record<string, string> = {}
    for (const i of [1, 2, 3]) files[`f${i}.cpp`] = `#include <string>\nstd::string f${i}() { return "x"; }\n`
    const dir = folder(sb, "cxx", files)
    await sleep(20)
    for (const i of [1, 2, 3]) sameAsPlain(sb, dir, "clang++", ["-O1", "-c", `f${i}.cpp`], [`f${i}.o`])
    const before = counts(sb)
    for (const i of [1, 2, 3]) sameAsPlain(sb, dir, "clang++", ["-O1", "-c", `f${i}.cpp`], [`f${i}.o`])
    expect(counts(sb).hits).toBe(before.hits + 3)
    expect(Object.keys(counts(sb).notCached)).toEqual([])
  }, 180_000)

  it("a checkout reached through a symlink shares entries with another under SCCACHE_BASEDIRS", async () => {
    const root = folder(sb, "links", { "phys/c1/src/a.c": '#include "h.h"\nint a(void) { return H; }\n', "phys/c1/include/h.h": "#define H 1\n" })
    fs.cpSync(path.join(root, "phys/c1"), path.join(root, "phys/c2"), { recursive: true })
    fs.mkdirSync(path.join(root, "ln"))
    for (const c of ["c1", "c2"]) fs.symlinkSync(path.join(root, "phys", c), path.join(root, "ln", c))
    await sleep(20)
    const before = counts(sb)
    for (const c of ["c1", "c2"]) {
      // As a shell in the symlinked checkout runs it: $PWD is the logical path.
      const pwd = path.join(root, "ln", c)
      const r = sb.sccache(["gcc", "-MMD", "-c", `-I${pwd}/include`, `${pwd}/src/a.c`, "-o", "a.o"], { cwd: pwd, env: { PWD: pwd } })
      expect(r.code).toBe(0)
      expect(fs.readFileSync(path.join(pwd, "a.d"), "utf8")).toContain(`${pwd}/include/h.h`)
    }
    expect(counts(sb)).toMatchObject({ hits: before.hits + 1, misses: before.misses + 1 })
  })
})

describe("C/C++ correctness: what can't be cached says why", () => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox()
  })
  afterAll(() => sb.stop())

  it("a precompiled header is not cached; the compile is the plain one", async () => {
    const dir = folder(sb, "pch", { "p.h": "int p;\n", "t.c": "int t;\n" })
    expect(run("clang", ["-x", "c-header", "p.h", "-o", "p.h.pch"], { cwd: dir }).code).toBe(0)
    sameAsPlain(sb, dir, "clang", ["-include-pch", "p.h.pch", "-c", "t.c"], ["t.o"])
    expect(counts(sb).notCached["precompiled header"]).toBe(1)
  })
})

describe("C/C++ diagnostics: colors on a terminal, plain in a pipe, one cache entry for both", () => {
  let sb: Sandbox
  beforeAll(() => {
    sb = makeSandbox()
  })
  afterAll(() => sb.stop())

  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`
  /** Runs a command under a pseudo-terminal (util-linux script), as a developer's shell does. */
  const onTerminal = (cwd: string, argv: Array<string>) =>
    run("script", ["-qec", argv.map(quote).join(" "), "/dev/null"], { cwd, env: { ...sb.env, TERM: "xterm" } })
  const inPipe = (cwd: string, argv: Array<string>) => run(argv[0]!, argv.slice(1), { cwd, env: { ...sb.env, TERM: "xterm" } })
  const ESC = "\x1b"

  it.each([
    ["gcc", []],
    ["clang", []],
    ["gcc", ["-fdiagnostics-color=never"]],
    ["clang", ["-fno-color-diagnostics"]],
    ["gcc", ["-fdiagnostics-color"]],
    ["clang", ["-fcolor-diagnostics"]]
  ])("%s %j: what the plain compiler prints, hit or miss, on a terminal and in a pipe", async (cc, flags) => {
    const dir = folder(sb, `colors-${cc}-${flags.join("")}`, { "w.c": `int f(int a) { int x; if (a) x = 1; return x + 1 / 0; } /* ${cc} ${flags.join(" ")} */\n` })
    await sleep(20)
    const args = ["-Wall", "-O2", ...flags, "-c", "w.c"]
    const plainTty = onTerminal(dir, [cc, ...args]).stdout.toString("latin1")
    const plainPipe = inPipe(dir, [cc, ...args]).stderr.toString("latin1")
    // Colors are there on the terminal unless turned off, and in the pipe only when forced.
    expect(plainTty.includes(ESC)).toBe(!flags.some((f) => f.includes("never") || f.includes("no-color")))
    expect(plainPipe.includes(ESC)).toBe(flags.length > 0 && !flags.some((f) => f.includes("never") || f.includes("no-color")))
    const before = counts(sb)
    // Miss on a terminal, hit in a pipe, hit on a terminal: one entry, each shown as the compiler would.
    expect(onTerminal(dir, [BIN, cc, ...args]).stdout.toString("latin1")).toBe(plainTty)
    expect(inPipe(dir, [BIN, cc, ...args]).stderr.toString("latin1")).toBe(plainPipe)
    expect(onTerminal(dir, [BIN, cc, ...args]).stdout.toString("latin1")).toBe(plainTty)
    expect(counts(sb)).toMatchObject({ misses: before.misses + 1, hits: before.hits + 2 })
  }, 120_000)

  it("a terminal build and a pipe build share entries whatever color flags they pass", async () => {
    const dir = folder(sb, "colors-share", { "w.c": "int f(int a) { int x; if (a) x = 1; return x; }\n" })
    await sleep(20)
    const before = counts(sb)
    expect(inPipe(dir, [BIN, "gcc", "-Wall", "-O2", "-fdiagnostics-color=never", "-c", "w.c"]).code).toBe(0)
    expect(onTerminal(dir, [BIN, "gcc", "-Wall", "-O2", "-fdiagnostics-color=always", "-c", "w.c"]).code).toBe(0)
    expect(onTerminal(dir, [BIN, "gcc", "-Wall", "-O2", "-c", "w.c"]).code).toBe(0)
    expect(counts(sb)).toMatchObject({ misses: before.misses + 1, hits: before.hits + 2 })
  })

  it("a failing compile shows the compiler's colored errors on a terminal", async () => {
    const dir = folder(sb, "colors-error", { "e.c": "int f(void) { return y; }\n" })
    await sleep(20)
    for (const cc of ["gcc", "clang"]) {
      const plain = onTerminal(dir, [cc, "-c", "e.c"])
      const cached = onTerminal(dir, [BIN, cc, "-c", "e.c"])
      expect(plain.stdout.toString("latin1")).toContain(ESC)
      expect(cached.stdout.toString("latin1")).toBe(plain.stdout.toString("latin1"))
      expect(cached.code).toBe(plain.code)
    }
  })
})
