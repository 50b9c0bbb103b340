import * as path from "node:path"
import { expectedOutputs, type RustCompilation } from "../compiler/RustArgs.ts"
import { relativizeArg, relativizePath } from "./BaseDirs.ts"
import { KeyBuilder } from "./KeyBuilder.ts"

/** Bumped whenever what goes into a Rust key changes, so old entries are simply never found. */
const RUST_KEY_VERSION = "sccache-ts/rust/1"

type Env = Readonly<Record<string, string | undefined>>

/** CARGO_* variables that say how cargo runs, never what rustc makes. */
const CARGO_IGNORED = /^CARGO_(MAKEFLAGS|BUILD_JOBS|ENCODED_RUSTFLAGS|TARGET_DIR|BUILD_TARGET_DIR|REGISTRIES_|TERM_|HTTP_|NET_)/

/** Read by rustc itself: nightly features on a stable compiler. */
const RUSTC_ENV = ["RUSTC_BOOTSTRAP"]

/**
 * Pure: the environment a crate's output can depend on: every variable the dep-info names (env!,
 * option_env!), set or not, and the CARGO_* variables cargo sets, which proc macros read unrecorded.
 */
export const rustKeyEnv = (env: Env, envDeps: ReadonlyArray<string>, cwd: string, basedirs: ReadonlyArray<string>): Array<string> => {
  const names = new Set([...RUSTC_ENV, ...envDeps])
  for (const k of Object.keys(env)) if (k.startsWith("CARGO_") && !CARGO_IGNORED.test(k)) names.add(k)
  return [...names].sort().map((k) => {
    const v = env[k]
    return v === undefined ? k : `${k}=${relativizeArg(v, cwd, basedirs)}`
  })
}

export interface RustKeyInputs {
  /** rustc's identity and its sysroot's libraries. */
  readonly toolchain: string
  readonly compilation: RustCompilation
  readonly cwd: string
  readonly env: Env
  /** Each source the dep-info names, as named there, with the digest of its content. */
  readonly sources: ReadonlyArray<readonly [file: string, digest: string]>
  readonly envDeps: ReadonlyArray<string>
  /** Each --extern crate by name, with the digest of its file (empty for one from the sysroot). */
  readonly externs: ReadonlyArray<readonly [name: string, digest: string]>
  readonly staticLibs: ReadonlyArray<readonly [name: string, digest: string]>
  /** Digest of the target spec file, for a `--target` that names one. */
  readonly targetSpec: string | undefined
  readonly basedirs: ReadonlyArray<string>
}

const pairs = (list: ReadonlyArray<readonly [string, string]>, rel: (s: string) => string) =>
  list.map(([name, digest]) => `${rel(name)}\0${digest}`).sort()

/**
 * Pure: the result key of a rustc compile. The working directory is in it because debug info
 * records it; under base directories, it and every path under them count relative to it.
 */
export const rustKey = (k: RustKeyInputs): string => {
  const rel = (file: string) => relativizePath(file, k.cwd, k.basedirs)
  return new KeyBuilder()
    .field("version", RUST_KEY_VERSION)
    .field("toolchain", k.toolchain)
    .list("args", k.compilation.keyArgs.map((a) => relativizeArg(a, k.cwd, k.basedirs)))
    .field("cwd", rel(k.cwd))
    .list("sources", pairs(k.sources, rel))
    .list("externs", pairs(k.externs, (name) => name))
    .list("static-libs", pairs(k.staticLibs, (name) => name))
    .field("target-spec", k.targetSpec ?? "")
    .list("env", rustKeyEnv(k.env, k.envDeps, k.cwd, k.basedirs))
    .digest()
}

/**
 * Pure: the variables a restored dep-info's `# env-dep:` lines may show the values of: those the
 * key was computed from. An entry from a shared cache may list any name (AWS_SECRET_ACCESS_KEY);
 * the others are left without a value.
 */
export const keyedEnv = (env: Env, envDeps: ReadonlyArray<string>): Record<string, string> =>
  Object.fromEntries(envDeps.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])))

/** Files rustc names after the crate beyond its outputs: the long type names its diagnostics point to. */
const LONG_TYPE = /^\*\.long-type-[0-9]+\.txt$/
/** Split debug info, when asked for: one object per codegen unit, or one package. */
const SPLIT_DEBUGINFO = /^-C=split-debuginfo=(packed|unpacked)$/
const DEBUGINFO_FILE = /^\*\.[A-Za-z0-9_.-]*\.(dwo|o)$|^\*\.dwp$/

/**
 * Pure: whether a role (a file name in --out-dir, the crate's stem as `*`) is one this compile's
 * own arguments make. An entry that holds any other could add files to --out-dir that cargo would
 * pick up; it is not this compile's.
 */
export const rustRoleAllowed = (c: RustCompilation, role: string): boolean =>
  expectedOutputs(c).some((name) => name.replace(c.stem, "*") === role) || LONG_TYPE.test(role) ||
  (c.keyArgs.some((a) => SPLIT_DEBUGINFO.test(a)) && DEBUGINFO_FILE.test(role))

/** An entry holds this in place of --out-dir in text outputs: the key leaves --out-dir out. */
const OUT_DIR = "\0out-dir"

/** Pure: the absolute --out-dir as a text output spells it: a make rule (the .d file) escapes spaces. */
export const spellOutDir = (outDir: string, cwd: string, makeRule: boolean): string => {
  const dir = path.resolve(cwd, outDir)
  return makeRule ? dir.replace(/ /g, "\\ ") : dir
}

/** Byte-exact: a latin1 string is one char per byte, whatever the encoding of the text. */
const latin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1")

const swap = (data: Uint8Array, from: string, to: string): Buffer =>
  Buffer.from(Buffer.from(data).toString("latin1").split(latin1(from)).join(latin1(to)), "latin1")

/** Pure: text output as an entry stores it, `outDir` spelt as in that text. */
export const toEntryText = (data: Uint8Array, outDir: string): Buffer => swap(data, `${outDir}/`, `${OUT_DIR}/`)

/** Pure: text output from an entry, for this compile's --out-dir. */
export const fromEntryText = (data: Uint8Array, outDir: string): Buffer => swap(data, `${OUT_DIR}/`, `${outDir}/`)
