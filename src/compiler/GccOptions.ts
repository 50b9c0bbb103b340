/**
 * The gcc/clang option table (in the spirit of ccache's compopt): one entry per option that
 * needs more than "goes to the compiler and into the key". Argument analysis, key computation
 * and base-directory rebasing all read it, so an option is described once.
 */

export interface OptionSpec {
  /**
   * How it takes a value: the next argument only ("separate"), glued to the name only ("joined",
   * names ending in "=" or a family prefix such as "-fdump-"), or either way ("either").
   */
  readonly value?: "separate" | "joined" | "either"
  /** The value is a path: rebased under base directories. */
  readonly path?: true
  /** The value is `old=new` with a path on the left (prefix maps). */
  readonly pathMap?: true
  /** The value names a file the compiler reads outside the preprocessor: its content is a key input. */
  readonly keyFile?: true
  /** Its whole effect is in the preprocessed text: left out of the preprocessor-mode key. */
  readonly preprocessor?: true
  /** The value is a directory the compiler searches for headers. */
  readonly includeDir?: true
  /** The compile can't be cached; the reason counted in the stats. */
  readonly notCacheable?: string
  /** Direct mode can't model it (the compile goes to the preprocessor). */
  readonly notDirect?: true
  /** Whether diagnostics are colored: presentation only, never in the key (see ColorChoice). */
  readonly colors?: ColorChoice
}

/** What the user asked of diagnostic colors; "auto" colors when stderr is a terminal. `=WHEN` options carry it in their value. */
export type ColorChoice = "always" | "never" | "auto"

const cppDir: OptionSpec = { value: "either", path: true, preprocessor: true, includeDir: true }
const keyFile: OptionSpec = { value: "joined", path: true, keyFile: true }
const prefixMap: OptionSpec = { value: "joined", pathMap: true }
const refuse = (reason: string, value?: OptionSpec["value"]): OptionSpec => ({ notCacheable: reason, ...(value ? { value } : {}) })

export const GCC_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  // Preprocessor: search path, macros, forced includes.
  "-I": cppDir,
  "-isystem": cppDir,
  "-idirafter": cppDir,
  "-iquote": cppDir,
  "-F": { value: "either", path: true, includeDir: true },
  "-iframework": { value: "either", path: true, includeDir: true },
  "-iframeworkwithsysroot": { value: "either", path: true },
  "-include": { value: "either", path: true, preprocessor: true },
  "-imacros": { value: "either", path: true, preprocessor: true },
  "-iprefix": { value: "either", path: true, preprocessor: true },
  "-iwithprefix": { value: "either", preprocessor: true },
  "-iwithprefixbefore": { value: "either", preprocessor: true },
  "-D": { value: "either", preprocessor: true },
  "-U": { value: "either", preprocessor: true },
  "-A": { value: "either", preprocessor: true },
  "-nostdinc": { preprocessor: true },
  "-nostdinc++": { preprocessor: true },
  "-undef": { preprocessor: true },
  "-isysroot": { value: "either", path: true },
  "--sysroot": { value: "separate", path: true },
  "--sysroot=": { value: "joined", path: true },
  "-imultilib": { value: "separate" },
  "-ivfsoverlay": { value: "separate", path: true, keyFile: true, notDirect: true },
  "-Xpreprocessor": { value: "separate", notDirect: true },

  // Outputs and dependency files (handled by the parser itself).
  "-o": { value: "either", path: true },
  "-x": { value: "either" },
  "-MF": { value: "either", path: true },
  "-MT": { value: "either" },
  "-MQ": { value: "either" },

  // Driver, target and toolchain.
  "-Xassembler": { value: "separate" },
  "-Xlinker": { value: "separate" },
  "-Xarch_host": { value: "separate" },
  "-Xarch_device": { value: "separate" },
  "-arch": { value: "separate" },
  "-target": { value: "separate" },
  "-aux-info": { value: "separate", path: true },
  "-L": { value: "either", path: true },
  "-l": { value: "either" },
  "-u": { value: "either" },
  "-z": { value: "either" },
  "-T": { value: "either", path: true, keyFile: true },
  "--param": { value: "separate" },
  "-mllvm": { value: "separate" },
  "-B": { value: "either", path: true },
  "-gcc-toolchain": { value: "separate", path: true },
  "--gcc-toolchain=": { value: "joined", path: true },
  "-resource-dir": { value: "separate", path: true },
  "-resource-dir=": { value: "joined", path: true },
  "-specs": { value: "separate", path: true, keyFile: true },
  "-specs=": keyFile,
  "--specs=": keyFile,

  // Files read by the compiler proper: their content is part of the result.
  "-fsanitize-ignorelist=": keyFile,
  "-fsanitize-blacklist=": keyFile,
  "-fsanitize-coverage-allowlist=": keyFile,
  "-fsanitize-coverage-ignorelist=": keyFile,
  "-fsanitize-coverage-whitelist=": keyFile,
  "-fsanitize-coverage-blacklist=": keyFile,
  "-fprofile-list=": keyFile,
  "-fxray-attr-list=": keyFile,
  "-fxray-always-instrument=": keyFile,
  "-fxray-never-instrument=": keyFile,
  "-fprofile-use=": keyFile,
  "-fprofile-instr-use=": keyFile,
  "-fprofile-sample-use=": keyFile,
  "-fauto-profile=": keyFile,
  "-fprofile-remapping-file=": keyFile,
  "-fplugin=": keyFile,

  // Paths the object records.
  "-fprofile-generate=": { value: "joined", path: true },
  "-fprofile-instr-generate=": { value: "joined", path: true },
  "-fcs-profile-generate=": { value: "joined", path: true },
  "-fprofile-dir=": { value: "joined", path: true },
  "-fcoverage-compilation-dir=": { value: "joined", path: true },
  "-fdebug-compilation-dir=": { value: "joined", path: true },
  "-fdebug-prefix-map=": prefixMap,
  "-ffile-prefix-map=": prefixMap,
  "-fmacro-prefix-map=": prefixMap,
  "-fprofile-prefix-map=": prefixMap,
  "-fcoverage-prefix-map=": prefixMap,

  // Diagnostic colors: the daemon always asks for them and strips them when the client's stderr wants none.
  "-fdiagnostics-color": { colors: "always" },
  "-fdiagnostics-color=": { value: "joined", colors: "auto" },
  "-fno-diagnostics-color": { colors: "never" },
  "-fcolor-diagnostics": { colors: "always" },
  "-fno-color-diagnostics": { colors: "never" },

  // Not cacheable: no object, outputs we don't know, or inputs we can't see.
  "-E": refuse("-E"),
  "-M": refuse("-M"),
  "-MM": refuse("-M"),
  "-P": refuse("-P"),
  "-fsyntax-only": refuse("-fsyntax-only"),
  "-frepo": refuse("-frepo"),
  "-fmodules": refuse("-fmodules"),
  "-fcxx-modules": refuse("-fmodules"),
  "-fmodules-ts": refuse("-fmodules"),
  "-fmodule-header": refuse("-fmodules"),
  "-fmodule-header=": refuse("-fmodules", "joined"),
  "-fmodules-cache-path=": refuse("-fmodules", "joined"),
  "-fmodule-file": refuse("-fmodules", "joined"),
  "-gtoggle": refuse("-gtoggle"),
  "-ftime-trace": refuse("-ftime-trace"),
  "-ftime-trace=": refuse("-ftime-trace", "joined"),
  // Bare profile use reads a profile named after the object (or default.profdata).
  "-fprofile-use": refuse("-fprofile-use"),
  "-fprofile-instr-use": refuse("-fprofile-use"),
  "-fbranch-probabilities": refuse("-fprofile-use"),
  "-fauto-profile": refuse("-fprofile-use"),
  "-Xclang": refuse("-Xclang", "separate"),
  "-MJ": refuse("-MJ", "separate"),
  "--serialize-diagnostics": refuse("--serialize-diagnostics", "separate"),
  "--serialize-diagnostics=": refuse("--serialize-diagnostics", "joined"),
  "-include-pch": { value: "separate", path: true, keyFile: true, notCacheable: "precompiled header" },
  "-fpch-preprocess": refuse("precompiled header"),
  "-wrapper": refuse("-wrapper", "separate"),
  "-dependency-file": refuse("-dependency-file", "separate"),
  "-working-directory": refuse("-working-directory", "separate"),
  "--driver-mode=cl": refuse("MSVC-style driver"),
  "--driver-mode=cpp": refuse("-E"),
  "-save-temps": refuse("-save-temps"),
  "-save-temps=": refuse("-save-temps", "joined"),
  "-fdump-": refuse("-fdump", "joined"),
  "-index-store-path": refuse("-index-store-path", "separate"),
  "-fcallgraph-info": refuse("-fcallgraph-info"),
  "-fcallgraph-info=": refuse("-fcallgraph-info", "joined"),
  "-fcrash-diagnostics-dir=": refuse("-fcrash-diagnostics", "joined")
}

/** Options that take a glued value, longest first, so `-isystem/x` is not read as `-i…`. */
const JOINED = Object.keys(GCC_OPTIONS)
  .filter((n) => GCC_OPTIONS[n]!.value === "joined" || GCC_OPTIONS[n]!.value === "either")
  .sort((a, b) => b.length - a.length)

export interface ParsedOption {
  readonly name: string
  readonly spec: OptionSpec
  /** The value, glued or the next argument; undefined for a flag. */
  readonly value: string | undefined
  /** How many argv words the option took (2 when its value is the next one). */
  readonly words: 1 | 2
}

/**
 * Pure: the option at `args[i]`, or undefined when it is not in the table (then it is one word,
 * passed on as it is). A separate value that is missing gives `value: undefined, words: 2`.
 */
export const lookupOption = (args: ReadonlyArray<string>, i: number): ParsedOption | undefined => {
  const arg = args[i]!
  const exact = GCC_OPTIONS[arg]
  if (exact !== undefined && exact.value !== "joined") {
    return exact.value === undefined
      ? { name: arg, spec: exact, value: undefined, words: 1 }
      : { name: arg, spec: exact, value: args[i + 1], words: 2 }
  }
  const name = JOINED.find((n) => arg.startsWith(n) && (arg.length > n.length || n.endsWith("=")))
  if (name === undefined) return undefined
  return { name, spec: GCC_OPTIONS[name]!, value: arg.slice(name.length), words: 1 }
}

/**
 * Pure: the arguments with every path value passed through `rebase`: the values of options the
 * table marks as paths, the left side of prefix maps, and operands (input files). Other values
 * (`-DX=/abs/data`) stay exactly as written: only the table says what is a path.
 */
export const rebaseArgs = (args: ReadonlyArray<string>, rebase: (p: string) => string): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (!arg.startsWith("-") || arg === "-") {
      out.push(arg === "-" ? arg : rebase(arg))
      continue
    }
    const o = lookupOption(args, i)
    if (o === undefined || o.value === undefined) {
      out.push(arg)
      if (o?.words === 2) i++
      continue
    }
    const value = o.spec.path ? rebase(o.value) : o.spec.pathMap ? rebasePrefixMap(o.value, rebase) : o.value
    if (o.words === 2) {
      out.push(arg, value)
      i++
    } else out.push(o.name + value)
  }
  return out
}

const rebasePrefixMap = (map: string, rebase: (p: string) => string): string => {
  const eq = map.indexOf("=")
  return eq <= 0 ? map : rebase(map.slice(0, eq)) + map.slice(eq)
}

/** Pure: the files whose content the table says is a key input, as written (relative to the cwd). */
export const keyFiles = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const o = args[i]!.startsWith("-") ? lookupOption(args, i) : undefined
    if (o === undefined) continue
    if (o.spec.keyFile && o.value !== undefined && o.value !== "") out.push(o.value)
    i += o.words - 1
  }
  return out
}

/** Pure: the include directories the arguments name, in order, whether or not they exist. */
export const includeDirs = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const o = args[i]!.startsWith("-") ? lookupOption(args, i) : undefined
    if (o === undefined) continue
    if (o.spec.includeDir && o.value !== undefined && o.value !== "" && o.value !== "-") out.push(o.value)
    i += o.words - 1
  }
  return out
}

/**
 * Environment variables that add to the include search path: they change which headers are found,
 * so direct mode keys them and the include-search probe is remembered per their values.
 */
export const INCLUDE_PATH_ENV = ["CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "OBJCPLUS_INCLUDE_PATH", "SDKROOT"]

/**
 * Environment that makes gcc write a dependency file of its own, which a hit would not write:
 * not cacheable, as in ccache.
 */
export const DEPENDENCY_ENV = ["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"]

export const envNotCacheable = (env: Readonly<Record<string, string>>): string | undefined => {
  const v = DEPENDENCY_ENV.find((k) => env[k] !== undefined && env[k] !== "")
  return v === undefined ? undefined : v
}

/** Pure: the color choice an option states (`-fdiagnostics-color=WHEN` by its value). */
export const colorChoiceOf = (o: ParsedOption): ColorChoice | undefined =>
  o.spec.colors === undefined
    ? undefined
    : o.value === "always" || o.value === "never" || o.value === "auto" || o.value === undefined
    ? (o.value ?? o.spec.colors)
    : undefined

/** What the compile is told so its diagnostics are stored in one form: colored. */
export const FORCE_COLORS = "-fdiagnostics-color=always"

/**
 * Pure: are diagnostics shown in color? An explicit flag decides; with "auto" (the default) the
 * conventions of no-color.org and CLICOLOR_FORCE come first (gcc 12 and clang 14 read neither,
 * so a plain compile there may differ: the user's stated wish wins), then a terminal that can show
 * colors. An empty GCC_COLORS (gcc's own off switch) is in the key, so the stored text has none.
 */
export const showsColors = (choice: ColorChoice, stderrTty: boolean, env: Readonly<Record<string, string>>): boolean => {
  if (choice !== "auto") return choice === "always"
  if ((env["NO_COLOR"] ?? "") !== "") return false
  if ((env["CLICOLOR_FORCE"] ?? "0") !== "0") return true
  return stderrTty && env["TERM"] !== undefined && env["TERM"] !== "dumb"
}

/** Pure: diagnostics without their colors (SGR and erase-line sequences) or hyperlinks. */
export const stripColors = (text: Uint8Array): Buffer =>
  Buffer.from(Buffer.from(text).toString("latin1").replace(/\x1b\[[0-9;]*[mK]|\x1b\]8;[^\x07\x1b]*(?:\x07|\x1b\\)/g, ""), "latin1")
