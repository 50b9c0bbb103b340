import * as path from "node:path"

/** The --emit kinds whose outputs sccache-ts caches. */
export type Emit = "link" | "metadata" | "dep-info"

/** Crate types whose outputs depend only on what the key covers: no linker runs. */
export type CacheableCrateType = "lib" | "rlib" | "staticlib"

export interface Extern {
  /** With its options (`priv:`, `noprelude:`): they change what the crate sees. */
  readonly name: string
  /** None for a crate from the sysroot (`--extern proc_macro`). */
  readonly file: string | undefined
}

/** One cacheable rustc invocation, as far as the arguments tell. */
export interface RustCompilation {
  readonly crateName: string
  readonly input: string
  readonly outDir: string
  /** Crate name plus `-C extra-filename`: every output file of this crate is named after it. */
  readonly stem: string
  readonly emit: ReadonlyArray<Emit>
  readonly crateTypes: ReadonlyArray<CacheableCrateType>
  readonly externs: ReadonlyArray<Extern>
  /** `-l static=NAME` libraries, bundled into the output: their bytes are part of it. */
  readonly staticLibs: ReadonlyArray<string>
  /** The `-L` directories rustc searches for native libraries, in order. */
  readonly libDirs: ReadonlyArray<string>
  /** `--target`: a target tuple, or the path of a target spec file (`.json`). */
  readonly target: string | undefined
  readonly sysroot: string | undefined
  /**
   * The arguments that shape what rustc produces, canonically spelled: without the directories
   * that only say where things are (--out-dir, -L), --extern paths (their content is keyed),
   * --diagnostic-width, and --color where diagnostics are JSON (it changes nothing there).
   */
  readonly keyArgs: ReadonlyArray<string>
  /** The arguments without --emit and --out-dir, for a pre-pass that sets its own. */
  readonly passArgs: ReadonlyArray<string>
}

export type RustParse =
  | { readonly _tag: "Compilation"; readonly compilation: RustCompilation }
  | { readonly _tag: "NotCacheable"; readonly reason: string; readonly nonCompilation?: boolean }

/** Options that take a value, under each spelling, mapped to one name. */
const WITH_VALUE: Readonly<Record<string, string>> = {
  "--cfg": "--cfg",
  "--check-cfg": "--check-cfg",
  "-L": "-L",
  "-l": "-l",
  "--crate-type": "--crate-type",
  "--crate-name": "--crate-name",
  "--edition": "--edition",
  "--emit": "--emit",
  "--print": "--print",
  "-o": "-o",
  "--out-dir": "--out-dir",
  "--explain": "--explain",
  "--target": "--target",
  "-A": "-A",
  "--allow": "-A",
  "-W": "-W",
  "--warn": "-W",
  "--force-warn": "--force-warn",
  "-D": "-D",
  "--deny": "-D",
  "-F": "-F",
  "--forbid": "-F",
  "--cap-lints": "--cap-lints",
  "-C": "-C",
  "--codegen": "-C",
  "--extern": "--extern",
  "--sysroot": "--sysroot",
  "--error-format": "--error-format",
  "--json": "--json",
  "--color": "--color",
  "--diagnostic-width": "--diagnostic-width",
  "--remap-path-prefix": "--remap-path-prefix",
  "--remap-path-scope": "--remap-path-scope",
  "--env-set": "--env-set",
  "-Z": "-Z"
}

const FLAGS: Readonly<Record<string, string>> = {
  "-g": "-g",
  "-O": "-O",
  "-v": "-v",
  "--verbose": "-v",
  "--test": "--test",
  "-V": "-V",
  "--version": "-V",
  "-h": "-h",
  "--help": "-h"
}

/** Asking rustc about itself rather than compiling: cargo's `-vV` and `--print` probes. */
const PROBES = new Set(["--print", "--explain", "-V", "-h"])

const EMITS: ReadonlySet<string> = new Set(["link", "metadata", "dep-info"])
const CRATE_TYPES: ReadonlySet<string> = new Set(["lib", "rlib", "staticlib"])

interface Opt {
  readonly name: string
  readonly value: string | undefined
  readonly raw: ReadonlyArray<string>
}

const notCacheable = (reason: string, nonCompilation?: boolean): RustParse =>
  nonCompilation === true ? { _tag: "NotCacheable", reason, nonCompilation } : { _tag: "NotCacheable", reason }

/** Splits argv into options (name, value, the words they took) and inputs; a reason when it can't. */
const tokenize = (args: ReadonlyArray<string>): { opts: Array<Opt>; inputs: Array<string> } | RustParse => {
  const opts: Array<Opt> = []
  const inputs: Array<string> = []
  let probe = false
  let unknown: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const start = i
    if (a.startsWith("@")) return notCacheable("argument file")
    if (a === "-" || !a.startsWith("-")) {
      inputs.push(a)
      continue
    }
    let name: string | undefined
    let value: string | undefined
    if (a.startsWith("--")) {
      const eq = a.indexOf("=")
      const flag = eq < 0 ? a : a.slice(0, eq)
      if (WITH_VALUE[flag] !== undefined) {
        name = WITH_VALUE[flag]
        value = eq < 0 ? args[++i] : a.slice(eq + 1)
      } else if (eq < 0) name = FLAGS[a]
    } else if (WITH_VALUE[a.slice(0, 2)] !== undefined) {
      name = WITH_VALUE[a.slice(0, 2)]
      value = a.length > 2 ? a.slice(2) : args[++i]
    } else if (FLAGS[a] !== undefined) name = FLAGS[a]
    else if (/^-[vVh]+$/.test(a)) {
      probe = true // `-vV`: getopts' bundled short flags
      continue
    }
    if (name === undefined) {
      unknown ??= a
      continue
    }
    if (PROBES.has(name)) probe = true
    if (WITH_VALUE[name] !== undefined && value === undefined) return notCacheable(`missing value for ${a}`)
    opts.push({ name, value, raw: args.slice(start, i + 1) })
  }
  // A probe is answered by rustc itself, whatever else is on its command line.
  if (probe) return notCacheable("rustc probe (--print, -vV)", true)
  if (unknown !== undefined) return notCacheable(`unknown rustc argument ${unknown}`)
  return { opts, inputs }
}

/** `-C name=value` as name and value. */
const codegen = (value: string): [string, string | undefined] => {
  const eq = value.indexOf("=")
  return eq < 0 ? [value, undefined] : [value.slice(0, eq), value.slice(eq + 1)]
}

/** `-l [KIND[:MODIFIERS]=]NAME[:RENAME]`: NAME when it is a static library bundled into the output. */
const bundledStaticLib = (value: string): string | undefined => {
  const eq = value.indexOf("=")
  if (eq < 0) return undefined
  const [kind, modifiers = ""] = value.slice(0, eq).split(":")
  if (kind !== "static" || modifiers.split(",").includes("-bundle")) return undefined
  return value.slice(eq + 1).split(":")[0]
}

/** `-L [KIND=]DIR` → DIR when rustc looks there for native libraries. */
const nativeLibDir = (value: string): string | undefined => {
  const m = /^(dependency|crate|native|framework|all)=(.*)$/.exec(value)
  if (m === null) return value
  return m[1] === "dependency" || m[1] === "crate" ? undefined : m[2]
}

/** Pure: whether and how a rustc command line can be cached. */
export const parseRustArgs = (args: ReadonlyArray<string>): RustParse => {
  const tokens = tokenize(args)
  if (!("opts" in tokens)) return tokens
  const { opts, inputs } = tokens
  if (inputs.length === 0) return notCacheable("no input file")
  if (inputs.length > 1) return notCacheable("multiple input files")
  if (inputs[0] === "-") return notCacheable("input from stdin")

  const last = (name: string) => opts.findLast((o) => o.name === name)?.value
  const all = (name: string) => opts.filter((o) => o.name === name).map((o) => o.value!)
  const crateName = last("--crate-name")
  const outDir = last("--out-dir")
  if (crateName === undefined) return notCacheable("missing --crate-name")
  if (outDir === undefined) return notCacheable("missing --out-dir")
  if (last("-o") !== undefined) return notCacheable("explicit output file (-o)")
  if (opts.some((o) => o.name === "--test")) return notCacheable("crate-type bin (--test)")

  const crateTypes = new Set(all("--crate-type").flatMap((v) => v.split(",")))
  if (crateTypes.size === 0) return notCacheable("missing --crate-type")
  for (const t of crateTypes) if (!CRATE_TYPES.has(t)) return notCacheable(`crate-type ${t}`)

  const emit = new Set<string>()
  for (const kind of all("--emit").flatMap((v) => v.split(","))) {
    if (kind.includes("=")) return notCacheable("--emit with an output path")
    if (!EMITS.has(kind)) return notCacheable(`unsupported --emit ${kind}`)
    emit.add(kind)
  }
  if (emit.size === 0) emit.add("link")

  let extraFilename = ""
  for (const o of opts) {
    if (o.name !== "-C") continue
    const [name, value] = codegen(o.value!)
    if (name === "incremental") return notCacheable("incremental")
    if (name === "profile-use" || name === "profile-sample-use") return notCacheable("profile-guided optimisation")
    if (name === "extra-filename") extraFilename = value ?? ""
  }

  const errorFormatJson = last("--error-format") === "json"
  const keyArgs: Array<string> = []
  const cfgs: Array<string> = []
  const externs: Array<Extern> = []
  const libDirs: Array<string> = []
  const staticLibs: Array<string> = []
  const target = last("--target")
  for (const o of opts) {
    switch (o.name) {
      case "--out-dir":
      case "--diagnostic-width":
        break
      case "--color":
        if (!errorFormatJson) keyArgs.push(`--color=${o.value}`)
        break
      case "-L": {
        const dir = nativeLibDir(o.value!)
        if (dir !== undefined) libDirs.push(dir)
        break
      }
      case "--extern": {
        const eq = o.value!.indexOf("=")
        externs.push(eq < 0 ? { name: o.value!, file: undefined } : { name: o.value!.slice(0, eq), file: o.value!.slice(eq + 1) })
        break
      }
      // Order among cfgs changes nothing.
      case "--cfg":
      case "--check-cfg":
        cfgs.push(`${o.name}=${o.value}`)
        break
      // Both go in below, in one canonical spelling.
      case "--emit":
      case "--crate-type":
        break
      case "--target":
        // A spec file by its name (rustc names the target after it); its content is keyed apart.
        keyArgs.push(`--target=${o.value!.endsWith(".json") ? path.basename(o.value!) : o.value}`)
        break
      default: {
        if (o.name === "-l") {
          const lib = bundledStaticLib(o.value!)
          if (lib !== undefined) staticLibs.push(lib)
        }
        keyArgs.push(o.value === undefined ? o.name : `${o.name}=${o.value}`)
      }
    }
  }
  keyArgs.push(
    `--crate-type=${[...crateTypes].sort().join(",")}`,
    `--emit=${[...emit].sort().join(",")}`,
    ...cfgs.sort(),
    `input=${inputs[0]}`
  )

  const passArgs = opts
    .filter((o) => o.name !== "--emit" && o.name !== "--out-dir")
    .flatMap((o) => o.raw)
  return {
    _tag: "Compilation",
    compilation: {
      crateName,
      input: inputs[0]!,
      outDir,
      stem: crateName + extraFilename,
      emit: [...emit] as Array<Emit>,
      crateTypes: [...crateTypes] as Array<CacheableCrateType>,
      externs,
      staticLibs,
      libDirs,
      target,
      sysroot: last("--sysroot"),
      keyArgs,
      passArgs: [...passArgs, inputs[0]!]
    }
  }
}

/** Pure: the files rustc must have written to --out-dir for this compile. */
export const expectedOutputs = (c: RustCompilation): Array<string> => {
  const names = new Set<string>()
  for (const e of c.emit) {
    if (e === "dep-info") names.add(`${c.stem}.d`)
    else if (e === "metadata") names.add(`lib${c.stem}.rmeta`)
    else for (const t of c.crateTypes) names.add(t === "staticlib" ? `lib${c.stem}.a` : `lib${c.stem}.rlib`)
  }
  return [...names].sort()
}

/** Pure: whether a file in --out-dir belongs to this crate (its outputs, .dwo files, long type names). */
export const isCrateOutput = (c: RustCompilation, name: string): boolean =>
  name.startsWith(`${c.stem}.`) || name.startsWith(`lib${c.stem}.`)

export interface DepInfo {
  /** Every file the crate was built from, as rustc named it (relative to its working directory or absolute). */
  readonly files: ReadonlyArray<string>
  /** The environment variables it read with env!/option_env!. */
  readonly env: ReadonlyArray<string>
}

/** Splits make prerequisites on the spaces rustc didn't escape (it writes a space in a name as `\ `). */
const prerequisites = (text: string): Array<string> =>
  text.split(/(?<!\\) +/).filter((w) => w !== "").map((w) => w.replace(/\\ /g, " "))

/** Pure: rustc's dep-info (`--emit=dep-info`): make rules, then `# env-dep:NAME[=value]` lines. */
export const parseDepInfo = (text: string): DepInfo => {
  const files = new Set<string>()
  const env = new Set<string>()
  for (const line of text.split("\n")) {
    if (line.startsWith("# env-dep:")) {
      const entry = line.slice("# env-dep:".length)
      const eq = entry.indexOf("=")
      env.add(eq < 0 ? entry : entry.slice(0, eq))
      continue
    }
    if (line.startsWith("#")) continue
    const colon = line.search(/(?<!\\):( |$)/)
    if (colon >= 0) for (const f of prerequisites(line.slice(colon + 1))) files.add(f)
  }
  return { files: [...files], env: [...env] }
}

/** rustc's escaping of a variable's value in a dep-info comment. */
const escapeEnvValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")

/**
 * Pure: a dep-info with its `# env-dep:` lines giving the values of `env`. cargo compares them with
 * its own environment to decide what to rebuild; one restored from another checkout (OUT_DIR
 * differs) must name this one's.
 */
export const withEnvValues = (depInfo: string, env: Readonly<Record<string, string | undefined>>): string =>
  depInfo.replace(/^# env-dep:([^=\n]*)(=.*)?$/gm, (_line, name: string) => {
    const v = env[name]
    return v === undefined ? `# env-dep:${name}` : `# env-dep:${name}=${escapeEnvValue(v)}`
  })
