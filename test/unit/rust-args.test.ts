/** rustc argument analysis and dep-info parsing: pure functions, so plain tables and properties. */
import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { expectedOutputs, parseDepInfo, parseRustArgs, type RustCompilation, withEnvValues } from "../../src/compiler/RustArgs.ts"

/** What cargo passes for a library crate (`cargo build`, 1.95), with its dependencies. */
const CARGO_LIB = [
  "--crate-name", "greeting", "--edition=2021", "crates/greeting/src/lib.rs", "--error-format=json",
  "--json=diagnostic-rendered-ansi,artifacts,future-incompat", "--crate-type", "lib", "--emit=dep-info,metadata,link",
  "-C", "embed-bitcode=no", "-C", "debuginfo=2", "--check-cfg", "cfg(docsrs,test)", "--check-cfg", "cfg(feature, values())",
  "-C", "metadata=2b1e4b7d1a0c9f3e", "-C", "extra-filename=-0d1c2e3f4a5b6c7d", "--out-dir", "/w/target/debug/deps",
  "-L", "dependency=/w/target/debug/deps", "--extern", "geometry=/w/target/debug/deps/libgeometry-1122334455667788.rmeta"
]

const compilation = (args: ReadonlyArray<string>): RustCompilation => {
  const r = parseRustArgs(args)
  if (r._tag !== "Compilation") throw new Error(r.reason)
  return r.compilation
}

const reason = (args: ReadonlyArray<string>) => {
  const r = parseRustArgs(args)
  return r._tag === "NotCacheable" ? r.reason : undefined
}

describe("parseRustArgs", () => {
  it("understands a cargo library compile", () => {
    const c = compilation(CARGO_LIB)
    expect(c.crateName).toBe("greeting")
    expect(c.input).toBe("crates/greeting/src/lib.rs")
    expect(c.outDir).toBe("/w/target/debug/deps")
    expect(c.stem).toBe("greeting-0d1c2e3f4a5b6c7d")
    expect([...c.emit].sort()).toEqual(["dep-info", "link", "metadata"])
    expect(c.externs).toEqual([{ name: "geometry", file: "/w/target/debug/deps/libgeometry-1122334455667788.rmeta" }])
    expect(expectedOutputs(c)).toEqual(["greeting-0d1c2e3f4a5b6c7d.d", "libgreeting-0d1c2e3f4a5b6c7d.rlib", "libgreeting-0d1c2e3f4a5b6c7d.rmeta"])
    // Where things are is not what they are.
    expect(c.keyArgs.join(" ")).not.toMatch(/target|--out-dir|dependency=/)
    expect(c.keyArgs).toContain("-C=metadata=2b1e4b7d1a0c9f3e")
  })

  it("gives a pre-pass every argument but --emit and --out-dir", () => {
    const c = compilation(CARGO_LIB)
    expect(c.passArgs).not.toContain("--emit=dep-info,metadata,link")
    expect(c.passArgs).not.toContain("--out-dir")
    const again = compilation([...c.passArgs, "--emit=dep-info", "--out-dir", "/tmp/x"])
    expect(again.keyArgs.filter((a) => !a.startsWith("--emit"))).toEqual(c.keyArgs.filter((a) => !a.startsWith("--emit")))
  })

  it.each([
    [["--crate-type", "bin"], "crate-type bin"],
    [["--crate-type", "dylib"], "crate-type dylib"],
    [["--crate-type", "cdylib"], "crate-type cdylib"],
    [["--crate-type", "proc-macro"], "crate-type proc-macro"],
    [["--crate-type", "rlib,bin"], "crate-type bin"],
    [["--crate-type", "lib", "-C", "incremental=/w/target/debug/incremental"], "incremental"],
    [["--crate-type", "lib", "-Cincremental=/x"], "incremental"],
    [["--crate-type", "lib", "--test"], "crate-type bin (--test)"],
    [["--crate-type", "lib", "-o", "x.rlib"], "explicit output file (-o)"],
    [["--crate-type", "lib", "--emit=asm"], "unsupported --emit asm"],
    [["--crate-type", "lib", "--emit=link=x.rlib"], "--emit with an output path"],
    [["--crate-type", "lib", "-C", "profile-use=x.profdata"], "profile-guided optimisation"],
    [["--crate-type", "lib", "@args.txt"], "argument file"],
    [["--crate-type", "lib", "--frobnicate"], "unknown rustc argument --frobnicate"],
    [["--crate-type", "lib", "other.rs"], "multiple input files"],
    [[], "missing --crate-type"]
  ])("does not cache %j: %s", (extra, why) => {
    expect(reason(["--crate-name", "a", "a.rs", "--out-dir", "out", ...extra])).toBe(why)
  })

  it("needs a crate name, an output directory and one input file", () => {
    expect(reason(["--crate-type", "lib", "a.rs", "--out-dir", "o"])).toBe("missing --crate-name")
    expect(reason(["--crate-type", "lib", "--crate-name", "a", "a.rs"])).toBe("missing --out-dir")
    expect(reason(["--crate-type", "lib", "--crate-name", "a", "--out-dir", "o"])).toBe("no input file")
    expect(reason(["--crate-type", "lib", "--crate-name", "a", "--out-dir", "o", "-"])).toBe("input from stdin")
  })

  it.each([
    [["-vV"]],
    [["-V"]],
    [["--version", "--verbose"]],
    [["--print", "sysroot"]],
    [["-", "--crate-name", "___", "--print=file-names", "--crate-type", "bin", "--crate-type", "rlib", "--print=cfg", "-Wwarnings"]],
    [["--explain", "E0308"]]
  ])("answers probe %j as a non-compilation, for rustc to run", (args) => {
    expect(parseRustArgs(args)).toEqual({ _tag: "NotCacheable", reason: "rustc probe (--print, -vV)", nonCompilation: true })
  })

  it("caches rlib and staticlib crates, and knows their files", () => {
    const c = compilation(["--crate-name", "n", "n.rs", "--crate-type", "rlib", "--crate-type", "staticlib", "--emit=link", "--out-dir", "o"])
    expect(expectedOutputs(c)).toEqual(["libn.a", "libn.rlib"])
    expect(expectedOutputs(compilation(["--crate-name", "n", "n.rs", "--crate-type", "lib", "--emit=metadata", "--out-dir", "o"]))).toEqual(["libn.rmeta"])
    expect(expectedOutputs(compilation(["--crate-name", "n", "n.rs", "--crate-type", "lib", "--out-dir", "o"]))).toEqual(["libn.rlib"])
  })

  it("finds static libraries bundled into the crate, and where rustc looks for them", () => {
    const c = compilation([
      "--crate-name", "n", "n.rs", "--crate-type", "lib", "--out-dir", "o", "-l", "static=foo", "-lstatic:+whole-archive=bar:baz",
      "-l", "static:-bundle=nobundle", "-l", "dylib=z", "-l", "m", "-L", "native=/n", "-L/plain", "-L", "all=/a", "-L", "dependency=/d", "-L", "crate=/c"
    ])
    expect(c.staticLibs).toEqual(["foo", "bar"])
    expect(c.libDirs).toEqual(["/n", "/plain", "/a"])
  })

  const Spelling = Schema.Struct({ opt: Schema.Literals(["0", "1", "3", "s"]), attached: Schema.Boolean, long: Schema.Boolean, eq: Schema.Boolean })
  it.prop("spells one option set one way, whatever the spelling and the order of --cfg", [Schema.Array(Spelling), Schema.Array(Schema.Literals(["a", "b", "feature=\"x\""]))], ([spellings, cfgs]) => {
    const base = ["--crate-name", "n", "n.rs", "--crate-type", "lib", "--out-dir", "o"]
    const plain = [...base, ...spellings.flatMap((s) => ["-C", `opt-level=${s.opt}`]), ...cfgs.flatMap((c) => ["--cfg", c])]
    const respelled = [
      ...base,
      ...spellings.flatMap((s) =>
        s.long ? (s.eq ? [`--codegen=opt-level=${s.opt}`] : ["--codegen", `opt-level=${s.opt}`]) : s.attached ? [`-Copt-level=${s.opt}`] : ["-C", `opt-level=${s.opt}`]
      ),
      ...[...cfgs].reverse().flatMap((c) => [`--cfg=${c}`])
    ]
    expect(compilation(respelled).keyArgs).toEqual(compilation(plain).keyArgs)
  })

  it("leaves out what changes nothing replayed or built", () => {
    const base = ["--crate-name", "n", "n.rs", "--crate-type", "lib", "--out-dir", "o", "--error-format=json"]
    const key = compilation(base).keyArgs
    expect(compilation([...base, "--color=always", "--diagnostic-width=80"]).keyArgs).toEqual(key)
    // Human diagnostics are coloured by --color: replayed, so keyed.
    const human = ["--crate-name", "n", "n.rs", "--crate-type", "lib", "--out-dir", "o"]
    expect(compilation([...human, "--color=always"]).keyArgs).not.toEqual(compilation(human).keyArgs)
  })
})

describe("parseDepInfo", () => {
  it("reads rustc's dep-info: sources once each, names with spaces, and the variables read", () => {
    const text = [
      "/w/target/debug/deps/greeting-0d1c.d: crates/greeting/src/lib.rs crates/greeting/src/my\\ mod.rs crates/greeting/data/template.txt /w/target/debug/build/x/out/gen.rs",
      "",
      "/w/target/debug/deps/libgreeting-0d1c.rmeta: crates/greeting/src/lib.rs crates/greeting/src/my\\ mod.rs crates/greeting/data/template.txt /w/target/debug/build/x/out/gen.rs",
      "",
      "crates/greeting/src/lib.rs:",
      "crates/greeting/src/my\\ mod.rs:",
      "crates/greeting/data/template.txt:",
      "/w/target/debug/build/x/out/gen.rs:",
      "",
      "# env-dep:FIXTURE_SALUTATION",
      "# env-dep:OUT_DIR=/w/target/debug/build/x/out",
      "# env-dep:CARGO_PKG_VERSION=0.1.0",
      ""
    ].join("\n")
    expect(parseDepInfo(text)).toEqual({
      files: ["crates/greeting/src/lib.rs", "crates/greeting/src/my mod.rs", "crates/greeting/data/template.txt", "/w/target/debug/build/x/out/gen.rs"],
      env: ["FIXTURE_SALUTATION", "OUT_DIR", "CARGO_PKG_VERSION"]
    })
  })
})

describe("withEnvValues", () => {
  it("gives the dep-info's variables their values here, escaped as rustc does, and unset ones none", () => {
    const text = "a.d: src/lib.rs\n\nsrc/lib.rs:\n\n# env-dep:OUT_DIR=/one/target/out\n# env-dep:GONE=x\n# env-dep:MULTI\n"
    expect(withEnvValues(text, { OUT_DIR: "/two/target/out", MULTI: "a\\b\nc" })).toBe(
      "a.d: src/lib.rs\n\nsrc/lib.rs:\n\n# env-dep:OUT_DIR=/two/target/out\n# env-dep:GONE\n# env-dep:MULTI=a\\\\b\\nc\n"
    )
  })
})
