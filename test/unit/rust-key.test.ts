/**
 * The Rust key: every input that changes what rustc makes (or replays) changes it; nothing else
 * does, so that a clean rebuild, another target directory or (with base directories) another
 * checkout hits. And the text outputs: stored without --out-dir, restored for the current one.
 */
import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { fromEntryText, rustKey, rustKeyEnv, type RustKeyInputs, spellOutDir, toEntryText } from "../../src/cache/RustKey.ts"
import { parseRustArgs, type RustCompilation } from "../../src/compiler/RustArgs.ts"

const args = (cwd: string, extra: ReadonlyArray<string> = []) => [
  "--crate-name", "greeting", "--edition=2021", "crates/greeting/src/lib.rs", "--error-format=json",
  "--json=diagnostic-rendered-ansi,artifacts,future-incompat", "--crate-type", "lib", "--emit=dep-info,metadata,link",
  "-C", "opt-level=3", "--cfg", "feature=\"a\"", "--cfg", "feature=\"b\"", "-C", "metadata=2b1e", "-C", "extra-filename=-0d1c",
  "--out-dir", `${cwd}/target/release/deps`, "-L", `dependency=${cwd}/target/release/deps`,
  "--extern", `geometry=${cwd}/target/release/deps/libgeometry-1122.rmeta`, ...extra
]

const compilation = (a: ReadonlyArray<string>): RustCompilation => {
  const r = parseRustArgs(a)
  if (r._tag !== "Compilation") throw new Error(r.reason)
  return r.compilation
}

const CWD = "/home/u/ws"

const base: RustKeyInputs = {
  toolchain: "rustc-1.95-sysroot-a",
  compilation: compilation(args(CWD)),
  cwd: CWD,
  env: {
    PATH: "/usr/bin",
    CARGO_PKG_NAME: "greeting",
    CARGO_PKG_VERSION: "0.1.0",
    CARGO_MANIFEST_DIR: `${CWD}/crates/greeting`,
    CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7 --jobserver-auth=6,7",
    OUT_DIR: `${CWD}/target/release/build/greeting-99/out`,
    FIXTURE_SALUTATION: "Hello"
  },
  sources: [["crates/greeting/src/lib.rs", "d-lib"], ["crates/greeting/data/template.txt", "d-tpl"], [`${CWD}/target/release/build/greeting-99/out/gen.rs`, "d-gen"]],
  envDeps: ["FIXTURE_SALUTATION", "OUT_DIR"],
  externs: [["geometry", "d-geometry"]],
  staticLibs: [],
  targetSpec: undefined,
  basedirs: []
}

/** Each of these changes what rustc produces or prints: a new key. */
const CHANGES: Record<string, (k: RustKeyInputs) => RustKeyInputs> = {
  "the toolchain": (k) => ({ ...k, toolchain: "rustc-1.96" }),
  "a source's content": (k) => ({ ...k, sources: [["crates/greeting/src/lib.rs", "d-lib-2"], ...k.sources.slice(1)] }),
  "a source's name": (k) => ({ ...k, sources: [["crates/greeting/src/lib2.rs", "d-lib"], ...k.sources.slice(1)] }),
  "one more source": (k) => ({ ...k, sources: [...k.sources, ["crates/greeting/src/more.rs", "d-more"]] }),
  "a dependency's content": (k) => ({ ...k, externs: [["geometry", "d-geometry-2"]] }),
  "a dependency's name": (k) => ({ ...k, externs: [["geo", "d-geometry"]] }),
  "a bundled static library": (k) => ({ ...k, staticLibs: [["z", "d-z"]] }),
  "a target spec file": (k) => ({ ...k, targetSpec: "d-spec" }),
  "a variable env! reads": (k) => ({ ...k, env: { ...k.env, FIXTURE_SALUTATION: "Bonjour" } }),
  "that variable unset": (k) => ({ ...k, env: { ...k.env, FIXTURE_SALUTATION: undefined } }),
  "that variable set to nothing": (k) => ({ ...k, env: { ...k.env, FIXTURE_SALUTATION: "" } }),
  "a CARGO_* variable": (k) => ({ ...k, env: { ...k.env, CARGO_PKG_VERSION: "0.2.0" } }),
  "a new CARGO_* variable": (k) => ({ ...k, env: { ...k.env, CARGO_FEATURE_X: "1" } }),
  "RUSTC_BOOTSTRAP": (k) => ({ ...k, env: { ...k.env, RUSTC_BOOTSTRAP: "1" } }),
  "the working directory (debug info records it)": (k) => ({ ...k, cwd: "/elsewhere" }),
  "the optimisation level": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "opt-level=3" ? "opt-level=2" : a))) }),
  "a feature": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "feature=\"b\"" ? "feature=\"c\"" : a))) }),
  "the edition": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "--edition=2021" ? "--edition=2024" : a))) }),
  "-C metadata (symbol names)": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "metadata=2b1e" ? "metadata=ffff" : a))) }),
  "--emit": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "--emit=dep-info,metadata,link" ? "--emit=dep-info,metadata" : a))) }),
  "the JSON diagnostics' options": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a.startsWith("--json") ? "--json=artifacts" : a))) }),
  "a lint level": (k) => ({ ...k, compilation: compilation(args(CWD, ["-D", "warnings"])) }),
  "--cap-lints": (k) => ({ ...k, compilation: compilation(args(CWD, ["--cap-lints", "allow"])) }),
  "a --remap-path-prefix": (k) => ({ ...k, compilation: compilation(args(CWD, [`--remap-path-prefix=${CWD}=/src`])) }),
  "the target": (k) => ({ ...k, compilation: compilation(args(CWD, ["--target", "aarch64-unknown-linux-gnu"])) }),
  "a -l library": (k) => ({ ...k, compilation: compilation(args(CWD, ["-l", "static=z"])) })
}

/** And these do not, or clean rebuilds, other target directories and other checkouts would miss. */
const SAME: Record<string, (k: RustKeyInputs) => RustKeyInputs> = {
  "--out-dir, -L and --extern paths (another target directory)": (k) => ({
    ...k,
    compilation: compilation(args(CWD).map((a) => a.replace(`${CWD}/target`, "/tmp/other-target")))
  }),
  "--diagnostic-width and --color (JSON diagnostics)": (k) => ({ ...k, compilation: compilation(args(CWD, ["--diagnostic-width=120", "--color=always"])) }),
  "the order of --cfg": (k) => ({ ...k, compilation: compilation(args(CWD).map((a) => (a === "feature=\"a\"" ? "feature=\"b\"" : a === "feature=\"b\"" ? "feature=\"a\"" : a))) }),
  "the spelling of -C": (k) => ({ ...k, compilation: compilation(args(CWD).flatMap((a, i, all) => (a === "-C" && all[i + 1] === "opt-level=3" ? [] : a === "opt-level=3" ? ["-Copt-level=3"] : [a]))) }),
  "the order of the dep-info": (k) => ({ ...k, sources: [...k.sources].reverse() }),
  "the jobserver (CARGO_MAKEFLAGS)": (k) => ({ ...k, env: { ...k.env, CARGO_MAKEFLAGS: "-j --jobserver-auth=fifo:/proc/1/fd/3" } }),
  "CARGO_TARGET_DIR and CARGO_BUILD_JOBS": (k) => ({ ...k, env: { ...k.env, CARGO_TARGET_DIR: "/t", CARGO_BUILD_JOBS: "8" } }),
  "a variable nothing reads": (k) => ({ ...k, env: { ...k.env, PATH: "/opt/bin", TERM: "dumb" } })
}

describe("rustKey", () => {
  for (const [what, change] of Object.entries(CHANGES)) {
    it(`changes with ${what}`, () => expect(rustKey(change(base))).not.toBe(rustKey(base)))
  }
  for (const [what, change] of Object.entries(SAME)) {
    it(`ignores ${what}`, () => expect(rustKey(change(base))).toBe(rustKey(base)))
  }

  const Changes = Schema.Array(Schema.Literals(Object.keys(CHANGES) as [string, ...Array<string>]))
  const Sames = Schema.Array(Schema.Literals(Object.keys(SAME) as [string, ...Array<string>]))
  it.prop("any mix of irrelevant changes keeps the key; adding a relevant one changes it", [Sames, Changes], ([sames, changes]) => {
    const ignored = sames.reduce((k, s) => SAME[s]!(k), base)
    expect(rustKey(ignored)).toBe(rustKey(base))
    if (changes.length > 0) expect(rustKey(CHANGES[changes[0]!]!(ignored))).not.toBe(rustKey(base))
  }, { arbitrary: { runs: 300 } })

  /** The same workspace under another directory: every absolute path moves with it. */
  const moved = (k: RustKeyInputs, to: string): RustKeyInputs => {
    const m = (s: string) => s.split(CWD).join(to)
    return {
      ...k,
      cwd: to,
      compilation: compilation(args(to)),
      env: Object.fromEntries(Object.entries(k.env).map(([n, v]) => [n, v === undefined ? v : m(v)])),
      sources: k.sources.map(([f, d]) => [m(f), d] as const)
    }
  }
  it("misses in another checkout without base directories, and hits with them", () => {
    expect(rustKey(moved(base, "/home/v/ws2"))).not.toBe(rustKey(base))
    const withBases = { ...base, basedirs: [CWD, "/home/v/ws2"] }
    expect(rustKey(moved(withBases, "/home/v/ws2"))).toBe(rustKey(withBases))
    // A source outside every base directory still counts where it is.
    const outside = { ...withBases, sources: [...withBases.sources, ["/opt/vendor/lib.rs", "d-v"] as const] }
    expect(rustKey({ ...outside, sources: [...withBases.sources, ["/opt/vendor2/lib.rs", "d-v"] as const] })).not.toBe(rustKey(outside))
  })
})

describe("rustKeyEnv", () => {
  it("keeps CARGO_* but cargo's own plumbing, and every variable the dep-info names, set or not", () => {
    expect(rustKeyEnv({ CARGO_PKG_NAME: "a", CARGO_MAKEFLAGS: "-j", CARGO_REGISTRIES_X_INDEX: "u", CARGO_ENCODED_RUSTFLAGS: "", HOME: "/h", X: "1" }, ["X", "Y"], "/", []))
      .toEqual(["CARGO_PKG_NAME=a", "RUSTC_BOOTSTRAP", "X=1", "Y"])
  })
})

describe("text outputs", () => {
  const cwd = "/home/u/ws"
  const A = "target/debug/deps"
  const B = "/tmp/my target/deps"
  it("are stored without --out-dir and restored with this compile's, spaces escaped in make rules", () => {
    const dep = Buffer.from("/home/u/ws/target/debug/deps/a-1.d: src/lib.rs\n\n/home/u/ws/target/debug/deps/liba-1.rmeta: src/lib.rs\n")
    const stored = toEntryText(dep, spellOutDir(A, cwd, true))
    expect(stored.toString()).not.toContain("/home/u/ws/target")
    expect(fromEntryText(stored, spellOutDir(A, cwd, true)).equals(dep)).toBe(true)
    expect(fromEntryText(stored, spellOutDir(B, cwd, true)).toString()).toBe("/tmp/my\\ target/deps/a-1.d: src/lib.rs\n\n/tmp/my\\ target/deps/liba-1.rmeta: src/lib.rs\n")
    const json = Buffer.from(`{"$message_type":"artifact","artifact":"/home/u/ws/target/debug/deps/liba-1.rmeta","emit":"metadata"}\n`)
    expect(fromEntryText(toEntryText(json, spellOutDir(A, cwd, false)), spellOutDir(B, cwd, false)).toString()).toContain(`"artifact":"/tmp/my target/deps/liba-1.rmeta"`)
  })
  it.prop("round-trip any bytes exactly", [Schema.Uint8Array, Schema.String, Schema.Boolean], ([bytes, dir, makeRule]) => {
    const outDir = spellOutDir(`/x/${dir.replace(/\0/g, "")}`, "/", makeRule)
    const data = Buffer.concat([Buffer.from(bytes), Buffer.from(`${outDir}/f`)])
    if (data.includes("\0out-dir")) return
    expect(fromEntryText(toEntryText(data, outDir), outDir).equals(data)).toBe(true)
  }, { arbitrary: { runs: 300 } })
})
