/**
 * Real cargo and rustc through the built binary (RUSTC_WRAPPER) on test/fixtures/rust-workspace:
 * three library crates (one with a build script, one reading a variable with option_env!) and a
 * binary with tests. rustc is reached through a shim that logs each compile and whether the
 * jobserver it was handed can be opened, so the tests also see when rustc did not run at all.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, makeSandbox, ROOT, run } from "../support/harness.ts"

const FIXTURE = path.join(ROOT, "test/fixtures/rust-workspace")
const LIBS = ["geometry", "greeting", "buildinfo"]

const checkouts = fs.mkdtempSync(path.join(os.tmpdir(), "sct-rs-"))
const WS1 = path.join(checkouts, "one", "ws")
const WS2 = path.join(checkouts, "two", "ws")
fs.cpSync(FIXTURE, WS1, { recursive: true })

// Base directories are read when the daemon starts: this one covers both checkouts from the first build.
const sb = makeSandbox({ SCCACHE_BASEDIRS: `${path.dirname(WS1)}:${path.dirname(WS2)}` })
afterAll(() => {
  sb.stop()
  fs.rmSync(checkouts, { recursive: true, force: true })
})

const realRustc = path.join(run("rustc", ["--print", "sysroot"], { cwd: checkouts }).stdout.toString().trim(), "bin", "rustc")
const shimLog = path.join(checkouts, "rustc.log")
const shim = path.join(checkouts, "bin", "rustc")
fs.mkdirSync(path.dirname(shim))
fs.writeFileSync(shim, `#!/bin/sh
# The real rustc, logging "<crate> <--emit> <jobserver: ok, broken or none>" for each compile.
prev=; crate=; emit=
for a in "$@"; do
  [ "$prev" = --crate-name ] && crate=$a
  case "$a" in --emit=*) emit=$a;; esac
  prev=$a
done
if [ -n "$crate" ]; then
  auth=$(printf '%s\\n' "$CARGO_MAKEFLAGS" | tr ' ' '\\n' | sed -n 's/^--jobserver-auth=//p' | tail -n 1)
  case "$auth" in
    "") js=none;;
    fifo:*) if [ -p "\${auth#fifo:}" ]; then js=ok; else js=broken; fi;;
    *) if [ -p "/proc/$$/fd/\${auth%,*}" ]; then js=ok; else js=broken; fi;;
  esac
  echo "$crate $emit $js" >> "${shimLog}"
fi
exec "${realRustc}" "$@"
`, { mode: 0o755 })

const cargoEnv = (ws: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...sb.env,
  RUSTC_WRAPPER: BIN,
  RUSTC: shim,
  CARGO_INCREMENTAL: "0",
  CARGO_TARGET_DIR: path.join(ws, "target"),
  CARGO_TERM_COLOR: "never",
  ...extra
})

const cargo = (ws: string, args: ReadonlyArray<string>, extra: NodeJS.ProcessEnv = {}) => {
  const r = run("cargo", [...args, "--offline"], { cwd: ws, env: cargoEnv(ws, extra) })
  const stderr = r.stderr.toString()
  expect(r.code, stderr).toBe(0)
  expect(stderr).not.toContain("jobserver")
  return stderr
}

const app = (ws: string, profile = "debug") => run(path.join(ws, "target", profile, "app"), [], { cwd: ws }).stdout.toString()
const EXPECTED = "Hello, world of 10.1 square units\nfeatures: shapes,greeting (debug build, v0.1.0)\n"

/** The daemon's Rust counters. */
const counts = () => {
  const s = sb.stats().stats
  return { hits: s.cache_hits.counts["Rust"] ?? 0, misses: s.cache_misses.counts["Rust"] ?? 0, notCached: s.not_cached }
}

/** The compiles the shim saw since the last call (not cargo's `___` probes, which get no jobserver). */
const compiles = (): Array<{ crate: string; emit: string; jobserver: string }> => {
  if (!fs.existsSync(shimLog)) return []
  const lines = fs.readFileSync(shimLog, "utf8").trim().split("\n").filter((l) => l !== "")
  fs.rmSync(shimLog)
  return lines.map((l) => l.split(" ")).map(([crate, emit, jobserver]) => ({ crate: crate!, emit: emit!, jobserver: jobserver! }))
    .filter((c) => c.crate !== "___")
}

describe("cargo through sccache-ts", () => {
  it("builds the workspace: libraries stored, the binary and the build script passed through, every rustc with a working jobserver", () => {
    cargo(WS1, ["build"])
    expect(app(WS1)).toBe(EXPECTED)
    const c = counts()
    expect(c).toMatchObject({ hits: 0, misses: 3 })
    expect(c.notCached["crate-type bin"]).toBe(2)
    const seen = compiles()
    // A dep-info pre-pass and the compile for each library. Every rustc, run by the daemon (on
    // cargo's pipe through /proc) or by the client (bin crates), could open the jobserver it was given.
    for (const lib of LIBS) expect(seen.filter((s) => s.crate === lib).map((s) => s.emit).sort()).toEqual(["--emit=dep-info", "--emit=dep-info,metadata,link"])
    expect(seen.filter((s) => s.jobserver !== "ok")).toEqual([])
    // The sysroot's libraries were hashed once, and kept for the next daemon.
    const kept = JSON.parse(fs.readFileSync(path.join(sb.env["SCCACHE_DIR"]!, "sccache-ts-v1", "toolchain-digests.json"), "utf8"))
    expect(Object.keys(kept).some((f) => /\/librustc_driver-[^/]*\.so$/.test(f))).toBe(true)
  })

  it("rebuilds after cargo clean from the cache alone: every library a hit, no rustc run for any, warnings replayed", () => {
    cargo(WS1, ["clean"])
    const stderr = cargo(WS1, ["build"])
    expect(counts()).toMatchObject({ hits: 3, misses: 3 })
    expect(compiles().filter((s) => LIBS.includes(s.crate))).toEqual([])
    expect(stderr).toContain("unused variable: `unused_on_purpose`")
    expect(app(WS1)).toBe(EXPECTED)
    // The .d files name this target directory: cargo tracks the sources through them.
    const dep = fs.readdirSync(path.join(WS1, "target/debug/deps")).find((f) => /^greeting-.*\.d$/.test(f))!
    expect(fs.readFileSync(path.join(WS1, "target/debug/deps", dep), "utf8")).toContain(`${WS1}/target/debug/deps/libgreeting-`)
  })

  it("runs cargo test on the cached libraries", () => {
    const r = run("cargo", ["test", "--offline"], { cwd: WS1, env: cargoEnv(WS1) })
    expect(r.code, r.stderr.toString()).toBe(0)
    expect(r.stdout.toString().match(/test result: ok\. 1 passed/g)).toHaveLength(2)
    expect(counts().notCached["crate-type bin (--test)"]).toBeGreaterThanOrEqual(2)
    compiles()
  })

  it("misses only the changed crate and its dependents", () => {
    const area = path.join(WS1, "crates/geometry/src/area.rs")
    const original = fs.readFileSync(area, "utf8")
    fs.writeFileSync(area, original.replace("side * side", "side * side + 0.0"))
    try {
      cargo(WS1, ["clean"])
      cargo(WS1, ["build"])
      // geometry and greeting (which uses it) compile; buildinfo comes from the cache.
      expect(counts()).toMatchObject({ hits: 4, misses: 5 })
      expect([...new Set(compiles().filter((s) => LIBS.includes(s.crate)).map((s) => s.crate))].sort()).toEqual(["geometry", "greeting"])
    } finally {
      fs.writeFileSync(area, original)
    }
    cargo(WS1, ["build"])
    expect(counts()).toMatchObject({ hits: 6, misses: 5 })
    expect(app(WS1)).toBe(EXPECTED)
  })

  it("keys on the variables env! and option_env! read", () => {
    cargo(WS1, ["build"], { FIXTURE_SALUTATION: "Bonjour" })
    expect(counts()).toMatchObject({ hits: 6, misses: 6 })
    expect(app(WS1)).toContain("Bonjour, world")
    cargo(WS1, ["build"])
    expect(counts()).toMatchObject({ hits: 7, misses: 6 })
    expect(app(WS1)).toBe(EXPECTED)
    compiles()
  })

  it("hits from a second checkout of the workspace, with SCCACHE_BASEDIRS", () => {
    fs.cpSync(FIXTURE, WS2, { recursive: true })
    cargo(WS2, ["build"])
    expect(counts()).toMatchObject({ hits: 10, misses: 6 })
    // A new checkout is new to the daemon: a dep-info pre-pass for each library, and no compile.
    expect(compiles().filter((s) => LIBS.includes(s.crate)).map((s) => s.emit)).toEqual(LIBS.map(() => "--emit=dep-info"))
    expect(app(WS2)).toBe(EXPECTED)
    const deps = path.join(WS2, "target/debug/deps")
    for (const d of fs.readdirSync(deps).filter((f) => f.endsWith(".d"))) expect(fs.readFileSync(path.join(deps, d), "utf8")).not.toContain(WS1)
    // cargo finds everything fresh: nothing to rebuild.
    const again = cargo(WS2, ["build"])
    expect(again).not.toContain("Compiling")
  })

  it("caches release builds and cargo check", () => {
    cargo(WS2, ["build", "--release"])
    cargo(WS2, ["clean", "--release"])
    cargo(WS2, ["build", "--release"])
    expect(app(WS2, "release")).toBe(EXPECTED.replace("debug build", "release build"))
    cargo(WS2, ["check"])
    cargo(WS2, ["clean"])
    cargo(WS2, ["check"])
    expect(counts()).toMatchObject({ hits: 16, misses: 12 })
    compiles()
  })

  it("passes incremental compiles through, counted, and still builds", () => {
    const before = counts().notCached["incremental"] ?? 0
    cargo(WS2, ["build"], { CARGO_INCREMENTAL: "1", CARGO_TARGET_DIR: path.join(WS2, "target-incremental") })
    expect(counts().notCached["incremental"]).toBe(before + 3)
    expect(run(path.join(WS2, "target-incremental/debug/app"), [], { cwd: WS2 }).stdout.toString()).toBe(EXPECTED)
    expect(compiles().filter((s) => s.jobserver !== "ok")).toEqual([])
  })
})
